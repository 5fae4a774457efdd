// The soak's operations: drawing them, making the calls, checking the results (soak_test.hpp).
#include <cstring>

#include "kernels/datatype.hpp"
#include "tests/multiproc/collective_check.hpp"
#include "tests/multiproc/soak_test.hpp"

namespace plexus::testing::soak {
namespace {

constexpr size_t kGuard = 16;  // elements after every output, which must stay untouched
constexpr unsigned char kFill = 0xA5;

// Counts: 0, 1, small primes and odd sizes around the protocol thresholds, up to ~130K elements.
constexpr size_t kCounts[] = {0,   1,   2,    3,    5,    7,    13,    31,    61,    127,
                              257, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071};

ncclDataType_t nt(DataType t) {
  return static_cast<ncclDataType_t>(t);
}
ncclRedOp_t no(RedOp o) {
  return static_cast<ncclRedOp_t>(o);
}

const char* kindName(Kind k) {
  switch (k) {
    case Kind::kAllReduce:
      return "allreduce";
    case Kind::kReduce:
      return "reduce";
    case Kind::kReduceScatter:
      return "reducescatter";
    case Kind::kAllGather:
      return "allgather";
    case Kind::kBroadcast:
      return "broadcast";
    case Kind::kSendRecv:
      return "sendrecv";
  }
  return "?";
}

bool reduces(Kind k) {
  return k == Kind::kAllReduce || k == Kind::kReduce || k == Kind::kReduceScatter;
}

}  // namespace

Op drawOp(std::mt19937_64& rng, int nranks) {
  Op o;
  o.kind = static_cast<Kind>(rng() % 6);
  o.type = static_cast<DataType>(rng() % kNumDataTypes);
  o.op = static_cast<RedOp>(rng() % kNumRedOps);
  const size_t pick = rng() % (std::size(kCounts) + 2);
  // Mostly the listed counts; sometimes any count up to 100K.
  o.count = pick < std::size(kCounts) ? kCounts[pick] : rng() % 100000;
  // Per-rank blocks: the whole buffer stays near the others' size.
  if (o.kind == Kind::kReduceScatter || o.kind == Kind::kAllGather)
    o.count /= static_cast<size_t>(nranks);
  o.root = static_cast<int>(rng() % static_cast<uint64_t>(nranks));
  o.shift = static_cast<int>(rng() % static_cast<uint64_t>(nranks));
  o.inPlace = o.kind != Kind::kSendRecv && (rng() & 1) != 0;
  o.seed = rng();
  return o;
}

std::string describe(const Op& o) {
  std::string s = std::string(kindName(o.kind)) + " " + dataTypeName(o.type);
  if (reduces(o.kind)) s += std::string(" ") + redOpName(o.op);
  s += " count=" + std::to_string(o.count);
  if (o.kind == Kind::kReduce || o.kind == Kind::kBroadcast) s += " root=" + std::to_string(o.root);
  if (o.kind == Kind::kSendRecv) s += " shift=" + std::to_string(o.shift);
  s += o.inPlace ? " in-place" : " out-of-place";
  return s;
}

Exec::Exec(const Op& op, int rank, int nranks)
    : op_(op), rank_(rank), nranks_(nranks), esz_(dataTypeSize(op.type)) {
  const size_t n = static_cast<size_t>(nranks);
  const size_t c = op.count;
  const bool bigOut =
      op.kind == Kind::kAllGather || (op.kind == Kind::kReduceScatter && op.inPlace);
  outElems_ = bigOut ? c * n : c;
  out_.assign((outElems_ + kGuard) * esz_, kFill);
  const size_t inElems = op.kind == Kind::kReduceScatter ? c * n : c;
  in_.assign(inElems * esz_ + 1, 0);
  unsigned char* input = op.inPlace ? out_.data() : in_.data();
  switch (op.kind) {
    case Kind::kAllReduce:
    case Kind::kReduce:
    case Kind::kReduceScatter:
      fillInput(input, op.type, op.op, rank, nranks, inElems, op.seed);
      break;
    case Kind::kAllGather:
      fillBytes(op.inPlace ? out_.data() + static_cast<size_t>(rank) * c * esz_ : in_.data(),
                c * esz_, rank, op.seed);
      break;
    case Kind::kBroadcast:
      if (rank == op.root) fillBytes(input, c * esz_, rank, op.seed);
      break;
    case Kind::kSendRecv:
      fillBytes(in_.data(), c * esz_, rank, op.seed);
      break;
  }
}

unsigned char* Exec::recvPtr() {
  if (op_.kind == Kind::kReduceScatter && op_.inPlace)
    return out_.data() + static_cast<size_t>(rank_) * op_.count * esz_;
  return out_.data();
}

const unsigned char* Exec::recvPtr() const {
  return const_cast<Exec*>(this)->recvPtr();
}

ncclResult_t Exec::issue(ncclComm_t comm) {
  const size_t c = op_.count;
  const void* send = op_.inPlace ? static_cast<const void*>(out_.data()) : in_.data();
  switch (op_.kind) {
    case Kind::kAllReduce:
      return ncclAllReduce(send, recvPtr(), c, nt(op_.type), no(op_.op), comm, nullptr);
    case Kind::kReduce:
      return ncclReduce(send, recvPtr(), c, nt(op_.type), no(op_.op), op_.root, comm, nullptr);
    case Kind::kReduceScatter:
      return ncclReduceScatter(send, recvPtr(), c, nt(op_.type), no(op_.op), comm, nullptr);
    case Kind::kAllGather:
      send = op_.inPlace ? out_.data() + static_cast<size_t>(rank_) * c * esz_ : in_.data();
      return ncclAllGather(send, out_.data(), c, nt(op_.type), comm, nullptr);
    case Kind::kBroadcast:
      return ncclBroadcast(send, out_.data(), c, nt(op_.type), op_.root, comm, nullptr);
    case Kind::kSendRecv: {
      const int to = (rank_ + op_.shift) % nranks_;
      const int from = (rank_ - op_.shift + nranks_) % nranks_;
      ncclResult_t r = ncclGroupStart();
      if (r == ncclSuccess) r = ncclSend(in_.data(), c, nt(op_.type), to, comm, nullptr);
      if (r == ncclSuccess) r = ncclRecv(out_.data(), c, nt(op_.type), from, comm, nullptr);
      ncclResult_t end = ncclGroupEnd();
      return r != ncclSuccess ? r : end;
    }
  }
  return ncclInvalidUsage;
}

std::string Exec::check() const {
  const size_t c = op_.count;
  const size_t n = static_cast<size_t>(nranks_);
  for (size_t i = outElems_ * esz_; i < out_.size(); ++i)
    if (out_[i] != kFill) return "the guard after the output was overwritten";
  std::vector<unsigned char> exp;
  switch (op_.kind) {
    case Kind::kAllReduce:
      exp = expectedReduction(op_.type, op_.op, nranks_, c, op_.seed);
      return compareResult(recvPtr(), exp.data(), op_.type, op_.op, c, true);
    case Kind::kReduce:
      if (rank_ != op_.root) {
        if (op_.inPlace) return "";
        for (size_t i = 0; i < c * esz_; ++i)
          if (out_[i] != kFill) return "a non-root rank's receive buffer was written";
        return "";
      }
      exp = expectedReduction(op_.type, op_.op, nranks_, c, op_.seed);
      return compareResult(recvPtr(), exp.data(), op_.type, op_.op, c, true);
    case Kind::kReduceScatter:
      exp =
          expectedReduction(op_.type, op_.op, nranks_, c, op_.seed, static_cast<size_t>(rank_) * c);
      return compareResult(recvPtr(), exp.data(), op_.type, op_.op, c, true);
    case Kind::kAllGather:
      exp.resize(c * esz_ + 1);
      for (size_t r = 0; r < n; ++r) {
        fillBytes(exp.data(), c * esz_, static_cast<int>(r), op_.seed);
        if (std::memcmp(out_.data() + r * c * esz_, exp.data(), c * esz_) != 0)
          return "the block of rank " + std::to_string(r) + " is wrong";
      }
      return "";
    case Kind::kBroadcast:
    case Kind::kSendRecv: {
      const int from =
          op_.kind == Kind::kBroadcast ? op_.root : (rank_ - op_.shift + nranks_) % nranks_;
      exp.resize(c * esz_ + 1);
      fillBytes(exp.data(), c * esz_, from, op_.seed);
      if (std::memcmp(out_.data(), exp.data(), c * esz_) != 0)
        return "the data received from rank " + std::to_string(from) + " is wrong";
      return "";
    }
  }
  return "unknown operation";
}

}  // namespace plexus::testing::soak
