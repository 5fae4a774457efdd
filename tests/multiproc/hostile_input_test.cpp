// Hostile network input (issue 15, point 6): while a neighbour in every rank process holds bad
// connections open to every TCP port that process listens on (the bootstrap root in rank 0, each
// rank's bootstrap listener, the tcp transport's listener), the real ranks still complete init and
// an exact all-reduce; each bad connection costs at most one WARN line, and no rank's memory grows
// past a bound.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "../common/peak_memory.hpp"
#include "tests/multiproc/hostile_listeners.hpp"
#include "tests/multiproc/rank_harness.hpp"
#include "tests/multiproc/transport_list.hpp"

namespace plexus::testing {
namespace {

int countLines(const std::string& text, const std::string& what) {
  int n = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (text.substr(pos, end - pos).find(what) != std::string::npos) ++n;
    pos = end + 1;
  }
  return n;
}

int numberAfter(const std::string& text, const std::string& key) {
  size_t at = text.find(key);
  return at == std::string::npos ? -1 : std::atoi(text.c_str() + at + key.size());
}

constexpr size_t kMemoryBound = size_t{1} << 30;

TEST(HostileInput, BadConnectionsToEveryListenerNeitherBlockNorFloodNorAllocate) {
  const int nranks = 3;
  const std::set<std::string> shmBefore = devShmEntries();
  auto out = runRanks(
      nranks,
      [](int rank, int n, const ncclUniqueId& id) {
        HostileListeners hostile;  // rank 0's root already listens: it is attacked first
        // The other ranks come late, so rank 0 waits at the root with the attack under way.
        if (rank != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        ncclComm_t comm;
        RANK_NCCL(ncclCommInitRank(&comm, n, id, rank));
        // The listeners that outlive init (the rank's bootstrap listener, the tcp transport's) are
        // all under attack before the all-reduce, whose tcp connections are accepted beside them.
        const int expected = rank == 0 ? 3 : 2;
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (hostile.ports() < expected && std::chrono::steady_clock::now() < until)
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const size_t count = 4099;
        std::vector<int32_t> in(count), sum(count);
        for (size_t i = 0; i < count; ++i) in[i] = static_cast<int32_t>(i * 7 + rank);
        RANK_NCCL(ncclAllReduce(in.data(), sum.data(), count, ncclInt32, ncclSum, comm, nullptr));
        for (size_t i = 0; i < count; ++i) {
          const int32_t want = static_cast<int32_t>(n * i * 7) + n * (n - 1) / 2;
          RANK_CHECK(sum[i] == want, "element %zu: %d, expected %d", i, sum[i], want);
        }
        const int ports = hostile.ports();
        const int connections = hostile.connections();
        hostile.stop();  // held open until the all-reduce is checked
        RANK_NCCL(ncclCommDestroy(comm));
        std::fprintf(stderr, "HOSTILE ports=%d connections=%d peak=%zu\n", ports, connections,
                     plexus::test::peakResidentBytes());
        // Rank 0: root, bootstrap listener, tcp listener; the others: the last two.
        RANK_CHECK(ports >= expected, "only %d listeners were attacked", ports);
        return 0;
      },
      optionsFor(transportNamed("tcp"), 60));
  ASSERT_EQ(describeFailures(out), "");
  for (int r = 0; r < nranks; ++r) {
    const std::string& o = out[static_cast<size_t>(r)].output;
    const int connections = numberAfter(o, "connections=");
    const int warns = countLines(o, "dropped a connection");
    const long peak = std::atol(o.c_str() + o.find("peak=") + 5);
    std::printf(
        "rank %d: %d bad connections, %d WARN lines (root %d, bootstrap listener %d, tcp %d), "
        "peak resident %ld MiB\n",
        r, connections, warns, countLines(o, "bootstrap root"), countLines(o, "bootstrap listener"),
        countLines(o, "tcp transport on"), peak >> 20);
    EXPECT_GT(connections, 0) << o;
    // A listener logs its first drop, then a count at most every 10 s and at its end (DropLog):
    // three listeners, well under a minute.
    EXPECT_LE(warns, std::min(connections, 3 * 8)) << "a WARN line per bad connection:\n" << o;
    EXPECT_LT(static_cast<size_t>(peak), kMemoryBound) << o;
  }
  // The root read the bad introductions while rank 0 waited for the others: its first drop in
  // full, the rest counted ("dropped N more connections (M in all; ...").
  const std::string& root = out[0].output;
  EXPECT_GE(countLines(root, "bootstrap root"), 1) << root;
  const size_t all = root.rfind(" in all; the last ");
  const size_t open = all == std::string::npos ? all : root.rfind('(', all);
  EXPECT_GE(open == std::string::npos ? 1 : std::atoi(root.c_str() + open + 1), 4) << root;
  EXPECT_EQ(leftInDevShm(shmBefore), std::set<std::string>{});
}

}  // namespace
}  // namespace plexus::testing
