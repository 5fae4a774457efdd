// Environment registry: aliases, parsing, undocumented names rejected.
#include <gtest/gtest.h>
#include <stdlib.h>

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
}

}  // namespace
}  // namespace plexus
