// Telling the ranks that wait for this one that it gives up on a bootstrap call, and why.
#include "runtime/bootstrap_give_up.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.hpp"
#include "runtime/bootstrap_exchange.hpp"
#include "runtime/bootstrap_wire.hpp"

namespace plexus::runtime {
namespace {

LinkHello givingUpHello(const LinkSetup& s, size_t round, const std::string& reason) {
  LinkHello h = linkHello(s, round);
  h.flags = kLinkGivesUp;
  std::memcpy(h.reason, reason.data(), std::min(reason.size(), sizeof(h.reason) - 1));
  return h;
}

}  // namespace

void tellLinkedGivingUp(const LinkSetup& s, const std::vector<BootstrapLink>& links,
                        const std::string& reason) {
  for (size_t k = 0; k < links.size(); ++k) {
    if (!links[k].fd) continue;
    const LinkHello h = givingUpHello(s, k, reason);
    // An idle link: its socket buffer takes the notice at once.
    (void)::send(links[k].fd.get(), &h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
}

void tellGivingUp(const LinkSetup& s, const std::vector<LinkPeer>& ahead,
                  const std::vector<BootstrapLink>& links, size_t failed, const std::string& reason,
                  Deadline deadline) {
  tellLinkedGivingUp(s, links, reason);
  const Deadline until =
      Deadline::after(std::min<std::chrono::nanoseconds>(deadline.remaining(), kGivingUpWithin));
  for (size_t k = 0; k < ahead.size() && k < links.size() && !until.expired(); ++k) {
    if (k == failed || links[k].fd) continue;
    const LinkHello h = givingUpHello(s, k, reason);
    try {
      Fd fd = connectToListener(ahead[k].address, until, s.abort, links[k].name(),
                                std::chrono::milliseconds(0));
      if (fd) sendAll(fd.get(), &h, sizeof(h), until, s.abort, links[k].name());
    } catch (const Error&) {
      // Best effort: that rank learns at its deadline instead.
    }
  }
}

void answerBacklogGivingUp(const LinkSetup& s, int listener, const std::string& reason) {
  struct Caller {
    BootstrapLink link;
    LinkHello hello{};
    size_t got = 0;
  };
  std::vector<Caller> callers;
  const size_t rounds = static_cast<size_t>(bootstrapRounds(s.nranks));
  setNonBlocking(listener, true);
  const Deadline until = Deadline::after(std::chrono::milliseconds(100));
  while (!until.expired()) {
    int fd = -1;
    while ((fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
      callers.emplace_back();
      callers.back().link.fd = Fd(fd);
    }
    bool waiting = false;
    for (Caller& c : callers) {
      if (!c.link.fd || c.got == sizeof(LinkHello)) continue;
      const ssize_t r = ::recv(c.link.fd.get(), reinterpret_cast<char*>(&c.hello) + c.got,
                               sizeof(LinkHello) - c.got, MSG_DONTWAIT);
      if (r > 0) c.got += static_cast<size_t>(r);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        c.link.fd.reset();
      } else if (c.got == sizeof(LinkHello)) {
        if (judgeLinkHello(c.hello, s.commId, s.secret, s.rank, s.nranks, rounds) ==
            LinkVerdict::kAccept)
          sendGivingUp(c.link, reason);
      } else {
        waiting = true;
      }
    }
    if (!waiting && !callers.empty()) break;
    pollfd p{listener, POLLIN, 0};
    ::poll(&p, 1, 10);
  }
}

}  // namespace plexus::runtime
