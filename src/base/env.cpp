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

// What a malformed numeric variable means and its default, for the error.
std::string meaningOf(std::string_view name) {
  const EnvVar* var = findVar(name);
  return formatString("default %s; %s", *var->defaultValue ? var->defaultValue : "unset",
                      var->meaning);
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
    throwError(ErrorCode::kInvalidArgument, "PLEXUS_%.*s='%s' is not a 64-bit integer (%s)",
               static_cast<int>(name.size()), name.data(), v->c_str(), meaningOf(name).c_str());
  return x;
}

double envDouble(std::string_view name, double fallback) {
  auto v = envGet(name);
  if (!v) return fallback;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0')
    throwError(ErrorCode::kInvalidArgument, "PLEXUS_%.*s='%s' is not a number (%s)",
               static_cast<int>(name.size()), name.data(), v->c_str(), meaningOf(name).c_str());
  return x;
}

bool envBool(std::string_view name, bool fallback) {
  auto v = envGet(name);
  if (!v) return fallback;
  const std::string& s = *v;
  if (s == "1" || s == "true" || s == "TRUE" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "FALSE" || s == "no" || s == "off") return false;
  throwError(ErrorCode::kInvalidArgument, "PLEXUS_%.*s='%s' is not a boolean (use 0 or 1)",
             static_cast<int>(name.size()), name.data(), s.c_str());
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
  if (!s)
    throwError(ErrorCode::kInvalidArgument, "PLEXUS_%.*s='%s' is not a size (e.g. 4096, 512K, 4M)",
               static_cast<int>(name.size()), name.data(), v->c_str());
  return *s;
}

}  // namespace plexus
