// Argument checks of every API call (see op_args.hpp).
#include "runtime/op_args.hpp"

#include "base/error.hpp"

namespace plexus::runtime {
namespace {

[[noreturn]] void badType(int value, algo::Collective c, const std::string& context) {
  throwError(ErrorCode::kInvalidArgument,
             "%s: %s: invalid datatype %d (ncclDataType_t / plexus::DataType go from 0 to %d)",
             context.c_str(), algo::collectiveName(c), value, kNumDataTypes - 1);
}

[[noreturn]] void badOp(int value, algo::Collective c, const std::string& context) {
  throwError(ErrorCode::kInvalidArgument,
             "%s: %s: invalid or unsupported reduction op %d (Plexus supports sum, prod, max, "
             "min, avg)",
             context.c_str(), algo::collectiveName(c), value);
}

// Which buffers an operation reads and writes on this rank (with a nonzero count).
void checkBuffers(const OpArgs& a, int rank, const std::string& context) {
  bool needInput = true, needOutput = true;
  switch (a.collective) {
    case algo::Collective::kBroadcast:
    case algo::Collective::kScatter:
      needInput = rank == a.root;
      break;
    case algo::Collective::kReduce:
    case algo::Collective::kGather:
      needOutput = rank == a.root;
      break;
    case algo::Collective::kBarrier:
      needInput = needOutput = false;
      break;
    case algo::Collective::kSendRecv:
      needInput = a.isSend;
      needOutput = !a.isSend;
      break;
    default:
      break;
  }
  if (needInput && a.input == nullptr)
    throwError(ErrorCode::kInvalidArgument, "%s: %s: send buffer is NULL with count %zu",
               context.c_str(), algo::collectiveName(a.collective), a.count);
  if (needOutput && a.output == nullptr)
    throwError(ErrorCode::kInvalidArgument, "%s: %s: receive buffer is NULL with count %zu",
               context.c_str(), algo::collectiveName(a.collective), a.count);
}

}  // namespace

bool reduces(algo::Collective c) {
  return c == algo::Collective::kAllReduce || c == algo::Collective::kReduce ||
         c == algo::Collective::kReduceScatter;
}

bool rooted(algo::Collective c) {
  return c == algo::Collective::kBroadcast || c == algo::Collective::kReduce ||
         c == algo::Collective::kGather || c == algo::Collective::kScatter;
}

DataType dataTypeFromInt(int value, algo::Collective c, const std::string& context) {
  if (value < 0 || value >= kNumDataTypes) badType(value, c, context);
  return static_cast<DataType>(value);
}

RedOp redOpFromInt(int value, algo::Collective c, const std::string& context) {
  if (!reduces(c)) return RedOp::kSum;
  if (value < 0 || value >= kNumRedOps) badOp(value, c, context);
  return static_cast<RedOp>(value);
}

void checkRankArgs(int rank, int nranks, const char* call) {
  if (nranks < 1) throwError(ErrorCode::kInvalidArgument, "%s: nranks %d < 1", call, nranks);
  if (rank < 0 || rank >= nranks)
    throwError(ErrorCode::kInvalidArgument, "%s: rank %d is not in [0, %d)", call, rank, nranks);
}

void checkOpArgs(const OpArgs& a, int rank, int nranks, const std::string& context) {
  if (static_cast<int>(a.type) >= kNumDataTypes)
    badType(static_cast<int>(a.type), a.collective, context);
  if (reduces(a.collective) && static_cast<int>(a.op) >= kNumRedOps)
    badOp(static_cast<int>(a.op), a.collective, context);
  if ((rooted(a.collective) || a.collective == algo::Collective::kSendRecv) &&
      (a.root < 0 || a.root >= nranks))
    throwError(ErrorCode::kInvalidArgument, "%s: %s %d is not a rank of this %d-rank communicator",
               context.c_str(), a.collective == algo::Collective::kSendRecv ? "peer" : "root",
               a.root, nranks);
  if (a.count > 0) checkBuffers(a, rank, context);
}

void checkBufferSizes(size_t in, size_t out, size_t inFactor, size_t outFactor,
                      const std::string& context) {
  if (in * outFactor != out * inFactor)
    throwError(ErrorCode::kInvalidArgument,
               "%s: buffer sizes do not match: input has %zu elements, output %zu (expected "
               "input x %zu = output x %zu)",
               context.c_str(), in, out, outFactor, inFactor);
}

}  // namespace plexus::runtime
