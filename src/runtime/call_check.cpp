// PLEXUS_CHECK: signatures of collective calls, gathered and compared before each one runs.
#include "runtime/call_check.hpp"

#include <cstring>

#include "base/env.hpp"
#include "base/error.hpp"

namespace plexus::runtime {
namespace {

const char* apiName(algo::Collective c) {
  switch (c) {
    case algo::Collective::kAllReduce:
      return "allReduce";
    case algo::Collective::kBroadcast:
      return "broadcast";
    case algo::Collective::kReduce:
      return "reduce";
    case algo::Collective::kAllGather:
      return "allGather";
    case algo::Collective::kReduceScatter:
      return "reduceScatter";
    case algo::Collective::kAllToAll:
      return "allToAll";
    case algo::Collective::kGather:
      return "gather";
    case algo::Collective::kScatter:
      return "scatter";
    case algo::Collective::kSendRecv:
      return "sendRecv";
    case algo::Collective::kBarrier:
      return "barrier";
  }
  return "unknown";
}

bool sameCall(const CallSignature& a, const CallSignature& b) {
  return a.magic == b.magic && a.seq == b.seq && a.count == b.count &&
         a.collective == b.collective && a.type == b.type && a.op == b.op && a.root == b.root &&
         a.direction == b.direction;
}

unsigned long long ull(uint64_t v) {
  return static_cast<unsigned long long>(v);
}

}  // namespace

std::string describeP2PMismatch(const CallSignature& mine, const CallSignature& theirs) {
  const bool match = theirs.magic == kCallSignatureMagic && theirs.direction == 1 &&
                     theirs.root == mine.rank && theirs.rank == mine.root &&
                     theirs.seq == mine.seq && theirs.count == mine.count &&
                     theirs.type == mine.type;
  if (match) return "";
  return formatString(
      "rank %d called %s while rank %d called %s (its send #%llu to this rank, this rank's "
      "receive #%llu from it, PLEXUS_CHECK). Sends and receives between two ranks must pair up "
      "in order with the same count and type",
      mine.rank, describeCall(mine).c_str(), mine.root, describeCall(theirs).c_str(),
      ull(theirs.seq), ull(mine.seq));
}

CallSignature signatureOfCall(const OpArgs& a, int rank, uint64_t seq) {
  CallSignature s;
  s.magic = kCallSignatureMagic;
  s.rank = rank;
  s.seq = seq;
  s.count = a.count;
  s.collective = static_cast<int32_t>(a.collective);
  s.type = static_cast<int32_t>(a.type);
  s.op = reduces(a.collective) ? static_cast<int32_t>(a.op) : -1;
  s.root = rooted(a.collective) ? a.root : -1;
  if (a.collective == algo::Collective::kSendRecv) {
    s.root = a.root;
    s.direction = a.isSend ? 1 : 2;
  }
  return s;
}

std::string describeCall(const CallSignature& s) {
  if (s.magic != kCallSignatureMagic) return "something else (not a PLEXUS_CHECK signature)";
  const auto c = static_cast<algo::Collective>(s.collective);
  const char* type = dataTypeName(static_cast<DataType>(s.type));
  if (s.direction == 1 || s.direction == 2)
    return formatString("%s(count=%llu, %s, %s rank %d)", s.direction == 1 ? "send" : "recv",
                        ull(s.count), type, s.direction == 1 ? "to" : "from", s.root);
  std::string out =
      formatString("%s(count=%llu, %s", apiName(c), static_cast<unsigned long long>(s.count),
                   dataTypeName(static_cast<DataType>(s.type)));
  if (s.op >= 0) out += formatString(", %s", redOpName(static_cast<RedOp>(s.op)));
  if (s.root >= 0) out += formatString(", root=%d", s.root);
  return out + ")";
}

std::string describeMismatch(const std::vector<CallSignature>& all, int me) {
  const CallSignature& mine = all[static_cast<size_t>(me)];
  int other = -1, agree = 0;
  for (size_t r = 0; r < all.size(); ++r) {
    if (sameCall(all[r], mine))
      ++agree;
    else if (other < 0)
      other = static_cast<int>(r);
  }
  if (other < 0) return "";
  const CallSignature& theirs = all[static_cast<size_t>(other)];
  std::string seqs = theirs.seq == mine.seq ? formatString("call #%llu", ull(mine.seq))
                                            : formatString("its call #%llu, this rank's call #%llu",
                                                           ull(theirs.seq), ull(mine.seq));
  return formatString(
      "rank %d called %s while rank %d called %s (%s on this communicator, PLEXUS_CHECK; %d of "
      "%zu ranks called the same as rank %d). Every rank must call the same collectives in the "
      "same order with the same count, type, op and root",
      me, describeCall(mine).c_str(), other, describeCall(theirs).c_str(), seqs.c_str(), agree,
      all.size(), me);
}

bool callCheckFromEnv() {
  return envBool("CHECK", false);
}

OpArgs CallChecker::gatherArgs() {
  OpArgs g;
  g.collective = algo::Collective::kAllGather;
  g.count = sizeof(CallSignature);
  g.type = DataType::kUint8;
  return g;
}

void CallChecker::prepare(const OpArgs& a, engine::WorkDesc& call, engine::WorkDesc& check) {
  struct Gathered {
    CallSignature mine;
    std::vector<CallSignature> all;
  };
  auto g = std::make_shared<Gathered>();
  g->mine = signatureOfCall(a, rank_, seq_++);
  g->all.resize(static_cast<size_t>(nranks_));
  const OpArgs ga = gatherArgs();
  check.input = &g->mine;
  check.output = g->all.data();
  check.type = ga.type;
  check.op = ga.op;
  check.count = ga.count;
  // The all-gather writes into `g` while it runs: its own (empty) gate keeps `g` alive as long.
  check.gate = [g] {};
  const int me = rank_;
  call.gate = [g, me] {
    std::string why = describeMismatch(g->all, me);
    if (!why.empty()) throwError(ErrorCode::kInvalidUsage, "%s", why.c_str());
  };
}

void CallChecker::prepareP2P(const OpArgs& a, engine::WorkDesc& call, engine::WorkDesc& check) {
  struct Pair {
    CallSignature mine;
    CallSignature theirs;
  };
  auto p = std::make_shared<Pair>();
  p->mine = signatureOfCall(a, rank_, p2pSeq_[{a.root, a.isSend}]++);
  check.type = DataType::kUint8;
  check.count = sizeof(CallSignature);
  check.p2pPeer = a.root;
  check.p2pSend = a.isSend;
  if (a.isSend) {
    check.input = &p->mine;
    check.gate = [p] {};  // keeps `p` alive while the signature is sent
    return;
  }
  check.output = &p->theirs;
  check.gate = [p] {};
  call.gate = [p] {
    std::string why = describeP2PMismatch(p->mine, p->theirs);
    if (!why.empty()) throwError(ErrorCode::kInvalidUsage, "%s", why.c_str());
  };
}

}  // namespace plexus::runtime
