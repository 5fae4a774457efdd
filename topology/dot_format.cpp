// Graphviz DOT writer.
#include "topology/dot_format.hpp"

#include <cstdio>

#include "topology/describe.hpp"

namespace plexus::topo {
namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

const char* shapeOf(NodeType t) {
  switch (t) {
    case NodeType::kCpu:
      return "box3d";
    case NodeType::kPci:
      return "box";
    case NodeType::kGpu:
      return "box";
    case NodeType::kNic:
      return "ellipse";
    case NodeType::kNvSwitch:
      return "hexagon";
    case NodeType::kNetSwitch:
      return "octagon";
  }
  return "box";
}

const char* colorOf(NodeType t) {
  switch (t) {
    case NodeType::kCpu:
      return "lightblue";
    case NodeType::kPci:
      return "lightgrey";
    case NodeType::kGpu:
      return "palegreen";
    case NodeType::kNic:
      return "khaki";
    case NodeType::kNvSwitch:
      return "plum";
    case NodeType::kNetSwitch:
      return "orange";
  }
  return "white";
}

const char* edgeColor(LinkType t) {
  switch (t) {
    case LinkType::kNvLink:
      return "darkgreen";
    case LinkType::kC2C:
      return "darkviolet";
    case LinkType::kPcie:
      return "black";
    case LinkType::kCpuInterconnect:
      return "blue";
    case LinkType::kNetwork:
      return "darkorange";
  }
  return "black";
}

void writeNode(std::string& out, const Node& n, const char* indent) {
  std::string label = n.name;
  const std::string facts = nodeFacts(n);
  if (!facts.empty()) label += "\n" + facts;
  out += indent + quote(n.name) + " [shape=" + shapeOf(n.type) +
         ", style=filled, fillcolor=" + colorOf(n.type) + ", label=" + quote(label) + "];\n";
}

}  // namespace

std::string exportDot(const System& sys) {
  std::string out = "graph " + quote(sys.name()) + " {\n";
  out += "  graph [rankdir=TB, fontname=Helvetica];\n";
  out += "  node [fontname=Helvetica, fontsize=10];\n";
  out += "  edge [fontname=Helvetica, fontsize=9];\n";
  for (int h = 0; h < sys.hostCount(); ++h) {
    out += "  subgraph " + quote("cluster_" + std::to_string(h)) + " {\n";
    out += "    label=" + quote(sys.hosts()[static_cast<size_t>(h)].name) + ";\n";
    for (const Node& n : sys.nodes())
      if (n.host == h) writeNode(out, n, "    ");
    out += "  }\n";
  }
  for (const Node& n : sys.nodes())
    if (n.host < 0) writeNode(out, n, "  ");
  for (const Link& l : sys.links()) {
    out += "  " + quote(sys.node(l.a).name) + " -- " + quote(sys.node(l.b).name) +
           " [color=" + edgeColor(l.type) + ", label=" + quote(linkSummary(l)) + "];\n";
  }
  out += "}\n";
  return out;
}

}  // namespace plexus::topo
