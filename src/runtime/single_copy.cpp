// Single copy: settings, the init-time agreement and probe, and which calls it serves
// (runtime/single_copy.hpp). The data path is single_copy_call.cpp.
#include "runtime/single_copy.hpp"

#include <sys/prctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"

namespace plexus::runtime {
namespace {

constexpr size_t kChunkBytes = 256 << 10;  // a peer's input is reduced from scratch this large
constexpr int kAutoMaxRanks = 64;          // PLEXUS_SINGLE_COPY=auto offers zero copy up to this

// What each rank publishes at init (the all-gather): its settings and its control block.
struct Hello {
  int32_t mode = 0;
  int32_t pad = 0;
  uint64_t threshold = 0;
  uint64_t block = 0;
};

const char* modeName(SingleCopyMode m) {
  return m == SingleCopyMode::kOn ? "1" : m == SingleCopyMode::kOff ? "0" : "auto";
}

std::string what(int err) {
  std::string s = std::strerror(err);
  if (err == EPERM || err == EACCES)
    s += " (check kernel.yama.ptrace_scope (0 or 1 allows it: Plexus sets PR_SET_PTRACER), the "
         "container's seccomp profile (process_vm_readv needs CAP_SYS_PTRACE in some) and that "
         "every rank runs as the same user)";
  else if (err == ENOSYS)
    s += " (the kernel lacks cross-memory attach: CONFIG_CROSS_MEMORY_ATTACH)";
  return s;
}

}  // namespace

SingleCopySettings singleCopySettingsFromEnv() {
  SingleCopySettings s;
  const std::string mode = envString("SINGLE_COPY", "auto");
  if (mode == "auto")
    s.mode = SingleCopyMode::kAuto;
  else if (mode == "0")
    s.mode = SingleCopyMode::kOff;
  else if (mode == "1")
    s.mode = SingleCopyMode::kOn;
  else
    throw Error(ErrorCode::kInvalidArgument,
                "PLEXUS_SINGLE_COPY=" + mode + ": expected auto, 0 or 1 (docs/environment.md)");
  s.threshold = envSize("SINGLE_COPY_MIN", 1u << 20);
  return s;
}

std::string singleCopyObstacle(const SingleCopySetup& s) {
  if (s.nranks < 2) return "one rank";
  const auto self = static_cast<size_t>(s.rank);
  for (size_t r = 0; r < s.hostHashes.size(); ++r) {
    if (s.hostHashes[r] != s.hostHashes[self])
      return "rank " + std::to_string(r) + " is on host " + s.hostNames[r];
    if (r != self && s.pids[r] == s.pids[self])
      return "rank " + std::to_string(r) + " shares this process";
  }
  return "";
}

SingleCopy::SingleCopy(SingleCopySetup setup)
    : setup_(std::move(setup)),
      words_(std::make_unique<Word[]>(static_cast<size_t>(setup_.nranks))),
      peerBlocks_(static_cast<size_t>(setup_.nranks), 0),
      scratch_(kChunkBytes) {}

SingleCopy::~SingleCopy() = default;

std::unique_ptr<SingleCopy> SingleCopy::create(SingleCopySetup setup, SingleCopySettings mine) {
  const std::string obstacle = singleCopyObstacle(setup);
  const std::string ctx = setup.context;
  if (!obstacle.empty()) {  // equal on every rank: no collective needed to agree
    if (mine.mode == SingleCopyMode::kOn)
      PLEXUS_INFO(subsys::kInit,
                  "%s: PLEXUS_SINGLE_COPY=1 but %s: collectives stay on the shm slots", ctx.c_str(),
                  obstacle.c_str());
    return nullptr;
  }
  // Auto offers zero copy only (buffers from ncclMemAlloc) and keeps the slots for other buffers:
  // on the reference VM process_vm_readv copies at half the speed of memcpy, and cross-memory
  // single copy measured slower than the slots whenever the machine was quiet
  // (docs/performance.md, "Single copy"). Off above kAutoMaxRanks: a rank whose buffers are
  // not shared tells every peer so, one system call each, on every offered call.
  if (mine.mode == SingleCopyMode::kAuto && setup.nranks > kAutoMaxRanks)
    mine.mode = SingleCopyMode::kOff;
  // Every rank decides alike from here (the mode must be set alike, like PLEXUS_SLOT_SIZE): off
  // costs no collective, so that hundreds of ranks on one host do not pay for it at init.
  if (mine.mode == SingleCopyMode::kOff) return nullptr;
  prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  std::unique_ptr<SingleCopy> sc(new SingleCopy(std::move(setup)));
  SingleCopySetup& s = sc->setup_;
  Hello hello{static_cast<int32_t>(mine.mode), 0, mine.threshold,
              reinterpret_cast<uint64_t>(sc->words_.get())};
  auto all = s.allGather(std::string(reinterpret_cast<const char*>(&hello), sizeof(hello)));
  Hello root{};
  for (int r = 0; r < s.nranks; ++r) {
    Hello h{};
    std::memcpy(&h, all[static_cast<size_t>(r)].data(),
                std::min(sizeof(h), all[static_cast<size_t>(r)].size()));
    sc->peerBlocks_[static_cast<size_t>(r)] = h.block;
    if (r == 0) root = h;
  }
  const auto mode = static_cast<SingleCopyMode>(root.mode);
  sc->threshold_ = root.threshold;  // rank 0's threshold holds
  sc->autoMode_ = mode == SingleCopyMode::kAuto;
  // Probe: one word of every peer's control block. A failure anywhere turns it off everywhere.
  std::string failure;
  for (int p = 0; p < s.nranks && failure.empty(); ++p) {
    if (p == s.rank) continue;
    uint64_t word = 0;
    iovec local{&word, sizeof(word)};
    iovec remote{reinterpret_cast<void*>(sc->peerBlocks_[static_cast<size_t>(p)]), sizeof(word)};
    if (process_vm_readv(s.pids[static_cast<size_t>(p)], &local, 1, &remote, 1, 0) !=
        static_cast<ssize_t>(sizeof(word)))
      failure = "rank " + std::to_string(s.rank) + " cannot read rank " + std::to_string(p) +
                " (pid " + std::to_string(s.pids[static_cast<size_t>(p)]) +
                ") with process_vm_readv: " + what(errno);
  }
  auto failures = s.allGather(failure);
  for (const auto& f : failures)
    if (!f.empty()) {
      PLEXUS_INFO(
          subsys::kInit,
          "%s: single copy (PLEXUS_SINGLE_COPY=%s) off, collectives stay on the shm slots: %s",
          ctx.c_str(), modeName(mode), f.c_str());
      return nullptr;
    }
  if (sc->autoMode_)
    PLEXUS_INFO(subsys::kInit,
                "%s: zero copy for all-reduces of at least %llu bytes whose buffers every rank "
                "took from ncclMemAlloc (PLEXUS_SINGLE_COPY=auto); other buffers keep the shm "
                "slots",
                ctx.c_str(), static_cast<unsigned long long>(sc->threshold_));
  else
    PLEXUS_INFO(subsys::kInit,
                "%s: single copy (cross-memory attach) for all-reduce, reduce-scatter and "
                "all-gather of at least %llu bytes",
                ctx.c_str(), static_cast<unsigned long long>(sc->threshold_));
  return sc;
}

bool SingleCopy::serves(algo::Collective c, uint64_t count, size_t elemSize) const {
  if (autoMode_) return false;
  uint64_t bytes = count * elemSize;
  if (c == algo::Collective::kReduceScatter || c == algo::Collective::kAllGather)
    bytes *= static_cast<uint64_t>(setup_.nranks);
  else if (c != algo::Collective::kAllReduce)
    return false;
  return bytes >= threshold_ && bytes > 0;
}

std::shared_ptr<const algo::Plan> SingleCopy::plan(algo::Collective c, uint64_t count) const {
  auto p = std::make_shared<algo::Plan>();
  p->algorithm = "single-copy";
  p->collective = c;
  p->nranks = setup_.nranks;
  p->rank = setup_.rank;
  p->count = count;
  const auto n = static_cast<uint64_t>(setup_.nranks);
  p->inputCount = c == algo::Collective::kReduceScatter ? count * n : count;
  p->outputCount = c == algo::Collective::kAllGather ? count * n : count;
  return p;
}

std::string SingleCopy::where(int peer) const {
  const auto p = static_cast<size_t>(peer);
  culprit_ = peer;
  return "single copy over shm (cross-memory attach) with peer rank " + std::to_string(peer) +
         " (host " + setup_.hostNames[p] + ", pid " + std::to_string(setup_.pids[p]) + ")";
}

}  // namespace plexus::runtime
