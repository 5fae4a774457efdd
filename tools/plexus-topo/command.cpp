// Shared parts of plexus-topo: the registry, system loading and output.
#include "command.hpp"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "base/error.hpp"
#include "topology/discovery.hpp"
#include "topology/file_io.hpp"
#include "topology/synthetic.hpp"

namespace plexus::tools::topo {

std::vector<std::unique_ptr<Command>>& commandRegistry() {
  static std::vector<std::unique_ptr<Command>> registry;
  return registry;
}

plexus::topo::System loadSystem(const GlobalOptions& g) {
  if (!g.file.empty() && !g.system.empty())
    throwError(ErrorCode::kInvalidArgument, "--file and --system name two systems; give one");
  if (!g.file.empty()) {
    std::error_code ec;
    if (std::filesystem::is_directory(g.file, ec))
      throwError(ErrorCode::kInvalidArgument,
                 "--file %s: is a directory; give an NCCL topology XML or Plexus JSON file",
                 g.file.c_str());
    return plexus::topo::loadSystemFile(g.file);
  }
  if (!g.system.empty()) return plexus::topo::makeSyntheticSystem(g.system);
  return plexus::topo::loadLocalSystem();
}

void emit(const std::string& text, const std::string& path) {
  if (!path.empty() && path != "-") {
    plexus::topo::writeTextFile(path, text);
    return;
  }
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0)
    throwSystemError(errno, "cannot write to standard output");
}

}  // namespace plexus::tools::topo
