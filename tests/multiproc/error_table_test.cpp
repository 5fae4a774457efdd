// Errors that teach (issue 17, item 6): a table of bad inputs and the fragment each message must
// carry: the variable or flag, the value seen, and what to do. Environment rows run in a forked
// process each (rank_harness) that makes a unique id and a communicator (one rank; two where the
// row needs a peer) and prints the error; perf-tool flag rows parse the flags in this process.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/options.hpp"
#include "common/progress.hpp"
#include "plexus/nccl.h"
#include "tests/multiproc/rank_harness.hpp"

namespace plexus::testing {
namespace {

struct EnvRow {
  std::map<std::string, std::string> env;
  std::vector<std::string> expected;  // each must appear in what the process printed
  int nranks = 1;                     // the communicator's size; this process is its last rank
};

// Makes the id and the communicator as a program would; prints "ERROR: <last error>" on failure.
int initAndReport(int nranks) {
  ncclResetDebugInit();  // PLEXUS_DEBUG* of the row
  ncclUniqueId id{};
  ncclComm_t comm = nullptr;
  ncclResult_t r = ncclGetUniqueId(&id);
  if (r == ncclSuccess) r = ncclCommInitRank(&comm, nranks, id, nranks - 1);
  if (r == ncclSuccess) {
    int v = 1, sum = 0;
    r = ncclAllReduce(&v, &sum, 1, ncclInt32, ncclSum, comm, nullptr);
    ncclCommDestroy(comm);
  }
  if (r != ncclSuccess) std::fprintf(stderr, "ERROR: %s\n", ncclGetLastError(nullptr));
  return 0;
}

// A file named like a plugin that is not a shared library.
std::string fakePluginDir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/plexus-fake-plugin.XXXXXX";
    std::string d = mkdtemp(tmpl);
    std::ofstream(d + "/libplexus-transport-fake.so") << "not an ELF file\n";
    return d;
  }();
  return dir;
}

std::vector<EnvRow> envRows() {
  const std::string closed = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  return {
      // Each parser kind of src/base/env.cpp: number, integer (also through the NCCL alias), size,
      // boolean.
      {{{"PLEXUS_TIMEOUT", "abc"}},
       {"PLEXUS_TIMEOUT='abc' is not a number (default 1800; Seconds", "set a number such as"}},
      {{{"PLEXUS_SLOTS", "8x"}},
       {"PLEXUS_SLOTS='8x' is not a 64-bit integer (default 8;", "set a whole number"}},
      {{{"NCCL_NSOCKS_PERTHREAD", "lots"}, {"PLEXUS_TRANSPORTS", "tcp"}},
       {"NCCL_NSOCKS_PERTHREAD='lots' is not a 64-bit integer (default 1; TCP sockets"}},
      {{{"PLEXUS_SLOT_SIZE", "12Q"}},
       {"PLEXUS_SLOT_SIZE='12Q' is not a size (default 128K;", "set bytes such as 4096, 512K"}},
      {{{"PLEXUS_NT_STORE_MIN", "-1"}}, {"PLEXUS_NT_STORE_MIN='-1' is not a size"}},
      {{{"PLEXUS_SHM_DISABLE", "maybe"}},
       {"PLEXUS_SHM_DISABLE='maybe' is not a boolean (default 0;", "set 1 (or true, yes, on)"}},
      // Words and lists.
      {{{"PLEXUS_DUMP_ON", "sometimes"}},
       {"PLEXUS_DUMP_ON=sometimes: unknown event 'sometimes'; use a comma list of error"}},
      {{{"PLEXUS_EXECUTOR", "fast"}}, {"PLEXUS_EXECUTOR=fast: expected engine"}},
      {{{"PLEXUS_ALGO", "zzz"}}, {"PLEXUS_ALGO=\"zzz\": \"zzz\" is not an algorithm (known: ring"}},
      {{{"PLEXUS_TRANSPORTS", "carrier-pigeon"}},
       {"PLEXUS_TRANSPORTS: 'carrier-pigeon' is not a transport name", "valid names: shm, tcp"}},
      {{{"PLEXUS_TRANSPORTS", "fabric"}},
       {"PLEXUS_TRANSPORTS='fabric'", "fabric: not a transport", "valid names: shm, tcp"}},
      {{{"PLEXUS_SOCKET_IFNAME", "=nosuch0"}},
       {"no network interface matches PLEXUS_SOCKET_IFNAME='=nosuch0'; check the names with"}},
      {{{"PLEXUS_SOCKET_FAMILY", "AF_X"}},
       {"PLEXUS_SOCKET_FAMILY (or NCCL_SOCKET_FAMILY)='AF_X' is not a socket family: set AF_INET"}},
      {{{"PLEXUS_PLAN_FILE", "/nonexistent/plan.json"}},
       {"PLEXUS_PLAN_FILE='/nonexistent/plan.json' is not a usable plan file"}},
      {{{"PLEXUS_SYSTEM", "bogus"}}, {"PLEXUS_SYSTEM=bogus cannot describe", "unknown system"}},
      // Logging: a bad value is a warning (the communicator still works).
      {{{"PLEXUS_DEBUG", "LOUD"}},
       {"PLEXUS WARN PLEXUS_DEBUG (or NCCL_DEBUG)='LOUD' is not a log level: use VERSION, WARN"}},
      {{{"PLEXUS_DEBUG_SUBSYS", "INIT,FOO"}},
       {"PLEXUS_DEBUG_SUBSYS (or NCCL_DEBUG_SUBSYS) names 'FOO', not a subsystem: use INIT"}},
      {{{"PLEXUS_DEBUG_FILE", "/nonexistent/dir/log.%p"}},
       {"PLEXUS_DEBUG_FILE (or NCCL_DEBUG_FILE)='/nonexistent/dir/log.%p': cannot open "
        "/nonexistent/dir/log.",
        "check that its folder exists"}},
      // The launch: root address, secret.
      {{{"PLEXUS_COMM_ID", "nohost"}},
       {"cannot resolve the bootstrap root address 'nohost' (from PLEXUS_COMM_ID"}},
      {{{"PLEXUS_COMM_ID", closed}, {"PLEXUS_SECRET", "xyz"}},
       {"PLEXUS_SECRET must be 32 hex digits (got 3 characters; the value is not shown): set"}},
      {{{"PLEXUS_COMM_ID", closed}, {"PLEXUS_SECRET", "0123456789abcdef0123456789abcdeg"}},
       {"PLEXUS_SECRET contains a non-hex character 'g'"}},
      // A root nobody started (a closed loopback port), found out within a short timeout.
      {{{"PLEXUS_COMM_ID", closed}, {"PLEXUS_TIMEOUT", "2"}},
       {"could not connect to the bootstrap root at " + closed + " before the timeout",
        "PLEXUS_COMM_ID (or NCCL_COMM_ID)='" + closed + "': start rank 0"},
       2},
      // A plugin library that exists but does not load: the loader's reason comes first.
      {{{"PLEXUS_PLUGIN_PATH", fakePluginDir()}, {"PLEXUS_TRANSPORTS", "fake"}},
       {"fake: " + fakePluginDir() + "/libplexus-transport-fake.so: ",
        "the plugin library exists but does not load; rebuild or reinstall it"}},
  };
}

TEST(ErrorTable, BadEnvironmentNamesTheVariableTheValueAndTheFix) {
  const std::vector<EnvRow> rows = envRows();
  ASSERT_GE(rows.size(), 15u);
  for (const EnvRow& row : rows) {
    RunOptions o;
    o.env = row.env;
    o.timeoutSeconds = 60;
    o.rank0MakesId = false;
    std::string label;
    for (const auto& [k, v] : row.env) label += k + "=" + v + " ";
    auto out = runRanks(
        1, [&](int, int, const ncclUniqueId&) { return initAndReport(row.nranks); }, o);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].exitCode, 0) << label << "\n" << out[0].output;
    for (const std::string& fragment : row.expected)
      EXPECT_NE(out[0].output.find(fragment), std::string::npos)
          << label << "\nexpected: " << fragment << "\ngot: " << out[0].output;
  }
  std::filesystem::remove_all(fakePluginDir());
}

struct FlagRow {
  std::vector<const char*> args;
  std::string expected;
};

TEST(ErrorTable, BadPerfToolFlagsNameTheFlagAndTheValue) {
  const std::vector<FlagRow> rows = {
      {{"-n", "abc"}, "--iters: Value abc not in range 1 to"},
      {{"-b", "8X"}, "-b '8X': expected a size such as 8, 64K, 1M or 2G"},
      {{"-e", "lots"}, "-e 'lots': expected a size"},
      {{"-b", "1M", "-e", "8"}, "-b (1048576) is larger than -e (8)"},
      {{"-i", "0", "-b", "8", "-e", "16"}, "-i 0 without -f would repeat the same size forever"},
      {{"-d", "float33"}, "-d 'float33': expected int8, uint8"},
      {{"-o", "mean"}, "-o 'mean': expected sum, prod, max, min, avg or all"},
      {{"-r", "x"}, "-r 'x': expected a rank (0, 1, ...) or all"},
      {{"--buffers", "gpu"}, "--buffers 'gpu': expected auto, device or host"},
      {{"--host", "--buffers", "device"}, "--host contradicts --buffers device"},
      {{"-a", "7"}, "--average: Value 7 not in range 0 to 3"},
      {{"-q"}, "The following argument was not expected: -q"},
  };
  for (const FlagRow& row : rows) {
    std::vector<const char*> argv{"all_reduce_perf"};
    argv.insert(argv.end(), row.args.begin(), row.args.end());
    perf::ParsedOptions p = perf::parseOptions(static_cast<int>(argv.size()), argv.data());
    std::string label;
    for (const char* a : row.args) label += std::string(a) + " ";
    EXPECT_FALSE(p.options.has_value()) << label;
    EXPECT_EQ(p.exitCode, 2) << label;
    EXPECT_NE(p.message.find(row.expected), std::string::npos)
        << label << "\nexpected: " << row.expected << "\ngot: " << p.message;
  }
  setenv("PLEXUS_PERF_PROGRESS", "sometimes", 1);
  std::string error;
  EXPECT_FALSE(perf::progressModeFromEnv(error).has_value());
  unsetenv("PLEXUS_PERF_PROGRESS");
  EXPECT_NE(error.find("PLEXUS_PERF_PROGRESS='sometimes' is not 0 or 1: set 1"), std::string::npos)
      << error;
}

}  // namespace
}  // namespace plexus::testing
