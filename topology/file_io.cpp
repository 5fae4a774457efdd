// File helpers for topology import and export.
#include "topology/file_io.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/error.hpp"

namespace plexus::topo {

std::string readTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throwSystemError(errno, "cannot read topology file %s", path.c_str());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throwSystemError(errno, "error while reading topology file %s", path.c_str());
  return ss.str();
}

void writeTextFile(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throwSystemError(errno, "cannot write topology file %s", tmp.c_str());
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) {
      const int err = errno;
      std::remove(tmp.c_str());
      throwSystemError(err, "error while writing topology file %s", tmp.c_str());
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throwSystemError(err, "cannot move %s to %s", tmp.c_str(), path.c_str());
  }
}

std::string fileStem(const std::string& path) {
  std::string base = path;
  if (auto slash = base.find_last_of('/'); slash != std::string::npos)
    base = base.substr(slash + 1);
  if (auto dot = base.find_last_of('.'); dot != std::string::npos && dot > 0)
    base = base.substr(0, dot);
  return base.empty() ? path : base;
}

}  // namespace plexus::topo
