// One round of the bootstrap's all-gather and barrier: send a message on one link while receiving
// one on another (both at once, so neither side's socket buffer can stall the pair), and the
// encoding of a run of blobs in such a message.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "base/deadline.hpp"
#include "runtime/bootstrap_links.hpp"

namespace plexus::runtime {

// Sends `out` (length-prefixed) on `sendTo` and returns the message received on `recvFrom`.
// `self` ("rank R of N") starts every error, which names the peer and its address. When it fails
// after `out` went out whole, the reason follows it on `sendTo` as a give-up frame.
std::string exchangeMessage(const BootstrapLink& sendTo, const std::string& out,
                            const BootstrapLink& recvFrom, Deadline deadline,
                            const std::atomic<bool>* abort, const std::string& self);

// Looks, consuming nothing, at what arrived on `link` (one this rank receives messages on) before
// the exchange: throws when its peer sent a give-up frame (first, or after whole messages), or
// closed or reset it (`hungUp`: poll said so; the peer is gone), `self` starting the error;
// returns when nothing, or messages without a notice, are there.
void checkIncoming(const BootstrapLink& link, bool hungUp, const std::string& self);

// Tells the rank on `link` (one this rank would send a message of a later round to) that this rank
// gives up on the call, and why: its exchangeMessage reads that in place of the message and
// throws naming this rank and the reason. Best effort, never blocks.
void sendGivingUp(const BootstrapLink& link, const std::string& reason);

// `count` blobs from `first` on, as one message: their lengths, then their bytes.
std::string encodeBlobs(const std::vector<std::string>& blobs, size_t first, size_t count);
// Appends the `count` blobs of `message` to `into`; throws naming `from` when it holds others.
void decodeBlobs(const std::string& message, size_t count, std::vector<std::string>& into,
                 const std::string& from);

}  // namespace plexus::runtime
