// The cuda-ipc fd channel for real across processes: memfd descriptors passed between forked
// ranks over abstract Unix sockets, written through the mapping in one process and read in
// another (exact bytes); a dead or silent peer named within the timeout; nothing left in /dev/shm
// or among the host's Unix sockets. No GPU is involved.
#include "transports/cuda_ipc/fd_channel.hpp"
#include "../common/dev_shm.hpp"
#include "../common/fork_child.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "base/error.hpp"
#include "base/shm_segment.hpp"

namespace plexus::transport::cuda_ipc {
namespace {

using namespace std::chrono_literals;

uint64_t freshChannelId() {
  static std::atomic<uint64_t> counter{0};
  const auto now = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  return (static_cast<uint64_t>(::getpid()) << 40) ^ now ^ (counter.fetch_add(1) << 32);
}

int waitChild(pid_t pid, std::chrono::milliseconds limit = 20s) {
  return plexus::testing::waitChild(pid, limit);
}

uint32_t pattern(int owner, size_t i) {
  return static_cast<uint32_t>(i) * 2654435761u + static_cast<uint32_t>(owner) * 40503u + 7u;
}

void fill(void* data, size_t bytes, int owner) {
  auto* w = static_cast<uint32_t*>(data);
  for (size_t i = 0; i < bytes / 4; ++i) w[i] = pattern(owner, i);
}

// Index of the first word that differs from the pattern, or -1.
long firstMismatch(const void* data, size_t bytes, int owner) {
  const auto* w = static_cast<const uint32_t*>(data);
  for (size_t i = 0; i < bytes / 4; ++i)
    if (w[i] != pattern(owner, i)) return static_cast<long>(i);
  return -1;
}

std::set<std::string> entries(const char* dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) out.insert(e.path().string());
  return out;
}

// What appeared in /dev/shm since `before` (full paths) and no other live process holds: a leak.
std::set<std::string> newInDevShm(const std::set<std::string>& before) {
  std::set<std::string> added, names;
  for (const std::string& e : entries("/dev/shm"))
    if (before.count(e) == 0) names.insert(e.substr(std::string("/dev/shm/").size()));
  for (const std::string& n : plexus::test::devShmHeldByOthers(names)) names.erase(n);
  for (const std::string& n : names) added.insert("/dev/shm/" + n);
  return added;
}

bool unixSocketListed(const std::string& name) {
  std::ifstream f("/proc/net/unix");
  std::string line;
  while (std::getline(f, line))
    if (line.find("@" + name) != std::string::npos) return true;
  return false;
}

std::span<const uint8_t> asBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(FdChannel, TwoProcessesShareMemfdBytes) {
  constexpr size_t kBytes = 1 << 20;
  const auto shmBefore = entries("/dev/shm");
  const uint64_t id = freshChannelId();
  FdListener listener = FdListener::listen(id, 0);
  const pid_t child = plexus::testing::forkChild([&] {
    listener.close();
    FdChannel ch = connectFdChannel(id, 1, 0, Deadline::after(10s));
    ShmSegment seg = ShmSegment::create("fd-channel-test", kBytes);
    fill(seg.data(), kBytes / 2, 1);
    const int fds[] = {seg.fd()};
    ch.send(1, asBytes("first half written by rank 1"), fds, Deadline::after(10s));
    ch.receiveTagged(2, "the parent's write", Deadline::after(10s));
    const long bad = firstMismatch(static_cast<char*>(seg.data()) + kBytes / 2, kBytes / 2, 0);
    if (bad >= 0) throwError(ErrorCode::kInternal, "word %ld of rank 0's half differs", bad);
  });
  FdChannel ch = listener.accept(Deadline::after(10s));
  EXPECT_EQ(ch.peerRank(), 1);
  EXPECT_EQ(ch.peerPid(), child);
  FdMessage m = ch.receiveTagged(1, "the segment", Deadline::after(10s));
  EXPECT_EQ(std::string(m.bytes.begin(), m.bytes.end()), "first half written by rank 1");
  ASSERT_EQ(m.fds.size(), 1u);
  ShmSegment seg = ShmSegment::map(std::move(m.fds[0]), kBytes, "fd-channel-test");
  EXPECT_EQ(firstMismatch(seg.data(), kBytes / 2, 1), -1);
  fill(static_cast<char*>(seg.data()) + kBytes / 2, kBytes / 2, 0);
  ch.send(2, {}, {}, Deadline::after(10s));
  EXPECT_EQ(waitChild(child), 0);
  ch = FdChannel();  // an accepted socket is listed under its listener's name too
  listener.close();
  EXPECT_FALSE(unixSocketListed(fdChannelName(id, 0)));
  EXPECT_EQ(newInDevShm(shmBefore), std::set<std::string>{});
}

// One rank of the mesh test: shares its segment with every peer, checks each peer's, writes its
// own region into each peer's and finally checks what the peers wrote into its own.
void meshRank(uint64_t id, int rank, int ranks) {
  constexpr size_t kOwn = 64 << 10, kRegion = 4 << 10;
  const size_t total = kOwn + static_cast<size_t>(ranks) * kRegion;
  FdListener listener = FdListener::listen(id, rank);
  std::vector<int> all;
  for (int r = 0; r < ranks; ++r) all.push_back(r);
  auto mesh = connectFdMesh(listener, rank, all, Deadline::after(15s));
  ShmSegment own = ShmSegment::create("fd-mesh", total);
  fill(own.data(), kOwn, rank);
  const int fds[] = {own.fd()};
  for (auto& [peer, ch] : mesh) ch.send(1, {}, fds, Deadline::after(10s));
  for (auto& [peer, ch] : mesh) {
    FdMessage m = ch.receiveTagged(1, "a segment", Deadline::after(10s));
    if (m.fds.size() != 1) throwError(ErrorCode::kInternal, "no fd from %d", peer);
    ShmSegment theirs = ShmSegment::map(std::move(m.fds[0]), total, "fd-mesh");
    const long bad = firstMismatch(theirs.data(), kOwn, peer);
    if (bad >= 0) throwError(ErrorCode::kInternal, "rank %d: word %ld of %d", rank, bad, peer);
    fill(static_cast<char*>(theirs.data()) + kOwn + rank * kRegion, kRegion, 100 + rank);
    ch.send(2, {}, {}, Deadline::after(10s));
  }
  for (auto& [peer, ch] : mesh) {
    ch.receiveTagged(2, "a peer's write", Deadline::after(10s));
    const long bad =
        firstMismatch(static_cast<char*>(own.data()) + kOwn + peer * kRegion, kRegion, 100 + peer);
    if (bad >= 0)
      throwError(ErrorCode::kInternal, "rank %d: peer %d wrote word %ld", rank, peer, bad);
  }
}

TEST(FdChannel, MeshOfTwoToFourProcessesExact) {
  const auto shmBefore = entries("/dev/shm");
  for (int ranks = 2; ranks <= 4; ++ranks) {
    const uint64_t id = freshChannelId();
    std::vector<pid_t> pids;
    for (int r = 0; r < ranks; ++r)
      pids.push_back(plexus::testing::forkChild([=] { meshRank(id, r, ranks); }));
    for (int r = 0; r < ranks; ++r)
      EXPECT_EQ(waitChild(pids[r]), 0) << "rank " << r << " of " << ranks;
    for (int r = 0; r < ranks; ++r) EXPECT_FALSE(unixSocketListed(fdChannelName(id, r)));
  }
  EXPECT_EQ(newInDevShm(shmBefore), std::set<std::string>{});
}

TEST(FdChannel, DeadPeerIsNamedLongBeforeTheTimeout) {
  const uint64_t id = freshChannelId();
  FdListener listener = FdListener::listen(id, 0);
  const pid_t child = plexus::testing::forkChild([&] {
    FdChannel ch = connectFdChannel(id, 3, 0, Deadline::after(10s));
    ::raise(SIGKILL);
  });
  FdChannel ch = listener.accept(Deadline::after(10s));
  const auto start = Clock::now();
  try {
    ch.receive(Deadline::after(30s));
    FAIL() << "receive from a killed peer returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRemote);
    const std::string who = "peer rank 3 (pid " + std::to_string(child) + ")";
    EXPECT_NE(std::string(e.what()).find(who), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("exited or was killed"), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(waitChild(child), -1);  // killed by a signal
}

TEST(FdChannel, SilentPeerTimesOutNamed) {
  const uint64_t id = freshChannelId();
  FdListener listener = FdListener::listen(id, 0);
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  const pid_t child = plexus::testing::forkChild([&] {
    ::close(gate[1]);
    FdChannel ch = connectFdChannel(id, 1, 0, Deadline::after(10s));
    char c;
    (void)!::read(gate[0], &c, 1);  // returns when the parent closes its end
  });
  ::close(gate[0]);
  FdChannel ch = listener.accept(Deadline::after(10s));
  const auto start = Clock::now();
  try {
    ch.receive(Deadline::after(300ms));
    FAIL() << "receive from a silent peer returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRemote);
    EXPECT_NE(std::string(e.what()).find("peer rank 1 (pid " + std::to_string(child) + ")"),
              std::string::npos)
        << e.what();
  }
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 2s);
  ::close(gate[1]);
  EXPECT_EQ(waitChild(child), 0);
}

TEST(FdChannel, AbsentPeerTimesOutNamingTheSocket) {
  const uint64_t id = freshChannelId();
  const auto start = Clock::now();
  try {
    connectFdChannel(id, 0, 5, Deadline::after(200ms));
    FAIL() << "connected to nobody";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRemote);
    EXPECT_NE(std::string(e.what()).find("peer rank 5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("@" + fdChannelName(id, 5)), std::string::npos);
  }
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(FdChannel, MeshNamesTheRanksThatNeverCame) {
  const uint64_t id = freshChannelId();
  FdListener listener = FdListener::listen(id, 0);
  const int peers[] = {0, 1, 2};
  try {
    connectFdMesh(listener, 0, peers, Deadline::after(200ms));
    FAIL() << "a mesh without its peers was complete";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRemote);
    EXPECT_NE(std::string(e.what()).find("ranks still missing: 1,2"), std::string::npos)
        << e.what();
  }
}

// Something that is not a Plexus peer connects first and sends junk: it is refused (logged) and
// the real peer behind it is accepted.
TEST(FdChannel, AStrangerIsRefusedAndThePeerStillAccepted) {
  const uint64_t id = freshChannelId();
  FdListener listener = FdListener::listen(id, 0);
  Fd stranger(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(stranger);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string name = fdChannelName(id, 0);
  std::memcpy(a.sun_path + 1, name.data(), name.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::connect(stranger.get(), reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(::send(stranger.get(), "hi!", 3, 0), 3);
  FdChannel peer = connectFdChannel(id, 4, 0, Deadline::after(5s));
  FdChannel accepted = listener.accept(Deadline::after(5s));
  EXPECT_EQ(accepted.peerRank(), 4);
  peer.send(1, asBytes("ok"), {}, Deadline::after(1s));
  EXPECT_EQ(accepted.receive(Deadline::after(1s)).bytes.size(), 2u);
}

TEST(FdChannel, AbortStopsAWait) {
  const uint64_t id = freshChannelId();
  FdListener listener = FdListener::listen(id, 0);
  FdChannel a = connectFdChannel(id, 1, 0, Deadline::after(5s));  // same process: works too
  FdChannel b = listener.accept(Deadline::after(5s));
  EXPECT_EQ(b.peerPid(), ::getpid());
  std::atomic<bool> abort{false};
  std::thread raiser([&] {
    std::this_thread::sleep_for(100ms);
    abort = true;
  });
  const auto start = Clock::now();
  EXPECT_THROW(b.receive(Deadline::after(30s), &abort), Error);
  EXPECT_LT(Clock::now() - start, 2s);
  raiser.join();
}

TEST(FdChannel, InProcessDescriptorsAndLimits) {
  const uint64_t id = freshChannelId();
  FdListener listener = FdListener::listen(id, 2);
  EXPECT_THROW(FdListener::listen(id, 2), Error);  // the name is taken
  FdChannel a = connectFdChannel(id, 7, 2, Deadline::after(5s));
  FdChannel b = listener.accept(Deadline::after(5s));
  EXPECT_EQ(b.peerRank(), 7);
  EXPECT_EQ(a.peerRank(), 2);
  ShmSegment s1 = ShmSegment::create("fd-a", 4096), s2 = ShmSegment::create("fd-b", 4096);
  const int fds[] = {s1.fd(), s2.fd(), s1.fd()};
  a.send(9, asBytes("xyz"), fds, Deadline::after(5s));
  FdMessage m = b.receive(Deadline::after(5s));
  EXPECT_EQ(m.tag, 9u);
  ASSERT_EQ(m.fds.size(), 3u);
  struct stat st[3], o1, o2;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(::fstat(m.fds[i].get(), &st[i]), 0);
  ASSERT_EQ(::fstat(s1.fd(), &o1), 0);
  ASSERT_EQ(::fstat(s2.fd(), &o2), 0);
  EXPECT_EQ(st[0].st_ino, o1.st_ino);
  EXPECT_EQ(st[1].st_ino, o2.st_ino);
  EXPECT_EQ(st[2].st_ino, o1.st_ino);
  std::vector<int> many(kMaxFdsPerMessage + 1, s1.fd());
  EXPECT_THROW(a.send(1, {}, many, Deadline::after(1s)), Error);
  std::vector<uint8_t> big(kMaxFdMessageBytes + 1);
  EXPECT_THROW(a.send(1, big, {}, Deadline::after(1s)), Error);
  std::vector<uint8_t> full(kMaxFdMessageBytes, 0xab);
  a.send(3, full, {}, Deadline::after(1s));
  EXPECT_EQ(b.receiveTagged(3, "a full message", Deadline::after(1s)).bytes, full);
  a.send(4, {}, {}, Deadline::after(1s));
  EXPECT_THROW(b.receiveTagged(5, "tag 5", Deadline::after(1s)), Error);
  EXPECT_FALSE(b.peerClosed());
  a = FdChannel();
  EXPECT_TRUE(b.peerClosed());
}

}  // namespace
}  // namespace plexus::transport::cuda_ipc
