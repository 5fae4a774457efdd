// Error type used inside Plexus: a result code (same values as ncclResult_t) and a message that
// says what happened, where (rank, peer, host, transport) and what to check.
#pragma once

#include <stdexcept>
#include <string>

namespace plexus {

// Values equal ncclResult_t so the C API can return them directly.
enum class ErrorCode : int {
  kSuccess = 0,
  kSystem = 2,           // an OS call failed (socket, mmap, ...)
  kInternal = 3,         // a Plexus bug or broken invariant
  kInvalidArgument = 4,  // bad argument to an API call
  kInvalidUsage = 5,     // API used in the wrong way or order
  kRemote = 6,           // a peer failed, vanished or timed out
  kInProgress = 7,
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// printf-style helpers that build the message.
[[noreturn]] void throwError(ErrorCode code, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
// Like throwError(kSystem, ...) with ": strerror(err)" appended.
[[noreturn]] void throwSystemError(int err, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

std::string formatString(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

const char* errorCodeName(ErrorCode code);

}  // namespace plexus
