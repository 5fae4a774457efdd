// Communicator init, operations, split, finalize and abort.
#include "runtime/communicator.hpp"

#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <map>

#include "algorithms/registry.hpp"
#include "algorithms/topology_costs.hpp"
#include "base/cuda_runtime.hpp"
#include "base/env.hpp"
#include "base/error.hpp"
#include "base/host_id.hpp"
#include "base/log.hpp"
#include "runtime/call_check.hpp"
#include "runtime/flight_dumps.hpp"
#include "runtime/gpu_executor_choice.hpp"
#include "runtime/init_log.hpp"
#include "runtime/injected_system.hpp"
#include "runtime/launch_env.hpp"
#include "runtime/mapped_path.hpp"
#include "runtime/scale_support.hpp"
#include "runtime/single_copy.hpp"
#include "runtime/small_all_reduce.hpp"
#include "runtime/staged_executor.hpp"
#include "topology/discovery.hpp"

namespace plexus::runtime {
namespace {

// The last-level cache's size in bytes (L3, else L2), 0 when the C library cannot tell.
uint64_t lastLevelCacheBytes() {
  for (int name : {_SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE}) {
    const long v = sysconf(name);
    if (v > 0) return static_cast<uint64_t>(v);
  }
  return 0;
}

uint32_t signatureOf(const OpArgs& a) {
  uint64_t fields[5] = {static_cast<uint64_t>(a.collective), a.count, static_cast<uint64_t>(a.type),
                        static_cast<uint64_t>(a.op), static_cast<uint64_t>(a.root)};
  if (a.collective == algo::Collective::kSendRecv) fields[3] = fields[4] = 0;
  // A multiply-xorshift mix per field: runs on every call, so it must cost nanoseconds.
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (uint64_t f : fields) {
    h = (h ^ f) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  return static_cast<uint32_t>(h ^ (h >> 32));
}

// This host's topology, discovered once per process (PLEXUS_TOPO_FILE replaces discovery); it is
// immutable afterwards.
const topo::System& localSystem() {
  static const topo::System system = topo::loadLocalSystem();
  return system;
}

int launcherLocalRank() {
  try {
    if (auto env = runtime::detectLaunchEnv()) return env->localRank;
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace

std::unique_ptr<Communicator> Communicator::create(const runtime::UniqueId& id, int rank,
                                                   int nranks, const CommOptions& options) {
  std::unique_ptr<Communicator> c(new Communicator());
  c->init(id, rank, nranks, options);
  return c;
}

void Communicator::init(const runtime::UniqueId& id, int rank, int nranks,
                        const CommOptions& options) {
  rank_ = rank;
  nranks_ = nranks;
  context_ = formatString("rank %d of %d", rank, nranks);
  if (!options.name.empty()) context_ += " (" + options.name + ")";
  LogContext logContext(context_);
  timeout_ = options.timeout.count() > 0 ? options.timeout : defaultTimeout();
  Deadline deadline = Deadline::after(timeout_);
  const auto started = std::chrono::steady_clock::now();
  raiseFdLimitFor(nranks);

  connectBootstrap(id, options.name, deadline);
  const InitIdentity who{
      this, rank_, nranks_, hostName(), static_cast<int>(getpid()), bootstrap_->commId()};
  logInitStart(who);
  uint64_t shmBudget = gatherPeers(deadline);
  nameHosts();
  readChannelLimits();
  readReproducible(options.reproducible);
  setUpTransports(shmBudget, deadline);
  setUpTuner(selector_->linkCosts());
  logChannels(who, rings_);
  startFlightRecorder();
  startEngine();
  startMappedPath(deadline);
  if (options.check > 0 || (options.check < 0 && callCheckFromEnv()))
    checker_ = std::make_unique<CallChecker>(rank_, nranks_);
  startSingleCopy(deadline);
  startSmallAllReduce(deadline);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  PLEXUS_INFO(subsys::kInit | subsys::kBootstrap, "%s: initialised (%s) in %.1f ms",
              context_.c_str(), hostName().c_str(), seconds * 1e3);
  logInitComplete(who, cluster_->nhosts(), cluster_->localSize(rank_), seconds);
}

// Joins the bootstrap ring; from then on the context names the communicator's id.
void Communicator::connectBootstrap(const runtime::UniqueId& id, const std::string& name,
                                    Deadline deadline) {
  bootstrap_ = runtime::Bootstrap::connect(id, rank_, nranks_, deadline, &abort_);
  context_ =
      formatString("rank %d of %d, comm %08" PRIx64, rank_, nranks_, bootstrap_->commId() >> 32);
  if (!name.empty()) context_ += " (" + name + ")";
  control_ = transport::RankControl::create(bootstrap_->commId(), rank_);

  tctx_.commId = bootstrap_->commId();
  tctx_.rank = rank_;
  tctx_.nranks = nranks_;
  tctx_.slots = transport::slotConfigFromEnv();
  std::memcpy(tctx_.secret, bootstrap_->secret().data(), sizeof(tctx_.secret));
  tctx_.peers = &peers_;
  tctx_.abort = &abort_;
}

// First all-gather: who runs where, the FIFO geometry asked for, the budget, the topology. Fills
// peers_ and cluster_; returns the smallest shm budget of all ranks.
uint64_t Communicator::gatherPeers(Deadline deadline) {
  PeerInfo mine;
  mine.record.rank = rank_;
  mine.record.hostHash = hostHash();
  mine.record.hostName = hostName();
  mine.machineHash = machineHash();
  mine.record.pid = static_cast<int>(getpid());
  mine.slots = tctx_.slots;
  mine.shmBudget = transport::shmBudgetFromEnv();
  mine.topology = topo::makeRankSummary(rank_, launcherLocalRank(), localSystem()).serialize();
  mine.bootstrapAddress = bootstrap_->listenAddress();

  std::vector<std::string> blobs = bootstrap_->allGather(encodePeerInfo(mine), deadline);
  peers_.resize(static_cast<size_t>(nranks_));
  bootstrapAddrs_.resize(static_cast<size_t>(nranks_));
  std::vector<topo::RankSummary> summaries;
  uint64_t shmBudget = mine.shmBudget;
  machineRanks_ = 0;
  for (int r = 0; r < nranks_; ++r) {
    PeerInfo info = decodePeerInfo(blobs[static_cast<size_t>(r)], r);
    if (info.machineHash == mine.machineHash) ++machineRanks_;
    if (info.record.rank != r)
      throwError(ErrorCode::kRemote, "%s: peer description %d claims rank %d", context_.c_str(), r,
                 info.record.rank);
    if (info.slots.slotBytes != tctx_.slots.slotBytes || info.slots.slots != tctx_.slots.slots)
      throwError(ErrorCode::kInvalidUsage,
                 "%s: rank %d (host %s) uses %u slots of %u bytes, this rank %u of %u: set "
                 "PLEXUS_SLOTS and PLEXUS_SLOT_SIZE alike on every rank",
                 context_.c_str(), r, info.record.hostName.c_str(), info.slots.slots,
                 info.slots.slotBytes, tctx_.slots.slots, tctx_.slots.slotBytes);
    shmBudget = std::min(shmBudget, info.shmBudget);
    bootstrapAddrs_[static_cast<size_t>(r)] = std::move(info.bootstrapAddress);
    peers_[static_cast<size_t>(r)] = std::move(info.record);
    summaries.push_back(topo::RankSummary::deserialize(info.topology));
  }
  cluster_ = std::make_unique<topo::ClusterView>(std::move(summaries));
  PLEXUS_INFO(subsys::kGraph, "%s: %d host(s); rings keep each host's ranks together",
              context_.c_str(), cluster_->nhosts());
  return shmBudget;
}

// Distinct hosts that share a name (containers, network namespaces) get a short id appended, so
// that messages naming a peer's host tell them apart.
void Communicator::nameHosts() {
  std::vector<bool> ambiguous(peers_.size(), false);
  for (size_t i = 0; i < peers_.size(); ++i)
    for (size_t j = 0; j < peers_.size(); ++j)
      if (peers_[i].hostName == peers_[j].hostName && peers_[i].hostHash != peers_[j].hostHash)
        ambiguous[i] = true;
  for (size_t i = 0; i < peers_.size(); ++i)
    if (ambiguous[i])
      peers_[i].hostName +=
          formatString("#%06llx", static_cast<unsigned long long>(peers_[i].hostHash & 0xffffff));
}

// PLEXUS_NCHANNELS, PLEXUS_MIN_NCHANNELS and PLEXUS_MAX_NCHANNELS, clamped to what a plan holds.
void Communicator::readChannelLimits() {
  fixedChannels_ =
      static_cast<int>(std::clamp<int64_t>(envInt("NCHANNELS", 0), 0, algo::kMaxChannels));
  minChannels_ =
      static_cast<int>(std::clamp<int64_t>(envInt("MIN_NCHANNELS", 1), 1, algo::kMaxChannels));
  maxChannels_ =
      static_cast<int>(std::clamp<int64_t>(envInt("MAX_NCHANNELS", 0), 0, algo::kMaxChannels));
}

// CommOptions::reproducible, or PLEXUS_REPRODUCIBLE when it is -1 (docs/algorithms.md,
// "Reproducible mode"). Only level 1 exists; a higher level runs as 1 with a warning.
void Communicator::readReproducible(int option) {
  const int64_t level = option >= 0 ? option : envInt("REPRODUCIBLE", 0);
  reproducible_ = level > 0;
  if (level > 1) {
    PLEXUS_WARN(subsys::kInit | subsys::kTune,
                "%s: PLEXUS_REPRODUCIBLE=%lld: only level 1 (the same bits for a given world size) "
                "is implemented; using 1",
                context_.c_str(), static_cast<long long>(level));
  }
}

// The geometry every rank derives alike from what all sent: FIFOs small enough that a host's full
// mesh of shm connections, on as many channels as a plan may use, fits its budget. The transports
// are made for it, then a second all-gather spreads their addresses and each peer gets its
// transport.
void Communicator::setUpTransports(uint64_t shmBudget, Deadline deadline) {
  std::map<uint64_t, int> perHost;
  int maxLocal = 0;
  for (const auto& p : peers_) maxLocal = std::max(maxLocal, ++perHost[p.hostHash]);
  tctx_.slots = transport::fitSlotsToBudget(
      tctx_.slots, transport::slotConfigFromUser(), maxLocal, shmBudget,
      std::max({fixedChannels_, maxChannels_, minChannels_, transport::shmCosts().maxChannels}));
  std::vector<std::unique_ptr<transport::Transport>> transports = createTransports(tctx_);
  std::map<std::string, std::string> addresses;
  for (auto& t : transports) addresses[t->name()] = t->localAddress();
  addCostDeclarations(transports, addresses);
  std::vector<std::string> blobs = bootstrap_->allGather(encodeAddresses(addresses), deadline);
  for (int r = 0; r < nranks_; ++r)
    peers_[static_cast<size_t>(r)].addresses = decodeAddresses(blobs[static_cast<size_t>(r)], r);
  selector_ = std::make_unique<TransportSelector>(tctx_, std::move(transports));
  selector_->choose();
}

// Algorithms: custom plans, the filter, and the cost model of this cluster. One engine thread
// drives a rank's channels, so a few channels suffice to overlap steps. The link costs are what
// the transports declared (TransportSelector::linkCosts).
void Communicator::setUpTuner(const TransportSelector::LinkCosts& links) {
  customPlans_ = algo::loadPlanFileFromEnv(nranks_);
  algoFilter_ = algo::AlgoFilter::fromEnv(&customPlans_);
  costs_ = algo::costsFromCluster(*cluster_, links.local, links.remote);
  domains_ = algo::hierGroupsFromCluster(*cluster_);
  rings_ = algo::ringOrdersFromCluster(
      *cluster_, std::max({fixedChannels_, maxChannels_, costs_.maxChannels, 1}));
  // PLEXUS_SYSTEM: the costs, domains and (rail-matched) rings of a synthetic system instead.
  if (auto injected = injectedSystemFromEnv(
          rank_, nranks_, std::max({fixedChannels_, maxChannels_, links.local.maxChannels}))) {
    costs_ = std::move(injected->costs);
    domains_ = std::move(injected->groups);
    rings_ = std::move(injected->rings);
    systemInjected_ = true;
  }
}

void Communicator::startEngine() {
  engine::EngineConfig ec;
  ec.rank = rank_;
  ec.nranks = nranks_;
  ec.slotBytes = tctx_.slots.slotBytes;
  ec.timeout = timeout_;
  // Wait policy from this process's cores (its affinity): with a core per rank of this machine a
  // blocked caller polls for up to 1 ms, since waking from a futex costs tens of microseconds on
  // virtual machines, far more than a small all-reduce takes; with fewer cores a polling rank
  // would take the core its peer needs, so it does not poll: it yields the core at once (as Open
  // MPI's yield_when_idle does) for up to 1 ms, then sleeps. (8 ranks on 2 cores, 8 B: a 2 us
  // poll after each step held the core for 8 x 2 us per call while its peers waited; perf showed
  // ~10% of all cycles in that poll's clock reads; docs/performance.md, "Many ranks per core".) The
  // ranks counted are those of this kernel (machineHash), not of this host: "hosts" that are
  // network namespaces or containers of one machine share its cores (2 netns hosts x 2 ranks on 2
  // cores: 8 B all-reduce 1.2-2 ms when each polled 1 ms, 85 us yielding). (The tuner's cost model
  // judges oversubscription from the host summaries instead, which every rank sees alike:
  // algo::costsFromCluster.)
  int cores = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = CPU_COUNT(&set);
  const int sharing = std::max(cluster_->localSize(rank_), machineRanks_);
  bool oversubscribed = cores > 0 && sharing > cores;
  ec.spin = std::chrono::microseconds(envInt("SPIN_US", oversubscribed ? 0 : 1000));
  ec.yield = std::chrono::microseconds(envInt("YIELD_US", oversubscribed ? 1000 : 0));
  // With sockets among the peers, a 1 ms poll keeps the kernel's network work (softirqs) off the
  // core: 2 netns hosts x 1 rank on 2 cores, 10 Gbit/s link, 64 MB all-reduce 0.25-0.41 GB/s
  // busbw polling 1 ms, 0.53-0.63 polling 50 us. An explicit PLEXUS_SPIN_US holds for sockets too.
  ec.socketSpin = envGet("SPIN_US").has_value() ? ec.spin : std::chrono::microseconds(50);
  // Non-temporal stores for results (EngineConfig::streamingBytes): by default from the
  // last-level cache and the ranks sharing it, 8 MiB where the cache size is unknown.
  if (envString("NT_STORE_MIN", "auto") == "auto") {
    ec.streamingCache = lastLevelCacheBytes();
    ec.localRanks = std::max(1, sharing);
    if (ec.streamingCache == 0) ec.streamingBytes = 8u << 20;
  } else {
    ec.streamingBytes = envSize("NT_STORE_MIN", 8u << 20);
  }
  ec.context = context_;
  ec.onFailure = [this](const std::string& message, bool timedOut) {
    if (!recorder_ || aborting_.load()) return;
    if (dumpPolicy_.onError || (timedOut && dumpPolicy_.onTimeout))
      recorder_->dump((std::string(timedOut ? "timeout: " : "error: ") + message).c_str());
  };
  engine_ = std::make_unique<engine::Engine>(ec, *selector_, abort_);
}

// PLEXUS_FLIGHT_RECORDER_ENTRIES operations kept; dumps as PLEXUS_DUMP_ON says, to
// PLEXUS_DUMP_DIR or stderr.
void Communicator::startFlightRecorder() {
  dumpPolicy_ = DumpPolicy::fromEnv();
  const int64_t entries = envInt("FLIGHT_RECORDER_ENTRIES", 64);
  if (entries <= 0) return;
  RecorderIdentity who;
  who.host = hostName();
  who.pid = static_cast<int>(getpid());
  who.rank = rank_;
  who.nranks = nranks_;
  who.commId = bootstrap_->commId();
  who.context = context_;
  recorder_ = std::make_unique<FlightRecorder>(
      static_cast<size_t>(std::min<int64_t>(entries, 1 << 20)), who, envString("DUMP_DIR", ""));
  registerRecorder(recorder_.get(), dumpPolicy_);
}

Communicator::~Communicator() {
  LogContext logContext(context_);  // lines of the teardown (the selector's summary) name the rank
  if (recorder_) unregisterRecorder(recorder_.get());
  // The staged path first (its proxy uses the engine), then the engine (it uses the selector and
  // the control block), then the transports.
  staged_.reset();
  mapped_.reset();
  // Engine first (it uses the selector and the control block), then the transports.
  engine_.reset();
  selector_.reset();
}

std::shared_ptr<const algo::Plan> Communicator::plan(algo::Collective c, uint64_t count, size_t esz,
                                                     int root) {
  auto key = std::make_tuple(static_cast<int>(c), count, esz, root);
  std::lock_guard<std::mutex> lock(planMutex_);
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second;
  algo::TuneRequest q;
  q.collective = c;
  q.nranks = nranks_;
  q.count = count;
  q.elemSize = esz;
  q.root = root;
  q.fifoElems = static_cast<uint64_t>(tctx_.slots.slotBytes) * tctx_.slots.slots / esz;
  q.groups = domains_;
  q.rings = rings_;
  q.channels = fixedChannels_;
  q.minChannels = minChannels_;
  q.maxChannels = maxChannels_;
  q.reproducible = reproducible_;
  auto p = std::make_shared<const algo::Plan>(
      algo::tuneAndBuild(q, rank_, costs_, algoFilter_, &customPlans_));
  if (plans_.size() >= 256) plans_.clear();
  plans_.emplace(key, p);
  return p;
}

engine::WorkPtr Communicator::selfP2P(const OpArgs& a) {
  size_t bytes = a.count * dataTypeSize(a.type);
  engine::WorkDesc d;
  d.type = a.type;
  d.count = a.count;
  d.p2pPeer = rank_;
  d.p2pSend = a.isSend;
  auto w = std::make_shared<engine::Work>(std::move(d));
  SelfTransfer t{w, a.input, a.output, bytes};
  auto& mine = a.isSend ? selfSends_ : selfRecvs_;
  auto& other = a.isSend ? selfRecvs_ : selfSends_;
  if (other.empty()) {
    mine.push_back(t);
    return w;
  }
  SelfTransfer o = other.front();
  other.erase(other.begin());
  const SelfTransfer& send = a.isSend ? t : o;
  const SelfTransfer& recv = a.isSend ? o : t;
  if (send.bytes != recv.bytes) {
    std::string msg = formatString("%s: send to itself of %zu bytes meets a receive of %zu bytes",
                                   context_.c_str(), send.bytes, recv.bytes);
    send.work->fail(ErrorCode::kInvalidUsage, msg);
    recv.work->fail(ErrorCode::kInvalidUsage, msg);
    return w;
  }
  if (send.bytes > 0 && send.input != recv.output)
    std::memmove(recv.output, send.input, send.bytes);
  send.work->complete();
  recv.work->complete();
  return w;
}

bool Communicator::hasUnmatchedSelfP2P() const {
  return !selfSends_.empty() || !selfRecvs_.empty();
}

namespace {

// The plan of one send to (or receive from) `peer` of `count` elements.
std::shared_ptr<const algo::Plan> p2pPlan(int nranks, int rank, bool send, int peer,
                                          uint64_t count) {
  return std::make_shared<const algo::Plan>(send ? algo::buildSend(nranks, rank, peer, count)
                                                 : algo::buildRecv(nranks, rank, peer, count));
}

}  // namespace

engine::WorkPtr Communicator::submit(const OpArgs& a, bool async) {
  validate(a);
  if (a.collective == algo::Collective::kSendRecv && a.root == rank_) return selfP2P(a);
  size_t esz = dataTypeSize(a.type);
  engine::WorkDesc d;
  d.input = a.input;
  d.output = a.output;
  d.type = a.type;
  d.op = a.op;
  d.signature = signatureOf(a);
  d.count = a.count;
  if (a.collective == algo::Collective::kAllToAll && a.count > 0 && a.input == a.output) {
    // Pairwise exchange overwrites blocks it has still to send: run in place from a copy.
    size_t bytes = a.count * esz * static_cast<size_t>(nranks_);
    d.stagedInput.resize(bytes);
    std::memcpy(d.stagedInput.data(), a.input, bytes);
    d.input = d.stagedInput.data();
  }
  bool offered = false;
  if (trySingleCopy(a, d) || trySmallAllReduce(a, d)) {
    // d.plan is an empty plan; its gate moves the data (single_copy.hpp, small_all_reduce.hpp).
  } else if (a.collective == algo::Collective::kSendRecv) {
    d.p2pPeer = a.root;
    d.p2pSend = a.isSend;
    d.plan = p2pPlan(nranks_, rank_, a.isSend, a.root, a.count);
  } else {
    d.plan = plan(a.collective, a.count, esz, rooted(a.collective) ? a.root : 0);
    // The gate may find every rank's buffers shared and skip the plan.
    offered = offerZeroCopy(a, d);
  }
  if (recorder_) {
    d.trace =
        recorder_->record(a, d.plan->algorithm.c_str(), static_cast<uint32_t>(d.plan->stepCount()));
    if (offered) recordZeroCopy(d);
  }
  const engine::TraceRef trace = d.trace;
  // With PLEXUS_CHECK collectives run on the engine: the mapped executor would not wait for it.
  const bool mapped = mapped_ && !checker_ && a.collective != algo::Collective::kSendRecv &&
                      mapped_->covers(*d.plan);
  if (checker_) submitCheck(a, d, async);
  engine::WorkPtr w =
      mapped ? mapped_->submit(std::move(d), async) : engine_->submit(std::move(d), async);
  FlightRecorder::setSeq(trace, w->seq);
  return w;
}

// PLEXUS_CHECK: the all-gather of call signatures that runs just before the collective `d`, or the
// signature sent ahead of a send's data; the engine starts `d` only if they agree.
void Communicator::submitCheck(const OpArgs& a, engine::WorkDesc& d, bool async) {
  engine::WorkDesc check;
  OpArgs c = CallChecker::gatherArgs();
  if (a.collective == algo::Collective::kSendRecv) {
    checker_->prepareP2P(a, d, check);
    c.collective = algo::Collective::kSendRecv;
    c.root = a.root;
    c.isSend = a.isSend;
    check.plan = p2pPlan(nranks_, rank_, a.isSend, a.root, c.count);
  } else {
    checker_->prepare(a, d, check);
    check.plan = plan(c.collective, c.count, dataTypeSize(c.type), 0);
  }
  check.signature = signatureOf(c);
  engine_->submit(std::move(check), async);
}

void Communicator::finalize() {
  // Completes every queued work (sends included: tcp data has left this process), so a later
  // destroy cannot cut a peer's transfer short. No barrier: ranks of one thread finalize in turn.
  if (auto* s = stagedIfAny()) s->drain();
  if (mapped_) mapped_->drain();
  engine_->waitIdle();
}

StagedExecutor& Communicator::staged() {
  if (auto* s = stagedIfAny()) return *s;
  std::lock_guard<std::mutex> lock(stagedMutex_);
  if (!staged_) {
    noteGpuExecutorChoice();
    staged_ = std::make_unique<StagedExecutor>(*this, makeStreamOps(context_), timeout_);
    stagedPtr_.store(staged_.get(), std::memory_order_release);
  }
  return *staged_;
}

void Communicator::abort(const std::string& reason) {
  aborting_.store(true);
  if (recorder_ && dumpPolicy_.onAbort) recorder_->dump(("abort: " + reason).c_str());
  abort_.store(true);
  engine_->failAll(ErrorCode::kRemote, context_ + ": " + reason);
  if (mapped_) mapped_->abort(reason);
  if (auto* s = stagedIfAny()) s->abort(reason);
}

std::unique_ptr<Communicator> Communicator::split(int color, int key, const CommOptions& options) {
  Deadline deadline = Deadline::after(timeout_);
  struct Entry {
    int32_t color;
    int32_t key;
  };
  Entry me{color, key};
  auto all =
      bootstrap_->allGather(std::string(reinterpret_cast<const char*>(&me), sizeof(me)), deadline);
  std::vector<std::pair<std::pair<int, int>, int>> members;  // ((key, old rank), old rank)
  for (int r = 0; r < nranks_; ++r) {
    Entry e;
    std::memcpy(&e, all[static_cast<size_t>(r)].data(), sizeof(e));
    if (color >= 0 && e.color == color) members.push_back({{e.key, r}, r});
  }
  std::sort(members.begin(), members.end());
  // The first member of each color creates the new root and shares its id.
  std::string idBlob;
  int newRank = -1;
  for (size_t i = 0; i < members.size(); ++i)
    if (members[i].second == rank_) newRank = static_cast<int>(i);
  if (color >= 0 && newRank == 0) {
    auto bytes = runtime::createRootAndId().encode();
    idBlob.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  auto ids = bootstrap_->allGather(idBlob, deadline);
  if (color < 0) return nullptr;
  const std::string& leaderId = ids[static_cast<size_t>(members.front().second)];
  runtime::UniqueIdBytes bytes{};
  std::memcpy(bytes.data(), leaderId.data(), std::min(leaderId.size(), bytes.size()));
  CommOptions inherited = options;
  if (inherited.timeout.count() == 0) inherited.timeout = timeout_;
  return create(runtime::UniqueId::decode(bytes), newRank, static_cast<int>(members.size()),
                inherited);
}

}  // namespace plexus::runtime
