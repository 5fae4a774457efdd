// The check registry and the helpers every check uses.
#include "check.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>

#include "base/error.hpp"

namespace plexus::tools::doctor {

const char* verdictName(Verdict v) {
  switch (v) {
    case Verdict::kOk:
      return "OK";
    case Verdict::kWarn:
      return "WARN";
    case Verdict::kFail:
      return "FAIL";
    case Verdict::kSkip:
      return "SKIP";
  }
  return "?";
}

bool Context::inOrder(const std::string& transport) const {
  return std::find(transports.begin(), transports.end(), transport) != transports.end();
}

std::vector<Check>& checkRegistry() {
  static std::vector<Check> registry;
  return registry;
}

std::vector<Result> runChecks(const Context& ctx) {
  std::vector<Check> checks = checkRegistry();
  std::stable_sort(checks.begin(), checks.end(),
                   [](const Check& a, const Check& b) { return a.order < b.order; });
  std::vector<Result> out;
  for (const Check& c : checks) {
    try {
      Result r = c.fn(ctx);
      r.name = c.name;
      out.push_back(std::move(r));
    } catch (const plexus::Error& e) {
      // A variable the check reads as the library would, with a value the library refuses.
      if (e.code() == ErrorCode::kInvalidArgument)
        out.push_back(fail(c.name, e.what(),
                           "correct the variable the message names (docs/environment.md lists "
                           "every variable and its values)"));
      else
        out.push_back(fail(c.name, std::string("the check itself failed: ") + e.what(),
                           "report this as a plexus-doctor bug, with the line above"));
    } catch (const std::exception& e) {
      out.push_back(fail(c.name, std::string("the check itself failed: ") + e.what(),
                         "report this as a plexus-doctor bug, with the line above"));
    }
  }
  return out;
}

Result ok(std::string name, std::string found) {
  return Result{std::move(name), Verdict::kOk, std::move(found), {}};
}
Result skip(std::string name, std::string found) {
  return Result{std::move(name), Verdict::kSkip, std::move(found), {}};
}
Result warn(std::string name, std::string found, std::string fix) {
  return Result{std::move(name), Verdict::kWarn, std::move(found), std::move(fix)};
}
Result fail(std::string name, std::string found, std::string fix) {
  return Result{std::move(name), Verdict::kFail, std::move(found), std::move(fix)};
}

std::string formatBytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0 || bytes >= 100)
    std::snprintf(buf, sizeof(buf), "%.0f %s", bytes, kUnits[unit]);
  else
    std::snprintf(buf, sizeof(buf), "%.1f %s", bytes, kUnits[unit]);
  return buf;
}

std::string readLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return {};
  return line;
}

}  // namespace plexus::tools::doctor
