// The bootstrap's links: connect to ranks r + 2^k, accept ranks r - 2^k, each introduced by the
// job's secret, its rank and its round.
#include "runtime/bootstrap_links.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <list>

#include "base/drop_log.hpp"
#include "base/error.hpp"
#include "base/host_id.hpp"
#include "base/log.hpp"
#include "runtime/bootstrap_exchange.hpp"
#include "runtime/bootstrap_give_up.hpp"
#include "runtime/bootstrap_wire.hpp"
#include "runtime/protocol.hpp"

namespace plexus::runtime {

int bootstrapRounds(int nranks) {
  int rounds = 0;
  while (rounds < 31 && (int64_t{1} << rounds) < nranks) ++rounds;
  return rounds;
}

int bootstrapPeer(int rank, int nranks, int round, int direction) {
  const int64_t d = (int64_t{1} << round) % nranks;
  return static_cast<int>(((rank + direction * d) % nranks + nranks) % nranks);
}

std::string BootstrapLink::name() const {
  if (host.empty()) return formatString("rank %d (bootstrap %s)", peer, address.c_str());
  return formatString("rank %d (host %s, pid %d, bootstrap %s)", peer, host.c_str(), pid,
                      address.c_str());
}

uint64_t bootstrapPidSpace() {
  std::string id;
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  boot >> id;
  char ns[256] = {};
  const ssize_t n = ::readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
  if (id.empty() || n <= 0) return 1;  // unknown: matches no other process's value but by chance
  id += "|" + std::string(ns, static_cast<size_t>(n));
  return fnv1a64(id.data(), id.size()) | 2;
}

std::string BootstrapLink::processState() const {
  if (pid <= 0 || pidSpace != bootstrapPidSpace() || pidSpace == 1) return "";
  std::ifstream stat(formatString("/proc/%d/stat", pid));
  std::string line;
  if (!std::getline(stat, line))
    return formatString("; rank %d (pid %d on this host) has exited: no such process", peer, pid);
  // "pid (comm) S ...": the state follows the last ')' (comm may hold anything).
  const size_t close = line.rfind(')');
  const char state = close != std::string::npos && close + 2 < line.size() ? line[close + 2] : '?';
  switch (state) {
    case 'T':
    case 't':
      return formatString("; rank %d (pid %d on this host) is stopped (SIGSTOP or a debugger)",
                          peer, pid);
    case 'Z':
    case 'X':
      return formatString("; rank %d (pid %d on this host) has exited (not yet reaped)", peer, pid);
    default:
      return "";
  }
}

std::chrono::milliseconds rootConnectDelay(int rank) {
  int somaxconn = 4096;
  std::ifstream f("/proc/sys/net/core/somaxconn");
  if (!(f >> somaxconn) || somaxconn <= 0) somaxconn = 128;
  const int group = std::max(1, std::min(somaxconn, 16384) / 2);
  return std::chrono::milliseconds(20 * (rank / group));
}

LinkHello linkHello(const LinkSetup& s, size_t round) {
  LinkHello h{};
  h.magic = kLinkHelloMagic;
  h.fromRank = s.rank;
  h.round = static_cast<int32_t>(round);
  h.commId = s.commId;
  std::memcpy(h.secret, s.secret.data(), sizeof(h.secret));
  return h;
}

std::vector<BootstrapLink> connectLinks(const LinkSetup& s, const std::vector<LinkPeer>& ahead,
                                        Deadline deadline) {
  std::vector<BootstrapLink> links(ahead.size());
  for (size_t k = 0; k < ahead.size(); ++k) {
    BootstrapLink& l = links[k];
    l.peer = bootstrapPeer(s.rank, s.nranks, static_cast<int>(k), +1);
    l.address = ahead[k].address.toString();
    l.host = ahead[k].host;
    l.pid = ahead[k].pid;
    l.pidSpace = ahead[k].pidSpace;
  }
  for (size_t k = 0; k < ahead.size(); ++k) {
    BootstrapLink& l = links[k];
    const LinkHello h = linkHello(s, k);
    try {
      // The listener existed before its rank told the root: a refusal means the rank is gone.
      l.fd =
          connectToListener(ahead[k].address, deadline, s.abort, l.name(), kListenerRefusedGrace);
      if (!l.fd)
        throwError(ErrorCode::kRemote,
                   "%s is gone: its bootstrap listener refused the connection (it exited or was "
                   "killed after it joined, or its own init failed first); check that rank's log",
                   l.name().c_str());
      sendAll(l.fd.get(), &h, sizeof(h), deadline, s.abort, l.name());
    } catch (const Error& e) {
      const std::string why = formatString("rank %d of %d: bootstrap link of round %zu: %s%s",
                                           s.rank, s.nranks, k, e.what(), l.processState().c_str());
      tellGivingUp(s, ahead, links, k, why, deadline);
      throwError(e.code(), "%s", why.c_str());
    }
  }
  return links;
}

namespace {

// Accepts links without blocking on any one connection: a stray connection that sends nothing
// cannot hold up the ranks behind it.
class LinkAcceptor {
 public:
  LinkAcceptor(const LinkSetup& s, int listener, const SocketAddress& listenAddress,
               const std::vector<LinkPeer>& behind, const std::vector<BootstrapLink>& ahead)
      : s_(s),
        listener_(listener),
        listenAddress_(listenAddress),
        ahead_(ahead),
        links_(behind.size()) {
    for (size_t k = 0; k < behind.size(); ++k) {
      links_[k].peer = bootstrapPeer(s.rank, s.nranks, static_cast<int>(k), -1);
      links_[k].address = behind[k].address.toString();
      links_[k].host = behind[k].host;
      links_[k].pid = behind[k].pid;
      links_[k].pidSpace = behind[k].pidSpace;
    }
  }

  std::vector<BootstrapLink> run(Deadline deadline) {
    try {
      return waitForAll(deadline);
    } catch (const Error& e) {
      // The ranks that linked up wait for this rank's message on their link: tell them why not.
      for (const auto& l : links_) sendGivingUp(l, e.what());
      throw;
    }
  }

 private:
  std::vector<BootstrapLink> waitForAll(Deadline deadline) {
    setNonBlocking(listener_, true);
    while (missing_ > 0) {
      if (s_.abort != nullptr && s_.abort->load(std::memory_order_relaxed)) fail(true);
      if (deadline.expired()) fail(false);
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (auto& p : pending_) fds.push_back({p.fd.get(), POLLIN, 0});
      for (auto& l : links_)
        if (l.fd) fds.push_back({l.fd.get(), POLLIN, 0});
      // A message may wait on a link ahead (no wake-up for that): only a hang-up is of interest.
      const size_t firstAhead = fds.size();
      for (auto& l : ahead_) fds.push_back({l.fd.get(), POLLRDHUP, 0});
      ::poll(fds.data(), fds.size(), deadline.remainingMs(100));
      acceptAll();
      readHellos();
      watchAdmitted();
      const std::string self = formatString("rank %d of %d", s_.rank, s_.nranks);
      for (size_t k = 0; k < ahead_.size(); ++k)
        checkIncoming(ahead_[k],
                      (fds[firstAhead + k].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0, self);
    }
    return std::move(links_);
  }

  static constexpr auto kIntroduceWithin = std::chrono::seconds(60);
  static constexpr size_t kMaxSilent = 256;

  struct Pending {
    Fd fd;
    LinkHello hello{};
    size_t got = 0;
    Clock::time_point since;
  };
  struct Notice {
    LinkHello hello{};
    size_t got = 0;
  };

  // An admitted link carries nothing towards this rank, but a peer that gives up on the call
  // sends why there (tellGivingUp), or just closes it: either ends the wait for the others.
  void watchAdmitted() {
    for (size_t k = 0; k < links_.size(); ++k) {
      if (!links_[k].fd) continue;
      Notice& n = notices_[k];
      const ssize_t r = ::recv(links_[k].fd.get(), reinterpret_cast<char*>(&n.hello) + n.got,
                               sizeof(LinkHello) - n.got, MSG_DONTWAIT);
      if (r > 0) n.got += static_cast<size_t>(r);
      if (n.got == sizeof(LinkHello)) gaveUp(links_[k], n.hello);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        throwError(ErrorCode::kRemote,
                   "rank %d of %d: %s closed its bootstrap link before the exchange (it gave up "
                   "on this call, exited or was killed); check that rank's log%s",
                   s_.rank, s_.nranks, links_[k].name().c_str(), links_[k].processState().c_str());
    }
  }

  // A peer's notice that it gives up on the call (its reason names what it lost).
  [[noreturn]] void gaveUp(const BootstrapLink& from, const LinkHello& h) {
    if ((h.flags & kLinkGivesUp) == 0 || judgeLinkHello(h, s_.commId, s_.secret, s_.rank, s_.nranks,
                                                        links_.size()) != LinkVerdict::kAccept)
      throwError(ErrorCode::kRemote,
                 "rank %d of %d: %s sent unexpected bytes on its bootstrap link before the "
                 "exchange; check that every rank runs the same Plexus build",
                 s_.rank, s_.nranks, from.name().c_str());
    std::string why(h.reason, strnlen(h.reason, sizeof(h.reason)));
    for (char& c : why)
      if (c < 0x20 || c > 0x7e) c = '?';
    throwError(ErrorCode::kRemote, "rank %d of %d: %s gave up on this bootstrap call: %s", s_.rank,
               s_.nranks, from.name().c_str(), why.c_str());
  }

  void acceptAll() {
    while (true) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
          return;
        throwSystemError(errno, "rank %d of %d: accept on the bootstrap listener %s failed",
                         s_.rank, s_.nranks, listenAddress_.toString().c_str());
      }
      setNoDelay(fd);
      pending_.push_back(Pending{Fd(fd), {}, 0, Clock::now()});
    }
  }

  void readHellos() {
    for (auto it = pending_.begin(); it != pending_.end();) {
      ssize_t r = ::recv(it->fd.get(), reinterpret_cast<char*>(&it->hello) + it->got,
                         sizeof(LinkHello) - it->got, MSG_DONTWAIT);
      if (r > 0) it->got += static_cast<size_t>(r);
      bool broken = r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
      // A real peer sends its introduction right after it connects, but on a machine with far
      // more ranks than cores it may not run again for many seconds (576 ranks on 2 loaded
      // cores: over 10 s), and dropping it would fail the job: a silent connection is given
      // kIntroduceWithin, and only the oldest beyond kMaxSilent are dropped sooner.
      const bool silentTooLong =
          it->got < sizeof(LinkHello) && (Clock::now() - it->since > kIntroduceWithin ||
                                          (pending_.size() > kMaxSilent && it == pending_.begin()));
      if (broken || silentTooLong) {
        drop(broken ? "closed before introducing itself"
                    : "sent no introduction in time (60 s, or 256 newer connections waiting)");
        it = pending_.erase(it);
      } else if (it->got == sizeof(LinkHello)) {
        admit(std::move(*it));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void admit(Pending p) {
    const LinkHello& h = p.hello;
    const LinkVerdict v =
        judgeLinkHello(h, s_.commId, s_.secret, s_.rank, s_.nranks, links_.size());
    if (v == LinkVerdict::kForeign) {
      drop("did not present this job's secret (a stray or foreign connection)");
      return;
    }
    if (v == LinkVerdict::kAccept && (h.flags & kLinkGivesUp) != 0)
      gaveUp(links_[static_cast<size_t>(h.round)], h);
    if (v == LinkVerdict::kUnexpected || links_[static_cast<size_t>(h.round)].fd) {
      drop("presented an unexpected rank or round");
      return;
    }
    links_[static_cast<size_t>(h.round)].fd = std::move(p.fd);
    --missing_;
  }

  void drop(const char* why) { drops_.dropped("a stray or late peer", why); }

  [[noreturn]] void fail(bool aborted) {
    const BootstrapLink* first = nullptr;
    for (const auto& l : links_)
      if (!l.fd && first == nullptr) first = &l;
    if (aborted)
      throwError(ErrorCode::kRemote,
                 "rank %d of %d: bootstrap aborted while waiting for %s to connect", s_.rank,
                 s_.nranks, first->name().c_str());
    throwError(ErrorCode::kRemote,
               "rank %d of %d: %s never connected to this rank's bootstrap listener %s within "
               "PLEXUS_TIMEOUT (%d of %zu links missing); check that it is alive and can reach "
               "this host%s",
               s_.rank, s_.nranks, first->name().c_str(), listenAddress_.toString().c_str(),
               missing_, links_.size(), first->processState().c_str());
  }

  const LinkSetup& s_;
  int listener_;
  SocketAddress listenAddress_;
  const std::vector<BootstrapLink>& ahead_;
  std::vector<BootstrapLink> links_;
  std::vector<Notice> notices_ = std::vector<Notice>(links_.size());
  std::list<Pending> pending_;
  DropLog drops_{
      formatString("rank %d: bootstrap listener %s", s_.rank, listenAddress_.toString().c_str()),
      subsys::kBootstrap};
  int missing_ = static_cast<int>(links_.size());
};

}  // namespace

std::vector<BootstrapLink> acceptLinks(const LinkSetup& s, int listener,
                                       const SocketAddress& listenAddress,
                                       const std::vector<LinkPeer>& behind,
                                       const std::vector<BootstrapLink>& ahead, Deadline deadline) {
  return LinkAcceptor(s, listener, listenAddress, behind, ahead).run(deadline);
}

}  // namespace plexus::runtime
