// docs/environment.md documents every variable of the registry, with its default.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "base/env.hpp"

namespace plexus {
namespace {

TEST(EnvDocs, EveryRegisteredVariableIsDocumented) {
  std::ifstream in(std::string(PLEXUS_SOURCE_DIR) + "/docs/environment.md");
  ASSERT_TRUE(in) << "docs/environment.md is missing";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  for (const EnvVar& v : documentedEnvVars()) {
    std::string name = std::string("`PLEXUS_") + v.name + "`";
    EXPECT_NE(doc.find(name), std::string::npos) << name << " is not in docs/environment.md";
  }
}

}  // namespace
}  // namespace plexus
