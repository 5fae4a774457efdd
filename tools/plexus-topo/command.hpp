// plexus-topo subcommands: the interface each one implements, the options every subcommand
// shares (--file, --system, --json), and the registry the subcommands add themselves to.
//
// To add a subcommand (e.g. `tune`, `plan`), write one file cmd_NAME.cpp with a class derived
// from Command and PLEXUS_TOPO_COMMAND(ClassName); CMake picks the file up by its name.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "topology/graph.hpp"

namespace plexus::tools::topo {

struct GlobalOptions {
  std::string file;    // --file: NCCL XML or Plexus JSON
  std::string system;  // --system: synthetic system spec
  bool json = false;   // --json: machine-readable output
};

class Command {
 public:
  virtual ~Command() = default;
  virtual const char* name() const = 0;
  virtual const char* help() const = 0;
  // Declares the subcommand's own options and arguments.
  virtual void configure(CLI::App& sub) = 0;
  // Runs after parsing; returns the exit status. Throw plexus::Error for failures.
  virtual int run(const GlobalOptions& global) = 0;
};

// The tool's registry of subcommands (filled during static initialization, read by main).
std::vector<std::unique_ptr<Command>>& commandRegistry();

struct Registrar {
  explicit Registrar(std::unique_ptr<Command> c) { commandRegistry().push_back(std::move(c)); }
};

#define PLEXUS_TOPO_COMMAND(Type)                                 \
  static const ::plexus::tools::topo::Registrar registrar##Type { \
    std::make_unique<Type>()                                      \
  }

// The system the options name: --file, else --system, else this machine (PLEXUS_TOPO_FILE or
// discovery).
plexus::topo::System loadSystem(const GlobalOptions& global);

// Writes text to stdout (or to `path` when not empty), failing loudly on I/O errors.
void emit(const std::string& text, const std::string& path = {});

}  // namespace plexus::tools::topo
