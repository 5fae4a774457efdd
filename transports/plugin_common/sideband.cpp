// The plugins' side band: authenticated per-peer TCP channels for setup data and abort notices.
#include "transports/plugin_common/sideband.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.hpp"
#include "base/log.hpp"
#include "transports/common/abort_reason.hpp"

namespace plexus::transport {
namespace {

constexpr uint32_t kMagic = 0x504c5842;  // "PLXB"
constexpr uint32_t kInfo = 1;
constexpr uint32_t kAbort = 2;
constexpr uint32_t kMaxPayload = 1 << 20;
constexpr size_t kMaxAbortText = 1024;

struct Hello {
  uint32_t magic;
  int32_t fromRank;
  uint64_t commId;
  uint32_t transportHash;
  uint32_t reserved;
  uint8_t secret[16];
};

struct FrameHeader {
  uint32_t type;
  int32_t connection;
  uint32_t length;
};

uint32_t hashName(const std::string& s) {
  uint32_t h = 2166136261u;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}

std::string frame(uint32_t type, int connection, const std::string& payload) {
  FrameHeader h{type, connection, static_cast<uint32_t>(payload.size())};
  std::string out(reinterpret_cast<const char*>(&h), sizeof(h));
  return out + payload;
}

}  // namespace

struct Sideband::Channel {
  Fd fd;
  std::string out;
  size_t outOff = 0;
  std::string in;
  bool eof = false;
  int eofErrno = 0;
  bool halfClosed = false;
  std::map<int, std::string> infos;
};

struct Sideband::Pending {
  Fd fd;
  Hello hello{};
  size_t got = 0;
  Clock::time_point since;
};

Sideband::Sideband(const TransportContext& ctx, std::string transport)
    : ctx_(ctx), transport_(std::move(transport)) {
  auto ifs = selectInterfaces();
  SocketAddress addr = ifs.front().address;
  addr.setPort(0);
  listener_ = listenOn(addr);
  setNonBlocking(listener_.get(), true);
  address_ = addr;
  PLEXUS_INFO(subsys::kNet, "%s transport: side band listening on %s (%s)", transport_.c_str(),
              addr.toString().c_str(), ifs.front().name.c_str());
}

Sideband::~Sideband() {
  if (!aborted_) return;
  // Give peers a moment to read the abort reason: discard what they still send until they close.
  auto until = Clock::now() + std::chrono::milliseconds(200);
  char sink[4096];
  for (auto& [peer, c] : channels_) {
    while (c->fd && !c->eof && Clock::now() < until) {
      pollfd p{c->fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      ssize_t r = ::recv(c->fd.get(), sink, sizeof(sink), MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) break;
    }
  }
}

std::string Sideband::peerName(int peer) const {
  const PeerRecord& rec = (*ctx_.peers)[static_cast<size_t>(peer)];
  return formatString("rank %d (host %s, pid %d)", peer, rec.hostName.c_str(), rec.pid);
}

void Sideband::adopt(int peer, Fd fd) {
  setNonBlocking(fd.get(), true);
  setNoDelay(fd.get());
  auto c = std::make_unique<Channel>();
  c->fd = std::move(fd);
  channels_[peer] = std::move(c);
}

bool Sideband::ensure(int peer, const SocketAddress& peerAddress) {
  if (channels_.count(peer) != 0) return true;
  if (ctx_.rank > peer) {
    acceptNew();
    return channels_.count(peer) != 0;
  }
  std::string what = formatString("%s %s side band", peerName(peer).c_str(), transport_.c_str());
  Fd fd = connectTo(peerAddress, Deadline::fromEnv(), ctx_.abort, what);
  Hello h{};
  h.magic = kMagic;
  h.fromRank = ctx_.rank;
  h.commId = ctx_.commId;
  h.transportHash = hashName(transport_);
  std::memcpy(h.secret, ctx_.secret, sizeof(h.secret));
  sendAll(fd.get(), &h, sizeof(h), Deadline::fromEnv(), ctx_.abort, what);
  adopt(peer, std::move(fd));
  return true;
}

void Sideband::sendInfo(int peer, int connection, const std::string& payload) {
  auto it = channels_.find(peer);
  if (it == channels_.end())
    throwError(ErrorCode::kInternal, "%s transport: no side band to rank %d", transport_.c_str(),
               peer);
  it->second->out += frame(kInfo, connection, payload);
  pump(peer, *it->second);
}

std::optional<std::string> Sideband::takeInfo(int peer, int connection) {
  auto it = channels_.find(peer);
  if (it == channels_.end()) return std::nullopt;
  auto& infos = it->second->infos;
  auto i = infos.find(connection);
  if (i == infos.end()) return std::nullopt;
  std::string s = std::move(i->second);
  infos.erase(i);
  return s;
}

bool Sideband::peerGone(int peer, std::string* why) const {
  auto it = channels_.find(peer);
  if (it == channels_.end() || !it->second->eof) return false;
  if (why != nullptr) {
    int e = it->second->eofErrno;
    *why = e == 0
               ? std::string("closed its side band (the peer exited or failed)")
               : formatString("side band failed: %s (the peer may have exited)", std::strerror(e));
  }
  return true;
}

bool Sideband::pump(int peer, Channel& c) {
  bool moved = false;
  while (c.fd && !c.halfClosed && c.outOff < c.out.size()) {
    ssize_t w = ::send(c.fd.get(), c.out.data() + c.outOff, c.out.size() - c.outOff,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK && !c.eof) {
        c.eof = true;
        c.eofErrno = errno;
      }
      break;
    }
    c.outOff += static_cast<size_t>(w);
    moved = true;
  }
  if (c.outOff == c.out.size()) {
    c.out.clear();
    c.outOff = 0;
  }
  while (c.fd && !c.eof) {
    char buf[8192];
    ssize_t r = ::recv(c.fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (r <= 0) {
      c.eof = true;
      c.eofErrno = r == 0 ? 0 : errno;
      moved = true;
      break;
    }
    c.in.append(buf, static_cast<size_t>(r));
    moved = true;
  }
  size_t pos = 0;
  while (c.in.size() - pos >= sizeof(FrameHeader)) {
    FrameHeader h;
    std::memcpy(&h, c.in.data() + pos, sizeof(h));
    if (h.length > kMaxPayload || (h.type != kInfo && h.type != kAbort)) {
      c.eof = true;
      c.eofErrno = EPROTO;
      PLEXUS_WARN(subsys::kNet,
                  "%s transport: %s sent a corrupt side-band frame (type %u, %u bytes)",
                  transport_.c_str(), peerName(peer).c_str(), h.type, h.length);
      c.in.clear();
      return true;
    }
    if (c.in.size() - pos - sizeof(h) < h.length) break;
    std::string payload = c.in.substr(pos + sizeof(h), h.length);
    pos += sizeof(h) + h.length;
    if (h.type == kInfo)
      c.infos[h.connection] = std::move(payload);
    else
      notices_.emplace(peer, payload.substr(0, kMaxAbortText));
  }
  c.in.erase(0, pos);
  return moved;
}

bool Sideband::acceptNew() {
  bool moved = false;
  while (true) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) break;
    auto p = std::make_unique<Pending>();
    p->fd = Fd(fd);
    p->since = Clock::now();
    pending_.push_back(std::move(p));
    moved = true;
  }
  for (size_t i = 0; i < pending_.size();) {
    Pending& p = *pending_[i];
    ssize_t r = ::recv(p.fd.get(), reinterpret_cast<char*>(&p.hello) + p.got, sizeof(Hello) - p.got,
                       MSG_DONTWAIT);
    const char* why = nullptr;
    if (r > 0) {
      p.got += static_cast<size_t>(r);
      moved = true;
    } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      why = "closed before introducing itself";
    }
    if (why == nullptr && p.got == sizeof(Hello)) {
      const Hello& h = p.hello;
      if (h.magic != kMagic || h.commId != ctx_.commId || h.transportHash != hashName(transport_) ||
          std::memcmp(h.secret, ctx_.secret, sizeof(h.secret)) != 0) {
        why = "did not present this communicator's id and secret";
      } else if (h.fromRank < 0 || h.fromRank >= ctx_.rank || channels_.count(h.fromRank) != 0) {
        why = "claimed an impossible or duplicate rank";
      } else {
        adopt(h.fromRank, std::move(p.fd));
        pending_.erase(pending_.begin() + static_cast<long>(i));
        continue;
      }
    }
    if (why == nullptr && Clock::now() - p.since > std::chrono::seconds(30))
      why = "sent no introduction within 30 s";
    if (why != nullptr) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      std::string who = "unknown peer";
      if (getpeername(p.fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0)
        who = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).toString();
      PLEXUS_WARN(subsys::kNet,
                  "%s transport side band on %s: dropped a connection from %s that %s",
                  transport_.c_str(), address_.toString().c_str(), who.c_str(), why);
      pending_.erase(pending_.begin() + static_cast<long>(i));
      continue;
    }
    ++i;
  }
  return moved;
}

bool Sideband::progress() {
  bool moved = acceptNew();
  for (auto& [peer, c] : channels_) moved |= pump(peer, *c);
  if (!notices_.empty()) {
    auto& [from, reason] = *notices_.begin();
    const PeerRecord& rec = (*ctx_.peers)[static_cast<size_t>(from)];
    throw Error(ErrorCode::kRemote,
                peerAborted(formatString("rank %d (host %s)", from, rec.hostName.c_str()), reason));
  }
  return moved;
}

void Sideband::settle(int peer, std::chrono::milliseconds max) {
  auto until = Clock::now() + max;
  for (;;) {
    progress();
    auto it = channels_.find(peer);
    if (it == channels_.end() || !it->second->fd || it->second->eof) return;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return;
    pollfd p{it->second->fd.get(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 50)));
  }
}

void Sideband::failBroken(int peer, const std::string& who, const std::string& broken) {
  settle(peer, std::chrono::seconds(1));
  std::string why;
  if (peerGone(peer, &why))
    throwError(ErrorCode::kRemote, "%s %s (%s); check its output", who.c_str(), why.c_str(),
               broken.c_str());
  throw Error(ErrorCode::kRemote, broken);
}

void Sideband::addPollFds(std::vector<pollfd>& fds) const {
  fds.push_back(pollfd{listener_.get(), POLLIN, 0});
  for (const auto& p : pending_) fds.push_back(pollfd{p->fd.get(), POLLIN, 0});
  for (const auto& [peer, c] : channels_) {
    if (!c->fd || c->eof) continue;
    short events = POLLIN;
    if (c->outOff < c->out.size() && !c->halfClosed) events |= POLLOUT;
    fds.push_back(pollfd{c->fd.get(), events, 0});
  }
}

void Sideband::abortAll(const std::string& reason) {
  if (aborted_) return;
  aborted_ = true;
  std::string text = reason.substr(0, kMaxAbortText);
  auto deadline = Deadline::after(std::chrono::milliseconds(200));
  for (auto& [peer, c] : channels_) {
    if (!c->fd || c->eof) continue;
    c->out += frame(kAbort, -1, text);
    try {
      sendAll(c->fd.get(), c->out.data() + c->outOff, c->out.size() - c->outOff, deadline, nullptr,
              "abort notice");
    } catch (const Error&) {
    }
    c->out.clear();
    c->outOff = 0;
    ::shutdown(c->fd.get(), SHUT_WR);
    c->halfClosed = true;
  }
}

}  // namespace plexus::transport
