// The shipped plugins' memory registration through the plugin ABI, loaded as Plexus loads them
// (libplexus-transport-NAME.so from the build's plugin directory). ofi with the tcp provider:
// host memory is registered for real, and device memory is refused with the reason (the provider
// lacks FI_HMEM). ibverbs: with no RDMA device the plugin steps aside and the test says so.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "base/error.hpp"
#include "transports/common/loaded_transport.hpp"

namespace plexus::transport {
namespace {

struct Loaded {
  std::vector<PeerRecord> peers{PeerRecord{}};
  std::atomic<bool> abort{false};
  TransportContext ctx;
  std::unique_ptr<Transport> t;
  std::string why;
  explicit Loaded(const char* name) {
    setenv("PLEXUS_PLUGIN_PATH", PLEXUS_TEST_PLUGIN_DIR, 1);
    ctx.peers = &peers;
    ctx.abort = &abort;
    ctx.slots = SlotConfig{4096, 2};
    ctx.memKinds = PLEXUS_TP_MEM_HOST | PLEXUS_TP_MEM_CUDA;  // ofi then asks for FI_HMEM
    const plexus_transport_v1_t* table = findTransportTable(name, &why);
    if (table == nullptr) return;
    EXPECT_EQ(table->abi_version, 2u) << name << " should export plexus_transport_v2";
    t = wrapTransportTable(table, ctx, &why);
  }
};

TEST(OfiRegistration, HostMemoryForRealDeviceMemoryRefusedWithTheReason) {
  setenv("FI_PROVIDER", "tcp;ofi_rxm", 1);
  Loaded ofi("ofi");
  unsetenv("FI_PROVIDER");
  if (!ofi.t) GTEST_SKIP() << "ofi plugin not usable here: " << ofi.why;
  uint32_t caps = ofi.t->registrationCaps();
  EXPECT_NE(caps & PLEXUS_TP_REG_HOST, 0u);
  EXPECT_TRUE(ofi.t->costs().registersMemory);
  EXPECT_EQ(ofi.t->costs().registerCaps, caps);

  std::vector<char> buf(1 << 20);
  MemoryRegistration a = ofi.t->registerMemory(MemoryRegion{buf.data(), buf.size()});
  MemoryRegistration b = ofi.t->registerMemory(MemoryRegion{buf.data() + 4096, 8192});
  EXPECT_NE(a.handle, nullptr);
  EXPECT_NE(b.handle, nullptr);
  EXPECT_NE(a.handle, b.handle);
  ofi.t->deregisterMemory(b.handle);
  ofi.t->deregisterMemory(a.handle);
  try {
    ofi.t->deregisterMemory(a.handle);  // twice: refused, nothing freed twice
    FAIL() << "a registration was released twice";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no registration"), std::string::npos) << e.what();
  }

  if ((caps & PLEXUS_TP_REG_CUDA) != 0)
    GTEST_SKIP() << "this libfabric's tcp provider reports FI_HMEM; the refusal is not checked";
  MemoryRegion dev{reinterpret_cast<void*>(uintptr_t{0x7f0000400000}), 1 << 20, PLEXUS_TP_MEM_CUDA,
                   0};
  try {
    ofi.t->registerMemory(dev);
    FAIL() << "the tcp provider registered device memory";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kInvalidUsage);
    EXPECT_NE(m.find("ofi transport cannot register cuda device 0"), std::string::npos) << m;
    EXPECT_NE(m.find("the provider lacks FI_HMEM"), std::string::npos) << m;
    EXPECT_NE(m.find("tcp"), std::string::npos) << m;  // names the provider
    EXPECT_NE(m.find("staged through host memory"), std::string::npos) << m;
  }
}

TEST(IbverbsRegistration, HostMemoryWhenAnRdmaDeviceIsPresent) {
  Loaded ib("ibverbs");
  if (!ib.t)
    GTEST_SKIP() << "ibverbs plugin not usable here (" << ib.why
                 << "); its registration is unit-tested in IbRegistration.*";
  EXPECT_NE(ib.t->registrationCaps() & PLEXUS_TP_REG_HOST, 0u);
  std::vector<char> buf(1 << 20);
  MemoryRegistration a = ib.t->registerMemory(MemoryRegion{buf.data(), buf.size()});
  EXPECT_NE(a.handle, nullptr);
  EXPECT_NE(a.remoteKey, 0u);
  ib.t->deregisterMemory(a.handle);
}

}  // namespace
}  // namespace plexus::transport
