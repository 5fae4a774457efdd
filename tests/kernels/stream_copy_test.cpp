// streamCopy: the non-temporal copy the engine writes large results with must equal memcpy for
// every size and alignment, and write nothing outside the destination range.
#include "kernels/stream_copy.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace plexus {
namespace {

TEST(StreamCopy, EqualsMemcpyForEverySizeAndAlignment) {
  const std::vector<size_t> sizes = {0,    1,    63,   64,    65,    4095,    4096,
                                     4097, 8191, 8256, 65536, 65599, 1 << 20, (1 << 20) + 37};
  for (size_t bytes : sizes) {
    for (size_t srcOff : {0, 1, 16, 63}) {
      for (size_t dstOff : {0, 3, 32, 48}) {
        std::vector<uint8_t> src(bytes + 128), dst(bytes + 128, 0xEE);
        for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 131 + 7);
        streamCopy(dst.data() + dstOff, src.data() + srcOff, bytes);
        for (size_t i = 0; i < dst.size(); ++i) {
          const bool inside = i >= dstOff && i < dstOff + bytes;
          const uint8_t want = inside ? src[i - dstOff + srcOff] : 0xEE;
          ASSERT_EQ(dst[i], want) << "bytes " << bytes << " srcOff " << srcOff << " dstOff "
                                  << dstOff << " at " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace plexus
