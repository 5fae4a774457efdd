// Rendering DOT text with Graphviz's `dot` program (Debian package graphviz), for `plexus-topo
// draw`. The program runs as a child with a bounded wait; a missing `dot` is a clear error.
#pragma once

#include <chrono>
#include <string>

namespace plexus::tools::topo {

// Writes `dotText` rendered as `format` ("svg", "png", "pdf") to `outputPath` ("" or "-":
// standard output). Throws plexus::Error naming the program, its exit status and what to install
// or check; kills the child after `limit`.
void renderWithGraphviz(const std::string& dotText, const std::string& format,
                        const std::string& outputPath,
                        std::chrono::seconds limit = std::chrono::seconds(120));

}  // namespace plexus::tools::topo
