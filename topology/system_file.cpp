// Loading and saving whole topology files: NCCL XML or Plexus JSON, chosen by content on load
// and by file name on save.
#include <cctype>

#include "base/error.hpp"
#include "topology/discovery.hpp"
#include "topology/file_io.hpp"
#include "topology/json_format.hpp"
#include "topology/nccl_xml.hpp"

namespace plexus::topo {

System loadSystemFile(const std::string& path) {
  const std::string text = readTextFile(path);
  size_t i = 0;
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF) i = 3;  // UTF-8 BOM
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (i == text.size())
    throwError(ErrorCode::kInvalidArgument, "%s: the topology file is empty", path.c_str());
  if (text[i] == '{') return importJson(text, path);
  if (text[i] == '<') return importNcclXml(text, path);
  throwError(ErrorCode::kInvalidArgument,
             "%s: not a topology file (expected NCCL XML starting with '<' or Plexus JSON "
             "starting with '{')",
             path.c_str());
}

void saveSystemFile(const System& system, const std::string& path) {
  const bool json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  writeTextFile(path, json ? exportJson(system) : exportNcclXml(system, 0));
}

}  // namespace plexus::topo
