// plexus-topo show: the machine as an indented tree (CPU packages, NUMA nodes, PCIe switches,
// GPUs, NICs with link kinds and speeds), then NVLinks, the fabric and notes.
#include "base/error.hpp"
#include "command.hpp"
#include "topology/describe.hpp"
#include "topology/json_format.hpp"
#include "topology/render.hpp"

namespace plexus::tools::topo {
namespace {

class ShowCommand : public Command {
 public:
  const char* name() const override { return "show"; }
  const char* help() const override {
    return "show the topology as a tree (like lstopo), with link kinds and speeds";
  }
  void configure(CLI::App& sub) override {
    sub.add_option("--host", host_, "only this host (index) of a multi-host system");
    sub.add_flag("--all", all_, "every host of a multi-host system (default: the first)");
    sub.add_flag("--brief", brief_, "a few lines: packages, NUMA nodes, cores, NICs, GPUs");
  }
  int run(const GlobalOptions& g) override {
    const plexus::topo::System s = loadSystem(g);
    if (host_ >= s.hostCount())
      throwError(ErrorCode::kInvalidArgument, "--host %d: %s has %d host(s)", host_,
                 s.name().c_str(), s.hostCount());
    if (g.json) {
      emit(plexus::topo::exportJson(s));
    } else if (brief_) {
      emit(plexus::topo::describeLocal(s));
    } else {
      plexus::topo::ShowOptions o;
      o.host = host_;
      o.allHosts = all_;
      emit(plexus::topo::renderShow(s, o));
    }
    return 0;
  }

 private:
  int host_ = -1;
  bool all_ = false;
  bool brief_ = false;
};

PLEXUS_TOPO_COMMAND(ShowCommand);

}  // namespace
}  // namespace plexus::tools::topo
