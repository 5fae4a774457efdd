// The bootstrap root service and the registry that owns its threads.
#include "runtime/root_service.hpp"

#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/drop_log.hpp"
#include "base/error.hpp"
#include "base/log.hpp"
#include "base/random.hpp"
#include "runtime/bootstrap_links.hpp"
#include "runtime/bootstrap_wire.hpp"
#include "runtime/protocol.hpp"

namespace plexus::runtime {
namespace {

std::string peerName(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown address";
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).toString();
}

void raiseFdLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

struct Incoming {
  Fd fd;
  RootHello hello{};
  size_t got = 0;
  Clock::time_point since;
};

// One root: serves a single communicator's ranks, then exits.
class Root {
 public:
  Root(Fd listener, const Secret& secret, uint64_t nonce, const SocketAddress& address)
      : listener_(std::move(listener)),
        secret_(secret),
        nonce_(nonce),
        address_(address),
        drops_("bootstrap root " + address.toString(), subsys::kBootstrap) {}

  // True once every rank has arrived (or the root gave up): only replies are left to send.
  bool finishing() const { return finishing_.load(std::memory_order_acquire); }

  void run(const std::atomic<bool>& stop) {
    setNonBlocking(listener_.get(), true);
    std::optional<Deadline> deadline;
    while (!stop.load(std::memory_order_relaxed)) {
      std::vector<pollfd> fds{{listener_.get(), POLLIN, 0}};
      for (auto& in : incoming_) fds.push_back({in.fd.get(), POLLIN, 0});
      ::poll(fds.data(), fds.size(), 100);
      acceptAll();
      readHellos(deadline);
      if (nranks_ > 0 && arrived_ == nranks_) {
        finishing_.store(true, std::memory_order_release);
        replyAll();
        return;
      }
      if (deadline && deadline->expired()) {
        finishing_.store(true, std::memory_order_release);
        failAll();
        return;
      }
    }
  }

 private:
  void acceptAll() {
    while (true) {
      int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;
      incoming_.push_back(Incoming{Fd(fd), {}, 0, Clock::now()});
    }
  }

  void drop(std::list<Incoming>::iterator& it, const char* why) {
    drops_.dropped(peerName(it->fd.get()), why);
    it = incoming_.erase(it);
  }

  void refuse(Fd fd, const std::string& message) {
    RootReply r{};
    r.ok = 0;
    std::snprintf(r.message, sizeof(r.message), "%s", message.c_str());
    try {
      sendAll(fd.get(), &r, sizeof(r), Deadline::after(std::chrono::seconds(2)), nullptr, "a rank");
    } catch (const Error&) {
    }
  }

  void readHellos(std::optional<Deadline>& deadline) {
    for (auto it = incoming_.begin(); it != incoming_.end();) {
      ssize_t r = ::recv(it->fd.get(), reinterpret_cast<char*>(&it->hello) + it->got,
                         sizeof(RootHello) - it->got, MSG_DONTWAIT);
      if (r > 0) it->got += static_cast<size_t>(r);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        drop(it, "closed before introducing itself");
        continue;
      }
      if (it->got < sizeof(RootHello)) {
        if (Clock::now() - it->since > std::chrono::seconds(30)) {
          drop(it, "sent no introduction within 30 s");
          continue;
        }
        // Each silent connection holds a descriptor: beyond twice the ranks (1024 before the
        // first introduction says how many), the oldest goes at once.
        const size_t maxSilent = std::max<size_t>(1024, 2 * static_cast<size_t>(nranks_));
        if (it == incoming_.begin() && incoming_.size() > maxSilent) {
          drop(it, "sent no introduction while too many newer connections waited");
          continue;
        }
        ++it;
        continue;
      }
      const RootHello h = it->hello;
      const std::string problem = rootHelloProblem(h, secret_, nonce_);
      if (!problem.empty()) {
        drop(it, problem.c_str());
        continue;
      }
      Fd fd = std::move(it->fd);
      it = incoming_.erase(it);
      admit(std::move(fd), h, deadline);
    }
  }

  // Gives a rank that introduced itself its slot, or refuses it saying why. The first rank sets
  // the number of ranks and starts the deadline.
  void admit(Fd fd, const RootHello& h, std::optional<Deadline>& deadline) {
    if (std::string problem = rankSlotProblem(h); !problem.empty()) {
      refuse(std::move(fd), problem);
      return;
    }
    if (nranks_ == 0) {
      nranks_ = h.nranks;
      ranks_.resize(static_cast<size_t>(nranks_));
      deadline = Deadline::fromEnv();
      if (nranks_ > 512) raiseFdLimit();
    }
    if (h.nranks != nranks_) {
      refuse(std::move(fd), formatString("rank %d says there are %d ranks, but rank(s) before it "
                                         "said %d: every rank must pass the same nranks",
                                         h.rank, h.nranks, nranks_));
      return;
    }
    std::string loopback = loopbackMismatch(fd.get(), h);
    if (!loopback.empty()) {
      refuse(std::move(fd), loopback);
      return;
    }
    auto& slot = ranks_[static_cast<size_t>(h.rank)];
    if (slot.fd) {
      refuse(std::move(fd),
             formatString("rank %d joined twice: check the ranks passed to init", h.rank));
      return;
    }
    slot.fd = std::move(fd);
    slot.listen = h.listenAddress;
    slot.who.pid = h.pid;
    slot.who.pidSpace = h.pidSpace;
    std::memcpy(slot.who.host, h.host, sizeof(slot.who.host));
    slot.who.host[sizeof(slot.who.host) - 1] = '\0';
    slot.local = h.pid == getpid();
    ++arrived_;
  }

  // A rank that reached the root over a network but advertises a loopback address would make
  // every other host dial itself: the refusal with the fix, instead of a timeout later ("" if
  // the address is fine).
  static std::string loopbackMismatch(int fd, const RootHello& h) {
    const std::optional<SocketAddress> wired = addressFromWire(h.listenAddress);
    if (!wired)
      return formatString("rank %d offers a malformed listener address (length %u)", h.rank,
                          h.listenAddress.length);
    const SocketAddress& listen = *wired;
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (!listen.isLoopback() || getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
      return "";
    SocketAddress from = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    if (from.isLoopback()) return "";
    return formatString(
        "rank %d reached the bootstrap root from %s but offers the loopback address %s to the "
        "other ranks: set PLEXUS_SOCKET_IFNAME to an interface the other hosts can reach",
        h.rank, from.hostString().c_str(), listen.toString().c_str());
  }

  // Each rank learns only the 2 * ceil(log2 N) listener addresses of its links (and who listens
  // there: host and pid, for errors), never the whole table: the root's work per rank grows with
  // log N.
  void replyAll() {
    uint64_t commId = randomU64();
    const int rounds = bootstrapRounds(nranks_);
    const size_t n = 2 * static_cast<size_t>(rounds);
    std::vector<char> wire(sizeof(RootReply) + n * (sizeof(WireAddress) + sizeof(WireRank)));
    for (int r = 0; r < nranks_; ++r) {
      RootReply reply{};
      reply.ok = 1;
      reply.rounds = static_cast<uint32_t>(rounds);
      reply.commId = commId;
      std::memcpy(wire.data(), &reply, sizeof(reply));
      char* peers = wire.data() + sizeof(reply);
      char* who = peers + n * sizeof(WireAddress);
      for (size_t i = 0; i < n; ++i) {
        const int k = static_cast<int>(i % static_cast<size_t>(rounds));
        const int p = bootstrapPeer(r, nranks_, k, i < n / 2 ? +1 : -1);
        const RankSlot& slot = ranks_[static_cast<size_t>(p)];
        std::memcpy(peers + i * sizeof(WireAddress), &slot.listen, sizeof(WireAddress));
        std::memcpy(who + i * sizeof(WireRank), &slot.who, sizeof(WireRank));
      }
      try {
        sendAll(ranks_[static_cast<size_t>(r)].fd.get(), wire.data(), wire.size(),
                Deadline::after(std::chrono::seconds(10)), nullptr, formatString("rank %d", r));
      } catch (const Error& e) {
        PLEXUS_WARN(subsys::kBootstrap, "bootstrap root %s: %s", address_.toString().c_str(),
                    e.what());
      }
      ranks_[static_cast<size_t>(r)].fd.reset();
    }
    PLEXUS_INFO(subsys::kBootstrap, "bootstrap root %s: all %d ranks arrived",
                address_.toString().c_str(), nranks_);
  }

  void failAll() {
    std::string missing;
    int count = 0;
    for (int r = 0; r < nranks_; ++r) {
      if (ranks_[static_cast<size_t>(r)].fd) continue;
      if (count < 16) missing += (missing.empty() ? "" : ",") + std::to_string(r);
      ++count;
    }
    if (count > 16) missing += formatString(",... (%d in all)", count);
    std::string msg = formatString(
        "rank(s) %s of %d never reached the bootstrap root at %s within PLEXUS_TIMEOUT; check "
        "that they were started and use the same unique id / PLEXUS_COMM_ID and PLEXUS_SECRET",
        missing.c_str(), nranks_, address_.toString().c_str());
    PLEXUS_WARN(subsys::kBootstrap, "%s", msg.c_str());
    for (bool local : {false, true})
      for (auto& slot : ranks_)
        if (slot.fd && slot.local == local) refuse(std::move(slot.fd), msg);
  }

  struct RankSlot {
    Fd fd;
    WireAddress listen{};
    WireRank who{};
    bool local = false;  // a rank of this process: answered last, as it may exit right after
  };

  Fd listener_;
  Secret secret_;
  uint64_t nonce_;
  SocketAddress address_;
  DropLog drops_;
  std::list<Incoming> incoming_;
  std::vector<RankSlot> ranks_;
  int nranks_ = 0;
  int arrived_ = 0;
  std::atomic<bool> finishing_{false};
};

// The documented registry of bootstrap roots: owns each root's thread and joins it.
class RootRegistry {
 public:
  static RootRegistry& instance() {
    static RootRegistry registry;
    return registry;
  }

  void start(std::unique_ptr<Root> root) {
    std::lock_guard<std::mutex> lock(mutex_);
    reapFinished();
    auto entry = std::make_unique<Entry>();
    Entry* e = entry.get();
    e->root = std::move(root);
    e->thread = std::thread([this, e] {
      try {
        e->root->run(stop_);
      } catch (const std::exception& ex) {
        PLEXUS_WARN(subsys::kBootstrap, "bootstrap root failed: %s", ex.what());
      }
      e->done.store(true, std::memory_order_release);
    });
    entries_.push_back(std::move(entry));
  }

  void reap() {
    std::lock_guard<std::mutex> lock(mutex_);
    auto until = Clock::now() + std::chrono::seconds(10);
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& e = **it;
      while (e.root->finishing() && !e.done.load(std::memory_order_acquire) && Clock::now() < until)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (e.done.load(std::memory_order_acquire)) {
        e.thread.join();
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void stopAll() {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    for (auto& e : entries_)
      if (e->thread.joinable()) e->thread.join();
    entries_.clear();
    stop_.store(false);
  }

  ~RootRegistry() { stopAll(); }

 private:
  struct Entry {
    std::unique_ptr<Root> root;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void reapFinished() {
    for (auto it = entries_.begin(); it != entries_.end();) {
      if ((*it)->done.load(std::memory_order_acquire)) {
        (*it)->thread.join();
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::mutex mutex_;
  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace

void startRoot(Fd listener, const Secret& secret, uint64_t nonce, const SocketAddress& address) {
  RootRegistry::instance().start(
      std::make_unique<Root>(std::move(listener), secret, nonce, address));
}

void reapRoots() {
  RootRegistry::instance().reap();
}

}  // namespace plexus::runtime
