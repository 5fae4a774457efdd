// Internal to the verifier: symbolic values (a multiset of input contributions as a term count
// and a hash over the prime field GF(2^61 - 1)), and the compact form of a set of plans that the
// symbolic run executes. Rank r's input element i contributes A(r) * B(i) with pseudo-random
// A, B; a value's hash is the sum over its contributions, so two different multisets collide
// only when a nonzero polynomial of degree 2 vanishes at a random point (probability < 2^-59).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "algorithms/verifier.hpp"
#include "plan/plan.hpp"

namespace plexus::algo::sym {

constexpr uint64_t kPrime = (uint64_t{1} << 61) - 1;

inline uint64_t addMod(uint64_t a, uint64_t b) {
  const uint64_t s = a + b;
  return s >= kPrime ? s - kPrime : s;
}
inline uint64_t subMod(uint64_t a, uint64_t b) {
  return a >= b ? a - b : a + kPrime - b;
}
inline uint64_t mulMod(uint64_t a, uint64_t b) {
  const unsigned __int128 x = static_cast<unsigned __int128>(a) * b;
  uint64_t r = static_cast<uint64_t>(x & kPrime) + static_cast<uint64_t>(x >> 61);
  return r >= kPrime ? r - kPrime : r;
}
inline uint64_t mix64(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The order of a reduction (checked in reproducible mode, VerifyOptions::checkOrder): a hash of
// the expression tree, the input's hash at a leaf and orderOf(a, b) at a binary reduction. It is
// symmetric (a (+) b equals b (+) a bitwise in the kernels) and not associative, so two values
// have equal orders (up to a 2^-64-ish collision) only when their trees are the same.
inline uint64_t orderOf(uint64_t a, uint64_t b) {
  const uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
  return mix64(mix64(lo ^ 0x6a09e667f3bcc909ull) + 0x9e3779b97f4a7c15ull * hi);
}

struct Val {
  uint64_t hash = 0;
  uint64_t order = 0;       // expression tree (orderOf)
  uint32_t terms : 30 = 0;  // number of contributions (with multiplicity)
  uint32_t defined : 1 = 0;
  uint32_t finalized : 1 = 0;
  uint32_t writer = 0;  // in memory: step id + 1 of the step that stored it (0: initial)
};

class Coefficients {
 public:
  Coefficients(uint64_t seed, int nranks);
  uint64_t rank(int r) const { return rank_[static_cast<size_t>(r)]; }
  uint64_t index(uint64_t i) const {
    return 1 + mix64(indexSeed_ ^ (i * 0xd1b54a32d192ed03ull)) % (kPrime - 1);
  }
  uint64_t input(int r, uint64_t i) const { return mulMod(rank(r), index(i)); }
  uint64_t rankSum() const { return rankSum_; }  // sum of A(r) over all ranks

 private:
  std::vector<uint64_t> rank_;
  uint64_t rankSum_ = 0;
  uint64_t indexSeed_ = 0;
};

// A step with its slices resolved to (buffer, offset) and its FIFOs to indices.
struct CStep {
  StepKind kind = StepKind::kSend;
  uint8_t finalize = 0;
  Buffer srcBuf = Buffer::kInput, src2Buf = Buffer::kInput, dstBuf = Buffer::kOutput;
  int32_t recvPeer = -1, sendPeer = -1;
  uint32_t count = 0;
  uint32_t srcOff = 0, src2Off = 0, dstOff = 0;
  uint32_t fifoIn = 0, fifoOut = 0;
};

// One channel of one rank: an independent sequential process.
struct Proc {
  int rank = 0;
  int channel = 0;
  int connection = 0;
  uint32_t begin = 0, end = 0;  // its steps in Program::steps
};

struct FifoKey {
  int connection = 0;
  int src = 0;
  int dst = 0;
};

struct Program {
  Collective collective = Collective::kAllReduce;
  int nranks = 0;
  int root = -1;
  uint64_t count = 0;
  uint64_t fifoElems = 0;                            // 0: unbounded
  std::vector<std::array<uint64_t, 3>> bufferCount;  // per rank: input, output, scratch
  std::vector<CStep> steps;
  std::vector<Proc> procs;  // in rank order, then channel order
  std::vector<FifoKey> fifos;

  Step expand(uint32_t step) const;         // back to the IR, for messages
  const Proc& procOf(uint32_t step) const;  // the process a step belongs to
  std::string where(uint32_t step) const;   // "rank R channel C step S <step>"
};

// Buffer placement of one rank: base of input, output, scratch in one address space.
struct Layout {
  uint64_t base[3] = {0, 0, 0};
  uint64_t size = 0;
};

// Finds two channels of one rank that touch the same element, one of them writing it (channels
// run concurrently); describes the first such pair.
bool findChannelRace(const Program& program, const std::vector<Layout>& layouts,
                     std::string& error);

// Runs the program in one placement and checks it; appends errors (prefixed with the placement).
// Returns the number of messages delivered.
uint64_t runSymbolic(const Program& program, bool inPlace, const Coefficients& coef,
                     const VerifyOptions& options, std::vector<std::string>& errors);

}  // namespace plexus::algo::sym
