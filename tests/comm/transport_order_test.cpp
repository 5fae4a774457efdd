// PLEXUS_TRANSPORTS / PLEXUS_SHM_DISABLE parsing, and peer descriptions.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "comm/peer_info.hpp"
#include "comm/transport_selector.hpp"
#include "util/error.hpp"

namespace plexus::comm {
namespace {

struct EnvGuard {
  EnvGuard() { clear(); }
  ~EnvGuard() { clear(); }
  static void clear() {
    unsetenv("PLEXUS_TRANSPORTS");
    unsetenv("PLEXUS_SHM_DISABLE");
    unsetenv("NCCL_SHM_DISABLE");
  }
};

using V = std::vector<std::string>;

TEST(TransportOrder, DefaultPrefersSharedMemory) {
  EnvGuard g;
  EXPECT_EQ(transportOrderFromEnv(), (V{"shm", "ibverbs", "tcp"}));
}

TEST(TransportOrder, ForceListAndExclude) {
  EnvGuard g;
  setenv("PLEXUS_TRANSPORTS", "tcp", 1);
  EXPECT_EQ(transportOrderFromEnv(), (V{"tcp"}));
  setenv("PLEXUS_TRANSPORTS", "tcp,shm", 1);
  EXPECT_EQ(transportOrderFromEnv(), (V{"tcp", "shm"}));
  setenv("PLEXUS_TRANSPORTS", "^shm", 1);
  EXPECT_EQ(transportOrderFromEnv(), (V{"ibverbs", "tcp"}));
  setenv("PLEXUS_TRANSPORTS", "ofi,tcp", 1);
  EXPECT_EQ(transportOrderFromEnv(), (V{"ofi", "tcp"}));
}

TEST(TransportOrder, NcclShmDisableIsHonoured) {
  EnvGuard g;
  setenv("NCCL_SHM_DISABLE", "1", 1);
  EXPECT_EQ(transportOrderFromEnv(), (V{"ibverbs", "tcp"}));
}

TEST(TransportOrder, UnknownAndEmptyAreErrors) {
  EnvGuard g;
  setenv("PLEXUS_TRANSPORTS", "carrier-pigeon!", 1);
  try {
    transportOrderFromEnv();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("carrier-pigeon!"), std::string::npos);
  }
  setenv("PLEXUS_TRANSPORTS", "^shm,ibverbs,tcp", 1);
  EXPECT_THROW(transportOrderFromEnv(), Error);
}

TEST(PeerInfo, RoundTripAndMalformed) {
  PeerInfo p;
  p.record.rank = 3;
  p.record.hostHash = 0xdeadbeefcafef00dull;
  p.record.hostName = "node7";
  p.record.pid = 4242;
  p.record.addresses["tcp"] = std::string("\x00\x01\xff", 3);
  p.slots = {65536, 4};
  p.topology = std::string("\x01\x00topo", 6);
  PeerInfo q = decodePeerInfo(encodePeerInfo(p), 3);
  EXPECT_EQ(q.record.rank, 3);
  EXPECT_EQ(q.record.hostHash, p.record.hostHash);
  EXPECT_EQ(q.record.hostName, "node7");
  EXPECT_EQ(q.record.addresses["tcp"], p.record.addresses["tcp"]);
  EXPECT_EQ(q.slots.slotBytes, 65536u);
  EXPECT_EQ(q.topology, p.topology);
  try {
    decodePeerInfo("{not json", 5);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 5"), std::string::npos);
  }
}

}  // namespace
}  // namespace plexus::comm
