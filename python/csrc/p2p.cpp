// P2PMatcher (p2p.hpp): tagged sends and receives, any-source receives.
#include "p2p.hpp"

#include <cstring>

namespace plexus_torch {

P2PMatcher::P2PMatcher(plexus::Communicator comm)
    : comm_(std::move(comm)),
      rank_(comm_.rank()),
      size_(comm_.size()),
      unexpected_(static_cast<size_t>(size_)),
      headers_(static_cast<size_t>(size_)),
      thread_([this] { run(); }) {}

P2PMatcher::~P2PMatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  // Receives nobody will match any more: fail them rather than leave their waiters hanging.
  for (auto& r : pending_)
    r.work->failNow("the process group was destroyed before a matching message arrived");
}

void P2PMatcher::send(const c10::intrusive_ptr<WorkPlexus>& work, const void* data, size_t nbytes,
                      int peer, int64_t tag) {
  auto header = at::empty({static_cast<int64_t>(sizeof(Header))}, at::kByte);
  Header h{tag, static_cast<int64_t>(nbytes)};
  std::memcpy(header.data_ptr(), &h, sizeof(h));
  work->keepAlive(header);
  std::lock_guard<std::mutex> lock(mutex_);
  work->addRequest(
      comm_.send(header.data_ptr(), sizeof(Header), plexus::DataType::kUint8, peer, true));
  if (nbytes > 0) work->addRequest(comm_.send(data, nbytes, plexus::DataType::kUint8, peer, true));
}

void P2PMatcher::recv(const c10::intrusive_ptr<WorkPlexus>& work, at::Tensor dst, int peer,
                      int64_t tag, std::function<void()> finish) {
  work->setArmed(false);
  PendingRecv r{work, std::move(dst), peer, tag, std::move(finish)};
  std::lock_guard<std::mutex> lock(mutex_);
  // A message that already arrived (the oldest of them, for any-source) goes first.
  int bestPeer = -1;
  size_t bestIndex = 0;
  uint64_t bestOrder = UINT64_MAX;
  for (int p = 0; p < size_; ++p) {
    if (peer >= 0 ? p != peer : p == rank_) continue;
    auto& q = unexpected_[static_cast<size_t>(p)];
    for (size_t i = 0; i < q.size(); ++i)
      if (q[i].tag == tag) {
        if (q[i].order < bestOrder) {
          bestOrder = q[i].order;
          bestPeer = p;
          bestIndex = i;
        }
        break;
      }
  }
  if (bestPeer >= 0) {
    auto& q = unexpected_[static_cast<size_t>(bestPeer)];
    Unexpected u = std::move(q[bestIndex]);
    q.erase(q.begin() + static_cast<std::ptrdiff_t>(bestIndex));
    takeUnexpectedLocked(r, bestPeer, std::move(u));
    return;
  }
  pending_.push_back(std::move(r));
  if (peer >= 0) {
    postHeaderLocked(peer);
  } else {
    for (int p = 0; p < size_; ++p)
      if (p != rank_) postHeaderLocked(p);
  }
  cv_.notify_all();
}

size_t P2PMatcher::pendingReceives() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pending_.size();
}

void P2PMatcher::abort() {
  comm_.abort();
}

void P2PMatcher::postHeaderLocked(int peer) {
  HeaderSlot& s = headers_[static_cast<size_t>(peer)];
  if (s.posted) return;
  s.posted = true;
  s.request = comm_.recv(&s.header, sizeof(Header), plexus::DataType::kUint8, peer, true);
}

bool P2PMatcher::wantsPeerLocked(int peer) const {
  for (const auto& r : pending_)
    if (r.peer == peer || (r.peer < 0 && peer != rank_)) return true;
  return false;
}

void P2PMatcher::takeUnexpectedLocked(PendingRecv& r, int peer, Unexpected u) {
  at::Tensor buffer = u.buffer;
  at::Tensor dst = r.dst;
  auto finish = std::move(r.finish);
  int64_t tag = u.tag;
  r.work->keepAlive(buffer);
  r.work->arm(
      u.request,
      [buffer, dst, finish, peer, tag]() {
        size_t want = dst.numel() * dst.element_size();
        if (static_cast<size_t>(buffer.numel()) != want)
          throw std::runtime_error("message from rank " + std::to_string(peer) + " with tag " +
                                   std::to_string(tag) + " has " + std::to_string(buffer.numel()) +
                                   " bytes; the receive tensor has " + std::to_string(want));
        if (want > 0) std::memcpy(dst.data_ptr(), buffer.data_ptr(), want);
        if (finish) finish();
      },
      peer);
}

void P2PMatcher::deliverLocked(PendingRecv& r, int peer, const Header& h) {
  size_t want = r.dst.numel() * r.dst.element_size();
  if (static_cast<size_t>(h.nbytes) != want) {
    // Keep the stream in step: take the payload into a buffer, then report the mismatch.
    Unexpected u{h.tag, at::empty({h.nbytes}, at::kByte), plexus::Request(), 0};
    if (h.nbytes > 0)
      u.request = comm_.recv(u.buffer.data_ptr(), static_cast<size_t>(h.nbytes),
                             plexus::DataType::kUint8, peer, true);
    takeUnexpectedLocked(r, peer, std::move(u));
    return;
  }
  plexus::Request req;
  if (want > 0) req = comm_.recv(r.dst.data_ptr(), want, plexus::DataType::kUint8, peer, true);
  r.work->arm(req, std::move(r.finish), peer);
}

void P2PMatcher::onHeaderLocked(int peer) {
  HeaderSlot& s = headers_[static_cast<size_t>(peer)];
  s.posted = false;
  if (auto e = s.request.error()) {
    std::string msg = std::string("receiving a message header from rank ") + std::to_string(peer) +
                      ": " + e->what();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->peer == peer) {
        it->work->failNow(msg);
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    return;
  }
  Header h = s.header;
  s.request = plexus::Request();
  if (h.nbytes < 0) h.nbytes = 0;
  bool matched = false;
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if ((it->peer == peer || (it->peer < 0 && peer != rank_)) && it->tag == h.tag) {
      PendingRecv r = std::move(*it);
      pending_.erase(it);
      deliverLocked(r, peer, h);
      matched = true;
      break;
    }
  }
  if (!matched) {
    Unexpected u{h.tag, at::empty({h.nbytes}, at::kByte), plexus::Request(), arrivals_};
    if (h.nbytes > 0)
      u.request = comm_.recv(u.buffer.data_ptr(), static_cast<size_t>(h.nbytes),
                             plexus::DataType::kUint8, peer, true);
    unexpected_[static_cast<size_t>(peer)].push_back(std::move(u));
  }
  ++arrivals_;
  if (wantsPeerLocked(peer)) postHeaderLocked(peer);
}

void P2PMatcher::run() {
  size_t next = 0;
  while (true) {
    plexus::Request waitOn;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      auto anyPosted = [this] {
        for (const auto& s : headers_)
          if (s.posted) return true;
        return false;
      };
      cv_.wait(lock, [&] { return stop_ || anyPosted(); });
      if (stop_) return;
      bool handled = false;
      for (int p = 0; p < size_; ++p) {
        HeaderSlot& s = headers_[static_cast<size_t>(p)];
        if (s.posted && s.request.test()) {
          onHeaderLocked(p);
          handled = true;
        }
      }
      if (handled) continue;
      // Sleep on one posted header (round robin), looking at the others every millisecond.
      for (size_t i = 0; i < headers_.size(); ++i) {
        size_t p = (next + i) % headers_.size();
        if (headers_[p].posted) {
          waitOn = headers_[p].request;
          next = p + 1;
          break;
        }
      }
    }
    try {
      waitOn.waitFor(std::chrono::milliseconds(1));
    } catch (const std::exception&) {
      // seen by onHeaderLocked
    }
  }
}

}  // namespace plexus_torch
