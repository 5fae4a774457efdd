// plexus-topo draw: a picture of the topology (SVG, PNG or PDF through Graphviz, or the DOT text)
// with link kinds coloured and widths by bandwidth, and optionally the communicator's ring orders
// drawn over it (--ring), so that an operator sees where a ring crosses a socket or a host.
//
//   plexus-topo --system dgx-h100 draw -o dgx-h100.svg
//   plexus-topo --system dgx-h100:x2 draw --ring --channels 2 -o rings.svg
#include <algorithm>

#include "algorithms/topology_costs.hpp"
#include "base/error.hpp"
#include "command.hpp"
#include "graphviz.hpp"
#include "topology/dot_format.hpp"

namespace plexus::tools::topo {
namespace {

class DrawCommand : public Command {
 public:
  const char* name() const override { return "draw"; }
  const char* help() const override {
    return "draw the topology (SVG/PNG/PDF via Graphviz, or DOT), with the ring orders over it "
           "(--ring)";
  }
  void configure(CLI::App& sub) override {
    sub.add_option("--format", format_, "svg (default), png, pdf, or dot (the Graphviz text)")
        ->check(CLI::IsMember({"svg", "png", "pdf", "dot"}));
    sub.add_option("--output,-o", output_,
                   "file to write (default: standard output; png and "
                   "pdf need a file)");
    sub.add_flag("--ring", ring_, "draw the ranks and the ring order(s) the communicator uses");
    sub.add_option("--ranks,-n", ranks_, "--ring: ranks (default: one per GPU, or per host)")
        ->check(CLI::Range(1, 4096));
    sub.add_flag("--labels", labels_,
                 "write every node's and link's facts as labels (default: tooltips in SVG, a "
                 "narrower picture)");
    sub.add_option("--channels", channels_, "--ring: rings to draw (default 1)")
        ->check(CLI::Range(1, 16));
  }
  int run(const GlobalOptions& g) override {
    if ((format_ == "png" || format_ == "pdf") && (output_.empty() || output_ == "-"))
      throwError(ErrorCode::kInvalidArgument,
                 "draw --format %s: give a file with -o (binary output is not written to a "
                 "terminal or pipe)",
                 format_.c_str());
    const plexus::topo::System s = loadSystem(g);
    plexus::topo::DotOverlay overlay;
    if (ring_) {
      overlay.rankDevice = algo::rankDevices(s, ranks_);
      const int n = static_cast<int>(overlay.rankDevice.size());
      overlay.rings = algo::ringOrdersFromSystem(s, n, channels_);
      overlay.title = formatString("ring order%s of %d ranks", channels_ > 1 ? "s" : "", n);
    }
    plexus::topo::DotOptions options;
    options.overlay = ring_ ? &overlay : nullptr;
    options.compact = !labels_;
    const std::string dot = plexus::topo::exportDot(s, options);
    if (format_ == "dot") {
      emit(dot, output_);
      return 0;
    }
    renderWithGraphviz(dot, format_, output_);
    return 0;
  }

 private:
  std::string format_ = "svg";
  std::string output_;
  bool ring_ = false;
  bool labels_ = false;
  int ranks_ = 0;
  int channels_ = 1;
};

PLEXUS_TOPO_COMMAND(DrawCommand);

}  // namespace
}  // namespace plexus::tools::topo
