// Helpers shared by the topology tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "topology/graph.hpp"

namespace plexus::topo::test {

inline std::string dataPath(const std::string& name) {
  return std::string(PLEXUS_TEST_DATA_DIR) + "/" + name;
}

inline NodeId nodeId(const System& s, const std::string& name) {
  auto n = s.findByName(name);
  EXPECT_TRUE(n.has_value()) << "no node " << name << " in " << s.name();
  return n.value_or(0);
}

// Runs f and returns the Error message it throws ("" when it does not throw).
template <typename F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace plexus::topo::test
