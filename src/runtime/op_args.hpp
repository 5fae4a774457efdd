// An operation's arguments as an API received them, and the one place where API arguments are
// checked: the C API (nccl.h) and the C++ API (plexus.hpp) both go through these functions. Each
// check throws Error(kInvalidArgument) with a message naming the rank, the call and the bad
// argument.
#pragma once

#include <cstddef>
#include <string>

#include "kernels/datatype.hpp"
#include "plan/plan.hpp"

namespace plexus::runtime {

struct OpArgs {
  algo::Collective collective = algo::Collective::kAllReduce;
  const void* input = nullptr;
  void* output = nullptr;
  size_t count = 0;
  DataType type = DataType::kFloat32;
  RedOp op = RedOp::kSum;
  int root = 0;  // root, or the peer for send/recv
  bool isSend = false;
};

// Collectives that combine values with a reduction op, and those with a root.
bool reduces(algo::Collective c);
bool rooted(algo::Collective c);

// A datatype or reduction op as a C caller passed it (any int: C does not range-check enums).
// The op is read only for collectives that reduce; others get kSum.
DataType dataTypeFromInt(int value, algo::Collective c, const std::string& context);
RedOp redOpFromInt(int value, algo::Collective c, const std::string& context);

// rank in [0, nranks), nranks >= 1; `call` names the API call.
void checkRankArgs(int rank, int nranks, const char* call);

// Datatype, op, root or peer, and the buffers an operation needs on this rank.
void checkOpArgs(const OpArgs& a, int rank, int nranks, const std::string& context);

// The C++ API's typed calls: elements in * outFactor == elements out * inFactor.
void checkBufferSizes(size_t in, size_t out, size_t inFactor, size_t outFactor,
                      const std::string& context);

}  // namespace plexus::runtime
