// plexus-topo paths A B: the path Plexus models between two nodes: hops, links, bottleneck
// bandwidth, latency and class.
#include "base/error.hpp"
#include "command.hpp"
#include "topology/paths.hpp"
#include "topology/render.hpp"

namespace plexus::tools::topo {
namespace {

class PathsCommand : public Command {
 public:
  const char* name() const override { return "paths"; }
  const char* help() const override {
    return "hops, bottleneck bandwidth, latency and class of the path between two nodes";
  }
  void configure(CLI::App& sub) override {
    sub.add_option("from", from_,
                   "node: name (GPU0, node01/NIC3), PCI bus id, netdev or RDMA "
                   "device")
        ->required();
    sub.add_option("to", to_, "node, as for 'from'")->required();
  }
  int run(const GlobalOptions& g) override {
    const plexus::topo::System s = loadSystem(g);
    const auto a = resolve(s, from_);
    const auto b = resolve(s, to_);
    const plexus::topo::Path p = plexus::topo::findPath(s, a, b);
    emit(g.json ? plexus::topo::pathJson(s, p) : plexus::topo::renderPath(s, p));
    return 0;
  }

 private:
  static plexus::topo::NodeId resolve(const plexus::topo::System& s, const std::string& text) {
    if (auto id = s.resolve(text)) return *id;
    std::string some;
    int shown = 0;
    for (const auto& n : s.nodes()) {
      if (n.type != plexus::topo::NodeType::kGpu && n.type != plexus::topo::NodeType::kNic)
        continue;
      if (shown++ == 8) {
        some += ", ...";
        break;
      }
      some += (some.empty() ? "" : ", ") + n.name;
    }
    throwError(ErrorCode::kInvalidArgument, "no node '%s' in %s (nodes include %s)", text.c_str(),
               s.name().c_str(), some.empty() ? "none" : some.c_str());
  }
  std::string from_, to_;
};

PLEXUS_TOPO_COMMAND(PathsCommand);

}  // namespace
}  // namespace plexus::tools::topo
