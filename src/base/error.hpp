// Error type used inside Plexus: a result code (same values as ncclResult_t) and a message that
// says what happened, where (rank, peer, host, transport) and what to check.
#pragma once

#include <string>

#include "plexus/types.hpp"

namespace plexus {

// printf-style helpers that build the message.
[[noreturn]] void throwError(ErrorCode code, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
// Like throwError(kSystem, ...) with ": strerror(err)" appended.
[[noreturn]] void throwSystemError(int err, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

std::string formatString(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace plexus
