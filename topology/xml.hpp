// A small XML reader and writer for NCCL topology files: elements, attributes, comments, the
// <?xml?> declaration and the five predefined entities plus numeric character references. No
// DTDs, namespaces or mixed content (text between elements is ignored when blank and rejected
// otherwise). Errors name the file and line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace plexus::topo {

struct XmlElement {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attrs;  // in document order
  std::vector<XmlElement> children;
  int line = 0;

  const std::string* attr(std::string_view key) const;
  void set(std::string key, std::string value);  // append or replace
};

// Parses a document with exactly one root element. `origin` (a file name) prefixes errors:
// "origin:LINE: what". Throws Error(kInvalidArgument).
XmlElement parseXml(std::string_view text, const std::string& origin);

// Writes an element tree, two spaces per level, attributes in stored order.
std::string writeXml(const XmlElement& root);

}  // namespace plexus::topo
