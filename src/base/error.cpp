// Error construction helpers.
#include "base/error.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

namespace plexus {
namespace {
std::string vformat(const char* fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n), '\0');
  std::vsnprintf(out.data(), out.size() + 1, fmt, ap);
  return out;
}
}  // namespace

std::string formatString(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = vformat(fmt, ap);
  va_end(ap);
  return s;
}

void throwError(ErrorCode code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = vformat(fmt, ap);
  va_end(ap);
  throw Error(code, s);
}

void throwSystemError(int err, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = vformat(fmt, ap);
  va_end(ap);
  s += ": ";
  s += std::strerror(err);
  throw Error(ErrorCode::kSystem, s);
}

}  // namespace plexus
