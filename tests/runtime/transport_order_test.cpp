// PLEXUS_TRANSPORTS / PLEXUS_SHM_DISABLE parsing (aliases, errors naming the valid names), and peer
// descriptions.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "../common/env_guard.hpp"
#include "base/error.hpp"
#include "runtime/peer_info.hpp"
#include "runtime/transport_selector.hpp"
#include "transports/common/transport.hpp"

namespace plexus::runtime {
namespace {

// The knobs these tests set, cleared before and after each.
struct EnvGuard : test::EnvGuard {
  EnvGuard() : test::EnvGuard({"PLEXUS_TRANSPORTS", "PLEXUS_SHM_DISABLE", "NCCL_SHM_DISABLE"}) {}
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The message of createTransports' error with this PLEXUS_TRANSPORTS ("" when it succeeds).
std::string createError(const char* spec) {
  setenv("PLEXUS_TRANSPORTS", spec, 1);
  transport::TransportContext ctx;
  try {
    createTransports(ctx);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

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

TEST(TransportOrder, AliasesNameTheShippedPlugins) {
  EnvGuard g;
  setenv("PLEXUS_TRANSPORTS", "libfabric", 1);
  EXPECT_EQ(transportOrderFromEnv(), (V{"ofi"}));
  setenv("PLEXUS_TRANSPORTS", "verbs,tcp,ib", 1);
  EXPECT_EQ(transportOrderFromEnv(), (V{"ibverbs", "tcp"}));
  setenv("PLEXUS_TRANSPORTS", "^verbs", 1);
  EXPECT_EQ(transportOrderFromEnv(), (V{"shm", "tcp"}));
}

TEST(TransportOrder, MalformedNameListsTheValidOnes) {
  EnvGuard g;
  setenv("PLEXUS_TRANSPORTS", "TCP", 1);
  try {
    transportOrderFromEnv();
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_TRUE(contains(m, "'TCP'") && contains(m, "valid names: shm, tcp") &&
                contains(m, "libfabric = ofi"))
        << m;
  }
}

TEST(CreateTransports, NoneUsableSaysWhyAndListsTheValidNames) {
  EnvGuard g;
  std::string m = createError("nonsense");
  EXPECT_TRUE(contains(m, "no transport is usable")) << m;
  EXPECT_TRUE(contains(m, "nonsense: not a transport")) << m;
  EXPECT_TRUE(contains(m, "libplexus-transport-nonsense.so")) << m;
  EXPECT_TRUE(contains(m, "valid names: shm, tcp (built in), ibverbs, ofi, ucx")) << m;
  EXPECT_TRUE(contains(m, "libfabric = ofi")) << m;
  EXPECT_FALSE(contains(m, "did you mean")) << m;

  m = createError("tpc,ofo");
  EXPECT_TRUE(contains(m, "tpc: not a transport (did you mean tcp?)")) << m;
  EXPECT_TRUE(contains(m, "ofo: not a transport (did you mean ofi?)")) << m;
  m = createError("libfabrc");
  EXPECT_TRUE(contains(m, "(did you mean ofi?)")) << m;
}

TEST(CreateTransports, AMisspeltNameBesideAUsableOneIsSkipped) {
  EnvGuard g;
  EXPECT_EQ(createError("tcp,nonsense"), "");
}

TEST(PeerInfo, RoundTripAndMalformed) {
  PeerInfo p;
  p.record.rank = 3;
  p.record.hostHash = 0xdeadbeefcafef00dull;
  p.record.hostName = "node7";
  p.record.pid = 4242;
  p.slots = {65536, 4};
  p.shmBudget = 3u << 30;
  p.topology = std::string("\x01\x00topo", 6);
  PeerInfo q = decodePeerInfo(encodePeerInfo(p), 3);
  EXPECT_EQ(q.record.rank, 3);
  EXPECT_EQ(q.record.hostHash, p.record.hostHash);
  EXPECT_EQ(q.record.hostName, "node7");
  EXPECT_EQ(q.slots.slotBytes, 65536u);
  EXPECT_EQ(q.shmBudget, 3u << 30);
  EXPECT_EQ(q.topology, p.topology);
  try {
    decodePeerInfo("{not json", 5);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 5"), std::string::npos);
  }
}

TEST(PeerInfo, AddressesRoundTripAndMalformed) {
  std::map<std::string, std::string> a{{"tcp", std::string("\x00\x01\xff", 3)}, {"shm", ""}};
  EXPECT_EQ(decodeAddresses(encodeAddresses(a), 2), a);
  try {
    decodeAddresses("[1,", 6);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 6"), std::string::npos);
  }
}

}  // namespace
}  // namespace plexus::runtime
