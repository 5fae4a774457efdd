// Fuzz targets for topology files: NCCL topology XML (NCCL_TOPO_FILE) and Plexus topology JSON.
// What imports must export, and the export must import again.
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "fuzz_targets.hpp"
#include "topology/json_format.hpp"
#include "topology/nccl_xml.hpp"

namespace plexus::fuzz {

int ncclXml(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  topo::System sys;
  try {
    sys = topo::importNcclXml(text, "fuzz.xml");
  } catch (const Error&) {
    return 0;
  }
  if (sys.hostCount() == 0) return 0;
  const std::string out = topo::exportNcclXml(sys, 0);
  try {
    (void)topo::importNcclXml(out, "fuzz-export.xml");
  } catch (const Error& e) {
    broken("exported NCCL XML does not import again");
  }
  return 0;
}

int topologyJson(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  topo::System sys;
  try {
    sys = topo::importJson(text, "fuzz.json");
  } catch (const Error&) {
    return 0;
  }
  const std::string out = topo::exportJson(sys);
  try {
    (void)topo::importJson(out, "fuzz-export.json");
  } catch (const Error&) {
    broken("exported topology JSON does not import again");
  }
  return 0;
}

}  // namespace plexus::fuzz
