// Tagged point-to-point messages with receive-from-any-source, over a Plexus communicator that
// carries nothing else. Plexus sends and receives match in FIFO order per peer and carry no tag,
// so each message here is a 16-byte header (tag, byte count) followed by its payload. A receive
// posts a header receive on the peer it names (every other rank for any-source); a matcher thread
// reads arriving headers and gives each message to the first pending receive with the same
// source and tag, or keeps it (received into a buffer) until such a receive comes, as Gloo does.
//
// Limitation, until Plexus has a cancellable or any-source receive: an any-source receive leaves
// header receives posted on the ranks that did not match; they take those ranks' next messages
// (correctly), but while one is pending Plexus counts it as outstanding work (stall timeout
// PLEXUS_TIMEOUT, peer-exit detection on this communicator).
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "work.hpp"

namespace plexus_torch {

class P2PMatcher {
 public:
  explicit P2PMatcher(plexus::Communicator comm);
  ~P2PMatcher();
  P2PMatcher(const P2PMatcher&) = delete;
  P2PMatcher& operator=(const P2PMatcher&) = delete;

  // Sends `nbytes` from `data` (kept alive by `work`) to `peer` with `tag`.
  void send(const c10::intrusive_ptr<WorkPlexus>& work, const void* data, size_t nbytes, int peer,
            int64_t tag);
  // Receives into `dst` (contiguous, kept alive by `work`) from `peer` (-1: any) with `tag`.
  // `finish` runs after the payload arrived (copy back to a non-contiguous tensor).
  void recv(const c10::intrusive_ptr<WorkPlexus>& work, at::Tensor dst, int peer, int64_t tag,
            std::function<void()> finish);
  // Receives still waiting for a message.
  size_t pendingReceives() const;
  void abort();

 private:
  struct Header {
    int64_t tag;
    int64_t nbytes;
  };
  struct PendingRecv {
    c10::intrusive_ptr<WorkPlexus> work;
    at::Tensor dst;
    int peer;  // -1: any
    int64_t tag;
    std::function<void()> finish;
  };
  struct Unexpected {
    int64_t tag;
    at::Tensor buffer;
    plexus::Request request;
    uint64_t order;
  };
  struct HeaderSlot {
    bool posted = false;
    Header header{};
    plexus::Request request;
  };

  void run();
  void postHeaderLocked(int peer);
  bool wantsPeerLocked(int peer) const;
  void onHeaderLocked(int peer);
  void deliverLocked(PendingRecv& r, int peer, const Header& h);
  void takeUnexpectedLocked(PendingRecv& r, int peer, Unexpected u);

  plexus::Communicator comm_;
  int rank_;
  int size_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<PendingRecv> pending_;
  std::vector<std::deque<Unexpected>> unexpected_;
  std::vector<HeaderSlot> headers_;
  uint64_t arrivals_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace plexus_torch
