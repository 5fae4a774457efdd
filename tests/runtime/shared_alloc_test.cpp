// ncclMemAlloc's choice of memory (runtime/shared_alloc.hpp): PLEXUS_SINGLE_COPY and
// PLEXUS_SINGLE_COPY_MIN read once, by the same parser as the communicator's, and shared buffers
// that are found by address and freed.
#include "runtime/shared_alloc.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>

#include "base/error.hpp"

namespace plexus::runtime {
namespace {

struct ScopedEnv {
  ScopedEnv(const char* mode, const char* min) {
    setenv("PLEXUS_SINGLE_COPY", mode, 1);
    if (min != nullptr) setenv("PLEXUS_SINGLE_COPY_MIN", min, 1);
  }
  ~ScopedEnv() {
    unsetenv("PLEXUS_SINGLE_COPY");
    unsetenv("PLEXUS_SINGLE_COPY_MIN");
  }
};

TEST(SharedAlloc, ChoiceFollowsTheSingleCopySetting) {
  {
    ScopedEnv env("auto", "64K");
    EXPECT_EQ(allocChoice(64 << 10), AllocChoice::kShared);
    EXPECT_EQ(allocChoice((64 << 10) - 1), AllocChoice::kPlain);
  }
  {
    ScopedEnv env("auto", nullptr);  // 1 MiB by default
    EXPECT_EQ(allocChoice(1 << 20), AllocChoice::kShared);
    EXPECT_EQ(allocChoice((1 << 20) - 1), AllocChoice::kPlain);
  }
  {
    ScopedEnv env("1", "64K");
    EXPECT_EQ(allocChoice(8), AllocChoice::kSharedOnly);
  }
  {
    ScopedEnv env("0", "64K");
    EXPECT_EQ(allocChoice(1 << 30), AllocChoice::kPlain);
  }
  {
    // A malformed setting is refused, as comm init refuses it (it used to mean plain memory here).
    ScopedEnv env("yes", nullptr);
    try {
      allocChoice(1 << 20);
      FAIL() << "PLEXUS_SINGLE_COPY=yes accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::strstr(e.what(), "PLEXUS_SINGLE_COPY=yes: expected auto, 0 or 1"), nullptr)
          << e.what();
    }
  }
}

TEST(SharedAlloc, RegionsAreFoundByAddressAndFreed) {
  const size_t bytes = 3 * 4096 + 5;
  auto* p = static_cast<std::byte*>(sharedAlloc(bytes));
  ASSERT_NE(p, nullptr);
  for (size_t i = 0; i < bytes; ++i) ASSERT_EQ(p[i], std::byte{0});
  const auto whole = sharedRegionOf(p, bytes);
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(whole->base, p);
  EXPECT_GE(whole->size, bytes);
  EXPECT_GE(whole->fd, 0);
  EXPECT_TRUE(sharedRegionOf(p + 100, 200).has_value());
  EXPECT_FALSE(sharedRegionOf(p, whole->size + 1).has_value());
  int plain = 0;
  EXPECT_FALSE(sharedRegionOf(&plain, sizeof plain).has_value());
  EXPECT_FALSE(sharedFree(&plain));
  EXPECT_TRUE(sharedFree(p));
  EXPECT_FALSE(sharedRegionOf(p, 1).has_value());
}

}  // namespace
}  // namespace plexus::runtime
