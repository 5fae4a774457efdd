// Environment lookup with NCCL aliases and a registry check.
#include "base/env.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/error.hpp"

namespace plexus {
namespace {
const EnvVar* findVar(std::string_view name) {
  for (const EnvVar& v : documentedEnvVars())
    if (name == v.name) return &v;
  return nullptr;
}

std::optional<std::string> rawGet(const std::string& full) {
  const char* v = std::getenv(full.c_str());
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// The variable that holds name's value: PLEXUS_NAME, or NCCL_NAME when only the alias is set.
std::string setName(std::string_view name) {
  const std::string plexus = "PLEXUS_" + std::string(name);
  if (rawGet(plexus)) return plexus;
  const EnvVar* var = findVar(name);
  if (var != nullptr && var->ncclAlias && rawGet("NCCL_" + std::string(name)))
    return "NCCL_" + std::string(name);
  return plexus;
}

// The error for a value its parser refused: the variable set, the value seen, what it takes and
// what it means, e.g. "PLEXUS_SLOTS='8x' is not a 64-bit integer (default 8; Slots per connection
// FIFO ...); set a whole number such as 8, -1 or 0x40, or unset it for the default".
[[noreturn]] void refuse(std::string_view name, const std::string& value, const char* notA,
                         const char* accepted) {
  const EnvVar* var = findVar(name);
  throwError(ErrorCode::kInvalidArgument,
             "%s='%s' is not %s (default %s; %s); set %s, or unset it for the default",
             setName(name).c_str(), value.c_str(), notA,
             *var->defaultValue ? var->defaultValue : "unset", var->meaning, accepted);
}
}  // namespace

std::optional<std::string> envGet(std::string_view name) {
  const EnvVar* var = findVar(name);
  if (var == nullptr)
    throwError(ErrorCode::kInternal,
               "environment variable PLEXUS_%.*s is read but not documented in env_registry.cpp",
               static_cast<int>(name.size()), name.data());
  if (auto v = rawGet("PLEXUS_" + std::string(name))) return v;
  if (var->ncclAlias) return rawGet("NCCL_" + std::string(name));
  return std::nullopt;
}

std::string envString(std::string_view name, std::string_view fallback) {
  auto v = envGet(name);
  return v ? *v : std::string(fallback);
}

int64_t envInt(std::string_view name, int64_t fallback) {
  auto v = envGet(name);
  if (!v) return fallback;
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v->c_str(), &end, 0);
  if (end == v->c_str() || *end != '\0' || errno == ERANGE)
    refuse(name, *v, "a 64-bit integer", "a whole number such as 8, -1 or 0x40");
  return x;
}

double envDouble(std::string_view name, double fallback) {
  auto v = envGet(name);
  if (!v) return fallback;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0') refuse(name, *v, "a number", "a number such as 30 or 0.5");
  return x;
}

bool envBool(std::string_view name, bool fallback) {
  auto v = envGet(name);
  if (!v) return fallback;
  const std::string& s = *v;
  if (s == "1" || s == "true" || s == "TRUE" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "FALSE" || s == "no" || s == "off") return false;
  refuse(name, s, "a boolean", "1 (or true, yes, on) or 0 (or false, no, off)");
}

std::optional<uint64_t> parseSize(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;  // does not fit: refused
    value = value * 10 + digit;
  }
  if (i == 0) return std::nullopt;
  if (i == text.size()) return value;
  if (i + 1 != text.size() && !(i + 2 == text.size() && (text[i + 1] == 'B' || text[i + 1] == 'b')))
    return std::nullopt;
  auto shifted = [value](int bits) -> std::optional<uint64_t> {
    if (value > (UINT64_MAX >> bits)) return std::nullopt;
    return value << bits;
  };
  switch (text[i]) {
    case 'K':
    case 'k':
      return shifted(10);
    case 'M':
    case 'm':
      return shifted(20);
    case 'G':
    case 'g':
      return shifted(30);
    case 'T':
    case 't':
      return shifted(40);
    case 'B':
    case 'b':
      return i + 1 == text.size() ? std::optional<uint64_t>(value) : std::nullopt;
    default:
      return std::nullopt;
  }
}

uint64_t envSize(std::string_view name, uint64_t fallback) {
  auto v = envGet(name);
  if (!v) return fallback;
  auto s = parseSize(*v);
  if (!s) refuse(name, *v, "a size", "bytes such as 4096, 512K, 4M or 1G (K/M/G/T, optional B)");
  return *s;
}

}  // namespace plexus
