// The ibverbs plugin's registration of callers' memory, without an RDMA device: host memory
// through each device's MR cache, device memory through dma-buf (the caller's fd or one from the
// source), refusals that say why, and cleanup. The verbs calls are fakes that record what they
// were asked.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "base/error.hpp"
#include "transports/ibverbs/ib_registration.hpp"

namespace plexus::transport::ib {
namespace {

struct FakeMr {
  uint32_t rkey = 0;
};

class FakeHostRegistrar final : public Registrar {
 public:
  explicit FakeHostRegistrar(uint32_t key) : key_(key) {}
  void* reg(void*, size_t) override {
    ++regs;
    return new FakeMr{key_};
  }
  void dereg(void* r) override {
    ++deregs;
    delete static_cast<FakeMr*>(r);
  }
  int regs = 0, deregs = 0;

 private:
  uint32_t key_;
};

class FakeDmabuf final : public DmabufRegistrar {
 public:
  explicit FakeDmabuf(uint32_t key, bool fail = false) : key_(key), fail_(fail) {}
  struct Call {
    uint64_t offset;
    size_t length;
    uint64_t iova;
    int fd;
  };
  void* regDmabuf(uint64_t offset, size_t length, uint64_t iova, int fd) override {
    if (fail_) throwError(ErrorCode::kSystem, "fake ibv_reg_dmabuf_mr failed on dev1");
    calls.push_back(Call{offset, length, iova, fd});
    return new FakeMr{key_};
  }
  void dereg(void* r) override {
    ++deregs;
    delete static_cast<FakeMr*>(r);
  }
  std::vector<Call> calls;
  int deregs = 0;

 private:
  uint32_t key_;
  bool fail_;
};

uint32_t keyOf(void* r) {
  return static_cast<FakeMr*>(r)->rkey;
}

// A dma-buf source that hands out a real fd (a pipe end) at offset 128, and one that has none.
int sourced = -1;
bool pipeSource(const void*, size_t, DmabufRange* out, std::string*) {
  int p[2];
  if (pipe(p) != 0) return false;
  close(p[1]);
  sourced = p[0];
  out->fd = Fd(p[0]);
  out->offset = 128;
  return true;
}
bool noSource(const void*, size_t, DmabufRange*, std::string* why) {
  *why = "no CUDA here";
  return false;
}

std::string failure(RegionRegistry& r, const MemoryRegion& region) {
  try {
    r.registerRegion(region);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidUsage);
    return e.what();
  }
  return "";
}

class IbRegistration : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("PLEXUS_NET_GDR");
    unsetenv("PLEXUS_DMABUF_ENABLE");
    unsetenv("NCCL_DMABUF_ENABLE");
  }
  FakeHostRegistrar host0{11}, host1{22};
  MrCache cache0{host0, 8}, cache1{host1, 8};
  FakeDmabuf dmabuf0{33}, dmabuf1{44};
  MemoryRegion device{reinterpret_cast<void*>(uintptr_t{0x7f0000400000}), 1 << 20,
                      PLEXUS_TP_MEM_CUDA, 1};
};

TEST_F(IbRegistration, HostMemoryGoesThroughEveryDevicesCache) {
  RegionRegistry r({{"dev0", &cache0, &dmabuf0}, {"dev1", &cache1, nullptr}}, &noSource, &keyOf);
  EXPECT_EQ(r.caps(), uint32_t{PLEXUS_TP_REG_HOST});  // dev1 has no dma-buf
  std::vector<char> buf(10000);
  MemoryRegistration a = r.registerRegion(MemoryRegion{buf.data(), buf.size()});
  EXPECT_EQ(a.remoteKey, 11u);  // the first device's key
  MemoryRegistration b = r.registerRegion(MemoryRegion{buf.data() + 100, 50});
  EXPECT_EQ(host0.regs, 1);  // the second is a cache hit on both devices
  EXPECT_EQ(host1.regs, 1);
  EXPECT_EQ(cache0.hits(), 1u);
  EXPECT_EQ(r.size(), 2u);
  r.deregister(a.handle);
  r.deregister(b.handle);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_THROW(r.deregister(a.handle), Error);
}

TEST_F(IbRegistration, DeviceMemoryWithTheCallersDmabuf) {
  RegionRegistry r({{"dev0", &cache0, &dmabuf0}, {"dev1", &cache1, &dmabuf1}}, &noSource, &keyOf);
  EXPECT_EQ(r.caps(), PLEXUS_TP_REG_HOST | PLEXUS_TP_REG_CUDA_DMABUF);
  device.dmabufFd = 42;
  device.dmabufOffset = 8192;
  MemoryRegistration m = r.registerRegion(device);
  EXPECT_EQ(m.remoteKey, 33u);
  for (FakeDmabuf* d : {&dmabuf0, &dmabuf1}) {
    ASSERT_EQ(d->calls.size(), 1u);
    EXPECT_EQ(d->calls[0].fd, 42);
    EXPECT_EQ(d->calls[0].offset, 8192u);
    EXPECT_EQ(d->calls[0].length, size_t{1} << 20);
    EXPECT_EQ(d->calls[0].iova, uint64_t{0x7f0000400000});  // peers address it by its pointer
  }
  EXPECT_EQ(host0.regs, 0);
  r.deregister(m.handle);
  EXPECT_EQ(dmabuf0.deregs, 1);
  EXPECT_EQ(dmabuf1.deregs, 1);
}

TEST_F(IbRegistration, DeviceMemoryWithoutDmabufAsksTheSourceAndClosesItsFd) {
  RegionRegistry r({{"dev0", &cache0, &dmabuf0}}, &pipeSource, &keyOf);
  MemoryRegistration m = r.registerRegion(device);
  ASSERT_EQ(dmabuf0.calls.size(), 1u);
  EXPECT_EQ(dmabuf0.calls[0].fd, sourced);
  EXPECT_EQ(dmabuf0.calls[0].offset, 128u);
  EXPECT_EQ(fcntl(sourced, F_GETFD), -1);  // closed once registered
  r.deregister(m.handle);
}

TEST_F(IbRegistration, RefusalsSayWhy) {
  RegionRegistry none({{"dev0", &cache0, &dmabuf0}}, &noSource, &keyOf);
  std::string m = failure(none, device);
  EXPECT_NE(m.find("no dma-buf for it: no CUDA here"), std::string::npos) << m;
  EXPECT_NE(m.find("staged through host memory"), std::string::npos) << m;

  RegionRegistry lacking({{"dev0", &cache0, &dmabuf0}, {"mlx5_7", &cache1, nullptr}}, &pipeSource,
                         &keyOf);
  m = failure(lacking, device);
  EXPECT_NE(m.find("mlx5_7 cannot register dma-buf memory"), std::string::npos) << m;

  RegionRegistry r({{"dev0", &cache0, &dmabuf0}}, &pipeSource, &keyOf);
  setenv("PLEXUS_NET_GDR", "0", 1);
  m = failure(r, device);
  EXPECT_NE(m.find("PLEXUS_NET_GDR=0"), std::string::npos) << m;
  unsetenv("PLEXUS_NET_GDR");
  setenv("PLEXUS_DMABUF_ENABLE", "0", 1);
  m = failure(r, device);
  EXPECT_NE(m.find("PLEXUS_DMABUF_ENABLE=0"), std::string::npos) << m;
  unsetenv("PLEXUS_DMABUF_ENABLE");
  device.device = -1;
  try {
    r.registerRegion(device);
    FAIL() << "registered device memory without its device ordinal";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(dmabuf0.calls.empty());
  RegionRegistry empty({}, &pipeSource, &keyOf);
  EXPECT_EQ(empty.caps(), 0u);
}

TEST_F(IbRegistration, AFailureOnOneDeviceUndoesTheOthers) {
  FakeDmabuf failing(55, true);
  RegionRegistry r({{"dev0", &cache0, &dmabuf0}, {"dev1", &cache1, &failing}}, &pipeSource, &keyOf);
  device.dmabufFd = 9;
  try {
    r.registerRegion(device);
    FAIL() << "a failed registration was reported as done";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dev1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dmabuf0.calls.size(), 1u);
  EXPECT_EQ(dmabuf0.deregs, 1);  // dev0's registration was released
  EXPECT_EQ(r.size(), 0u);
}

TEST_F(IbRegistration, LeftoverRegistrationsAreReleasedAtTheEnd) {
  {
    RegionRegistry r({{"dev0", &cache0, &dmabuf0}}, &pipeSource, &keyOf);
    device.dmabufFd = 9;
    r.registerRegion(device);
    std::vector<char> buf(100);
    r.registerRegion(MemoryRegion{buf.data(), buf.size()});
  }
  EXPECT_EQ(dmabuf0.deregs, 1);
  EXPECT_EQ(cache0.size(), 1u);  // kept in the cache (unused now), deregistered with it
}

}  // namespace
}  // namespace plexus::transport::ib
