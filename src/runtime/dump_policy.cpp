// PLEXUS_DUMP_ON.
#include "runtime/dump_policy.hpp"

#include <sstream>

#include "base/env.hpp"
#include "base/error.hpp"

namespace plexus::runtime {

DumpPolicy DumpPolicy::parse(const std::string& text) {
  DumpPolicy p;
  p = DumpPolicy{false, false, false, false, false};
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item == "error")
      p.onError = p.onTimeout = true;
    else if (item == "timeout")
      p.onTimeout = true;
    else if (item == "abort")
      p.onAbort = true;
    else if (item == "fatal")
      p.onFatal = true;
    else if (item == "usr1")
      p.onUsr1 = true;
    else if (item == "all")
      p = DumpPolicy{true, true, true, true, true};
    else if (item != "none" && !item.empty())
      throwError(ErrorCode::kInvalidArgument,
                 "PLEXUS_DUMP_ON=%s: unknown event '%s'; use a comma list of error, timeout, "
                 "abort, fatal, usr1, or all / none",
                 text.c_str(), item.c_str());
  }
  return p;
}

DumpPolicy DumpPolicy::fromEnv() {
  return parse(envString("DUMP_ON", "error"));
}

}  // namespace plexus::runtime
