// Plexus's public vocabulary types, shared by the C++ API (plexus.hpp) and the library itself:
// datatypes and reduction operations (values equal ncclDataType_t / ncclRedOp_t), error codes
// (values equal ncclResult_t) and the exception the C++ API throws.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#if defined(__GNUC__)
#define PLEXUS_PUBLIC __attribute__((visibility("default")))
#else
#define PLEXUS_PUBLIC
#endif

namespace plexus {

enum class DataType : uint8_t {
  kInt8 = 0,
  kUint8 = 1,
  kInt32 = 2,
  kUint32 = 3,
  kInt64 = 4,
  kUint64 = 5,
  kFloat16 = 6,
  kFloat32 = 7,
  kFloat64 = 8,
  kBfloat16 = 9,
  kFp8E4M3 = 10,
  kFp8E5M2 = 11,
};
constexpr int kNumDataTypes = 12;

enum class RedOp : uint8_t { kSum = 0, kProd = 1, kMax = 2, kMin = 3, kAvg = 4 };
constexpr int kNumRedOps = 5;

// Values equal ncclResult_t so the C API returns them directly.
enum class ErrorCode : int {
  kSuccess = 0,
  kSystem = 2,           // an OS call failed (socket, mmap, ...)
  kInternal = 3,         // a Plexus bug or broken invariant
  kInvalidArgument = 4,  // bad argument to an API call
  kInvalidUsage = 5,     // API used in the wrong way or order
  kRemote = 6,           // a peer failed, vanished or timed out
  kInProgress = 7,
};

// Every failure: a code and a one-line message saying what happened, where (rank, peer, host,
// transport) and what to check.
class PLEXUS_PUBLIC Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace plexus
