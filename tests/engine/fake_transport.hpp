// An in-memory transport for engine tests: ranks are threads of one process, each direction of a
// connection a bounded queue of slots. A link can be broken to make a rank's engine fail, and a
// rank that aborts is seen as gone by its peers (as shm's control block would say).
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/connection_provider.hpp"
#include "transports/common/transport.hpp"

namespace plexus::enginetest {

// This rank's doorbell in process-private memory: peers ring it after they post or free a slot.
class FakeDoorbell final : public transport::Doorbell {
 public:
  uint32_t arm() override;
  void sleep(uint32_t seen, std::chrono::nanoseconds max) override;
  void disarm() override;
  void ring();

 private:
  std::atomic<uint32_t> bell_{0};
  std::atomic<uint32_t> sleepers_{0};
};

// What all ranks share: the queues of every direction, the doorbells, broken links, aborts.
class FakeNetwork {
 public:
  FakeNetwork(int nranks, uint32_t slotBytes, uint32_t slots);

  struct Message {
    std::vector<std::byte> data;
    uint32_t bytes = 0;
    uint32_t tag = 0;
  };
  struct Queue {
    std::mutex mutex;
    std::deque<Message> messages;
  };
  Queue& queue(int connectionId, int from, int to);
  FakeDoorbell& doorbell(int rank) { return *doorbells_[static_cast<size_t>(rank)]; }

  // From now on every use of the a<->b link fails on both sides.
  void breakLink(int a, int b);
  bool broken(int a, int b) const;
  void markAborted(int rank, const std::string& reason);
  // The reason `rank` aborted with, or empty.
  std::string abortReason(int rank) const;

  const uint32_t slotBytes;
  const uint32_t slots;
  const int nranks;

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<int, int, int>, std::unique_ptr<Queue>> queues_;
  std::vector<std::unique_ptr<FakeDoorbell>> doorbells_;
  std::vector<std::pair<int, int>> broken_;
  std::map<int, std::string> aborted_;
};

class FakeTransport final : public transport::Transport {
 public:
  FakeTransport(FakeNetwork& net, int rank) : net_(net), rank_(rank) {}
  const char* name() const override { return "fake"; }
  std::string localAddress() override { return {}; }
  bool canReach(const transport::PeerRecord&, const transport::PeerRecord&) const override {
    return true;
  }
  transport::Connection* connect(int connectionId, int peer) override;
  bool progress() override { return false; }
  transport::WakeSources wakeSources() const override { return {&net_.doorbell(rank_), false}; }
  void abortAll(const std::string& reason) override { net_.markAborted(rank_, reason); }
  transport::Costs costs() const override { return {}; }
  // How many connections connect() handed out (the caller must cache them: one per pair).
  size_t connectionsMade() const { return connections_.size(); }

 private:
  FakeNetwork& net_;
  int rank_;
  std::vector<std::unique_ptr<transport::Connection>> connections_;
};

// The engine's view of one rank's transports: one fake transport, connections cached here.
class FakeProvider final : public engine::ConnectionProvider {
 public:
  explicit FakeProvider(FakeTransport& t) : t_(t) {}
  transport::Connection* connect(int connectionId, int peer) override;
  bool progressTransports() override { return t_.progress(); }
  transport::WakeSources wakeSources() const override { return t_.wakeSources(); }
  void addPollFds(std::vector<pollfd>& fds) override { t_.addPollFds(fds); }
  void abortTransports(const std::string& reason) override { t_.abortAll(reason); }

 private:
  FakeTransport& t_;
  std::map<std::pair<int, int>, transport::Connection*> cache_;
};

}  // namespace plexus::enginetest
