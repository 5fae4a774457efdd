// The credit-based flow-control state machines of the network plugins, without any fabric.
#include <gtest/gtest.h>

#include "transports/plugin_common/slot_flow.hpp"

namespace plexus::transport::flow {
namespace {

TEST(SendFlow, CreditsBoundWhatIsTransmitted) {
  SendFlow s(4);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(s.canAcquire());
    EXPECT_EQ(s.post(), static_cast<uint64_t>(i));
    ASSERT_TRUE(s.canTransmit());
    s.transmitted();
  }
  EXPECT_FALSE(s.canAcquire());  // every staging slot in flight
  for (uint64_t i = 0; i < 4; ++i) EXPECT_TRUE(s.complete(i));
  EXPECT_TRUE(s.drained());
  EXPECT_FALSE(s.consumed());
  // Staging is free again, but the receiver has not released anything: no credit.
  EXPECT_TRUE(s.canAcquire());
  s.post();
  EXPECT_FALSE(s.canTransmit());
  EXPECT_EQ(s.waitingForCredit(), 1u);
  EXPECT_FALSE(s.drained());
  EXPECT_TRUE(s.credit(1));
  EXPECT_TRUE(s.canTransmit());
  EXPECT_EQ(s.nextToTransmit(), 4u);
  s.transmitted();
  EXPECT_TRUE(s.complete(4));
  EXPECT_TRUE(s.credit(5));
  EXPECT_TRUE(s.drained());
  EXPECT_TRUE(s.consumed());
}

TEST(SendFlow, OutOfOrderCompletionsFreeSlotsInOrder) {
  SendFlow s(3);
  for (int i = 0; i < 3; ++i) {
    s.post();
    s.transmitted();
  }
  EXPECT_TRUE(s.complete(2));
  EXPECT_TRUE(s.complete(1));
  EXPECT_EQ(s.completedCount(), 0u);
  EXPECT_FALSE(s.canAcquire());
  EXPECT_TRUE(s.complete(0));
  EXPECT_EQ(s.completedCount(), 3u);
  EXPECT_TRUE(s.canAcquire());
}

TEST(SendFlow, ImpossibleEventsAreRejected) {
  SendFlow s(2);
  s.post();
  EXPECT_FALSE(s.complete(0));  // not transmitted
  s.transmitted();
  EXPECT_FALSE(s.credit(2));  // more than transmitted
  EXPECT_TRUE(s.complete(0));
  EXPECT_FALSE(s.complete(0));  // twice
  EXPECT_TRUE(s.credit(1));
  EXPECT_TRUE(s.credit(0));  // older count: ignored
  EXPECT_EQ(s.credited(), 1u);
}

TEST(SendFlow, LongRunWrapsSlotsManyTimes) {
  SendFlow s(5);
  uint64_t released = 0;
  for (uint64_t n = 0; n < 1000; ++n) {
    while (!s.canAcquire() || (s.posted() - released) >= 5) {
      // receiver releases the oldest
      ASSERT_TRUE(s.credit(++released));
    }
    s.post();
    ASSERT_TRUE(s.canTransmit());
    s.transmitted();
    ASSERT_TRUE(s.complete(n));
  }
  EXPECT_TRUE(s.drained());
}

TEST(RecvFlow, FramesAreSeenInOrderWhateverTheArrivalOrder) {
  RecvFlow r(4);
  EXPECT_FALSE(r.ready());
  EXPECT_TRUE(r.arrive(2));
  EXPECT_TRUE(r.arrive(1));
  EXPECT_FALSE(r.ready());
  EXPECT_TRUE(r.arrive(0));
  EXPECT_TRUE(r.ready());
  EXPECT_EQ(r.head(), 0u);
  EXPECT_EQ(r.release(), 1u);
  EXPECT_TRUE(r.ready());
  EXPECT_EQ(r.release(), 2u);
  EXPECT_EQ(r.release(), 3u);
  EXPECT_FALSE(r.ready());
  EXPECT_TRUE(r.creditDue());
  r.creditSent(3);
  EXPECT_FALSE(r.creditDue());
}

TEST(RecvFlow, PiecesCompleteAFrame) {
  RecvFlow r(2);
  EXPECT_TRUE(r.arrive(0, 3));
  EXPECT_TRUE(r.arrive(0, 3));
  EXPECT_FALSE(r.ready());
  EXPECT_FALSE(r.arrive(0, 2));  // disagrees with earlier pieces
  EXPECT_TRUE(r.arrive(0, 3));
  EXPECT_TRUE(r.ready());
  EXPECT_FALSE(r.arrive(0, 3));  // one piece too many
  r.release();
  EXPECT_TRUE(r.arrive(2, 1));  // slot 0 again, next round
  EXPECT_FALSE(r.ready());      // frame 1 still missing
}

TEST(RecvFlow, WindowIsEnforced) {
  RecvFlow r(2);
  EXPECT_FALSE(r.accepts(2));
  EXPECT_FALSE(r.arrive(2));
  EXPECT_FALSE(r.arrive(0, 0));
  EXPECT_TRUE(r.arrive(0));
  r.release();
  EXPECT_FALSE(r.arrive(0));  // already released
  EXPECT_TRUE(r.arrive(2));
}

}  // namespace
}  // namespace plexus::transport::flow
