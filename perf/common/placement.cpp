// Launcher environment detection for the perf tools (see placement.hpp).
#include "common/placement.hpp"

#include <cstdlib>
#include <stdexcept>

namespace plexus::perf {
namespace {

int parseCount(const std::string& text, const char* name) {
  try {
    size_t pos = 0;
    long v = std::stol(text, &pos);
    if (pos == text.size() && v >= 0 && v <= (1 << 24)) return static_cast<int>(v);
  } catch (const std::exception&) {
  }
  throw std::runtime_error(std::string(name) + "='" + text + "' is not a valid number");
}

}  // namespace

std::optional<std::string> processEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

ProcessPlacement detectPlacement(const EnvLookup& env) {
  struct Source {
    const char* rank;
    const char* size;
    const char* launcher;
  };
  static constexpr Source kSources[] = {
      {"PLEXUS_RANK", "PLEXUS_WORLD_SIZE", "a launcher setting the Plexus rank variables"},
      {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "Open MPI"},
      {"SLURM_PROCID", "SLURM_NTASKS", "Slurm"},
      {"RANK", "WORLD_SIZE", "torchrun"},
  };
  for (const Source& s : kSources) {
    auto rank = env(s.rank);
    auto size = env(s.size);
    if (!rank && !size) continue;
    if (!rank || !size)
      throw std::runtime_error(std::string(rank ? s.rank : s.size) + " is set but " +
                               (rank ? s.size : s.rank) + " is not");
    ProcessPlacement p;
    p.rank = parseCount(*rank, s.rank);
    p.size = parseCount(*size, s.size);
    p.source =
        std::string(s.launcher) + " (" + s.rank + "=" + *rank + ", " + s.size + "=" + *size + ")";
    if (p.size < 1 || p.rank >= p.size)
      throw std::runtime_error(p.source + ": the rank must be below the world size");
    return p;
  }
  return ProcessPlacement{};
}

std::optional<int> detectLocalRank(const EnvLookup& env) {
  for (const char* name :
       {"PLEXUS_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "LOCAL_RANK"}) {
    auto v = env(name);
    if (!v) continue;
    try {
      return parseCount(*v, name);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace plexus::perf
