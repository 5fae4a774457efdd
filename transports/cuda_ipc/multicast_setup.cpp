// The multicast group's set-up between the local ranks (multicast_group.hpp, steps 1-4): hellos
// to the root, the root's verdict with the object's fd, and two meetings at which every rank
// learns whether all others succeeded.
#include "transports/cuda_ipc/multicast_group.hpp"

#if PLEXUS_HAVE_CUDA
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <span>
#include <type_traits>
#include <vector>

#include "base/error.hpp"
#include "transports/cuda_ipc/multicast_driver.hpp"

namespace plexus::transport::cuda_ipc {
namespace {

struct Hello {
  uint8_t uuid[16] = {};
  int32_t rank = -1;
  int32_t device = -1;
  int32_t pid = 0;
  uint8_t supported = 0;
  uint8_t pad[3] = {};
  uint64_t bytes = 0;
  char why[768] = {};
};

// The root's verdict (with the fd when ok) and the meetings' messages both ways.
struct Verdict {
  uint8_t ok = 0;
  uint8_t pad[7] = {};
  uint64_t size = 0;
  char text[2048] = {};
};

static_assert(std::is_trivially_copyable_v<Hello> && std::is_trivially_copyable_v<Verdict>);

void copyText(char* dst, size_t capacity, const std::string& s) {
  const size_t n = std::min(s.size(), capacity - 1);
  std::memcpy(dst, s.data(), n);
  dst[n] = '\0';
}

template <class T>
std::span<const uint8_t> bytesOf(const T& v) {
  return {reinterpret_cast<const uint8_t*>(&v), sizeof(T)};
}

template <class T>
T parse(const FdMessage& m, const FdChannel& ch, const char* what) {
  if (m.bytes.size() != sizeof(T))
    throwError(ErrorCode::kRemote,
               "cuda-ipc: %s sent a %s of %zu bytes, expected %zu; check that every rank runs the "
               "same Plexus build",
               ch.peerName().c_str(), what, m.bytes.size(), sizeof(T));
  T v;
  std::memcpy(&v, m.bytes.data(), sizeof(T));
  return v;
}

struct Ranks {
  std::vector<int> all;  // sorted; all[0] is the root
  int self = -1;
  bool root() const { return self == all.front(); }
};

Ranks ranksOf(const std::map<int, FdChannel>& mesh, int selfRank) {
  Ranks r;
  r.self = selfRank;
  r.all.push_back(selfRank);
  for (const auto& [peer, ch] : mesh) {
    if (peer == selfRank || !ch.valid())
      throwError(ErrorCode::kInvalidArgument,
                 "cuda-ipc: rank %d: the fd mesh for a multicast group holds %s channel to rank "
                 "%d; pass connectFdMesh's channels to the other local ranks",
                 selfRank, peer == selfRank ? "a" : "an invalid", peer);
    r.all.push_back(peer);
  }
  std::sort(r.all.begin(), r.all.end());
  return r;
}

Hello helloOf(int selfRank, int device, size_t bytes) {
  Hello h;
  h.rank = selfRank;
  h.device = device;
  h.pid = static_cast<int32_t>(::getpid());
  h.bytes = bytes;
  const MulticastSupport s = multicastSupport(device);
  h.supported = s.supported ? 1 : 0;
  copyText(h.why, sizeof(h.why), s.why);
  if (s.supported) {
    try {
      deviceUuid(device, h.uuid);
    } catch (const Error& e) {
      h.supported = 0;
      copyText(h.why, sizeof(h.why), e.what());
    }
  }
  return h;
}

// The root's reasons to refuse the group, "" when there are none.
std::string refusalOf(const std::vector<Hello>& hellos) {
  for (const Hello& h : hellos) {
    if (h.supported == 0) return formatString("rank %d (pid %d): %s", h.rank, h.pid, h.why);
  }
  for (size_t i = 0; i < hellos.size(); ++i) {
    for (size_t j = i + 1; j < hellos.size(); ++j) {
      if (std::memcmp(hellos[i].uuid, hellos[j].uuid, 16) == 0)
        return formatString(
            "ranks %d and %d both use GPU %s: a multicast object binds one allocation per GPU, "
            "so ranks that share a GPU cannot use in-switch reduction (use the generic device "
            "executor, or one rank per GPU)",
            hellos[i].rank, hellos[j].rank, uuidText(hellos[i].uuid).c_str());
    }
    if (hellos[i].bytes != hellos[0].bytes)
      return formatString(
          "rank %d asked for %llu bytes of multicast memory, rank %d for %llu; "
          "every rank must ask for the same size",
          hellos[i].rank, static_cast<unsigned long long>(hellos[i].bytes), hellos[0].rank,
          static_cast<unsigned long long>(hellos[0].bytes));
  }
  return "";
}

[[noreturn]] void refuse(const Ranks& r, const std::string& why) {
  throwError(ErrorCode::kInvalidUsage,
             "cuda-ipc: rank %d: no multicast group for the %zu local ranks: %s", r.self,
             r.all.size(), why.c_str());
}

// Steps 1-2 at the root: gathers the hellos, creates and exports the object, sends the verdict.
void rootHandshake(std::map<int, FdChannel>& mesh, const Ranks& r, const Hello& mine,
                   MulticastGroup::State& s, Deadline deadline, const std::atomic<bool>* abort) {
  std::vector<Hello> hellos{mine};
  for (int peer : r.all) {
    if (peer == r.self) continue;
    FdChannel& ch = mesh.at(peer);
    const FdMessage m = ch.receiveTagged(kMulticastHelloTag, "a multicast hello", deadline, abort);
    hellos.push_back(parse<Hello>(m, ch, "multicast hello"));
  }
  std::string refusal = refusalOf(hellos);
  Fd fd;
  if (refusal.empty()) {
    try {
      s.size = multicastSizeFor(s.nranks, mine.bytes, s.device);
      createMulticastObject(s);
      fd = exportMulticastObject(s);
    } catch (const Error& e) {
      refusal = formatString("rank %d: %s", r.self, e.what());
    }
  }
  Verdict v;
  v.ok = refusal.empty() ? 1 : 0;
  v.size = s.size;
  copyText(v.text, sizeof(v.text), refusal);
  const int fds[1] = {fd.get()};
  for (int peer : r.all) {
    if (peer == r.self) continue;
    mesh.at(peer).send(kMulticastHandleTag, bytesOf(v), std::span<const int>(fds, v.ok ? 1 : 0),
                       deadline, abort);
  }
  if (!refusal.empty()) refuse(r, refusal);
}

// Steps 1-2 elsewhere: sends the hello, returns the object's fd (or throws the refusal).
Fd peerHandshake(std::map<int, FdChannel>& mesh, const Ranks& r, const Hello& mine,
                 MulticastGroup::State& s, Deadline deadline, const std::atomic<bool>* abort) {
  FdChannel& ch = mesh.at(r.all.front());
  ch.send(kMulticastHelloTag, bytesOf(mine), {}, deadline, abort);
  FdMessage m = ch.receiveTagged(kMulticastHandleTag, "the multicast object", deadline, abort);
  const Verdict v = parse<Verdict>(m, ch, "multicast verdict");
  if (v.ok == 0) refuse(r, std::string(v.text, strnlen(v.text, sizeof(v.text))));
  if (m.fds.size() != 1)
    throwError(ErrorCode::kRemote, "cuda-ipc: %s sent the multicast object with %zu descriptors",
               ch.peerName().c_str(), m.fds.size());
  s.size = v.size;
  return std::move(m.fds.front());
}

// A meeting of every rank: each reports `mine` ("" = success); returns the first failure of any
// rank, "" when all succeeded.
std::string meet(std::map<int, FdChannel>& mesh, const Ranks& r, const std::string& mine,
                 Deadline deadline, const std::atomic<bool>* abort) {
  Verdict v;
  v.ok = mine.empty() ? 1 : 0;
  copyText(v.text, sizeof(v.text),
           mine.empty() ? "" : formatString("rank %d: %s", r.self, mine.c_str()));
  if (!r.root()) {
    FdChannel& ch = mesh.at(r.all.front());
    ch.send(kMulticastUpTag, bytesOf(v), {}, deadline, abort);
    const FdMessage m = ch.receiveTagged(kMulticastDownTag, "a multicast meeting", deadline, abort);
    const Verdict down = parse<Verdict>(m, ch, "multicast meeting");
    return down.ok ? "" : std::string(down.text, strnlen(down.text, sizeof(down.text)));
  }
  for (int peer : r.all) {
    if (peer == r.self) continue;
    FdChannel& ch = mesh.at(peer);
    const FdMessage m = ch.receiveTagged(kMulticastUpTag, "a multicast meeting", deadline, abort);
    const Verdict up = parse<Verdict>(m, ch, "multicast meeting");
    if (v.ok && !up.ok) v = up;
  }
  for (int peer : r.all) {
    if (peer != r.self) mesh.at(peer).send(kMulticastDownTag, bytesOf(v), {}, deadline, abort);
  }
  return v.ok ? "" : std::string(v.text, strnlen(v.text, sizeof(v.text)));
}

// Runs `body`, then meets: rethrows this rank's own failure, or throws another rank's.
template <class F>
void step(std::map<int, FdChannel>& mesh, const Ranks& r, const char* what, Deadline deadline,
          const std::atomic<bool>* abort, F body) {
  std::string mine;
  std::exception_ptr error;
  try {
    body();
  } catch (const Error& e) {
    mine = e.what();
    error = std::current_exception();
  }
  const std::string all = meet(mesh, r, mine, deadline, abort);
  if (error) std::rethrow_exception(error);
  if (!all.empty())
    throwError(ErrorCode::kRemote, "cuda-ipc: rank %d: %s failed on another rank: %s", r.self, what,
               all.c_str());
}

}  // namespace

MulticastGroup MulticastGroup::create(std::map<int, FdChannel>& mesh, int selfRank, int device,
                                      size_t bytes, Deadline deadline,
                                      const std::atomic<bool>* abort) {
  const Ranks r = ranksOf(mesh, selfRank);
  auto s = std::make_unique<State>();
  s->device = device;
  s->nranks = static_cast<int>(r.all.size());
  s->rank = static_cast<int>(std::find(r.all.begin(), r.all.end(), selfRank) - r.all.begin());
  const Hello mine = helloOf(selfRank, device, bytes);
  if (!mine.supported && r.all.size() == 1) refuse(r, mine.why);
  // The device is current for every driver call below (hello said it exists).
  std::unique_ptr<DeviceGuard> guard;
  if (mine.supported) guard = std::make_unique<DeviceGuard>(device, "a multicast group");
  Fd fd;
  if (r.root()) {
    rootHandshake(mesh, r, mine, *s, deadline, abort);
  } else {
    fd = peerHandshake(mesh, r, mine, *s, deadline, abort);
  }
  step(mesh, r, "adding the GPUs to the multicast object", deadline, abort, [&] {
    if (!r.root()) importMulticastObject(*s, fd);
    addMulticastDevice(*s);
  });
  step(mesh, r, "binding and mapping multicast memory", deadline, abort,
       [&] { bindAndMapMulticast(*s); });
  MulticastGroup g;
  g.state_ = std::move(s);
  return g;
}

}  // namespace plexus::transport::cuda_ipc
#endif
