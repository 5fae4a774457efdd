// The plugin ABI's memory registration (version 2) end to end in one process: a C++ transport
// exported as a table (plugin side, abi_export) and wrapped again (core side, loaded_transport),
// so every field crosses the C boundary both ways; a plugin written for version 1 still loads; the
// shared checks, knobs and the CUDA dma-buf helper.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "transports/common/cuda_dmabuf.hpp"
#include "transports/common/loaded_transport.hpp"
#include "transports/common/memory_region.hpp"
#include "transports/plugin_common/abi_export.hpp"

#if PLEXUS_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace plexus::transport {
namespace {

// What the fake transport saw and answers.
struct FakeState {
  uint32_t caps = PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA_DMABUF;
  uint32_t memKinds = 0;
  std::vector<MemoryRegion> registered;
  std::vector<void*> deregistered;
};
FakeState g;

class RegisteringTransport final : public Transport {
 public:
  const char* name() const override { return "fake"; }
  std::string localAddress() override { return {}; }
  bool canReach(const PeerRecord&, const PeerRecord&) const override { return false; }
  Connection* connect(int, int) override { return nullptr; }
  bool progress() override { return false; }
  WakeSources wakeSources() const override { return {nullptr, false}; }
  void abortAll(const std::string&) override {}
  Costs costs() const override { return tcpCosts(); }
  uint32_t registrationCaps() const override { return g.caps; }
  MemoryRegistration registerMemory(const MemoryRegion& r) override {
    checkRegion(name(), r, g.caps);
    g.registered.push_back(r);
    return {reinterpret_cast<void*>(uintptr_t{0x1000} + g.registered.size()), 0xabcdef01u};
  }
  void deregisterMemory(void* handle) override { g.deregistered.push_back(handle); }
};

std::unique_ptr<Transport> makeRegistering(const TransportContext& ctx) {
  g.memKinds = ctx.memKinds;
  return std::make_unique<RegisteringTransport>();
}

struct Fixture {
  std::vector<PeerRecord> peers{PeerRecord{}};
  std::atomic<bool> abort{false};
  TransportContext ctx;
  Fixture() {
    ctx.peers = &peers;
    ctx.abort = &abort;
    ctx.memKinds = PLEXUS_TP_MEM_HOST | PLEXUS_TP_MEM_CUDA;
  }
};

const plexus_transport_v2_t& fakeTable() {
  static const plexus_transport_v2_t t =
      exportTransport<makeRegistering>("fake", 0, PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA_DMABUF);
  return t;
}

TEST(PluginAbi, VersionTwoTableCarriesRegistrationBothWays) {
  g = FakeState{};
  Fixture f;
  const plexus_transport_v2_t& table = fakeTable();
  EXPECT_EQ(table.v1.abi_version, 2u);
  EXPECT_EQ(table.struct_size, sizeof(plexus_transport_v2_t));
  EXPECT_EQ(table.reg_caps, PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA_DMABUF);
  std::string why;
  auto t = wrapTransportTable(&table.v1, f.ctx, &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(g.memKinds, PLEXUS_TP_MEM_HOST | PLEXUS_TP_MEM_CUDA);  // config.mem_kinds arrived
  EXPECT_EQ(t->registrationCaps(), PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA_DMABUF);
  EXPECT_TRUE(t->costs().registersMemory);
  EXPECT_EQ(t->costs().registerCaps, PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA_DMABUF);

  std::vector<char> host(4096);
  MemoryRegistration h = t->registerMemory(MemoryRegion{host.data(), host.size()});
  EXPECT_EQ(h.handle, reinterpret_cast<void*>(uintptr_t{0x1001}));
  EXPECT_EQ(h.remoteKey, 0xabcdef01u);
  MemoryRegion dev{
      reinterpret_cast<void*>(uintptr_t{0x7f0000200000}), 1 << 20, PLEXUS_TP_MEM_CUDA, 3, 17, 4096};
  MemoryRegistration d = t->registerMemory(dev);
  ASSERT_EQ(g.registered.size(), 2u);
  const MemoryRegion& seen = g.registered[1];
  EXPECT_EQ(seen.ptr, dev.ptr);
  EXPECT_EQ(seen.size, size_t{1} << 20);
  EXPECT_EQ(seen.kind, PLEXUS_TP_MEM_CUDA);
  EXPECT_EQ(seen.device, 3);
  EXPECT_EQ(seen.dmabufFd, 17);
  EXPECT_EQ(seen.dmabufOffset, 4096u);
  EXPECT_EQ(g.registered[0].kind, PLEXUS_TP_MEM_HOST);
  EXPECT_EQ(g.registered[0].dmabufFd, -1);
  t->deregisterMemory(d.handle);
  t->deregisterMemory(h.handle);
  EXPECT_EQ(g.deregistered, (std::vector<void*>{d.handle, h.handle}));
}

TEST(PluginAbi, PluginRefusalComesBackWithItsReason) {
  g = FakeState{};
  g.caps = PLEXUS_TP_REG_HOST;
  Fixture f;
  std::string why;
  auto t = wrapTransportTable(&fakeTable().v1, f.ctx, &why);
  ASSERT_TRUE(t) << why;
  MemoryRegion dev{
      reinterpret_cast<void*>(uintptr_t{0x7f0000200000}), 4096, PLEXUS_TP_MEM_CUDA, 0, 5, 0};
  try {
    t->registerMemory(dev);
    FAIL() << "device memory registered by a host-only transport";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidUsage);
    EXPECT_NE(std::string(e.what()).find("registers host"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("staged through host memory"), std::string::npos);
  }
  EXPECT_TRUE(g.registered.empty());
}

bool haveCudaDevice();

// Device memory given without a dma-buf to a plugin that registers only dma-bufs: the core looks
// the dma-buf up itself; here there is none, and the error says why.
TEST(PluginAbi, CoreLooksUpTheDmabufOfDeviceMemory) {
  if (haveCudaDevice()) GTEST_SKIP() << "a CUDA device is present; this checks the no-device case";
  g = FakeState{};
  Fixture f;
  std::string why;
  auto t = wrapTransportTable(&fakeTable().v1, f.ctx, &why);
  ASSERT_TRUE(t) << why;
  MemoryRegion dev{reinterpret_cast<void*>(uintptr_t{0x7f0000200000}), 4096, PLEXUS_TP_MEM_CUDA, 0};
  try {
    t->registerMemory(dev);
    FAIL() << "registered device memory without a dma-buf";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidUsage);
    std::string m = e.what();
    EXPECT_TRUE(m.find("cuMemGetHandleForAddressRange") != std::string::npos ||
                m.find("built without CUDA") != std::string::npos)
        << m;
  }
  EXPECT_TRUE(g.registered.empty());
}

TEST(PluginAbi, ShortDescriptorIsRefused) {
  g = FakeState{};
  Fixture f;
  const plexus_transport_v2_t& table = fakeTable();
  plexus_tp_config_t config{};
  config.abi_version = 2;
  config.nranks = 1;
  config.slot_bytes = 4096;
  config.slots = 2;
  void* ctx = nullptr;
  char error[256] = {};
  ASSERT_EQ(table.v1.init(&config, &ctx, error, sizeof(error)), PLEXUS_TP_SUCCESS) << error;
  std::vector<char> host(64);
  plexus_tp_mem_desc_t desc{};
  desc.struct_size = 8;  // a caller from the future would send more, never less
  desc.kind = PLEXUS_TP_MEM_HOST;
  desc.ptr = host.data();
  desc.size = host.size();
  desc.dmabuf_fd = -1;
  plexus_tp_mem_reg_t out{};
  EXPECT_EQ(table.register_memory(ctx, &desc, &out), PLEXUS_TP_ERROR);
  EXPECT_NE(std::string(table.v1.last_error(ctx)).find("struct_size"), std::string::npos);
  desc.struct_size = sizeof(desc);
  EXPECT_EQ(table.register_memory(ctx, &desc, &out), PLEXUS_TP_SUCCESS);
  EXPECT_NE(out.handle, nullptr);
  EXPECT_EQ(table.deregister_memory(ctx, out.handle), PLEXUS_TP_SUCCESS);
  table.v1.finalize(ctx);
}

TEST(PluginAbi, VersionOneCopyOfAVersionTwoTableRegistersNothing) {
  g = FakeState{};
  Fixture f;
  static const plexus_transport_v1_t v1 = versionOne(fakeTable());
  EXPECT_EQ(v1.abi_version, 1u);
  std::string why;
  auto t = wrapTransportTable(&v1, f.ctx, &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(g.memKinds, uint32_t{PLEXUS_TP_MEM_HOST});  // a version 1 config has no mem_kinds
  EXPECT_EQ(t->registrationCaps(), 0u);
  EXPECT_FALSE(t->costs().registersMemory);
  std::vector<char> host(64);
  EXPECT_THROW(t->registerMemory(MemoryRegion{host.data(), host.size()}), Error);
  EXPECT_TRUE(g.registered.empty());
}

// The library of tests/transports/v1_plugin.c, built as a version 1 plugin.
TEST(PluginAbi, VersionOnePluginStillLoads) {
  ASSERT_EQ(setenv("PLEXUS_PLUGIN_PATH", PLEXUS_TEST_V1_PLUGIN_DIR, 1), 0);
  std::string searched;
  const plexus_transport_v1_t* table = findTransportTable("oldv1", &searched);
  ASSERT_NE(table, nullptr) << searched;
  EXPECT_EQ(table->abi_version, 1u);
  Fixture f;
  std::string why;
  auto t = wrapTransportTable(table, f.ctx, &why);  // its init insists on abi_version 1
  ASSERT_TRUE(t) << why;
  EXPECT_STREQ(t->name(), "oldv1");
  Costs c = t->costs();
  EXPECT_DOUBLE_EQ(c.bandwidthGBps, 10.0);
  EXPECT_DOUBLE_EQ(c.latencyUs, 4.0);
  EXPECT_FALSE(c.registersMemory);
  EXPECT_EQ(c.registerCaps, 0u);
  std::vector<char> host(64);
  try {
    t->registerMemory(MemoryRegion{host.data(), host.size()});
    FAIL() << "a version 1 plugin registered memory";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidUsage);
    EXPECT_NE(std::string(e.what()).find("ABI version 1"), std::string::npos) << e.what();
  }
  t->deregisterMemory(nullptr);  // nothing to release, no failure
}

// tests/transports/short_v2_plugin.c: a version 2 table shorter than version 2's fields.
TEST(PluginAbi, ShortVersionTwoTableIsRefused) {
  ASSERT_EQ(setenv("PLEXUS_PLUGIN_PATH", PLEXUS_TEST_V1_PLUGIN_DIR, 1), 0);
  std::string searched;
  EXPECT_EQ(findTransportTable("shortv2", &searched), nullptr);
  EXPECT_NE(searched.find("libplexus-transport-shortv2.so speaks another plugin ABI version"),
            std::string::npos)
      << searched;
}

TEST(MemoryRegion, ChecksNameTheTransportAndTheProblem) {
  std::vector<char> host(64);
  EXPECT_NO_THROW(checkRegion("x", MemoryRegion{host.data(), 64}, PLEXUS_TP_REG_HOST));
  auto message = [](const MemoryRegion& r, uint32_t caps) {
    try {
      checkRegion("x", r, caps);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(MemoryRegion{nullptr, 64}, PLEXUS_TP_REG_HOST).find("empty region"),
            std::string::npos);
  MemoryRegion odd{host.data(), 64, 9};
  EXPECT_NE(message(odd, PLEXUS_TP_REG_HOST).find("kind must be"), std::string::npos);
  MemoryRegion noDevice{host.data(), 64, PLEXUS_TP_MEM_CUDA};
  EXPECT_NE(message(noDevice, PLEXUS_TP_REG_CUDA).find("device ordinal"), std::string::npos);
  MemoryRegion dev{host.data(), 64, PLEXUS_TP_MEM_CUDA, 0, 7, 0};
  EXPECT_NE(message(dev, PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA_HMEM)
                .find("registers host, cuda (FI_HMEM)"),
            std::string::npos);
  EXPECT_EQ(message(dev, PLEXUS_TP_REG_CUDA_DMABUF), "");
  dev.dmabufFd = -1;  // by address: either CUDA route will do
  EXPECT_EQ(message(dev, PLEXUS_TP_REG_CUDA_HMEM), "");
  EXPECT_EQ(capsNeededFor(dev), PLEXUS_TP_REG_CUDA);
  EXPECT_EQ(registrationCapsText(0), "none");
}

TEST(MemoryRegion, KnobsSwitchDeviceRegistrationOff) {
  const uint32_t all = PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA;
  unsetenv("PLEXUS_NET_GDR");
  unsetenv("PLEXUS_DMABUF_ENABLE");
  unsetenv("NCCL_DMABUF_ENABLE");
  EXPECT_EQ(applyRegistrationKnobs(all), all);
  setenv("PLEXUS_DMABUF_ENABLE", "0", 1);
  EXPECT_EQ(applyRegistrationKnobs(all), PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA_HMEM);
  unsetenv("PLEXUS_DMABUF_ENABLE");
  setenv("NCCL_DMABUF_ENABLE", "0", 1);  // the NCCL name is honoured
  EXPECT_EQ(applyRegistrationKnobs(all), PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA_HMEM);
  unsetenv("NCCL_DMABUF_ENABLE");
  setenv("PLEXUS_NET_GDR", "0", 1);
  EXPECT_EQ(applyRegistrationKnobs(all), uint32_t{PLEXUS_TP_REG_HOST});
  unsetenv("PLEXUS_NET_GDR");
}

TEST(CudaDmabuf, RangesAlignToHostPages) {
  AlignedRange r = alignToPages(0x10000 + 100, 5000, 4096);
  EXPECT_EQ(r.base, uintptr_t{0x10000});
  EXPECT_EQ(r.length, size_t{8192});
  EXPECT_EQ(r.offset, 100u);
  r = alignToPages(0x20000, 4096, 4096);
  EXPECT_EQ(r.base, uintptr_t{0x20000});
  EXPECT_EQ(r.length, size_t{4096});
  EXPECT_EQ(r.offset, 0u);
}

bool haveCudaDevice() {
#if PLEXUS_HAVE_CUDA
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
#else
  return false;
#endif
}

// Without a device (or without CUDA) there is no dma-buf, and the reason says which.
TEST(CudaDmabuf, WithoutADeviceTheReasonIsClear) {
  if (haveCudaDevice()) GTEST_SKIP() << "a CUDA device is present (the next test covers it)";
  int x = 0;
  DmabufRange out;
  std::string why;
  EXPECT_FALSE(cudaDmabufRange(&x, sizeof(x), &out, &why));
  EXPECT_FALSE(out.fd);
#if PLEXUS_HAVE_CUDA
  EXPECT_NE(why.find("cuMemGetHandleForAddressRange"), std::string::npos) << why;
#else
  EXPECT_NE(why.find("built without CUDA"), std::string::npos) << why;
#endif
}

TEST(CudaDmabuf, DeviceMemoryHasADmabuf) {
  if (!haveCudaDevice()) GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount failed or is 0)";
#if PLEXUS_HAVE_CUDA
  void* p = nullptr;
  ASSERT_EQ(cudaMalloc(&p, 4 << 20), cudaSuccess);
  DmabufRange out;
  std::string why;
  bool ok = cudaDmabufRange(static_cast<char*>(p) + 4096 + 64, 1 << 20, &out, &why);
  cudaFree(p);
  if (!ok && why.find("dma-buf support") != std::string::npos)
    GTEST_SKIP() << "this device or driver has no dma-buf: " << why;
  ASSERT_TRUE(ok) << why;
  EXPECT_TRUE(out.fd);
  EXPECT_EQ(out.offset, 64u);
#endif
}

}  // namespace
}  // namespace plexus::transport
