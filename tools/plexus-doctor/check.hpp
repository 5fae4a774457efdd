// plexus-doctor checks: what one check returns, what every check may read (the host's topology,
// the transport order, the number of local ranks to size for), and the registry that the check
// files (checks_*.cpp, one per group) add themselves to.
//
// To add a check, write a function `Result f(const Context&)` in the file of its group and
// register it with PLEXUS_DOCTOR_CHECK(order, "group.name", f); `order` places it in the report.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "topology/graph.hpp"

namespace plexus::tools::doctor {

enum class Verdict { kOk, kWarn, kFail, kSkip };
const char* verdictName(Verdict v);  // "OK", "WARN", "FAIL", "SKIP"

struct Result {
  std::string name;  // "shm.size"
  Verdict verdict = Verdict::kOk;
  std::string found;  // what the check saw, one line
  std::string fix;    // the exact fix (empty for OK and SKIP)
};

struct Context {
  int ranks = 1;                                // local ranks to size for (--ranks)
  std::string ranksFrom;                        // "--ranks", "PLEXUS_LOCAL_SIZE", "nproc"
  std::vector<std::string> transports;          // PLEXUS_TRANSPORTS' order (applied)
  std::string transportError;                   // why the order could not be read, else ""
  const plexus::topo::System* local = nullptr;  // this host, discovered
  const plexus::topo::System* graph = nullptr;  // PLEXUS_TOPO_FILE when set, else `local`
  std::string graphFrom;                        // "discovery" or "PLEXUS_TOPO_FILE=..."
  std::string graphError;                       // PLEXUS_TOPO_FILE could not be read: why
  bool inOrder(const std::string& transport) const;
};

using CheckFn = std::function<Result(const Context&)>;

struct Check {
  int order;
  std::string name;
  CheckFn fn;
};

std::vector<Check>& checkRegistry();

struct CheckRegistrar {
  CheckRegistrar(int order, const char* name, CheckFn fn) {
    checkRegistry().push_back(Check{order, name, std::move(fn)});
  }
};

#define PLEXUS_DOCTOR_CONCAT2(a, b) a##b
#define PLEXUS_DOCTOR_CONCAT(a, b) PLEXUS_DOCTOR_CONCAT2(a, b)
#define PLEXUS_DOCTOR_CHECK(order, name, fn)                                            \
  static const ::plexus::tools::doctor::CheckRegistrar PLEXUS_DOCTOR_CONCAT(registrar_, \
                                                                            __LINE__) { \
    order, name, fn                                                                     \
  }

// Runs every registered check in order; a check that throws is reported as FAIL with the error.
std::vector<Result> runChecks(const Context& ctx);

// Shorthands for building results.
Result ok(std::string name, std::string found);
Result skip(std::string name, std::string found);
Result warn(std::string name, std::string found, std::string fix);
Result fail(std::string name, std::string found, std::string fix);

// "11.8 GiB", "640 MiB", "4 KiB", "17 B".
std::string formatBytes(double bytes);
// A file's first line without its newline; "" when it cannot be read.
std::string readLine(const std::string& path);

}  // namespace plexus::tools::doctor
