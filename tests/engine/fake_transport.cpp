// The in-memory transport of the engine tests.
#include "fake_transport.hpp"

#include <algorithm>
#include <tuple>

#include "base/error.hpp"
#include "base/futex.hpp"

namespace plexus::enginetest {

uint32_t FakeDoorbell::arm() {
  uint32_t seen = bell_.load(std::memory_order_acquire);
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  return seen;
}

void FakeDoorbell::sleep(uint32_t seen, std::chrono::nanoseconds max) {
  futexWait(&bell_, seen, max, /*processShared=*/false);
}

void FakeDoorbell::disarm() {
  sleepers_.fetch_sub(1, std::memory_order_seq_cst);
}

void FakeDoorbell::ring() {
  bell_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) != 0) futexWakeAll(&bell_, false);
}

FakeNetwork::FakeNetwork(int n, uint32_t bytes, uint32_t count)
    : slotBytes(bytes), slots(count), nranks(n) {
  for (int r = 0; r < n; ++r) doorbells_.push_back(std::make_unique<FakeDoorbell>());
}

FakeNetwork::Queue& FakeNetwork::queue(int connectionId, int from, int to) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& q = queues_[std::make_tuple(connectionId, from, to)];
  if (!q) q = std::make_unique<Queue>();
  return *q;
}

void FakeNetwork::breakLink(int a, int b) {
  std::lock_guard<std::mutex> lock(mutex_);
  broken_.emplace_back(std::min(a, b), std::max(a, b));
}

bool FakeNetwork::broken(int a, int b) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::find(broken_.begin(), broken_.end(),
                   std::make_pair(std::min(a, b), std::max(a, b))) != broken_.end();
}

void FakeNetwork::markAborted(int rank, const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    aborted_.emplace(rank, reason);
  }
  for (auto& d : doorbells_) d->ring();
}

std::string FakeNetwork::abortReason(int rank) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = aborted_.find(rank);
  return it != aborted_.end() ? it->second : std::string();
}

namespace {

// One connection (both directions) between `rank` and `peer` on one connection id.
class FakeConnection final : public transport::Connection,
                             public transport::SendEndpoint,
                             public transport::RecvEndpoint {
 public:
  FakeConnection(FakeNetwork& net, int connectionId, int rank, int peer)
      : net_(net),
        rank_(rank),
        peer_(peer),
        out_(net.queue(connectionId, rank, peer)),
        in_(net.queue(connectionId, peer, rank)),
        staging_(net.slotBytes) {}
  transport::SendEndpoint& sender() override { return *this; }
  transport::RecvEndpoint& receiver() override { return *this; }

  std::byte* acquire() override {
    checkLink();
    std::lock_guard<std::mutex> lock(out_.mutex);
    return out_.messages.size() < net_.slots ? staging_.data() : nullptr;
  }
  void post(uint32_t bytes, uint32_t tag) override {
    checkLink();
    {
      std::lock_guard<std::mutex> lock(out_.mutex);
      out_.messages.push_back(
          {std::vector<std::byte>(staging_.begin(), staging_.begin() + bytes), bytes, tag});
    }
    net_.doorbell(peer_).ring();
  }
  const std::byte* peek(uint32_t* bytes, uint32_t* tag) override {
    checkLink();
    std::lock_guard<std::mutex> lock(in_.mutex);
    if (in_.messages.empty()) return nullptr;
    // Deque elements stay where they are until popped: the pointer outlives the lock.
    const FakeNetwork::Message& m = in_.messages.front();
    *bytes = m.bytes;
    *tag = m.tag;
    return m.data.data();
  }
  void release() override {
    {
      std::lock_guard<std::mutex> lock(in_.mutex);
      in_.messages.pop_front();
    }
    net_.doorbell(peer_).ring();
  }
  bool progress() override { return false; }
  void checkPeer() override {
    checkLink();
    std::string reason = net_.abortReason(peer_);
    if (!reason.empty())
      throwError(ErrorCode::kRemote, "%s aborted: %s", describe().c_str(), reason.c_str());
  }
  bool sendDrained() const override { return true; }
  std::string describe() const override {
    return formatString("rank %d (in-process) over fake", peer_);
  }

 private:
  void checkLink() const {
    if (net_.broken(rank_, peer_))
      throwError(ErrorCode::kRemote, "%s: the link broke; check the fake network",
                 describe().c_str());
  }

  FakeNetwork& net_;
  int rank_;
  int peer_;
  FakeNetwork::Queue& out_;
  FakeNetwork::Queue& in_;
  std::vector<std::byte> staging_;
};

}  // namespace

transport::Connection* FakeTransport::connect(int connectionId, int peer) {
  connections_.push_back(std::make_unique<FakeConnection>(net_, connectionId, rank_, peer));
  return connections_.back().get();
}

transport::Connection* FakeProvider::connect(int connectionId, int peer) {
  auto key = std::make_pair(connectionId, peer);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  transport::Connection* c = t_.connect(connectionId, peer);
  if (c != nullptr) cache_.emplace(key, c);
  return c;
}

}  // namespace plexus::enginetest
