// Whole-file reads and writes with errors that name the file.
#pragma once

#include <string>
#include <string_view>

namespace plexus::topo {

// Throws Error(kSystem) "cannot read topology file PATH: reason".
std::string readTextFile(const std::string& path);
// Writes through a temporary file and a rename, so readers never see half a file.
void writeTextFile(const std::string& path, std::string_view text);
// "dir/name.ext" -> "name"
std::string fileStem(const std::string& path);

}  // namespace plexus::topo
