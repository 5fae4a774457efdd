// plexus-topo matrix: the path class between every pair of GPUs and NICs, like
// `nvidia-smi topo -m` (NV# for NVLink counts), with CPU and NUMA affinity and a legend.
#include "base/error.hpp"
#include "command.hpp"
#include "topology/paths.hpp"
#include "topology/render.hpp"

namespace plexus::tools::topo {
namespace {

class MatrixCommand : public Command {
 public:
  const char* name() const override { return "matrix"; }
  const char* help() const override {
    return "path class between every GPU/NIC pair (like nvidia-smi topo -m), with a legend";
  }
  void configure(CLI::App& sub) override {
    sub.add_option("--host", host_, "only the GPUs and NICs of this host (index)");
  }
  int run(const GlobalOptions& g) override {
    const plexus::topo::System s = loadSystem(g);
    if (host_ >= s.hostCount())
      throwError(ErrorCode::kInvalidArgument, "--host %d: %s has %d host(s)", host_,
                 s.name().c_str(), s.hostCount());
    plexus::topo::MatrixOptions o;
    o.host = host_;
    const plexus::topo::PathFinder finder(s);
    const plexus::topo::PathTable t = finder.table(plexus::topo::matrixNodes(s, o));
    if (t.size() == 0 && !g.json) {
      emit("No GPUs or NICs in " + s.name() + ".\n");
      return 0;
    }
    emit(g.json ? plexus::topo::matrixJson(s, t) : plexus::topo::renderMatrix(s, t));
    return 0;
  }

 private:
  int host_ = -1;
};

PLEXUS_TOPO_COMMAND(MatrixCommand);

}  // namespace
}  // namespace plexus::tools::topo
