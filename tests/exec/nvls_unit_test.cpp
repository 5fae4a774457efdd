// The nvls device executor's parts that need no GPU: which (type, op) the switch reduces, the
// flag / data layout of the multicast memory, the share partition (every byte of every chunk
// copied by exactly one channel, every 16-byte vector reduced by exactly one (channel, rank)),
// and the call taken from a real nvls plan.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "algorithms/builders.hpp"
#include "base/error.hpp"
#include "engine/cuda/nvls_call.hpp"
#include "engine/cuda/nvls_share.hpp"
#include "engine/exec/exec_plan.hpp"

namespace plexus::engine::cuda {
namespace {

TEST(Nvls, SupportsTable) {
  for (int t = 0; t < kNumDataTypes; ++t) {
    for (int o = 0; o < kNumRedOps; ++o) {
      const auto type = static_cast<DataType>(t);
      const auto op = static_cast<RedOp>(o);
      const bool typeOk =
          type == DataType::kFloat32 || type == DataType::kFloat16 || type == DataType::kBfloat16;
      const bool opOk = op == RedOp::kSum || op == RedOp::kAvg;
      EXPECT_EQ(nvlsSupports(type, op), typeOk && opOk) << "type " << t << " op " << o;
      EXPECT_EQ(nvlsElementBytes(type) != 0, typeOk) << "type " << t;
    }
  }
  static_assert(nvlsSupports(DataType::kBfloat16, RedOp::kAvg));
  static_assert(!nvlsSupports(DataType::kFloat64, RedOp::kSum));
  static_assert(!nvlsSupports(DataType::kFloat32, RedOp::kMax));
}

TEST(Nvls, Layout) {
  for (int ch = 1; ch <= 64; ++ch) {
    const uint64_t at = nvlsDataOffset(ch);
    EXPECT_EQ(at % kNvlsFlagAlign, 0u);
    EXPECT_GE(at, static_cast<uint64_t>(ch) * kNvlsChannelFlagBytes);
    EXPECT_LT(at - static_cast<uint64_t>(ch) * kNvlsChannelFlagBytes, kNvlsFlagAlign);
    const uint64_t cap = nvlsDataCapacity(2u << 20, ch);
    EXPECT_EQ(cap % kNvlsVectorBytes, 0u);
    EXPECT_LE(at + cap, 2u << 20);
    EXPECT_GT(at + cap + kNvlsVectorBytes, 2u << 20);
  }
  EXPECT_EQ(nvlsDataCapacity(256, 4), 0u);
  EXPECT_EQ(nvlsDataCapacity(256 + 15, 4), 0u);
  EXPECT_EQ(nvlsDataCapacity(256 + 40, 4), 32u);
}

// Checks one chunk of `bytes` over `nch` channels and `n` ranks: channel copy ranges cover every
// byte once, shares cover every vector once and lie inside their channel's range.
void checkChunk(uint64_t bytes, int nch, int n) {
  const uint64_t vectors = nvlsVectors(bytes);
  std::vector<int> copied(bytes, 0), reduced(vectors, 0);
  for (int c = 0; c < nch; ++c) {
    const NvlsRange cr = nvlsChannelRange(bytes, c, nch);
    const NvlsBytes cb = nvlsChannelBytes(bytes, c, nch);
    if (cr.count != 0) {
      ASSERT_EQ(cb.begin, cr.first * kNvlsVectorBytes);
    }
    ASSERT_LE(cb.begin, cb.end);
    ASSERT_LE(cb.end, bytes);
    for (uint64_t b = cb.begin; b < cb.end; ++b) ++copied[b];
    for (int r = 0; r < n; ++r) {
      const NvlsRange s = nvlsShare(bytes, c, nch, r, n);
      ASSERT_GE(s.first, cr.first);
      ASSERT_LE(s.first + s.count, cr.first + cr.count);
      ASSERT_EQ((s.first * kNvlsVectorBytes) % 16, 0u);
      for (uint64_t v = s.first; v < s.first + s.count; ++v) ++reduced[v];
    }
  }
  for (uint64_t b = 0; b < bytes; ++b)
    ASSERT_EQ(copied[b], 1) << "byte " << b << " of " << bytes << ", " << nch << " ch, " << n;
  for (uint64_t v = 0; v < vectors; ++v)
    ASSERT_EQ(reduced[v], 1) << "vector " << v << " of " << bytes << ", " << nch << " ch, " << n;
}

TEST(Nvls, SharePartitionCoversEveryElementOnce) {
  const uint64_t counts[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000, 4099, 65537};
  const uint64_t capacities[] = {16, 48, 1024, 1u << 20};
  for (uint64_t esz : {uint64_t{2}, uint64_t{4}}) {
    for (uint64_t count : counts) {
      const uint64_t total = count * esz;
      for (uint64_t cap : capacities) {
        if (total / cap > 300) continue;  // many tiny chunks prove nothing more
        for (int n = 1; n <= 8; ++n) {
          for (int nch : {1, 2, 3, 4, 9}) {
            uint64_t covered = 0;
            for (uint64_t done = 0; done < total; done += cap) {
              ASSERT_EQ(done % 16, 0u);
              const uint64_t bytes = nvlsChunkBytes(total, done, cap);
              ASSERT_GT(bytes, 0u);
              ASSERT_EQ(bytes % esz, 0u);
              checkChunk(bytes, nch, n);
              covered += bytes;
            }
            ASSERT_EQ(covered, total);
          }
        }
      }
    }
  }
}

// The kernel's steps for every rank in lockstep on the host (copy in per channel, each rank's
// share summed over the ranks and stored to all, copy out), with the multicast memory as one
// buffer per rank: f32 sums of integers are exact whatever the order.
std::vector<std::vector<float>> emulate(const std::vector<std::vector<float>>& in, uint64_t cap,
                                        int nch) {
  const int n = static_cast<int>(in.size());
  const uint64_t total = in[0].size() * 4;
  std::vector<std::vector<unsigned char>> uc(in.size(), std::vector<unsigned char>(cap, 0xff));
  std::vector<std::vector<float>> out(in.size(), std::vector<float>(in[0].size(), -1));
  for (uint64_t done = 0; done < total; done += cap) {
    const uint64_t bytes = nvlsChunkBytes(total, done, cap);
    for (int c = 0; c < nch; ++c) {
      const NvlsBytes cb = nvlsChannelBytes(bytes, c, nch);
      for (int r = 0; r < n; ++r)
        std::memcpy(uc[r].data() + cb.begin,
                    reinterpret_cast<const unsigned char*>(in[r].data()) + done + cb.begin,
                    cb.end - cb.begin);
    }
    for (int c = 0; c < nch; ++c) {
      for (int r = 0; r < n; ++r) {
        const NvlsRange s = nvlsShare(bytes, c, nch, r, n);
        for (uint64_t f = s.first * 4; f < (s.first + s.count) * 4; ++f) {
          float sum = 0;
          for (int j = 0; j < n; ++j) sum += reinterpret_cast<const float*>(uc[j].data())[f];
          for (int j = 0; j < n; ++j) reinterpret_cast<float*>(uc[j].data())[f] = sum;
        }
      }
    }
    for (int c = 0; c < nch; ++c) {
      const NvlsBytes cb = nvlsChannelBytes(bytes, c, nch);
      for (int r = 0; r < n; ++r)
        std::memcpy(reinterpret_cast<unsigned char*>(out[r].data()) + done + cb.begin,
                    uc[r].data() + cb.begin, cb.end - cb.begin);
    }
  }
  return out;
}

TEST(Nvls, EmulatedAllReduceIsExact) {
  for (uint64_t count : {uint64_t{1}, uint64_t{3}, uint64_t{5}, uint64_t{37}, uint64_t{1001}}) {
    for (uint64_t cap : {uint64_t{16}, uint64_t{48}, uint64_t{4096}}) {
      for (int n : {1, 2, 3, 8}) {
        for (int nch : {1, 2, 3}) {
          std::vector<std::vector<float>> in(static_cast<size_t>(n), std::vector<float>(count));
          for (int r = 0; r < n; ++r)
            for (uint64_t i = 0; i < count; ++i)
              in[static_cast<size_t>(r)][i] = static_cast<float>((i * 7 + r * 13) % 1000);
          const auto out = emulate(in, cap, nch);
          for (int r = 0; r < n; ++r) {
            for (uint64_t i = 0; i < count; ++i) {
              float want = 0;
              for (int j = 0; j < n; ++j) want += in[static_cast<size_t>(j)][i];
              ASSERT_EQ(out[static_cast<size_t>(r)][i], want)
                  << "rank " << r << " element " << i << " count " << count << " cap " << cap
                  << " ranks " << n << " channels " << nch;
            }
          }
        }
      }
    }
  }
}

exec::FlatPlan flatPlan(const char* algorithm, DataType type, RedOp op, int rank, int n) {
  algo::BuildRequest q;
  q.nranks = n;
  q.rank = rank;
  q.count = 1000;
  q.fifoElems = 4096;
  q.nchannels = 2;
  const algo::Plan plan =
      std::string(algorithm) == "nvls" ? algo::buildNvls(q) : algo::buildRing(q);
  return exec::flatten(plan, type, op, exec::FlattenOptions{});
}

TEST(Nvls, CallFromThePlan) {
  int in = 0, out = 0;
  const NvlsCall c =
      nvlsCallFor(flatPlan("nvls", DataType::kBfloat16, RedOp::kAvg, 2, 4), &in, &out);
  EXPECT_EQ(c.input, &in);
  EXPECT_EQ(c.output, &out);
  EXPECT_EQ(c.count, 1000u);
  EXPECT_EQ(c.type, DataType::kBfloat16);
  EXPECT_EQ(c.op, RedOp::kAvg);
  EXPECT_EQ(c.rank, 2);
  EXPECT_EQ(c.nranks, 4);
  EXPECT_EQ(c.nchannels, 2);
  try {
    nvlsCallFor(flatPlan("ring", DataType::kFloat32, RedOp::kSum, 0, 2), &in, &out);
    ADD_FAILURE() << "a ring plan was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("generic device executor"), std::string::npos) << e.what();
  }
  try {
    nvlsCallFor(flatPlan("nvls", DataType::kInt32, RedOp::kSum, 0, 2), &in, &out);
    ADD_FAILURE() << "an int32 nvls call was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidUsage);
    EXPECT_NE(std::string(e.what()).find("generic device executor"), std::string::npos) << e.what();
  }
}

TEST(Nvls, StatusInWords) {
  NvlsCall c;
  c.rank = 1;
  c.nranks = 2;
  exec::ExecStatus s;
  EXPECT_EQ(describeNvlsStatus(c, s), "ok");
  s.code = exec::kExecTimeout;
  s.channel = 3;
  s.step = 1;
  s.piece = 7;
  s.message = 4;
  s.gotBytes = 3;
  const std::string text = describeNvlsStatus(c, s);
  EXPECT_NE(text.find("rank 1 of 2, channel 3 timed out"), std::string::npos) << text;
  EXPECT_NE(text.find("storing sums of chunk 7"), std::string::npos) << text;
}

}  // namespace
}  // namespace plexus::engine::cuda
