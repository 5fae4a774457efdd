// plexus-topo systems: the synthetic systems --system accepts, the spec syntax, and the link
// constants the models use (with their sources).
#include <nlohmann/json.hpp>

#include <cstdio>

#include "command.hpp"
#include "topology/link_constants.hpp"
#include "topology/synthetic.hpp"

namespace plexus::tools::topo {
namespace {

class SystemsCommand : public Command {
 public:
  const char* name() const override { return "systems"; }
  const char* help() const override {
    return "list the synthetic systems, the --system syntax and the link constants";
  }
  void configure(CLI::App&) override {}
  int run(const GlobalOptions& g) override {
    if (g.json) {
      nlohmann::ordered_json j;
      for (const auto& s : plexus::topo::syntheticSystems())
        j["systems"].push_back({{"name", s.name}, {"description", s.description}});
      j["syntax"] = plexus::topo::syntheticSpecHelp();
      for (const auto& r : plexus::topo::linkConstantTable())
        j["link_constants"].push_back({{"link", r.link},
                                       {"nominal_gbps", r.nominalGBps},
                                       {"modeled_gbps", r.modeledGBps},
                                       {"source", r.source}});
      emit(j.dump(1) + "\n");
      return 0;
    }
    std::string out = "Synthetic systems (--system):\n";
    for (const auto& s : plexus::topo::syntheticSystems()) {
      char buf[256];
      std::snprintf(buf, sizeof buf, "  %-12s %s\n", s.name, s.description);
      out += buf;
    }
    out += "\nSyntax: " + std::string(plexus::topo::syntheticSpecHelp()) + "\n";
    out += "\nLink constants (GB/s per direction):\n";
    char buf[512];
    std::snprintf(buf, sizeof buf, "  %-44s %8s %8s  %s\n", "link", "nominal", "modelled",
                  "source");
    out += buf;
    for (const auto& r : plexus::topo::linkConstantTable()) {
      std::snprintf(buf, sizeof buf, "  %-44s %8.1f %8.1f  %s\n", r.link, r.nominalGBps,
                    r.modeledGBps, r.source);
      out += buf;
    }
    emit(out);
    return 0;
  }
};

PLEXUS_TOPO_COMMAND(SystemsCommand);

}  // namespace
}  // namespace plexus::tools::topo
