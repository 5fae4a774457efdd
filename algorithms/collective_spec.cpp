// What a collective call means (collective_spec.hpp): NCCL's buffer sizes, in-place aliasing and
// the expected content of every output element, as symbolic values.
#include "algorithms/collective_spec.hpp"

#include <cinttypes>

#include "algorithms/canonical.hpp"
#include "base/error.hpp"

namespace plexus::algo::sym {
namespace {

uint64_t times(int n, uint64_t count) {
  uint64_t r = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(n), count, &r)) return UINT64_MAX;
  return r;
}

// What output element i of `rank` must hold: every rank's input[index] reduced (reduction), or
// exactly rank `from`'s input[index].
struct Expectation {
  bool reduction = false;
  int from = 0;
  uint64_t index = 0;
};

bool expectation(const Program& p, int rank, uint64_t i, Expectation& e) {
  const uint64_t c = p.count;
  switch (p.collective) {
    case Collective::kAllReduce:
      e = {true, 0, i};
      return true;
    case Collective::kReduce:
      if (rank != p.root) return false;
      e = {true, 0, i};
      return true;
    case Collective::kReduceScatter:
      e = {true, 0, static_cast<uint64_t>(rank) * c + i};
      return true;
    case Collective::kAllGather:
      e = {false, static_cast<int>(i / c), i % c};
      return true;
    case Collective::kBroadcast:
      e = {false, p.root, i};
      return true;
    case Collective::kAllToAll:
      e = {false, static_cast<int>(i / c), static_cast<uint64_t>(rank) * c + i % c};
      return true;
    case Collective::kGather:
      if (rank != p.root) return false;
      e = {false, static_cast<int>(i / c), i % c};
      return true;
    case Collective::kScatter:
      e = {false, p.root, static_cast<uint64_t>(rank) * c + i};
      return true;
    case Collective::kSendRecv:
    case Collective::kBarrier:
      return false;
  }
  return false;
}

}  // namespace

bool apiBufferSizes(Collective c, int nranks, int rank, int root, uint64_t count, uint64_t& input,
                    uint64_t& output) {
  const bool isRoot = rank == root;
  switch (c) {
    case Collective::kAllReduce:
      input = output = count;
      return true;
    case Collective::kBroadcast:
      input = isRoot ? count : 0;
      output = count;
      return true;
    case Collective::kReduce:
      input = count;
      output = isRoot ? count : 0;
      return true;
    case Collective::kAllGather:
      input = count;
      output = times(nranks, count);
      return true;
    case Collective::kReduceScatter:
      input = times(nranks, count);
      output = count;
      return true;
    case Collective::kAllToAll:
      input = output = times(nranks, count);
      return true;
    case Collective::kGather:
      input = count;
      output = isRoot ? times(nranks, count) : 0;
      return true;
    case Collective::kScatter:
      input = isRoot ? times(nranks, count) : 0;
      output = count;
      return true;
    case Collective::kBarrier:
      input = output = 0;
      return true;
    case Collective::kSendRecv:
      return false;
  }
  return false;
}

bool hasInPlace(Collective c) {
  return c != Collective::kAllToAll && c != Collective::kSendRecv && c != Collective::kBarrier;
}

Layout placement(Collective c, int rank, uint64_t count, const std::array<uint64_t, 3>& sizes,
                 bool inPlace) {
  Layout l;
  const uint64_t in = sizes[0], out = sizes[1];
  const uint64_t blockAt = static_cast<uint64_t>(rank) * count;
  if (!inPlace || !hasInPlace(c)) {
    l.base[0] = 0;
    l.base[1] = in;
    l.size = in + out;
  } else if ((c == Collective::kAllGather || c == Collective::kGather) && out > 0) {
    // input == output + rank * count
    l.base[1] = 0;
    l.base[0] = blockAt;
    l.size = out;
  } else if ((c == Collective::kReduceScatter || c == Collective::kScatter) && in > 0) {
    // output == input + rank * count
    l.base[0] = 0;
    l.base[1] = blockAt;
    l.size = in;
  } else {
    // input == output
    l.size = in > out ? in : out;
  }
  l.base[2] = l.size;
  l.size += sizes[2];
  return l;
}

bool reductionIndex(const Program& p, int rank, uint64_t i, uint64_t& index) {
  Expectation e;
  if (!expectation(p, rank, i, e) || !e.reduction) return false;
  index = e.index;
  return true;
}

namespace {
uint64_t canonicalOrderOf(const Coefficients& coef, int lo, int hi, uint64_t index) {
  if (hi - lo == 1) return coef.input(lo, index);
  const int mid = canonicalSplit(lo, hi);
  return orderOf(canonicalOrderOf(coef, lo, mid, index), canonicalOrderOf(coef, mid, hi, index));
}
}  // namespace

uint64_t canonicalOrder(const Coefficients& coef, int nranks, uint64_t index) {
  return canonicalOrderOf(coef, 0, nranks, index);
}

bool expectedOutput(const Program& p, int rank, uint64_t i, const Coefficients& coef,
                    Val& expected) {
  Expectation e;
  if (!expectation(p, rank, i, e)) return false;
  expected.defined = 1;
  if (e.reduction) {
    expected.hash = mulMod(coef.rankSum(), coef.index(e.index));
    expected.terms = static_cast<uint32_t>(p.nranks);
    expected.finalized = 1;
  } else {
    expected.hash = coef.input(e.from, e.index);
    expected.terms = 1;
    expected.finalized = 0;
  }
  return true;
}

std::string explainMismatch(const Program& p, int rank, uint64_t i, const Val& got,
                            const Val& expected, const Coefficients& coef) {
  Expectation e;
  expectation(p, rank, i, e);
  if (!got.defined) return "was never written";
  std::string want = e.reduction ? formatString("the reduction of all %d ranks' input[%" PRIu64
                                                "], finalized once",
                                                p.nranks, e.index)
                                 : formatString("rank %d's input[%" PRIu64 "]", e.from, e.index);
  std::string what;
  if (got.terms != expected.terms) {
    what = formatString("holds %u contributions, expected %u", got.terms, expected.terms);
    if (e.reduction && got.terms + 1 == expected.terms) {
      for (int r = 0; r < p.nranks; ++r) {
        if (addMod(got.hash, coef.input(r, e.index)) == expected.hash) {
          what += formatString(" (rank %d's input[%" PRIu64 "] is missing)", r, e.index);
          break;
        }
      }
    } else if (e.reduction && got.terms == expected.terms + 1) {
      for (int r = 0; r < p.nranks; ++r) {
        if (subMod(got.hash, coef.input(r, e.index)) == expected.hash) {
          what += formatString(" (rank %d's input[%" PRIu64 "] is counted twice)", r, e.index);
          break;
        }
      }
    }
  } else if (got.hash != expected.hash) {
    what = "holds the wrong contributions";
    if (e.reduction) {
      // One contribution replaced by another of the same index? (bounded search)
      uint64_t budget = uint64_t{1} << 20;
      bool found = false;
      for (int a = 0; a < p.nranks && !found && budget > 0; ++a) {
        const uint64_t withA = addMod(got.hash, coef.input(a, e.index));
        for (int b = 0; b < p.nranks && budget > 0; ++b, --budget) {
          if (a != b && subMod(withA, coef.input(b, e.index)) == expected.hash) {
            what += formatString(" (rank %d's input[%" PRIu64
                                 "] is missing and rank %d's is "
                                 "counted twice)",
                                 a, e.index, b);
            found = true;
            break;
          }
        }
      }
    } else if (got.terms == 1) {
      // Find which single input element it holds (bounded search, for the message only).
      uint64_t maxInput = 0;
      for (const auto& s : p.bufferCount) maxInput = s[0] > maxInput ? s[0] : maxInput;
      uint64_t budget = uint64_t{1} << 22;
      bool found = false;
      for (int r = 0; r < p.nranks && !found && budget > 0; ++r, --budget) {
        if (coef.input(r, e.index) == got.hash) {
          what += formatString(" (rank %d's input[%" PRIu64 "])", r, e.index);
          found = true;
        }
      }
      for (int r = 0; r < p.nranks && !found; ++r) {
        for (uint64_t k = 0; k < maxInput && budget > 0 && !found; ++k, --budget) {
          if (coef.input(r, k) == got.hash) {
            what += formatString(" (rank %d's input[%" PRIu64 "])", r, k);
            found = true;
          }
        }
      }
    }
  } else if (got.finalized != expected.finalized) {
    what = got.finalized ? "was finalized, which only a reduction may do"
                         : "was not finalized (finalize must be applied exactly once)";
  } else {
    what = "differs";
  }
  return what + "; expected " + want;
}

}  // namespace plexus::algo::sym
