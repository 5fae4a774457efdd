// The soak (docs/reliability.md, "Soak"): 8 rank processes run randomized operations for a given
// time (PLEXUS_SOAK_SECONDS, 60 by default; scripts/soak.sh --minutes N for long runs), each
// checked exactly against a reference. Every rank draws the same sequence of operations from the
// seed (PLEXUS_SOAK_SEED, else one from the clock; always printed), so op #i of seed S is the same
// operation in every run: a wrong result or a failed call prints both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

#include "plexus/nccl.h"
#include "plexus/types.hpp"

namespace plexus::testing::soak {

enum class Kind { kAllReduce, kReduce, kReduceScatter, kAllGather, kBroadcast, kSendRecv };

struct Op {
  Kind kind = Kind::kAllReduce;
  DataType type = DataType::kInt32;
  RedOp op = RedOp::kSum;
  size_t count = 0;  // elements (per rank block for reduce-scatter, all-gather)
  int root = 0;      // reduce, broadcast
  int shift = 0;     // send/recv: rank r sends to r+shift, receives from r-shift (mod n)
  bool inPlace = false;
  uint64_t seed = 0;  // the data
};

// The next operation of the sequence (the same on every rank).
Op drawOp(std::mt19937_64& rng, int nranks);
// "allreduce int32 sum count=1021 in-place" and the like.
std::string describe(const Op& op);

// The operation's buffers on one rank: issue() makes the call (inside a group or not), check()
// compares the result with the reference afterwards ("" when exact).
class Exec {
 public:
  Exec(const Op& op, int rank, int nranks);
  ncclResult_t issue(ncclComm_t comm);
  std::string check() const;

 private:
  unsigned char* recvPtr();
  const unsigned char* recvPtr() const;
  Op op_;
  int rank_;
  int nranks_;
  size_t esz_;
  std::vector<unsigned char> in_;   // out-of-place input
  std::vector<unsigned char> out_;  // output (in place: also the input), then guard bytes
  size_t outElems_ = 0;             // elements of out_ before the guard
};

}  // namespace plexus::testing::soak
