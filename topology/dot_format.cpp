// Graphviz DOT writer.
#include "topology/dot_format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>

#include "base/error.hpp"

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

// 0.8 at 1 GB/s, about 2.6 for PCIe Gen5 x16, 4 for 18 NVLinks; at most 6.
double penWidth(double bwGBps) {
  return std::clamp(0.8 + 0.5 * std::log2(1.0 + std::max(0.0, bwGBps)), 0.8, 6.0);
}

void writeLegend(std::string& out) {
  out += "  subgraph \"cluster_legend\" {\n    label=\"links (width: bandwidth)\"; fontsize=10;\n";
  const LinkType kinds[] = {LinkType::kNvLink, LinkType::kC2C, LinkType::kPcie,
                            LinkType::kCpuInterconnect, LinkType::kNetwork};
  const char* names[] = {"NVLink", "C2C", "PCIe", "CPU interconnect", "network"};
  for (size_t i = 0; i < std::size(kinds); ++i) {
    const std::string a = "legend_" + std::to_string(i) + "a";
    const std::string b = "legend_" + std::to_string(i) + "b";
    out += "    " + quote(a) + " [shape=point, width=0.05]; " + quote(b) +
           " [shape=plaintext, fontsize=9, label=" + quote(names[i]) + "];\n";
    out += "    " + quote(a) + " -- " + quote(b) + " [color=" + edgeColor(kinds[i]) +
           ", penwidth=2];\n";
  }
  out += "  }\n";
}

const char* ringColor(size_t ring) {
  static const char* colors[] = {"red", "blue", "darkgreen", "magenta", "brown", "cyan4"};
  return colors[ring % std::size(colors)];
}

std::string rankNode(int r) {
  return "rank " + std::to_string(r);
}

// The ranks, tied to their devices.
void writeRanks(std::string& out, const System& sys, const DotOverlay& o) {
  const char* indent = "  ";
  for (size_t r = 0; r < o.rankDevice.size(); ++r) {
    const Node& device = sys.node(o.rankDevice[r]);
    const std::string name = rankNode(static_cast<int>(r));
    out += indent + quote(name) +
           " [shape=circle, fontsize=8, width=0.3, fixedsize=true, style=filled, "
           "fillcolor=white, label=" +
           quote(std::to_string(r)) + "];\n";
    out += indent + quote(name) + " -- " + quote(device.name) + " [style=dotted, color=grey];\n";
  }
}

void writeRings(std::string& out, const DotOverlay& o) {
  for (size_t c = 0; c < o.rings.size(); ++c) {
    const std::vector<int>& ring = o.rings[c];
    for (size_t i = 0; ring.size() > 1 && i < ring.size(); ++i) {
      out += "  " + quote(rankNode(ring[i])) + " -- " +
             quote(rankNode(ring[(i + 1) % ring.size()])) +
             " [dir=forward, constraint=false, penwidth=1.5, color=" + ringColor(c);
      if (i == 0)
        out += ", label=" + quote("ring " + std::to_string(c)) + ", fontcolor=" + ringColor(c);
      out += "];\n";
    }
  }
}

void writeNode(std::string& out, const Node& n, const char* indent, bool compact) {
  std::string label = n.name;
  const std::string facts = nodeFacts(n);
  if (!facts.empty() && !compact) label += "\n" + facts;
  out += indent + quote(n.name) + " [shape=" + shapeOf(n.type) +
         ", style=filled, fillcolor=" + colorOf(n.type) + ", label=" + quote(label) +
         ", tooltip=" + quote(facts.empty() ? n.name : facts) + "];\n";
}

}  // namespace

std::string exportDot(const System& sys, const DotOptions& options) {
  const DotOverlay* overlay = options.overlay;
  std::string out = "graph " + quote(sys.name()) + " {\n";
  const std::string title =
      sys.name() + (overlay && !overlay->title.empty() ? ": " + overlay->title : std::string());
  out += "  graph [rankdir=TB, fontname=Helvetica, labelloc=t, label=" + quote(title) + "];\n";
  out += "  node [fontname=Helvetica, fontsize=10];\n";
  out += "  edge [fontname=Helvetica, fontsize=9];\n";
  for (int h = -1; h < sys.hostCount(); ++h) {
    const char* indent = h < 0 ? "  " : "    ";
    if (h >= 0) {
      out += "  subgraph " + quote("cluster_" + std::to_string(h)) + " {\n";
      out += "    label=" + quote(sys.hosts()[static_cast<size_t>(h)].name) + ";\n";
    }
    for (const Node& n : sys.nodes())
      if (n.host == h) writeNode(out, n, indent, options.compact);
    if (h >= 0) out += "  }\n";
  }
  // Outside the hosts' clusters: dot lays out ring edges between clusters very slowly (minutes
  // for 16 ranks on two hosts) when the ranks are inside them.
  if (overlay != nullptr) writeRanks(out, sys, *overlay);
  for (const Link& l : sys.links()) {
    out += "  " + quote(sys.node(l.a).name) + " -- " + quote(sys.node(l.b).name) +
           " [color=" + edgeColor(l.type) + ", penwidth=" + formatString("%.1f", penWidth(l.bw)) +
           (options.compact ? ", tooltip=" : ", label=") + quote(linkSummary(l)) + "];\n";
  }
  writeLegend(out);
  if (overlay != nullptr) writeRings(out, *overlay);
  out += "}\n";
  return out;
}

std::string exportDot(const System& sys) {
  return exportDot(sys, DotOptions{});
}

}  // namespace plexus::topo
