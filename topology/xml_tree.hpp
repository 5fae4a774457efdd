// The element tree NCCL topology XML is imported from and exported to. pugixml reads and writes
// the text; this layer keeps only what NCCL XML uses (elements and their attributes, each element
// with its line for error messages) and turns pugixml's errors into ones that name the file, the
// line and what is wrong. Text content, CDATA and DOCTYPE are rejected: NCCL XML has none.
#pragma once

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

// Writes an element tree, two spaces per level, attributes in stored order, no declaration.
std::string writeXml(const XmlElement& root);

}  // namespace plexus::topo
