// Step-interpreter test cases: plans from the registry, buffers placed as NCCL aliases them,
// exact references.
#include "tests/exec/exec_cases.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "algorithms/collective_spec.hpp"
#include "algorithms/registry.hpp"
#include "base/error.hpp"
#include "kernels/datatype.hpp"
#include "tests/exec/exec_values.hpp"

namespace plexus::exectest {
namespace {

using algo::Collective;

constexpr DataType kAllTypes[] = {DataType::kInt8,     DataType::kUint8,   DataType::kInt32,
                                  DataType::kUint32,   DataType::kInt64,   DataType::kUint64,
                                  DataType::kFloat16,  DataType::kFloat32, DataType::kFloat64,
                                  DataType::kBfloat16, DataType::kFp8E4M3, DataType::kFp8E5M2};
constexpr RedOp kAllOps[] = {RedOp::kSum, RedOp::kProd, RedOp::kMax, RedOp::kMin, RedOp::kAvg};

bool reduces(Collective c) {
  return c == Collective::kAllReduce || c == Collective::kReduce || c == Collective::kReduceScatter;
}

// Every (type, op) pair for reducing collectives, every type with sum otherwise; placements and
// channel counts alternate so that both appear for every algorithm.
void addTypeMatrix(std::vector<ExecCase>& out, Collective c, int nranks, uint64_t count) {
  int k = 0;
  for (const std::string& a : algo::algorithmsFor(c)) {
    for (DataType t : kAllTypes) {
      for (RedOp op : kAllOps) {
        if (!reduces(c) && op != RedOp::kSum) continue;
        for (bool inPlace : {false, true}) {
          if (inPlace && !algo::sym::hasInPlace(c)) continue;
          out.push_back(
              ExecCase{c, a, t, op, count, inPlace, 1 + (k % 3), std::max(0, nranks - 1 - k % 2)});
          ++k;
        }
      }
    }
  }
}

void addSizes(std::vector<ExecCase>& out, Collective c, int nranks) {
  // 1 element; an odd mid size; one whose messages wrap the 4 x 1 KiB FIFO many times.
  const uint64_t counts[] = {1, 1001, 3001};
  const DataType types[] = {DataType::kInt32, DataType::kFloat16, DataType::kFloat64};
  for (const std::string& a : algo::algorithmsFor(c)) {
    int k = 0;
    for (uint64_t n : counts) {
      for (int channels : {1, 3}) {
        for (bool inPlace : {false, true}) {
          if (inPlace && !algo::sym::hasInPlace(c)) continue;
          const DataType t = types[static_cast<size_t>(k) % 3];
          const RedOp op = reduces(c) && k % 2 == 1 ? RedOp::kAvg : RedOp::kSum;
          out.push_back(ExecCase{c, a, t, op, n, inPlace, channels, k % 2 == 0 ? 0 : nranks - 1});
          ++k;
        }
      }
    }
  }
}

// Large odd counts (about 10^6 and 2.5 10^5 elements) with larger slots: the paths a real call
// takes, a few types.
void addLarge(std::vector<ExecCase>& out, Collective c, int nranks) {
  const bool perRank =
      c == Collective::kAllGather || c == Collective::kReduceScatter || c == Collective::kAllToAll;
  int k = 0;
  for (const std::string& a : algo::algorithmsFor(c)) {
    // One call of 10^6 elements (the ring all-reduce), the others a quarter of that.
    const uint64_t total = c == Collective::kAllReduce && k == 0 ? 1000003 : 250007;
    const uint64_t count = perRank ? total / static_cast<uint64_t>(nranks) | 1 : total;
    const DataType t = k % 2 == 0 ? DataType::kInt32 : DataType::kFloat32;
    const RedOp op = reduces(c) && k % 2 == 1 ? RedOp::kAvg : RedOp::kSum;
    out.push_back(ExecCase{c, a, t, op, count, k % 2 == 0 && algo::sym::hasInPlace(c), 2, 0});
    ++k;
  }
}

// This rank's expected output (only the elements the collective defines).
void expectedOutput(const PreparedCase& pc, int rank, int n, uint64_t seed,
                    std::vector<unsigned char>& exp) {
  const ExecCase& c = pc.c;
  const uint64_t cnt = c.count, ur = static_cast<uint64_t>(rank);
  const int root = c.root;
  const size_t esz = dataTypeSize(c.type);
  exp.assign(pc.outputCount * esz, 0);
  void* e = exp.data();
  auto input = [&](uint64_t k, int from, uint64_t i) {
    storeInput(e, k, c.type, c.op, from, n, i, seed);
  };
  for (uint64_t k = 0; k < cnt; ++k) {
    switch (c.collective) {
      case Collective::kAllReduce:
      case Collective::kReduce:
        if (pc.outputCount > 0) storeReduced(e, k, c.type, c.op, n, k, seed);
        break;
      case Collective::kReduceScatter:
        storeReduced(e, k, c.type, c.op, n, ur * cnt + k, seed);
        break;
      case Collective::kBroadcast:
        input(k, root, k);
        break;
      case Collective::kScatter:
        input(k, root, ur * cnt + k);
        break;
      case Collective::kAllGather:
      case Collective::kGather:
        for (int p = 0; p < n && pc.outputCount > 0; ++p)
          input(static_cast<uint64_t>(p) * cnt + k, p, k);
        break;
      case Collective::kAllToAll:
        for (int p = 0; p < n; ++p) input(static_cast<uint64_t>(p) * cnt + k, p, ur * cnt + k);
        break;
      default:
        break;
    }
  }
}

}  // namespace

std::string ExecCase::describe() const {
  return formatString("%s (%s) %llu x %s %s, %s, %d channel(s), root %d",
                      algo::collectiveName(collective), algorithm.c_str(),
                      static_cast<unsigned long long>(count), dataTypeName(type), redOpName(op),
                      inPlace ? "in place" : "out of place", nchannels, root);
}

std::vector<ExecCase> suiteCases(const std::string& suite, int nranks) {
  std::vector<ExecCase> out;
  if (suite == "allreduce") {
    addTypeMatrix(out, Collective::kAllReduce, nranks, 37);
  } else if (suite == "reducing") {
    addTypeMatrix(out, Collective::kReduce, nranks, 13);
    addTypeMatrix(out, Collective::kReduceScatter, nranks, 13);
  } else if (suite == "movement") {
    for (Collective c : {Collective::kBroadcast, Collective::kAllGather, Collective::kAllToAll,
                         Collective::kGather, Collective::kScatter, Collective::kBarrier})
      addTypeMatrix(out, c, nranks, c == Collective::kBarrier ? 0 : 11);
  } else if (suite == "sizes") {
    for (Collective c : {Collective::kAllReduce, Collective::kBroadcast, Collective::kReduce,
                         Collective::kAllGather, Collective::kReduceScatter, Collective::kAllToAll,
                         Collective::kGather, Collective::kScatter})
      addSizes(out, c, nranks);
  } else if (suite == "large") {
    for (Collective c : {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter,
                         Collective::kBroadcast})
      addLarge(out, c, nranks);
  } else {
    throwError(ErrorCode::kInvalidArgument, "unknown suite %s", suite.c_str());
  }
  return out;
}

engine::exec::FlattenOptions fifoFor(const std::string& suite) {
  return suite == "large" ? engine::exec::FlattenOptions{kLargeSlotBytes, kSlots}
                          : engine::exec::FlattenOptions{kSlotBytes, kSlots};
}

std::vector<PreparedCase> prepareCases(const std::vector<ExecCase>& cases, int rank, int nranks,
                                       const engine::exec::FlattenOptions& fifo) {
  std::vector<PreparedCase> out;
  for (const ExecCase& c : cases) {
    const size_t esz = dataTypeSize(c.type);
    algo::BuildRequest q;
    q.collective = c.collective;
    q.nranks = nranks;
    q.rank = rank;
    q.root = c.root;
    q.count = c.count;
    q.fifoElems = uint64_t{fifo.slotBytes} * fifo.slots / esz;
    q.nchannels = c.nchannels;
    q.groups = algo::contiguousGroups(nranks, nranks >= 4 ? 2 : 1);
    const algo::AlgorithmInfo* info = algo::findAlgorithm(c.collective, c.algorithm);
    if (info != nullptr && info->unsupported != nullptr && !info->unsupported(q).empty()) continue;
    const algo::Plan plan = algo::buildPlan(c.algorithm, q);
    PreparedCase pc;
    pc.c = c;
    pc.flat = engine::exec::flatten(plan, c.type, c.op, fifo);
    pc.inputCount = plan.inputCount;
    pc.outputCount = plan.outputCount;
    pc.scratchCount = plan.scratchCount;
    out.push_back(std::move(pc));
  }
  return out;
}

void fillInput(const PreparedCase& pc, int rank, int nranks, uint64_t seed, void* input) {
  for (uint64_t i = 0; i < pc.inputCount; ++i)
    storeInput(input, i, pc.c.type, pc.c.op, rank, nranks, i, seed);
}

std::string checkOutput(const PreparedCase& pc, int rank, int nranks, uint64_t seed,
                        const void* output) {
  std::vector<unsigned char> exp;
  expectedOutput(pc, rank, nranks, seed, exp);
  const std::string diff = compareElems(output, exp.data(), pc.c.type, pc.outputCount);
  return diff.empty() ? "" : pc.c.describe() + ": rank " + std::to_string(rank) + ": " + diff;
}

std::string runCase(engine::exec::MappedExecutor& ex, const PreparedCase& pc, int rank, int nranks,
                    uint64_t seed) {
  const ExecCase& c = pc.c;
  const size_t esz = dataTypeSize(c.type);
  const algo::sym::Layout l = algo::sym::placement(
      c.collective, rank, c.count, {pc.inputCount, pc.outputCount, pc.scratchCount}, c.inPlace);
  std::vector<unsigned char> mem(l.size * esz + 1, 0xA5);
  unsigned char* in = mem.data() + l.base[0] * esz;
  unsigned char* outp = mem.data() + l.base[1] * esz;
  fillInput(pc, rank, nranks, seed, in);
  engine::exec::ExecBuffers b{in, outp, mem.data() + l.base[2] * esz};
  try {
    ex.execute(pc.flat, b);
  } catch (const std::exception& e) {
    return c.describe() + ": " + e.what();
  }
  return checkOutput(pc, rank, nranks, seed, outp);
}

}  // namespace plexus::exectest
