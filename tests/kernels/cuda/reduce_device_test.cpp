// kernels/cuda/reduce_device.cuh against the host kernels (kernels/reduce.hpp): every datatype
// and op, odd lengths, 16-byte aligned, equally misaligned and differently misaligned pointers,
// dst aliasing a or b, one- and two-dimensional blocks. Results must be the same bits as the
// host's (NaN results only need to be NaN: payloads are unspecified), and nothing may be written
// past the end. The device tests skip with one line where there is no CUDA device; the same
// checks also run on the host (*Emulated), every thread's share of the block in turn, which
// covers the indexing and dispatch (not the device's arithmetic) everywhere.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/datatype.hpp"
#include "kernels/float_convert.hpp"
#include "kernels/reduce.hpp"
#include "reduce_device_launch.hpp"

namespace plexus::kernels::cuda::test {
namespace {

constexpr size_t kGuard = 64;  // bytes after every device buffer that must stay untouched

std::string whyNoDevice() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    return std::string("no CUDA device: cudaGetDeviceCount failed: ") + cudaGetErrorString(e);
  }
  if (count == 0) return "no CUDA device: cudaGetDeviceCount found none";
  return "";
}

#define SKIP_WITHOUT_DEVICE()                                                     \
  do {                                                                            \
    if (const std::string why = whyNoDevice(); !why.empty()) GTEST_SKIP() << why; \
  } while (0)

enum class Where { kDevice, kHost };  // the GPU, or the host emulation of a block

// Element counts; the host emulation stops at 100003 (the split into head, vectors and tail is
// the same, and it runs every thread of the block one after another).
std::vector<uint64_t> lengths(Where w) {
  return {0, 1, 7, 33, w == Where::kDevice ? 1000003u : 100003u};
}

// Memory with room for an offset in front and the guard bytes behind, 256-byte aligned: device
// memory, or host memory for the emulation.
class Buffer {
 public:
  Buffer(Where where, size_t bytes) : where_(where), bytes_(bytes + 256 + kGuard) {
    if (where_ == Where::kHost) {
      host_.assign(bytes_ + 256, 0x5A);
      const auto p = reinterpret_cast<uintptr_t>(host_.data());
      base_ = host_.data() + ((256 - (p & 255u)) & 255u);
    } else if (cudaMalloc(&base_, bytes_) != cudaSuccess) {
      base_ = nullptr;
    } else {
      cudaMemset(base_, 0x5A, bytes_);
    }
  }
  ~Buffer() {
    if (where_ == Where::kDevice && base_ != nullptr) cudaFree(base_);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  bool ok() const { return base_ != nullptr; }
  uint8_t* at(size_t offset) const { return static_cast<uint8_t*>(base_) + offset; }
  std::vector<uint8_t> download(size_t offset, size_t bytes) const {
    std::vector<uint8_t> out(bytes);
    if (bytes > 0) copy(out.data(), at(offset), bytes, cudaMemcpyDeviceToHost);
    return out;
  }
  void upload(size_t offset, const std::vector<uint8_t>& data) {
    if (!data.empty()) copy(at(offset), data.data(), data.size(), cudaMemcpyHostToDevice);
  }

 private:
  void copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) const {
    if (where_ == Where::kHost) {
      std::memcpy(dst, src, bytes);
    } else {
      EXPECT_EQ(cudaMemcpy(dst, src, bytes, kind), cudaSuccess);
    }
  }
  Where where_;
  size_t bytes_;
  std::vector<uint8_t> host_;
  void* base_ = nullptr;
};

cudaError_t reduceBlockOn(Where w, BlockShape shape, DataType type, RedOp op, void* dst,
                          const void* a, const void* b, uint64_t n, int avgDivisor) {
  if (w == Where::kDevice) return runReduceBlock(shape, type, op, dst, a, b, n, avgDivisor);
  emulateReduceBlock(shape, type, op, dst, a, b, n, avgDivisor);
  return cudaSuccess;
}
cudaError_t divideBlockOn(Where w, BlockShape shape, DataType type, void* dst, const void* src,
                          uint64_t n, int divisor) {
  if (w == Where::kDevice) return runDivideBlock(shape, type, dst, src, n, divisor);
  emulateDivideBlock(shape, type, dst, src, n, divisor);
  return cudaSuccess;
}
cudaError_t copyBlockOn(Where w, BlockShape shape, void* dst, const void* src, uint64_t bytes) {
  if (w == Where::kDevice) return runCopyBlock(shape, dst, src, bytes);
  emulateCopyBlock(shape, dst, src, bytes);
  return cudaSuccess;
}

bool isNan(DataType t, const uint8_t* p) {
  uint16_t h;
  float f;
  double d;
  switch (t) {
    case DataType::kFloat16:
      std::memcpy(&h, p, 2);
      return std::isnan(halfToFloat(h));
    case DataType::kBfloat16:
      std::memcpy(&h, p, 2);
      return std::isnan(bf16ToFloat(h));
    case DataType::kFloat32:
      std::memcpy(&f, p, 4);
      return std::isnan(f);
    case DataType::kFloat64:
      std::memcpy(&d, p, 8);
      return std::isnan(d);
    case DataType::kFp8E4M3:
      return std::isnan(fp8E4M3ToFloat(*p));
    case DataType::kFp8E5M2:
      return std::isnan(fp8E5M2ToFloat(*p));
    default:
      return false;
  }
}

// Index of the first element that differs (bits, or NaN against non-NaN), or -1.
long firstMismatch(DataType t, const std::vector<uint8_t>& x, const std::vector<uint8_t>& y) {
  const size_t es = dataTypeSize(t);
  for (size_t i = 0; i * es < x.size(); ++i) {
    const uint8_t* p = x.data() + i * es;
    const uint8_t* q = y.data() + i * es;
    if (std::memcmp(p, q, es) != 0 && !(isNan(t, p) && isNan(t, q))) return long(i);
  }
  return -1;
}

// Random elements; float and double mix ordinary values with specials and raw bits, narrower
// types take any encoding.
std::vector<uint8_t> randomElements(DataType t, uint64_t n, std::mt19937_64& rng) {
  const size_t es = dataTypeSize(t);
  std::vector<uint8_t> out(n * es);
  std::uniform_real_distribution<double> value(-1000.0, 1000.0);
  const double specials[] = {0.0,   -0.0,    INFINITY, -INFINITY, NAN,     -NAN,
                             1e-40, -1e-310, 3.0e38,   -3.0e38,   1.7e308, 5e-324};
  for (uint64_t i = 0; i < n; ++i) {
    uint8_t* e = out.data() + i * es;
    const uint64_t r = rng();
    const bool wide = t == DataType::kFloat32 || t == DataType::kFloat64;
    if (!wide || r % 100 >= 90) {
      std::memcpy(e, &r, es);
      continue;
    }
    const double d = r % 100 < 80 ? value(rng) : specials[(r >> 8) % 12];
    if (t == DataType::kFloat32) {
      const float f = float(d);
      std::memcpy(e, &f, 4);
    } else {
      std::memcpy(e, &d, 8);
    }
  }
  return out;
}

// Where dst, a and b sit (byte offsets from 256-byte aligned allocations) and how they alias.
struct Layout {
  const char* name;
  size_t dst, a, b;  // in elements
  int alias;         // 0: separate buffers, 1: dst == a, 2: dst == b
  BlockShape shape;
};
const Layout kLayouts[] = {
    {"aligned", 0, 0, 0, 0, {256, 1}},
    {"equally misaligned", 1, 1, 1, 0, {128, 1}},
    {"differently misaligned", 0, 1, 3, 0, {256, 1}},
    {"dst=a misaligned, 2D block", 1, 1, 0, 1, {32, 3}},
    {"dst=b", 0, 0, 0, 2, {256, 1}},
};

// One reduceBlock call against reduceBuffers (+ finalizeAverage when divisor > 0).
void checkReduce(Where w, DataType type, RedOp op, int divisor, const Layout& l,
                 const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  const size_t es = dataTypeSize(type);
  const uint64_t n = a.size() / es;
  std::vector<uint8_t> ref(a.size());
  reduceBuffers(type, op, ref.data(), a.data(), b.data(), n);
  if (divisor > 0) finalizeAverage(type, ref.data(), ref.data(), n, divisor);

  Buffer da(w, a.size()), db(w, b.size()), dd(w, a.size());
  ASSERT_TRUE(da.ok() && db.ok() && dd.ok()) << "cudaMalloc failed";
  da.upload(l.a * es, a);
  db.upload(l.b * es, b);
  const Buffer& out = l.alias == 1 ? da : l.alias == 2 ? db : dd;
  const size_t outOffset = l.alias == 1 ? l.a * es : l.alias == 2 ? l.b * es : l.dst * es;
  const std::string what = std::string(dataTypeName(type)) + " " + redOpName(op) + " /" +
                           std::to_string(divisor) + " n=" + std::to_string(n) + " " + l.name;
  ASSERT_EQ(reduceBlockOn(w, l.shape, type, op, out.at(outOffset), da.at(l.a * es), db.at(l.b * es),
                          n, divisor),
            cudaSuccess)
      << what;
  EXPECT_EQ(firstMismatch(type, ref, out.download(outOffset, ref.size())), -1) << what;
  for (uint8_t g : out.download(outOffset + ref.size(), kGuard)) {
    ASSERT_EQ(g, 0x5A) << what << ": written past the end";
  }
}

void reduceMatchesHost(Where w, DataType type) {
  std::mt19937_64 rng(0xC0DA0000u + unsigned(type));
  for (uint64_t n : lengths(w)) {
    const auto a = randomElements(type, n, rng);
    const auto b = randomElements(type, n, rng);
    for (int op = 0; op < kNumRedOps; ++op) {
      const int divisor = RedOp(op) == RedOp::kAvg ? 3 : 0;
      for (const Layout& l : kLayouts) checkReduce(w, type, RedOp(op), divisor, l, a, b);
    }
    // A divisor with another op (the element-at-a-time path), and kAvg by a larger count.
    checkReduce(w, type, RedOp::kMax, 3, kLayouts[0], a, b);
    checkReduce(w, type, RedOp::kAvg, 576, kLayouts[1], a, b);
    checkReduce(w, type, RedOp::kAvg, 1, kLayouts[2], a, b);  // over one rank: no division
  }
}

void divideMatchesHost(Where w, DataType type) {
  const size_t es = dataTypeSize(type);
  std::mt19937_64 rng(0xD1D0000u + unsigned(type));
  for (uint64_t n : lengths(w)) {
    const auto src = randomElements(type, n, rng);
    for (int divisor : {1, 2, 7, 576}) {
      std::vector<uint8_t> ref(src.size());
      finalizeAverage(type, ref.data(), src.data(), n, divisor);
      for (size_t offset : {size_t(0), es}) {  // out of place (offsets differ), then in place
        Buffer ds(w, src.size()), dd(w, src.size());
        ASSERT_TRUE(ds.ok() && dd.ok()) << "cudaMalloc failed";
        ds.upload(offset, src);
        const bool inPlace = offset != 0;
        const Buffer& out = inPlace ? ds : dd;
        const std::string what = std::string(dataTypeName(type)) + " /" + std::to_string(divisor) +
                                 " n=" + std::to_string(n) + (inPlace ? " in place" : "");
        ASSERT_EQ(divideBlockOn(w, {256, 1}, type, out.at(offset), ds.at(offset), n, divisor),
                  cudaSuccess)
            << what;
        EXPECT_EQ(firstMismatch(type, ref, out.download(offset, ref.size())), -1) << what;
      }
    }
  }
}

// dst and src offsets: 16-byte aligned, equally misaligned, then 1, 8, 4 and 2 bytes apart.
const std::pair<size_t, size_t> kCopyOffsets[] = {{0, 0}, {3, 3}, {0, 5}, {16, 1}, {8, 0},
                                                  {1, 9}, {4, 0}, {7, 3}, {2, 0},  {5, 3}};

void copyIsExact(Where w) {
  std::mt19937_64 rng(0xC0B1u);
  for (uint64_t bytes : {0, 1, 15, 16, 17, 4096, 1000003}) {
    std::vector<uint8_t> src(bytes);
    for (auto& c : src) c = uint8_t(rng());
    for (auto [dstOff, srcOff] : kCopyOffsets) {
      Buffer ds(w, bytes), dd(w, bytes);
      ASSERT_TRUE(ds.ok() && dd.ok()) << "cudaMalloc failed";
      ds.upload(srcOff, src);
      const std::string what = "bytes=" + std::to_string(bytes) + " dst+" + std::to_string(dstOff) +
                               " src+" + std::to_string(srcOff);
      ASSERT_EQ(copyBlockOn(w, {32, 4}, dd.at(dstOff), ds.at(srcOff), bytes), cudaSuccess) << what;
      EXPECT_EQ(dd.download(dstOff, bytes), src) << what;
      for (uint8_t g : dd.download(0, dstOff)) ASSERT_EQ(g, 0x5A) << what << ": before dst";
      for (uint8_t g : dd.download(dstOff + bytes, kGuard)) ASSERT_EQ(g, 0x5A) << what;
    }
  }
}

class ReduceDeviceTest : public ::testing::TestWithParam<int> {};
class ReduceEmulatedTest : public ::testing::TestWithParam<int> {};

TEST_P(ReduceDeviceTest, ReduceBlockMatchesHost) {
  SKIP_WITHOUT_DEVICE();
  reduceMatchesHost(Where::kDevice, DataType(GetParam()));
}
TEST_P(ReduceDeviceTest, DivideBlockMatchesFinalizeAverage) {
  SKIP_WITHOUT_DEVICE();
  divideMatchesHost(Where::kDevice, DataType(GetParam()));
}
TEST(CopyBlock, CopiesEveryByteAndNothingMore) {
  SKIP_WITHOUT_DEVICE();
  copyIsExact(Where::kDevice);
}

TEST_P(ReduceEmulatedTest, ReduceBlockMatchesHost) {
  reduceMatchesHost(Where::kHost, DataType(GetParam()));
}
TEST_P(ReduceEmulatedTest, DivideBlockMatchesFinalizeAverage) {
  divideMatchesHost(Where::kHost, DataType(GetParam()));
}
TEST(CopyBlockEmulated, CopiesEveryByteAndNothingMore) {
  copyIsExact(Where::kHost);
}

const auto kTypeName = [](const ::testing::TestParamInfo<int>& p) {
  return std::string(dataTypeName(DataType(p.param)));
};
INSTANTIATE_TEST_SUITE_P(AllTypes, ReduceDeviceTest, ::testing::Range(0, kNumDataTypes), kTypeName);
INSTANTIATE_TEST_SUITE_P(AllTypes, ReduceEmulatedTest, ::testing::Range(0, kNumDataTypes),
                         kTypeName);

}  // namespace
}  // namespace plexus::kernels::cuda::test
