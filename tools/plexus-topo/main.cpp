// plexus-topo: see how GPUs, NICs and CPUs are wired (this machine, a topology file, or a
// synthetic system) and why Plexus chooses what it chooses.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "base/error.hpp"
#include "command.hpp"

using plexus::tools::topo::Command;
using plexus::tools::topo::commandRegistry;
using plexus::tools::topo::GlobalOptions;

int main(int argc, char** argv) {
  CLI::App app{
      "plexus-topo: inspect the topology Plexus sees: this machine (default), an NCCL topology "
      "XML or Plexus JSON file (--file), or a synthetic system (--system)"};
  app.name("plexus-topo");
  GlobalOptions global;
  auto* file = app.add_option("--file,-f", global.file, "NCCL topology XML or Plexus JSON file");
  auto* system = app.add_option("--system,-s", global.system,
                                "synthetic system: NAME[:xK][,nic=GBPS][,oversub=R][,leaf=H], "
                                "NAME = cpu, dgx-a100, dgx-h100, gb200-nvl72, nvl576 "
                                "(see `plexus-topo systems`)");
  // An empty value is a mistake (a variable that expanded to nothing), not "this machine".
  auto nonEmpty = [](const char* what) {
    return CLI::Validator(
        [what](std::string& value) -> std::string {
          return value.empty() ? std::string("empty value: give ") + what : std::string();
        },
        "");
  };
  file->check(nonEmpty("an NCCL topology XML or Plexus JSON file"));
  system->check(
      nonEmpty("a synthetic system such as dgx-h100 (`plexus-topo systems` lists them), or leave "
               "--system out for this machine"));
  file->excludes(system);
  app.add_flag("--json", global.json, "machine-readable JSON output");
  app.require_subcommand(1);

  auto& commands = commandRegistry();
  std::sort(commands.begin(), commands.end(),
            [](const auto& a, const auto& b) { return std::string(a->name()) < b->name(); });
  std::vector<std::pair<CLI::App*, Command*>> subs;
  for (auto& c : commands) {
    CLI::App* sub = app.add_subcommand(c->name(), c->help());
    sub->fallthrough();  // --file/--system/--json may follow the subcommand
    c->configure(*sub);
    subs.emplace_back(sub, c.get());
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // A usage error (unknown option, bad value): exit 2, as the perf tools and plexus-run.
    std::fprintf(stderr, "plexus-topo: error: %s\nRun with --help for more information.\n",
                 e.what());
    return 2;
  }
  try {
    for (auto& [sub, cmd] : subs)
      if (sub->parsed()) return cmd->run(global);
  } catch (const plexus::Error& e) {
    std::fprintf(stderr, "plexus-topo: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plexus-topo: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
