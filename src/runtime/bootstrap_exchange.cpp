// Full-duplex message exchange on two bootstrap links, and the blob encoding of the all-gather.
#include "runtime/bootstrap_exchange.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "base/error.hpp"

namespace plexus::runtime {
namespace {

// Larger messages are a corrupt or foreign stream, not a bootstrap all-gather.
constexpr uint64_t kMaxMessage = uint64_t{1} << 32;
// The body grows as its bytes arrive (doubling, from this step): a length prefix alone (corrupt, or
// a peer that dies after sending it) allocates no more than 1 MiB, and never more than twice what
// has arrived plus that step.
constexpr size_t kGrowStep = size_t{1} << 20;

// A length word with this bit set frames a rank's reason for giving up (sendGivingUp), not a
// message; the reason is cut at kMaxReason bytes.
constexpr uint64_t kGivesUpBit = uint64_t{1} << 63;
constexpr size_t kMaxReason = 1024;
// checkIncoming looks at no more than this of what a peer that hung up left on its link.
constexpr size_t kMaxPeek = size_t{16} << 20;

bool retryable(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

// The receiving half: the 8-byte length, then the message (body holds `got` bytes received and
// room for at most kGrowStep more).
struct Incoming {
  uint64_t length = 0;
  size_t gotHeader = 0;
  std::string body;
  size_t got = 0;
  bool givesUp = false;  // the body is the sender's reason for giving up on the call
  bool done() const { return gotHeader == sizeof(length) && got == length; }
  void makeRoom() {
    if (got == body.size())
      body.resize(got + std::min<uint64_t>(length - got, std::max(kGrowStep, got)));
  }
};

// Receives what is there without blocking; false once the peer closed or failed (errno set, or
// 0 for a close).
bool receiveSome(int fd, Incoming& in) {
  while (!in.done()) {
    if (in.gotHeader == sizeof(in.length)) in.makeRoom();
    char* dst = in.gotHeader < sizeof(in.length)
                    ? reinterpret_cast<char*>(&in.length) + in.gotHeader
                    : in.body.data() + in.got;
    size_t want = in.gotHeader < sizeof(in.length) ? sizeof(in.length) - in.gotHeader
                                                   : in.body.size() - in.got;
    ssize_t n = ::recv(fd, dst, want, MSG_DONTWAIT);
    if (n == 0) {
      errno = 0;
      return false;
    }
    if (n < 0) return retryable(errno);
    if (in.gotHeader < sizeof(in.length)) {
      in.gotHeader += static_cast<size_t>(n);
      if (in.gotHeader == sizeof(in.length)) {
        in.givesUp = (in.length & kGivesUpBit) != 0;
        in.length &= ~kGivesUpBit;
        if (in.length > (in.givesUp ? kMaxReason : kMaxMessage)) {
          errno = EPROTO;
          return false;
        }
      }
    } else {
      in.got += static_cast<size_t>(n);
    }
  }
  return true;
}

bool sendSome(int fd, const std::string& wire, size_t& sent) {
  while (sent < wire.size()) {
    ssize_t n = ::send(fd, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) return retryable(errno);
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string exchangeOn(const BootstrapLink& sendTo, const std::string& wire, size_t& sent,
                       const BootstrapLink& recvFrom, Deadline deadline,
                       const std::atomic<bool>* abort, const std::string& self) {
  Incoming in;
  while (sent < wire.size() || !in.done()) {
    if (!sendSome(sendTo.fd.get(), wire, sent))
      throwError(ErrorCode::kRemote,
                 "%s: bootstrap send to %s failed: %s (the peer may have exited)", self.c_str(),
                 sendTo.name().c_str(), std::strerror(errno));
    if (!receiveSome(recvFrom.fd.get(), in))
      throwError(ErrorCode::kRemote, "%s: bootstrap receive from %s failed: %s", self.c_str(),
                 recvFrom.name().c_str(),
                 errno == 0        ? "the peer closed the connection (it exited or failed)"
                 : errno == EPROTO ? "an impossible message size"
                                   : std::strerror(errno));
    if (in.done() && in.givesUp) {
      std::string why = std::move(in.body);
      why.resize(in.got);
      for (char& c : why)
        if (c < 0x20 || c > 0x7e) c = '?';
      throwError(ErrorCode::kRemote, "%s: %s gave up on this bootstrap call: %s", self.c_str(),
                 recvFrom.name().c_str(), why.c_str());
    }
    if (sent == wire.size() && in.done()) break;
    const bool waitingOn = !in.done();
    const BootstrapLink& late = waitingOn ? recvFrom : sendTo;
    if (abort != nullptr && abort->load(std::memory_order_relaxed))
      throwError(ErrorCode::kRemote, "%s: bootstrap exchange with %s aborted", self.c_str(),
                 late.name().c_str());
    if (deadline.expired())
      throwError(ErrorCode::kRemote,
                 "%s: bootstrap %s %s timed out (PLEXUS_TIMEOUT); check that it is alive and "
                 "reached the same call%s",
                 self.c_str(), waitingOn ? "receive from" : "send to", late.name().c_str(),
                 late.processState().c_str());
    pollfd fds[2] = {{recvFrom.fd.get(), static_cast<short>(in.done() ? 0 : POLLIN), 0},
                     {sendTo.fd.get(), static_cast<short>(sent < wire.size() ? POLLOUT : 0), 0}};
    ::poll(fds, 2, deadline.remainingMs(100));
  }
  return std::move(in.body);
}

}  // namespace

std::string exchangeMessage(const BootstrapLink& sendTo, const std::string& out,
                            const BootstrapLink& recvFrom, Deadline deadline,
                            const std::atomic<bool>* abort, const std::string& self) {
  uint64_t length = out.size();
  std::string wire(reinterpret_cast<const char*>(&length), sizeof(length));
  wire += out;
  size_t sent = 0;
  try {
    return exchangeOn(sendTo, wire, sent, recvFrom, deadline, abort, self);
  } catch (const Error& e) {
    // The rank on `sendTo` may not have started this round yet (it still accepts links, or is in
    // an earlier round): after a whole message, a notice can follow, and checkIncoming finds it
    // there. After part of one it cannot (the peer would read it as the message's bytes).
    if (sent == wire.size()) sendGivingUp(sendTo, e.what());
    throw;
  }
}

void checkIncoming(const BootstrapLink& link, bool hungUp, const std::string& self) {
  if (!link.fd) return;
  // A notice may follow a whole message (exchangeMessage): once the peer hung up, all it sent is
  // here, bounded by the socket's receive buffer; before that, a notice first is what matters.
  int queued = 0;
  if (!hungUp || ::ioctl(link.fd.get(), FIONREAD, &queued) != 0) queued = 0;
  std::string buf(std::clamp<size_t>(static_cast<size_t>(std::max(queued, 0)),
                                     sizeof(uint64_t) + kMaxReason, kMaxPeek),
                  '\0');
  const ssize_t r = ::recv(link.fd.get(), buf.data(), buf.size(), MSG_PEEK | MSG_DONTWAIT);
  if (r < 0 && retryable(errno) && !hungUp) return;
  const size_t have = r > 0 ? static_cast<size_t>(r) : 0;
  for (size_t at = 0; at + sizeof(uint64_t) <= have;) {
    uint64_t length = 0;
    std::memcpy(&length, buf.data() + at, sizeof(length));
    const uint64_t bytes = length & ~kGivesUpBit;
    if (bytes > have - at - sizeof(length)) break;  // not all here (or not a frame at all)
    if ((length & kGivesUpBit) != 0) {
      std::string why(buf.data() + at + sizeof(length), bytes);
      for (char& c : why)
        if (c < 0x20 || c > 0x7e) c = '?';
      throwError(ErrorCode::kRemote, "%s: %s gave up on this bootstrap call: %s", self.c_str(),
                 link.name().c_str(), why.c_str());
    }
    at += sizeof(length) + bytes;
  }
  // A peer closes its links only once this rank has taken part in the exchange: before that, a
  // hang-up means it is gone, whatever it sent.
  if (r <= 0 || hungUp)
    throwError(ErrorCode::kRemote,
               "%s: %s is gone: it %s its bootstrap link before the exchange (it exited or was "
               "killed after it joined, or its own init failed first); check that rank's log%s",
               self.c_str(), link.name().c_str(), r < 0 ? "reset" : "closed",
               link.processState().c_str());
}

void sendGivingUp(const BootstrapLink& link, const std::string& reason) {
  if (!link.fd) return;
  const std::string why = reason.substr(0, kMaxReason);
  const uint64_t length = kGivesUpBit | why.size();
  std::string wire(reinterpret_cast<const char*>(&length), sizeof(length));
  wire += why;
  (void)::send(link.fd.get(), wire.data(), wire.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

std::string encodeBlobs(const std::vector<std::string>& blobs, size_t first, size_t count) {
  std::string out;
  size_t total = count * sizeof(uint64_t);
  for (size_t i = first; i < first + count; ++i) total += blobs[i].size();
  out.reserve(total);
  for (size_t i = first; i < first + count; ++i) {
    uint64_t n = blobs[i].size();
    out.append(reinterpret_cast<const char*>(&n), sizeof(n));
  }
  for (size_t i = first; i < first + count; ++i) out += blobs[i];
  return out;
}

void decodeBlobs(const std::string& message, size_t count, std::vector<std::string>& into,
                 const std::string& from) {
  size_t offset = count * sizeof(uint64_t);
  if (message.size() < offset)
    throwError(ErrorCode::kRemote,
               "%s sent %zu bytes where %zu blobs were expected: the ranks are not in the same "
               "bootstrap call (all-gather vs barrier)",
               from.c_str(), message.size(), count);
  for (size_t i = 0; i < count; ++i) {
    uint64_t n = 0;
    std::memcpy(&n, message.data() + i * sizeof(n), sizeof(n));
    if (n > message.size() - offset)
      throwError(ErrorCode::kRemote, "%s sent a malformed all-gather message", from.c_str());
    into.emplace_back(message, offset, n);
    offset += n;
  }
  if (offset != message.size())
    throwError(ErrorCode::kRemote, "%s sent a malformed all-gather message", from.c_str());
}

}  // namespace plexus::runtime
