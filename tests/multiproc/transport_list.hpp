// The one list of transports that the multi-process test bodies run over (the correctness matrix,
// the killed-rank, timeout and perf-tool tests): each transport is selected by environment only,
// and a new transport is one line of transportList() in transport_list.cpp.
//
// OnEveryTransport is the fixture of those bodies: it skips a transport whose plugin was not built
// here (naming it), and after the body checks that the run left no process and nothing in
// /dev/shm.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "tests/multiproc/rank_harness.hpp"

namespace plexus::testing {

// How much of the correctness matrix a transport runs: all of it, or a representative subset of its
// megabyte part (collectives_test.cpp says which); kExecutor: a setup that changes the executor,
// not the transport, runs the small part at fewer rank counts and the subset of the megabyte part.
enum class Coverage { kFull, kSubset, kExecutor };

struct TransportSetup {
  std::string name;    // part of the test name: letters, digits and '_'
  std::string plugin;  // "" for a built-in transport, else X of libplexus-transport-X.so
  Coverage coverage;
  std::map<std::string, std::string> env;  // set in every rank; selects the transport
};

const std::vector<TransportSetup>& transportList();
// The entry of the list with this name (throws if there is none).
const TransportSetup& transportNamed(const std::string& name);

// "" when `t` can run here, else why not (for GTEST_SKIP).
std::string unavailableReason(const TransportSetup& t);

// The environment of a rank over `t`: t.env and loopback-only settings.
std::map<std::string, std::string> rankEnvironment(const TransportSetup& t);
// RunOptions with rankEnvironment(t) and PLEXUS_TIMEOUT=`timeoutSeconds`.
RunOptions optionsFor(const TransportSetup& t, int timeoutSeconds);

// Names in /dev/shm.
std::set<std::string> devShmEntries();
// libfabric's shm provider names its regions "/dev/shm/<pid>:<endpoint>:..." and removes them
// when the endpoint closes; a SIGKILLed process cannot, and nothing in libfabric reclaims them.
// Removes the regions of processes that no longer exist that are not in `before`.
void removeDeadProvidersRegions(const std::set<std::string>& before);
// What a run left in /dev/shm: the entries not in `before`, after removing the regions of dead
// processes, less the regions of live processes and the entries a live process other than this
// one holds open or mapped (after runRanks no rank of the run is alive; other jobs on the machine,
// such as a concurrent test, may be).
std::set<std::string> leftInDevShm(const std::set<std::string>& before);
// Processes whose parent is this one (after runRanks: none).
std::vector<int> childProcesses();

bool contains(const std::string& s, const std::string& what);

// The fixture of every test body parameterized by a transport of the list.
template <class Param>
class OnEveryTransportT : public ::testing::TestWithParam<Param> {
 protected:
  const TransportSetup& transport() const { return transportOf(this->GetParam()); }
  void SetUp() override {
    const std::string why = unavailableReason(transport());
    if (!why.empty()) GTEST_SKIP() << why;
    shmBefore_ = devShmEntries();
    checkLeftovers_ = true;
  }
  void TearDown() override {
    if (!checkLeftovers_) return;
    std::string names;
    for (const std::string& n : leftInDevShm(shmBefore_)) names += " /dev/shm/" + n;
    EXPECT_EQ(names, "") << "transport " << transport().name << ": the run left these behind";
    EXPECT_EQ(childProcesses(), std::vector<int>{})
        << "transport " << transport().name << ": rank processes still exist after the run";
  }

 private:
  static const TransportSetup& transportOf(const TransportSetup& t) { return t; }
  template <class P>
  static const TransportSetup& transportOf(const P& p) {
    return p.transport;
  }
  std::set<std::string> shmBefore_;
  bool checkLeftovers_ = false;
};

using OnEveryTransport = OnEveryTransportT<TransportSetup>;

// How gtest prints a transport parameter (its name).
void PrintTo(const TransportSetup& t, std::ostream* os);

// The gtest name of a transport parameter.
std::string transportName(const ::testing::TestParamInfo<TransportSetup>& info);

}  // namespace plexus::testing
