// Credit-based flow control of one slot FIFO direction, as pure state machines (no I/O), shared by
// the network plugins (ofi, ucx, ibverbs) and unit-tested on their own.
//
// Sender: the user acquires a staging slot, fills it and posts it (frame n). A frame may be
// transmitted only while the receiver has a free slot for it: n < credited + slots, where
// `credited` is the receiver's cumulative count of released slots (its credits). A staging slot is
// reused once the fabric reports the frame's local completion. Completions may arrive out of order.
//
// Receiver: frame n lands in slot n % slots; arrivals may complete out of order (several QPs or
// rails), the consumer sees frames strictly in order and releases them one by one; every release
// is a credit to return to the sender (cumulative count, so lost or reordered credit messages only
// delay, never corrupt).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace plexus::transport::flow {

class SendFlow {
 public:
  explicit SendFlow(uint32_t slots) : slots_(slots), done_(slots, false) {}

  uint32_t slots() const { return slots_; }
  // A staging slot is free for the next frame.
  bool canAcquire() const { return posted_ - completed_ < slots_; }
  // The frame number the next acquire()/post() uses (its staging slot is next() % slots).
  uint64_t next() const { return posted_; }
  // The user posted the acquired frame; returns its number.
  uint64_t post();
  // A posted frame waits and the receiver has room for it.
  bool canTransmit() const { return transmitted_ < posted_ && transmitted_ < credited_ + slots_; }
  // The next frame to transmit (valid when canTransmit()).
  uint64_t nextToTransmit() const { return transmitted_; }
  void transmitted() { ++transmitted_; }
  // The fabric finished frame `n` locally (its staging slot may be refilled). Returns false (and
  // changes nothing) if `n` was never transmitted or already completed.
  bool complete(uint64_t n);
  // The receiver has released `count` frames in total. Returns false for an impossible count
  // (more than were transmitted); an older count than known is ignored.
  bool credit(uint64_t count);

  uint64_t posted() const { return posted_; }
  uint64_t transmittedCount() const { return transmitted_; }
  uint64_t completedCount() const { return completed_; }
  uint64_t credited() const { return credited_; }
  // Everything posted has been transmitted and has completed locally.
  bool drained() const { return completed_ == posted_; }
  // Everything posted has been released by the receiver.
  bool consumed() const { return credited_ == posted_; }
  // Frames posted but held back for lack of credits.
  uint64_t waitingForCredit() const { return posted_ - transmitted_; }

 private:
  uint32_t slots_;
  uint64_t posted_ = 0, transmitted_ = 0, completed_ = 0, credited_ = 0;
  std::vector<bool> done_;  // per staging slot: completed out of order, not yet counted
};

class RecvFlow {
 public:
  explicit RecvFlow(uint32_t slots) : slots_(slots), parts_(slots, 0), expected_(slots, 0) {}

  uint32_t slots() const { return slots_; }
  // Frame `n` may land now (its slot is free).
  bool accepts(uint64_t n) const { return n >= released_ && n < released_ + slots_; }
  // One of `parts` pieces of frame `n` arrived. Returns false for a frame outside the window, a
  // piece count that disagrees with earlier pieces of the frame, or too many pieces.
  bool arrive(uint64_t n, uint32_t parts = 1);
  // The oldest unreleased frame is complete.
  bool ready() const;
  // Number of the oldest unreleased frame (what ready() refers to).
  uint64_t head() const { return released_; }
  // Releases the oldest frame (must be ready()); returns the new cumulative release count.
  uint64_t release();
  uint64_t released() const { return released_; }
  // Credits to send: releases since the last credit sent.
  bool creditDue() const { return released_ > creditSent_; }
  // Records that a credit carrying `count` went out.
  void creditSent(uint64_t count) {
    if (count > creditSent_) creditSent_ = count;
  }
  uint64_t creditSentCount() const { return creditSent_; }

 private:
  uint32_t slots_;
  uint64_t released_ = 0, creditSent_ = 0;
  std::vector<uint32_t> parts_;     // pieces arrived per slot
  std::vector<uint32_t> expected_;  // pieces expected per slot (0 = none arrived yet)
};

}  // namespace plexus::transport::flow
