// Test helper: unsets the named environment variables when built and again when destroyed, so a
// test that sets them leaves none behind for the next.
#pragma once

#include <stdlib.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace plexus::test {

class EnvGuard {
 public:
  EnvGuard(std::initializer_list<const char*> names) : names_(names.begin(), names.end()) {
    clear();
  }
  ~EnvGuard() { clear(); }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  void clear() const {
    for (const std::string& n : names_) unsetenv(n.c_str());
  }
  std::vector<std::string> names_;
};

}  // namespace plexus::test
