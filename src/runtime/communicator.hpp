// The communicator: one rank's membership in a group of ranks. It owns the bootstrap ring, the
// transports (chosen per peer), the engine and a cache of plans, and turns each API call into a
// work on the engine's queue.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "algorithms/builders.hpp"
#include "algorithms/plan_file.hpp"
#include "algorithms/topology_costs.hpp"
#include "algorithms/tuner.hpp"
#include "engine/engine.hpp"
#include "kernels/datatype.hpp"
#include "runtime/bootstrap.hpp"
#include "runtime/flight_recorder.hpp"
#include "runtime/op_args.hpp"
#include "runtime/peer_info.hpp"
#include "runtime/transport_selector.hpp"
#include "topology/cluster_view.hpp"

namespace plexus::runtime {

class StagedExecutor;
class MappedPath;
class CallChecker;
class SingleCopy;
class SmallAllReduce;

struct CommOptions {
  std::string name;                      // shows in log lines
  std::chrono::milliseconds timeout{0};  // zero: PLEXUS_TIMEOUT
  int check = -1;  // gather and compare call signatures (runtime/call_check.hpp): 1 on, 0 off,
                   // -1 PLEXUS_CHECK; every rank must choose alike
  // Reproducible reductions (algorithms/canonical.hpp): 1 on, 0 off, -1 PLEXUS_REPRODUCIBLE;
  // every rank must choose alike.
  int reproducible = -1;
};

class Communicator {
 public:
  static std::unique_ptr<Communicator> create(const runtime::UniqueId& id, int rank, int nranks,
                                              const CommOptions& options);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  bool reproducible() const { return reproducible_; }  // CommOptions::reproducible
  int nranks() const { return nranks_; }
  const std::string& context() const { return context_; }
  engine::Engine& engine() { return *engine_; }

  // Checks the arguments (validate) and queues the operation. Send/recv with this rank as the peer
  // are matched locally (see selfP2P).
  engine::WorkPtr submit(const OpArgs& args, bool async);
  // Runs a small all-reduce (runtime/small_all_reduce.hpp) in the calling thread when that path
  // serves the call and the engine holds no work; false otherwise (the caller then submits it).
  // The arguments must have passed validate(). Throws Error when the call fails.
  bool runSmallNow(const OpArgs& args);
  // checkOpArgs for this rank: throws Error(kInvalidArgument) naming the bad argument.
  void validate(const OpArgs& args) const { checkOpArgs(args, rank_, nranks_, context_); }

  // Waits for every queued work.
  void finalize();
  // Fails all pending and future work and tells peers this rank is gone (dumps the flight recorder
  // first when PLEXUS_DUMP_ON has abort). Safe from another thread while operations are in flight.
  void abort(const std::string& reason);
  // The flight recorder (runtime/flight_recorder.hpp); nullptr with
  // PLEXUS_FLIGHT_RECORDER_ENTRIES=0.
  const FlightRecorder* flightRecorder() const { return recorder_.get(); }

  // ncclCommSplit: collective over this communicator; nullptr for color < 0.
  std::unique_ptr<Communicator> split(int color, int key, const CommOptions& options);

  // ncclCommShrink: called by every rank not in `exclude` (excluded ones may be dead); they form
  // a communicator ordered as here. `abortFirst` (NCCL_SHRINK_ABORT) fails this communicator's
  // operations first; otherwise those in flight complete first.
  std::unique_ptr<Communicator> shrink(const std::vector<int>& exclude, bool abortFirst,
                                       const CommOptions& options);

  // Unmatched self send/receive (both must be in the same group).
  bool hasUnmatchedSelfP2P() const;

  // The staged device-buffer path (runtime/staged_executor.hpp), made on first use; throws when
  // CUDA is not usable. stagedIfAny(): nullptr until then.
  StagedExecutor& staged();
  StagedExecutor* stagedIfAny() const { return stagedPtr_.load(std::memory_order_acquire); }
  // The error that broke the mapped executor's collectives (PLEXUS_EXECUTOR=mapped), or kSuccess.
  ErrorCode mappedAsyncError() const;

 private:
  Communicator() = default;
  void init(const runtime::UniqueId& id, int rank, int nranks, const CommOptions& options);
  // The phases of init, in order.
  void connectBootstrap(const runtime::UniqueId& id, const std::string& name, Deadline deadline);
  uint64_t gatherPeers(Deadline deadline);  // returns the smallest shm budget of all
  void nameHosts();
  void readChannelLimits();
  void readReproducible(int option);
  void setUpTransports(uint64_t shmBudget, Deadline deadline);
  void setUpTuner(const TransportSelector::LinkCosts& links);
  void startEngine();
  void startFlightRecorder();
  void startMappedPath(Deadline deadline);  // PLEXUS_EXECUTOR=mapped
  void noteGpuExecutorChoice() const;       // PLEXUS_GPU_EXECUTOR=device
  void startSingleCopy(Deadline deadline);  // PLEXUS_SINGLE_COPY (runtime/single_copy.hpp)
  // Makes `d` a single-copy work when that path serves the call; false otherwise.
  bool trySingleCopy(const OpArgs& a, engine::WorkDesc& d);
  // Auto mode: gives the work `d` (which keeps its plan) the gate and poll that offer zero copy;
  // false when it offers none.
  bool offerZeroCopy(const OpArgs& a, engine::WorkDesc& d);
  // An offered work's flight-recorder entry (d.trace) is renamed "zerocopy" when zero copy ran.
  static void recordZeroCopy(engine::WorkDesc& d);
  void startSmallAllReduce(Deadline deadline);  // PLEXUS_SMALL_MAX (small_all_reduce.hpp)
  // Makes `d` a queued small all-reduce when that path serves the call; false otherwise.
  bool trySmallAllReduce(const OpArgs& a, engine::WorkDesc& d);
  bool smallServes(const OpArgs& a) const;
  std::shared_ptr<const algo::Plan> plan(algo::Collective c, uint64_t count, size_t elemSize,
                                         int root);
  engine::WorkPtr selfP2P(const OpArgs& args);
  void submitCheck(const OpArgs& args, engine::WorkDesc& call, bool async);

  int rank_ = 0;
  int nranks_ = 1;
  std::chrono::milliseconds timeout_{0};
  std::string context_;
  std::atomic<bool> abort_{false};
  std::atomic<bool> aborting_{false};  // abort() was called: the engine's failure is no error dump
  DumpPolicy dumpPolicy_;
  std::unique_ptr<FlightRecorder> recorder_;  // outlives the engine (works point into it)
  std::unique_ptr<runtime::Bootstrap> bootstrap_;
  transport::RankControl control_;
  std::vector<transport::PeerRecord> peers_;
  std::vector<std::string> bootstrapAddrs_;  // every rank's bootstrap listener (for shrink)
  uint64_t shrinks_ = 0;                     // shrinks made from this communicator
  std::unique_ptr<topo::ClusterView> cluster_;
  int machineRanks_ = 1;  // ranks on this rank's kernel (machineHash), its own included
  // Algorithm choice: custom plans (PLEXUS_PLAN_FILE), the PLEXUS_ALGO filter, the cost model of
  // this cluster, hierarchy domains and ring orders, all equal on every rank.
  algo::PlanLibrary customPlans_;
  algo::AlgoFilter algoFilter_;
  algo::TopologyCosts costs_;
  std::vector<std::vector<int>> domains_;
  std::vector<std::vector<int>> rings_;
  int fixedChannels_ = 0, minChannels_ = 1, maxChannels_ = 0;
  bool reproducible_ = false;    // CommOptions::reproducible / PLEXUS_REPRODUCIBLE
  bool systemInjected_ = false;  // PLEXUS_SYSTEM: plans are those of a synthetic system
  transport::TransportContext tctx_;
  std::unique_ptr<TransportSelector> selector_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<SingleCopy> single_;     // large one-host all-reduce; outlives the engine
  std::unique_ptr<SmallAllReduce> small_;  // small one-host all-reduce; outlives the engine
  std::unique_ptr<MappedPath> mapped_;     // host-buffer collectives, when PLEXUS_EXECUTOR=mapped
  // PLEXUS_CHECK (runtime/call_check.hpp); nullptr when off.
  std::unique_ptr<CallChecker> checker_;
  std::mutex planMutex_;
  // Plans by call signature (collective, count, element size, root).
  std::map<std::tuple<int, uint64_t, size_t, int>, std::shared_ptr<const algo::Plan>> plans_;

  struct SelfTransfer {
    engine::WorkPtr work;
    const void* input;
    void* output;
    size_t bytes;
  };
  std::vector<SelfTransfer> selfSends_, selfRecvs_;

  std::mutex stagedMutex_;
  std::unique_ptr<StagedExecutor> staged_;
  std::atomic<StagedExecutor*> stagedPtr_{nullptr};
};

}  // namespace plexus::runtime
