// PLEXUS_CHECK's messages (runtime/call_check.hpp) and the bootstrap's all-gather among some ranks
// only (Bootstrap::allGatherAmong, what ncclCommShrink meets over), threads as ranks.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/error.hpp"
#include "runtime/bootstrap.hpp"
#include "runtime/call_check.hpp"
#include "runtime/unique_id.hpp"

namespace plexus::runtime {
namespace {

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

OpArgs call(algo::Collective c, size_t count, DataType t, RedOp op, int root) {
  OpArgs a;
  a.collective = c;
  a.count = count;
  a.type = t;
  a.op = op;
  a.root = root;
  return a;
}

TEST(CallCheckMessages, DescribeCalls) {
  using algo::Collective;
  EXPECT_EQ(describeCall(signatureOfCall(
                call(Collective::kAllReduce, 1024, DataType::kFloat32, RedOp::kSum, 3), 0, 0)),
            "allReduce(count=1024, float, sum)");
  EXPECT_EQ(describeCall(signatureOfCall(
                call(Collective::kBroadcast, 4, DataType::kInt32, RedOp::kMax, 2), 0, 0)),
            "broadcast(count=4, int32, root=2)");
  OpArgs send = call(Collective::kSendRecv, 10, DataType::kUint8, RedOp::kSum, 3);
  send.isSend = true;
  EXPECT_EQ(describeCall(signatureOfCall(send, 1, 0)), "send(count=10, uint8, to rank 3)");
  CallSignature junk;
  EXPECT_TRUE(contains(describeCall(junk), "not a PLEXUS_CHECK signature"));
}

TEST(CallCheckMessages, MismatchNamesThisRankAndTheFirstThatDiffers) {
  using algo::Collective;
  std::vector<CallSignature> all;
  for (int r = 0; r < 4; ++r)
    all.push_back(signatureOfCall(
        call(Collective::kAllReduce, r == 3 ? 1000 : 1024, DataType::kFloat32, RedOp::kSum, 0), r,
        17));
  EXPECT_EQ(describeMismatch(std::vector<CallSignature>(all.begin(), all.begin() + 3), 1), "");
  const std::string at1 = describeMismatch(all, 1);
  EXPECT_TRUE(contains(at1,
                       "rank 1 called allReduce(count=1024, float, sum) while rank 3 called "
                       "allReduce(count=1000, float, sum) (call #17"))
      << at1;
  EXPECT_TRUE(contains(at1, "3 of 4 ranks")) << at1;
  const std::string at3 = describeMismatch(all, 3);
  EXPECT_TRUE(contains(at3,
                       "rank 3 called allReduce(count=1000, float, sum) while rank 0 called "
                       "allReduce(count=1024, float, sum)"))
      << at3;
}

TEST(CallCheckMessages, SendReceivePairs) {
  OpArgs send = call(algo::Collective::kSendRecv, 8, DataType::kInt64, RedOp::kSum, 1);
  send.isSend = true;
  OpArgs recv = send;
  recv.isSend = false;
  recv.root = 0;
  EXPECT_EQ(describeP2PMismatch(signatureOfCall(recv, 1, 2), signatureOfCall(send, 0, 2)), "");
  recv.type = DataType::kFloat64;  // same bytes, another type
  const std::string why =
      describeP2PMismatch(signatureOfCall(recv, 1, 2), signatureOfCall(send, 0, 2));
  EXPECT_TRUE(contains(why,
                       "rank 1 called recv(count=8, double, from rank 0) while rank 0 called "
                       "send(count=8, int64, to rank 1)"))
      << why;
}

// 7 ranks; ranks 2 and 5 leave after init (as dead ones would), the others gather among
// themselves, twice, and a gather with another tag is not taken for theirs.
TEST(BootstrapAmong, AllGatherAmongTheRemainingRanksOnly) {
  setenv("PLEXUS_SOCKET_IFNAME", "lo", 1);
  constexpr int n = 7;
  const std::vector<int> members{0, 1, 3, 4, 6};
  UniqueId id = createRootAndId();
  std::vector<std::unique_ptr<Bootstrap>> b(n);
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      b[static_cast<size_t>(r)] =
          Bootstrap::connect(id, r, n, Deadline::after(std::chrono::seconds(60)), nullptr);
    });
  for (auto& t : threads) t.join();
  std::vector<Bootstrap::KnownPeer> listeners;
  for (size_t r = 0; r < b.size(); ++r)
    listeners.push_back({b[r]->listenAddress(), "node" + std::to_string(r), 1000 + int(r)});
  b[2].reset();
  b[5].reset();
  std::vector<std::vector<std::string>> got(n);
  std::vector<std::string> errors(n);
  threads.clear();
  for (int r : members)
    threads.emplace_back([&, r] {
      try {
        for (uint64_t tag : {11u, 12u})
          got[static_cast<size_t>(r)] = b[static_cast<size_t>(r)]->allGatherAmong(
              members, listeners, tag, "blob" + std::to_string(r * 10 + static_cast<int>(tag)),
              Deadline::after(std::chrono::seconds(60)));
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int r : members) {
    ASSERT_EQ(errors[static_cast<size_t>(r)], "") << "rank " << r;
    ASSERT_EQ(got[static_cast<size_t>(r)].size(), members.size());
    for (size_t i = 0; i < members.size(); ++i)
      EXPECT_EQ(got[static_cast<size_t>(r)][i], "blob" + std::to_string(members[i] * 10 + 12));
  }
  // A rank alone with a tag nobody else uses is named at its deadline, not hung.
  try {
    b[0]->allGatherAmong({0, 1}, listeners, 99, "x", Deadline::after(std::chrono::seconds(1)));
    ADD_FAILURE() << "gathered with nobody";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "rank 1 (host node1, pid 1001")) << e.what();
  }
}

}  // namespace
}  // namespace plexus::runtime
