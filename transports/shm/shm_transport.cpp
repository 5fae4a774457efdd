// The shared-memory transport: ranks on one host exchange data through slot FIFOs in anonymous
// shared memory (memfd). Each rank creates the FIFO it receives on and hands its descriptor to the
// sender over the pair's local link (local_link.hpp), together with its control block; nothing is
// named in /dev/shm, so a SIGKILL leaves nothing behind. The link also tells a rank at once when
// its peer's process is gone. What a rank's receive FIFOs may take is bounded by its share of the
// host's shared-memory budget (PLEXUS_SHM_BUDGET).
//
// A peer in the SAME process (same host and pid: ranks that are threads of one process) is
// connected without any descriptor, since a socket and a memfd per pair would exhaust the
// descriptor limit (576 threads need ~331,000): the receiver's FIFO is plain heap memory, published
// in the process-wide registry of inproc_registry.hpp together with its control block, and the
// sender takes it from there. The FIFO protocol, the budget, the doorbells and the abort relay are
// the same; liveness is trivially true (an aborting peer still marks its control block).
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "base/error.hpp"
#include "base/log.hpp"
#include "transports/common/abort_reason.hpp"
#include "transports/common/transport.hpp"
#include "transports/shm/inproc_registry.hpp"
#include "transports/shm/local_link.hpp"
#include "transports/shm/shm_budget.hpp"
#include "transports/shm/shm_fifo.hpp"

namespace plexus::transport {
namespace {

using shm::FifoView;

// The memory of one FIFO: a shared segment (peer in another process) or heap memory shared with a
// same-process peer.
struct FifoMemory {
  ShmSegment segment;
  std::shared_ptr<shm::InprocFifo> local;
  void* data() const { return local ? local->data() : segment.data(); }
};

FifoView viewOf(const FifoMemory& memory, const SlotConfig& cfg) {
  FifoView v;
  v.header = static_cast<shm::FifoHeader*>(memory.data());
  v.slotBase = static_cast<std::byte*>(memory.data()) + sizeof(shm::FifoHeader);
  v.stride = shm::slotStride(cfg.slotBytes);
  v.slots = cfg.slots;
  return v;
}

class ShmSender final : public SendEndpoint {
 public:
  ShmSender(FifoView fifo, RankControl& peer) : fifo_(fifo), peer_(peer) {}
  std::byte* acquire() override {
    // The receiver's tail is read (a cache-line transfer) only when the FIFO looks full.
    if (head_ - tail_ >= fifo_.slots) {
      tail_ = fifo_.header->tail.load(std::memory_order_acquire);
      if (head_ - tail_ >= fifo_.slots) return nullptr;
    }
    return fifo_.slotData(head_);
  }
  void post(uint32_t bytes, uint32_t tag) override {
    shm::SlotHeader* h = fifo_.slotHeader(head_);
    h->bytes = bytes;
    h->tag = tag;
    if (bytes <= shm::kInlineBytes) std::memcpy(h->inlineData, fifo_.slotData(head_), bytes);
    ++head_;
    h->seq.store(head_, std::memory_order_release);
    peer_.ring();
  }

 private:
  FifoView fifo_;
  RankControl& peer_;
  uint64_t head_ = 0;
  uint64_t tail_ = 0;  // the receiver's tail as last read
};

class ShmReceiver final : public RecvEndpoint {
 public:
  ShmReceiver(FifoView fifo, RankControl& peer) : fifo_(fifo), peer_(peer) {}
  const std::byte* peek(uint32_t* bytes, uint32_t* tag) override {
    const shm::SlotHeader* h = fifo_.slotHeader(tail_);
    if (h->seq.load(std::memory_order_acquire) != tail_ + 1) return nullptr;
    *bytes = h->bytes;
    *tag = h->tag;
    return h->bytes <= shm::kInlineBytes ? h->inlineData : fifo_.slotData(tail_);
  }
  void release() override {
    ++tail_;
    fifo_.header->tail.store(tail_, std::memory_order_release);
    peer_.ring();  // the sender may be waiting for a free slot
  }

 private:
  FifoView fifo_;
  RankControl& peer_;
  uint64_t tail_ = 0;
};

// What this rank knows of one same-host peer: its links (the one either side opened first; both
// when they opened at once), its control block once it sent it, and the FIFOs each side announced
// for connections not set up yet.
struct PeerLink {
  std::vector<Fd> sockets;  // this rank sends on the first; messages may come on any
  bool closed = false;      // a link reached its end: the peer's process is gone
  bool local = false;       // the peer is a thread of this process: no link, the registry
  std::shared_ptr<RankControl> control;
  std::map<int, Fd> theirs;        // connection id -> the peer's receive FIFO (our send FIFO)
  std::map<int, FifoMemory> mine;  // connection id -> our receive FIFO, announced
  bool gone() const {
    if (closed) return true;
    for (const Fd& s : sockets)
      if (shm::linkClosed(s.get())) return true;
    return false;
  }
};

std::string describePeer(const TransportContext& ctx, int peer) {
  const PeerRecord& rec = (*ctx.peers)[static_cast<size_t>(peer)];
  return formatString("rank %d (host %s, pid %d) over shm", peer, rec.hostName.c_str(), rec.pid);
}

// True when process `pid` of this host has exited (a zombie counts: it is dead, only not yet
// reaped by its parent).
bool processGone(int pid) {
  if (pid <= 0) return false;
  std::FILE* f = std::fopen(formatString("/proc/%d/stat", pid).c_str(), "r");
  if (f == nullptr) return errno == ENOENT;
  char buf[512] = {};
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  // "pid (comm) S ...": the state follows the last ')' (comm may hold spaces and parentheses).
  const char* close = std::strrchr(buf, ')');
  if (n == 0 || close == nullptr || close[1] == '\0') return false;
  return close[2] == 'Z' || close[2] == 'X';
}

// Throws the error for a peer whose link closed: relayed when it aborted (its control block says
// why), otherwise it died.
[[noreturn]] void peerGone(const std::string& who, const std::shared_ptr<RankControl>& control) {
  if (control && control->valid()) {
    const ControlBlock* b = control->block();
    if (b->aborted.load(std::memory_order_acquire) != 0)
      throw Error(ErrorCode::kRemote, peerAborted(who, b->reason));
  }
  throwError(ErrorCode::kRemote,
             "%s has exited (its end of the shm link closed: killed, crashed or left without "
             "destroying its communicator); check that rank's output for the cause",
             who.c_str());
}

class ShmConnection final : public Connection {
 public:
  ShmConnection(const TransportContext& ctx, int peer, PeerLink& link, FifoMemory sendFifo,
                FifoMemory recvFifo)
      : ctx_(ctx),
        peer_(peer),
        link_(link),
        sendFifo_(std::move(sendFifo)),
        recvFifo_(std::move(recvFifo)),
        sender_(viewOf(sendFifo_, ctx.slots), *link.control),
        // The sender rings us when it posts; we ring the sender when we free a slot.
        receiver_(viewOf(recvFifo_, ctx.slots), *link.control) {}
  SendEndpoint& sender() override { return sender_; }
  RecvEndpoint& receiver() override { return receiver_; }
  bool progress() override { return false; }
  // Posted data lies in the peer's own FIFO, which stays mapped there whatever we do.
  bool sendDrained() const override { return true; }

  void checkPeer() override {
    const ControlBlock* b = link_.control->block();
    if (b->aborted.load(std::memory_order_acquire) != 0)
      throw Error(ErrorCode::kRemote, peerAborted(describe(), b->reason));
    if (link_.gone()) peerGone(describe(), link_.control);
  }

  std::string describe() const override { return describePeer(ctx_, peer_); }

 private:
  const TransportContext& ctx_;
  int peer_;
  PeerLink& link_;
  FifoMemory sendFifo_;
  FifoMemory recvFifo_;
  ShmSender sender_;
  ShmReceiver receiver_;
};

// Setting up a connection: each side creates the FIFO it receives on and announces it to the
// peer over their link; the connection is ready when the peer's announcement has arrived. A rank
// answers an announcement by itself (service()), so it need not be connecting to that peer at the
// same moment: the engine may be busy with another peer, or asleep (the announcing side rings its
// doorbell once it knows the peer's control block; the engine sleeps at most 50 ms anyway).
class ShmTransport final : public Transport {
 public:
  explicit ShmTransport(const TransportContext& ctx)
      : ctx_(ctx),
        listener_(shm::listenLink(ctx.commId, ctx.rank)),
        epoll_(epoll_create1(EPOLL_CLOEXEC)) {
    if (!epoll_) throwSystemError(errno, "shm: epoll_create1 failed");
    watch(listener_.get(), kListener);
    int own = RankControl::ownFd(ctx.commId, ctx.rank);
    if (own >= 0) {
      ownControl_ = std::make_shared<RankControl>(
          RankControl::map(Fd(fcntl(own, F_DUPFD_CLOEXEC, 0)), ctx.rank));
      shm::registerControl(ctx.commId, ctx.rank, ownControl_);
    }
  }
  // Same-process peers no longer find this rank's FIFOs and control; connections keep theirs.
  ~ShmTransport() override { shm::forgetRank(ctx_.commId, ctx_.rank); }
  const char* name() const override { return "shm"; }
  std::string localAddress() override { return {}; }
  bool canReach(const PeerRecord& self, const PeerRecord& peer) const override {
    return self.hostHash == peer.hostHash;
  }

  Connection* connect(int connectionId, int peer) override {
    auto key = std::make_pair(connectionId, peer);
    pending_.insert(key);
    service();
    PeerLink& link = linkOf(peer);
    if (!announced(link, connectionId, peer)) announce(link, connectionId, peer);
    FifoMemory sendFifo;
    if (!takeTheirs(link, connectionId, peer, &sendFifo)) {
      checkWaiting(link, peer);
      return nullptr;
    }
    auto mine = link.mine.find(connectionId);
    auto conn = std::make_unique<ShmConnection>(ctx_, peer, link, std::move(sendFifo),
                                                std::move(mine->second));
    link.mine.erase(mine);
    PLEXUS_INFO(subsys::kShm, "connection %d to rank %d over shm (%u slots of %u bytes)",
                connectionId, peer, ctx_.slots.slots, ctx_.slots.slotBytes);
    Connection* raw = conn.get();
    connections_.emplace(key, std::move(conn));
    pending_.erase(key);
    return raw;
  }

  // Answers peers' announcements: on every 64th turn, and at once after this rank slept (a peer
  // that announced rang its doorbell).
  bool progress() override {
    uint32_t bell = ownControl_ ? ownControl_->block()->bell.load(std::memory_order_relaxed) : 0;
    if ((++turns_ & 63) != 0 && bell == lastBell_) return false;
    lastBell_ = bell;
    return service();
  }
  // Peers ring this rank's doorbell when they post or free a slot. While a connection is being
  // set up the engine also polls the links for the peer's answer.
  WakeSources wakeSources() const override { return {ownControl_.get(), !pending_.empty()}; }
  void addPollFds(std::vector<pollfd>& fds) override { fds.push_back({epoll_.get(), POLLIN, 0}); }
  // Peers read the reason from our control block when they stall or their link closes.
  void abortAll(const std::string& reason) override {
    if (ownControl_) ownControl_->markAborted(reason);
  }
  Costs costs() const override { return shmCosts(); }

 private:
  static constexpr int kListener = -1;
  static constexpr int kUnidentified = -2;

  void watch(int fd, int owner) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      throwSystemError(errno, "shm: epoll_ctl(ADD) failed");
    owners_[fd] = owner;
  }
  void unwatch(int fd) {
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    owners_.erase(fd);
  }

  bool announced(const PeerLink& link, int connectionId, int peer) const {
    return link.mine.count(connectionId) != 0 || connections_.count({connectionId, peer}) != 0;
  }

  // Accepts links and takes every waiting announcement, answering those this rank has not made
  // yet. True if anything arrived.
  bool service() {
    epoll_event events[64];
    bool any = answerLocal();
    for (;;) {
      int n = epoll_wait(epoll_.get(), events, 64, 0);
      if (n <= 0) return any;
      any = true;
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        auto owner = owners_.find(fd);
        if (owner == owners_.end()) continue;
        if (owner->second == kListener) {
          while (Fd s = shm::acceptLink(listener_.get())) {
            watch(s.get(), kUnidentified);
            unidentified_.push_back(std::move(s));
          }
        } else {
          readSocket(fd, owner->second);
        }
      }
      if (n < 64) return any;
    }
  }

  // Reads every message waiting on one socket (of `peer`, or not yet identified).
  void readSocket(int fd, int peer) {
    shm::LinkMessage m;
    std::vector<Fd> fds;
    for (;;) {
      shm::LinkRead r = shm::recvLink(fd, &m, &fds);
      if (r == shm::LinkRead::kNone) return;
      if (r == shm::LinkRead::kClosed || !trusted(m) || (peer >= 0 && m.from != peer)) {
        // A closed link marks its peer gone; that is an error only for a rank that waits on it.
        if (peer >= 0) links_[peer].closed = true;
        drop(fd, peer);
        return;
      }
      if (peer == kUnidentified) {
        peer = m.from;
        adopt(fd, peer);
      }
      take(linkOf(peer), peer, m, fds);
    }
  }

  // Moves an accepted socket to the link of the peer its first message named.
  void adopt(int fd, int peer) {
    for (auto it = unidentified_.begin(); it != unidentified_.end(); ++it)
      if (it->get() == fd) {
        linkOf(peer).sockets.push_back(std::move(*it));
        unidentified_.erase(it);
        owners_[fd] = peer;
        return;
      }
  }

  // Stops watching a socket; an unidentified one is closed, a peer's stays open (its link is
  // marked closed) so that its descriptor number is not reused while connections refer to it.
  void drop(int fd, int peer) {
    unwatch(fd);
    if (peer >= 0) return;
    for (auto it = unidentified_.begin(); it != unidentified_.end(); ++it)
      if (it->get() == fd) {
        unidentified_.erase(it);
        return;
      }
  }

  // Takes one announcement: the peer's control block (first time) and its FIFO; answers it.
  void take(PeerLink& link, int peer, const shm::LinkMessage& m, std::vector<Fd>& fds) {
    if (fds.size() != 2 || m.slotBytes != ctx_.slots.slotBytes || m.slots != ctx_.slots.slots)
      throwError(ErrorCode::kRemote,
                 "%s sent a FIFO of %u slots of %u bytes (this rank uses %u of %u) with %zu "
                 "descriptors; set PLEXUS_SLOTS and PLEXUS_SLOT_SIZE alike on every rank",
                 describePeer(ctx_, peer).c_str(), m.slots, m.slotBytes, ctx_.slots.slots,
                 ctx_.slots.slotBytes, fds.size());
    if (!link.control)
      link.control = std::make_shared<RankControl>(RankControl::map(std::move(fds[1]), peer));
    link.theirs[m.connection] = std::move(fds[0]);
    if (!announced(link, m.connection, peer)) announce(link, m.connection, peer);
  }

  // While waiting for a peer's half of a connection: fails, naming it, when its process is gone.
  // Checked at most every 200 ms.
  void checkWaiting(PeerLink& link, int peer) {
    auto now = std::chrono::steady_clock::now();
    if (now - lastWaitCheck_ < std::chrono::milliseconds(200)) return;
    lastWaitCheck_ = now;
    // A peer that failed (e.g. a PLEXUS_CHECK mismatch) says so in its control block and may
    // live on: whether a thread of this process or another process, it will not answer.
    if (link.control && link.control->block()->aborted.load() != 0)
      throw Error(ErrorCode::kRemote,
                  peerAborted(describePeer(ctx_, peer), link.control->block()->reason));
    if (link.local && link.control) {
      if (!shm::findControl(ctx_.commId, peer))
        throwError(ErrorCode::kRemote,
                   "%s (a thread of this process) destroyed its communicator while this rank was "
                   "connecting to it; check that rank's output for the cause",
                   describePeer(ctx_, peer).c_str());
    }
    if (link.gone() || processGone((*ctx_.peers)[static_cast<size_t>(peer)].pid))
      peerGone(describePeer(ctx_, peer), link.control);
  }

  // Creates our receive FIFO for the connection (within the budget) and hands it to the peer.
  // Without a link yet, this rank opens one (the peer may have opened one too).
  void announce(PeerLink& link, int connectionId, int peer) {
    size_t bytes = shm::fifoBytes(ctx_.slots.slotBytes, ctx_.slots.slots);
    budget_.check(ctx_, bytes, connectionId, peer);
    if (link.local) return announceLocal(link, connectionId, peer, bytes);
    if (link.sockets.empty() && !link.closed) {
      Fd s = shm::connectLink(ctx_.commId, peer, describePeer(ctx_, peer));
      if (!s) return;  // its backlog is full: connect() tries again
      watch(s.get(), peer);
      link.sockets.push_back(std::move(s));
    }
    if (link.closed) peerGone(describePeer(ctx_, peer), link.control);
    ShmSegment fifo =
        ShmSegment::create(formatString("plexus-fifo-c%d-from-r%d", connectionId, peer), bytes);
    int control = RankControl::ownFd(ctx_.commId, ctx_.rank);
    if (control < 0)
      throwError(ErrorCode::kInternal, "shm: rank %d has no control block registered", ctx_.rank);
    shm::LinkMessage m;
    m.magic = shm::kLinkMagic;
    m.version = shm::kLinkVersion;
    std::memcpy(m.secret, ctx_.secret, sizeof(m.secret));
    m.commId = ctx_.commId;
    m.from = ctx_.rank;
    m.connection = connectionId;
    m.slotBytes = ctx_.slots.slotBytes;
    m.slots = ctx_.slots.slots;
    shm::sendLink(link.sockets.front().get(), m, {fifo.fd(), control}, describePeer(ctx_, peer));
    fifo.closeFd();
    link.mine.emplace(connectionId, FifoMemory{std::move(fifo), nullptr});
    budget_.charge(bytes);
    // A peer that sleeps wakes to answer.
    if (link.control) link.control->ring();
  }

  // announce() for a same-process peer: our receive FIFO on the heap, published in the registry.
  // Waits (connect() tries again) until the peer's transport exists and registered its control.
  void announceLocal(PeerLink& link, int connectionId, int peer, size_t bytes) {
    if (!ownControl_)
      throwError(ErrorCode::kInternal, "shm: rank %d has no control block registered", ctx_.rank);
    if (!link.control) link.control = shm::findControl(ctx_.commId, peer);
    if (!link.control) return;
    auto fifo = std::make_shared<shm::InprocFifo>(bytes);
    shm::publishFifo({ctx_.commId, ctx_.rank, peer, connectionId}, fifo);
    link.mine.emplace(connectionId, FifoMemory{ShmSegment(), std::move(fifo)});
    budget_.charge(bytes);
    link.control->ring();  // a peer that sleeps wakes to answer
  }

  // The peer's receive FIFO for the connection (our send FIFO) once both halves are there.
  bool takeTheirs(PeerLink& link, int connectionId, int peer, FifoMemory* out) {
    if (link.mine.count(connectionId) == 0) return false;
    if (link.local) {
      std::shared_ptr<shm::InprocFifo> f =
          shm::takeFifo({ctx_.commId, peer, ctx_.rank, connectionId});
      if (!f) return false;
      out->local = std::move(f);
      return true;
    }
    auto theirs = link.theirs.find(connectionId);
    if (theirs == link.theirs.end()) return false;
    out->segment = ShmSegment::map(std::move(theirs->second),
                                   shm::fifoBytes(ctx_.slots.slotBytes, ctx_.slots.slots),
                                   formatString("FIFO to rank %d", peer));
    link.theirs.erase(theirs);
    return true;
  }

  // Answers the announcements same-process peers made to this rank. True if there were any.
  bool answerLocal() {
    std::vector<std::pair<int, int>> notes = shm::takeInbox(ctx_.commId, ctx_.rank);
    for (const auto& [peer, connectionId] : notes) {
      PeerLink& link = linkOf(peer);
      if (!announced(link, connectionId, peer)) announce(link, connectionId, peer);
    }
    return !notes.empty();
  }

  // The link of `peer`, made on first use; a peer of this host and process is marked local.
  PeerLink& linkOf(int peer) {
    auto [it, made] = links_.try_emplace(peer);
    if (made) {
      const PeerRecord& self = (*ctx_.peers)[static_cast<size_t>(ctx_.rank)];
      const PeerRecord& rec = (*ctx_.peers)[static_cast<size_t>(peer)];
      it->second.local = rec.hostHash == self.hostHash && rec.pid == self.pid && rec.pid > 0;
    }
    return it->second;
  }

  // Checks a message's origin; false (and a warning) for a stranger's.
  bool trusted(const shm::LinkMessage& m) const {
    bool ok = m.magic == shm::kLinkMagic && m.version == shm::kLinkVersion &&
              m.commId == ctx_.commId &&
              std::memcmp(m.secret, ctx_.secret, sizeof(m.secret)) == 0 && m.from >= 0 &&
              m.from < ctx_.nranks && m.from != ctx_.rank;
    if (!ok)
      PLEXUS_WARN(subsys::kShm,
                  "rank %d: dropped a local link that did not present this job's id and secret",
                  ctx_.rank);
    return ok;
  }

  const TransportContext& ctx_;
  Fd listener_;
  Fd epoll_;
  // Our own block, mapped once more: its bell tells progress() that a peer announced, and it is
  // the doorbell waiters sleep on (mutable: handed out by wakeSources()).
  // Shared with same-process peers through the registry.
  std::shared_ptr<RankControl> ownControl_;
  uint32_t lastBell_ = 0;
  uint64_t turns_ = 0;
  shm::Budget budget_;
  std::map<int, PeerLink> links_;          // node-stable: connections refer to their link
  std::vector<Fd> unidentified_;           // accepted links whose first message has not come
  std::map<int, int> owners_;              // watched fd -> peer rank, kListener or kUnidentified
  std::set<std::pair<int, int>> pending_;  // (connection id, peer) being set up
  std::chrono::steady_clock::time_point lastWaitCheck_{};
  std::map<std::pair<int, int>, std::unique_ptr<ShmConnection>> connections_;
};

}  // namespace

std::unique_ptr<Transport> makeShmTransport(const TransportContext& ctx) {
  return std::make_unique<ShmTransport>(ctx);
}

// Copies through a FIFO in the peers' shared memory: a cache-to-cache hop per small message, a
// memory copy's bandwidth per connection for large ones. Two channels keep a host's cores busy.
Costs shmCosts() {
  Costs c;
  c.latencyUs = 1.0;
  c.bandwidthGBps = 10.0;
  c.messageUs = 1.0;
  c.registersMemory = false;
  c.maxChannels = 2;
  return c;
}

}  // namespace plexus::transport
