// Configuration by environment. Every variable Plexus reads is listed once in env_registry.cpp
// (name, default, meaning); docs/environment.md documents the same table and a test keeps the
// two in step. A PLEXUS_X variable marked "nccl alias" is also read as NCCL_X when PLEXUS_X is
// not set.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace plexus {

struct EnvVar {
  const char* name;          // without the PLEXUS_ prefix, e.g. "SOCKET_IFNAME"
  const char* defaultValue;  // as documented ("" = unset)
  const char* meaning;       // one line for docs/environment.md
  bool ncclAlias;            // also honoured as NCCL_<name>
};

// The registry of documented variables (read-only, built at compile time).
std::span<const EnvVar> documentedEnvVars();

// Value of PLEXUS_<name> (or NCCL_<name> when the variable is an alias); nullopt when unset or
// empty. Throws Error(kInternal) if <name> is not in the registry: undocumented knobs are bugs.
std::optional<std::string> envGet(std::string_view name);
std::string envString(std::string_view name, std::string_view fallback);
int64_t envInt(std::string_view name, int64_t fallback);
double envDouble(std::string_view name, double fallback);
bool envBool(std::string_view name, bool fallback);
// Size with optional K/M/G suffix (powers of 1024).
uint64_t envSize(std::string_view name, uint64_t fallback);

// Parses "123", "4K", "16M", "1G" (binary multiples). nullopt if malformed or above 2^64 - 1.
std::optional<uint64_t> parseSize(std::string_view text);

}  // namespace plexus
