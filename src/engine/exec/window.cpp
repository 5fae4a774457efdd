// Window layouts: directory, regions and the FIFOs of a plan resolved to addresses.
#include "engine/exec/window.hpp"

#include <algorithm>
#include <cstring>

#include "base/error.hpp"

namespace plexus::engine::exec {
namespace {

uint64_t roundUp(uint64_t v, uint64_t to) {
  return (v + to - 1) / to * to;
}

uint64_t regionBytes(bool send, uint32_t slots, uint32_t slotBytes) {
  return send ? 2 * kCounterLine : 2 * kCounterLine + slots * slotStride(slotBytes);
}

}  // namespace

WindowLayout WindowLayout::build(int rank, std::vector<FifoKey> fifos, uint32_t slots,
                                 uint32_t slotBytes) {
  std::sort(fifos.begin(), fifos.end());
  fifos.erase(std::unique(fifos.begin(), fifos.end()), fifos.end());
  WindowLayout w;
  w.rank_ = rank;
  w.slots_ = slots;
  w.slotBytes_ = slotBytes;
  uint64_t at =
      roundUp(sizeof(WindowHeader) + fifos.size() * sizeof(WindowEntry), 4096);  // directory
  for (const FifoKey& k : fifos) {
    WindowEntry e;
    e.connection = k.connection;
    e.peer = k.peer;
    e.send = k.send ? 1 : 0;
    e.offset = at;
    at += roundUp(regionBytes(k.send, slots, slotBytes), 4096);
    w.entries_.push_back(e);
  }
  w.size_ = at;
  return w;
}

WindowLayout WindowLayout::read(const void* base, uint64_t mappedBytes, const std::string& who) {
  WindowHeader h;
  if (mappedBytes < sizeof(h))
    throwError(ErrorCode::kRemote, "%s: window of %llu bytes has no header", who.c_str(),
               static_cast<unsigned long long>(mappedBytes));
  std::memcpy(&h, base, sizeof(h));
  if (h.magic != kWindowMagic || h.size > mappedBytes ||
      sizeof(h) + uint64_t{h.nentries} * sizeof(WindowEntry) > mappedBytes) {
    throwError(ErrorCode::kRemote,
               "%s: the mapped memory is not a step-interpreter window (magic %llx, size %llu of "
               "%llu mapped); the name passed to connect() is wrong",
               who.c_str(), static_cast<unsigned long long>(h.magic),
               static_cast<unsigned long long>(h.size),
               static_cast<unsigned long long>(mappedBytes));
  }
  WindowLayout w;
  w.rank_ = h.rank;
  w.slots_ = h.slots;
  w.slotBytes_ = h.slotBytes;
  w.size_ = h.size;
  w.entries_.resize(h.nentries);
  std::memcpy(w.entries_.data(), static_cast<const unsigned char*>(base) + sizeof(h),
              h.nentries * sizeof(WindowEntry));
  for (const WindowEntry& e : w.entries_) {
    if (e.offset + regionBytes(e.send != 0, h.slots, h.slotBytes) > h.size)
      throwError(ErrorCode::kRemote, "%s: window directory entry beyond the window", who.c_str());
  }
  return w;
}

std::vector<int> WindowLayout::peers() const {
  std::vector<int> out;
  for (const WindowEntry& e : entries_) out.push_back(e.peer);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<uint64_t> WindowLayout::find(int connection, int peer, bool send) const {
  for (const WindowEntry& e : entries_)
    if (e.connection == connection && e.peer == peer && (e.send != 0) == send) return e.offset;
  return std::nullopt;
}

std::vector<unsigned char> WindowLayout::image(int pid) const {
  WindowHeader h;
  h.magic = kWindowMagic;
  h.size = size_;
  h.rank = rank_;
  h.pid = pid;
  h.slots = slots_;
  h.slotBytes = slotBytes_;
  h.nentries = static_cast<uint32_t>(entries_.size());
  std::vector<unsigned char> out(sizeof(h) + entries_.size() * sizeof(WindowEntry));
  std::memcpy(out.data(), &h, sizeof(h));
  if (!entries_.empty())
    std::memcpy(out.data() + sizeof(h), entries_.data(), entries_.size() * sizeof(WindowEntry));
  return out;
}

void WindowLayout::writeTo(void* base, int pid) const {
  const std::vector<unsigned char> img = image(pid);
  std::memcpy(base, img.data(), img.size());
}

std::vector<ExecFifo> resolveFifos(const FlatPlan& plan, const WindowLayout& own,
                                   unsigned char* ownBase,
                                   const std::vector<const WindowLayout*>& peerLayouts,
                                   const std::vector<unsigned char*>& peerBases) {
  const int me = plan.header.rank;
  std::vector<ExecFifo> out;
  for (const FifoKey& k : plan.fifos) {
    const WindowLayout* peer = k.peer >= 0 && static_cast<size_t>(k.peer) < peerLayouts.size()
                                   ? peerLayouts[static_cast<size_t>(k.peer)]
                                   : nullptr;
    unsigned char* peerBase = peer != nullptr ? peerBases[static_cast<size_t>(k.peer)] : nullptr;
    const std::optional<uint64_t> mineAt = own.find(k.connection, k.peer, k.send);
    const std::optional<uint64_t> theirsAt =
        peer != nullptr ? peer->find(k.connection, me, !k.send) : std::nullopt;
    if (!mineAt || !theirsAt || peerBase == nullptr) {
      throwError(ErrorCode::kInvalidUsage,
                 "rank %d: the FIFO %s rank %d on connection %d of %s (%s) is missing from %s "
                 "window; every rank must set its executor up with the FIFOs of the same plans",
                 me, k.send ? "to" : "from", k.peer, k.connection,
                 algo::collectiveName(static_cast<algo::Collective>(plan.header.collective)),
                 plan.algorithm.c_str(), !mineAt ? "this rank's" : "the peer's");
    }
    ExecFifo f;
    f.peer = k.peer;
    f.connection = k.connection;
    f.send = k.send ? 1 : 0;
    const uint64_t mineOff = mineAt.value_or(0), theirsOff = theirsAt.value_or(0);
    unsigned char* ringRegion = k.send ? peerBase + theirsOff : ownBase + mineOff;
    unsigned char* counterRegion = k.send ? ownBase + mineOff : peerBase + theirsOff;
    f.posted = reinterpret_cast<uint64_t*>(ringRegion);
    f.ring = ringRegion + 2 * kCounterLine;
    f.consumed = reinterpret_cast<uint64_t*>(counterRegion);
    f.mine = reinterpret_cast<uint64_t*>(ownBase + mineOff + kCounterLine);
    out.push_back(f);
  }
  return out;
}

std::vector<FifoKey> unionFifos(const std::vector<const FlatPlan*>& plans) {
  std::vector<FifoKey> out;
  for (const FlatPlan* p : plans) out.insert(out.end(), p->fifos.begin(), p->fifos.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace plexus::engine::exec
