// PLEXUS_IB_HCA parsing and matching (NCCL syntax): prefixes, ports, exclusion, exact names.
#include <gtest/gtest.h>

#include "base/error.hpp"
#include "transports/ibverbs/hca_list.hpp"

namespace plexus::transport::ib {
namespace {

TEST(HcaFilter, EmptySelectsEverything) {
  HcaFilter f = HcaFilter::parse("");
  EXPECT_TRUE(f.selects("mlx5_0", 1));
  EXPECT_TRUE(f.selects("rxe0", 2));
}

TEST(HcaFilter, PrefixesWithAndWithoutPort) {
  HcaFilter f = HcaFilter::parse("mlx5_0:1,mlx5_1");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[0].name, "mlx5_0");
  EXPECT_EQ(f.entries[0].port, 1);
  EXPECT_EQ(f.entries[1].port, 0);
  EXPECT_TRUE(f.selects("mlx5_0", 1));
  EXPECT_FALSE(f.selects("mlx5_0", 2));
  EXPECT_TRUE(f.selects("mlx5_1", 1));
  EXPECT_TRUE(f.selects("mlx5_1", 2));
  EXPECT_TRUE(f.selects("mlx5_10", 1));  // a prefix, as in NCCL
  EXPECT_FALSE(f.selects("mlx5_2", 1));
  EXPECT_FALSE(f.selects("mlx4_0", 1));
}

TEST(HcaFilter, Exclusion) {
  HcaFilter f = HcaFilter::parse("^mlx5_2");
  EXPECT_TRUE(f.exclude);
  EXPECT_TRUE(f.selects("mlx5_0", 1));
  EXPECT_FALSE(f.selects("mlx5_2", 1));
  EXPECT_FALSE(f.selects("mlx5_23", 1));
  HcaFilter p = HcaFilter::parse("^mlx5_0:2");
  EXPECT_TRUE(p.selects("mlx5_0", 1));
  EXPECT_FALSE(p.selects("mlx5_0", 2));
}

TEST(HcaFilter, ExactNames) {
  HcaFilter f = HcaFilter::parse("=mlx5_1");
  EXPECT_TRUE(f.exact);
  EXPECT_TRUE(f.selects("mlx5_1", 1));
  EXPECT_FALSE(f.selects("mlx5_10", 1));
  HcaFilter g = HcaFilter::parse("^=mlx5_1");
  EXPECT_TRUE(g.exclude);
  EXPECT_TRUE(g.exact);
  EXPECT_FALSE(g.selects("mlx5_1", 1));
  EXPECT_TRUE(g.selects("mlx5_10", 1));
}

TEST(HcaFilter, SpacesAndEmptyEntriesAreIgnored) {
  HcaFilter f = HcaFilter::parse(" mlx5_0 , ,mlx5_3:2 ");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[1].name, "mlx5_3");
  EXPECT_EQ(f.entries[1].port, 2);
}

TEST(HcaFilter, MalformedPortsAreRefusedNamingTheVariable) {
  for (const char* bad : {"mlx5_0:", "mlx5_0:x", "mlx5_0:0", "mlx5_0:300", ":1"}) {
    try {
      HcaFilter::parse(bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("PLEXUS_IB_HCA"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace plexus::transport::ib
