// Environment registry: aliases, parsing, undocumented names rejected.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/deadline.hpp"
#include "base/env.hpp"
#include "base/error.hpp"

namespace plexus {
namespace {

TEST(Env, PlexusNameWinsOverNcclAlias) {
  setenv("NCCL_SOCKET_IFNAME", "eth", 1);
  unsetenv("PLEXUS_SOCKET_IFNAME");
  EXPECT_EQ(envString("SOCKET_IFNAME", "x"), "eth");
  setenv("PLEXUS_SOCKET_IFNAME", "lo", 1);
  EXPECT_EQ(envString("SOCKET_IFNAME", "x"), "lo");
  unsetenv("NCCL_SOCKET_IFNAME");
}

TEST(Env, NonAliasIgnoresNcclSpelling) {
  unsetenv("PLEXUS_TIMEOUT");
  setenv("NCCL_TIMEOUT", "5", 1);
  EXPECT_EQ(envInt("TIMEOUT", 77), 77);
  unsetenv("NCCL_TIMEOUT");
}

TEST(Env, UndocumentedNameIsABug) {
  EXPECT_THROW(envGet("NOT_A_REAL_KNOB"), Error);
}

TEST(Env, MalformedIntegerIsRejectedWithName) {
  setenv("PLEXUS_SLOTS", "abc", 1);
  try {
    envInt("SLOTS", 8);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("PLEXUS_SLOTS"), std::string::npos);
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  unsetenv("PLEXUS_SLOTS");
}

TEST(Env, ParseSize) {
  EXPECT_EQ(parseSize("4096"), 4096u);
  EXPECT_EQ(parseSize("512K"), 512u * 1024);
  EXPECT_EQ(parseSize("4M"), 4u << 20);
  EXPECT_EQ(parseSize("1G"), 1ull << 30);
  EXPECT_EQ(parseSize("8MB"), 8u << 20);
  EXPECT_FALSE(parseSize(""));
  EXPECT_FALSE(parseSize("K"));
  EXPECT_FALSE(parseSize("12Q"));
  // Sizes above 2^64 - 1 are refused, not wrapped (found by the env fuzzer, tests/fuzz).
  EXPECT_EQ(parseSize("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parseSize("18446744073709551680"));
  EXPECT_FALSE(parseSize("006666666666666666666666600T"));
  EXPECT_EQ(parseSize("16777215T"), uint64_t{16777215} << 40);
  EXPECT_FALSE(parseSize("16777216T"));
}

TEST(Env, OutOfRangeIntegersAndTimeoutsAreRefused) {
  setenv("PLEXUS_SLOTS", "99999999999999999999", 1);
  EXPECT_THROW(envInt("SLOTS", 8), Error);
  unsetenv("PLEXUS_SLOTS");
  for (const char* bad : {"nan", "inf", "-1", "0"}) {
    setenv("PLEXUS_TIMEOUT", bad, 1);
    EXPECT_THROW(defaultTimeout(), Error) << bad;
  }
  setenv("PLEXUS_TIMEOUT", "1e300", 1);  // "never": capped, not an overflow
  EXPECT_GT(defaultTimeout(), std::chrono::hours(24 * 365));
  unsetenv("PLEXUS_TIMEOUT");
}

}  // namespace
}  // namespace plexus
