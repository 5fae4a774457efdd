// plexus-topo export: write the topology as NCCL XML (one host; usable as NCCL_TOPO_FILE or
// PLEXUS_TOPO_FILE), Plexus JSON (everything) or Graphviz DOT.
#include "base/error.hpp"
#include "command.hpp"
#include "topology/dot_format.hpp"
#include "topology/json_format.hpp"
#include "topology/nccl_xml.hpp"

namespace plexus::tools::topo {
namespace {

class ExportCommand : public Command {
 public:
  const char* name() const override { return "export"; }
  const char* help() const override {
    return "write the topology as NCCL XML, Plexus JSON or Graphviz DOT";
  }
  void configure(CLI::App& sub) override {
    sub.add_option("--format", format_, "xml (NCCL, one host), json (Plexus) or dot (Graphviz)")
        ->check(CLI::IsMember({"xml", "json", "dot"}));
    sub.add_option("--output,-o", output_, "file to write (default: standard output)");
    sub.add_option("--host", host_, "host to write as NCCL XML (default 0)");
  }
  int run(const GlobalOptions& g) override {
    std::string format = format_;
    if (format.empty()) format = g.json ? "json" : "xml";
    if (g.json && format != "json")
      throwError(ErrorCode::kInvalidArgument, "--json conflicts with --format %s", format.c_str());
    const plexus::topo::System s = loadSystem(g);
    if (format == "xml") {
      if (s.hostCount() > 1 && host_ == 0)
        std::fprintf(stderr, "plexus-topo: %s has %d hosts; writing host 0 (%s) (--host N)\n",
                     s.name().c_str(), s.hostCount(), s.hosts()[0].name.c_str());
      emit(plexus::topo::exportNcclXml(s, host_), output_);
    } else if (format == "json") {
      emit(plexus::topo::exportJson(s), output_);
    } else {
      emit(plexus::topo::exportDot(s), output_);
    }
    return 0;
  }

 private:
  std::string format_;
  std::string output_;
  int host_ = 0;
};

PLEXUS_TOPO_COMMAND(ExportCommand);

}  // namespace
}  // namespace plexus::tools::topo
