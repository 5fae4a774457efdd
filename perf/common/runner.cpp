// The perf driver (see runner.hpp): communicator setup, the sweep, timing, checking, results.
#include "common/runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "common/datatypes.hpp"
#include "common/device.hpp"
#include "common/progress.hpp"
#include "common/rank_buffers.hpp"
#include "common/report.hpp"
#include "common/test_data.hpp"
#include "plexus/launch.h"

namespace plexus::perf {
namespace {

using Clock = std::chrono::steady_clock;

// Bytes after the end of an out-of-place result that are checked for stray writes.
constexpr size_t kGuardBytes = 4096;
// At most this many lines describing wrong results per process (the table counts them all).
constexpr int kMaxMismatchReports = 16;

class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failed API call, with its result and what ncclGetLastError said.
class CallFailure : public Failure {
 public:
  CallFailure(const std::string& what, ncclResult_t res, std::string text)
      : Failure(what), result(res), detail(std::move(text)) {}
  ncclResult_t result;
  std::string detail;
};

// Whether a failed init is about the ranks finding each other (the bootstrap: a rank not started,
// a root nobody reaches), where the launcher's placement is worth checking. Bad configuration
// (PLEXUS_* values, plan files, transports) fails with invalid argument/usage and names its cause.
bool isBootstrapFailure(const CallFailure& f) {
  return (f.result == ncclRemoteError || f.result == ncclSystemError) &&
         f.detail.find("bootstrap") != std::string::npos;
}

struct RankState {
  int rank = 0;    // global rank
  int device = 0;  // the CUDA device on device buffers, else the index among this process's ranks
  ncclComm_t comm = nullptr;
  RankBuffers buf;
};

// Ends the process when one test runs longer than -T (a collective that never returns cannot be
// interrupted otherwise). Its thread is joined by the destructor.
class Watchdog {
 public:
  Watchdog(double seconds, std::FILE* err, std::string prog)
      : seconds_(seconds), err_(err), prog_(std::move(prog)) {
    if (seconds_ > 0) thread_ = std::thread([this] { loop(); });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  void arm(std::string what) {
    if (seconds_ <= 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    what_ = std::move(what);
    deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(seconds_));
    cv_.notify_all();
  }
  void disarm() {
    std::lock_guard<std::mutex> lock(mu_);
    deadline_.reset();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (!deadline_) {
        cv_.wait(lock);
      } else if (cv_.wait_until(lock, *deadline_) == std::cv_status::timeout && deadline_ &&
                 Clock::now() >= *deadline_ && !stop_) {
        std::fprintf(err_, "%s: %s did not finish within the -T limit of %g s; exiting\n",
                     prog_.c_str(), what_.c_str(), seconds_);
        std::fflush(nullptr);
        std::_Exit(1);
      }
    }
  }

  double seconds_;
  std::FILE* err_;
  std::string prog_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Clock::time_point> deadline_;
  std::string what_;
  bool stop_ = false;
  std::thread thread_;
};

// What all threads of this process share.
struct Job {
  const Collective& coll;
  const Options& opt;
  ProcessPlacement where;
  std::FILE* out;
  std::FILE* err;
  std::string prog;
  int nranks = 1;  // all ranks of the job
  int nlocal = 1;  // ranks of this process
  std::vector<RankState> ranks;
  std::atomic<int> reports{0};
  std::vector<size_t> sizes;
  Watchdog watchdog;
  // Written by thread 0 only.
  uint64_t wrongTotal = 0;
  double busBwSum = 0;
  int busBwCount = 0;
  bool onDevice = false;  // buffers in device memory (else host memory); set by chooseBuffers
  std::unique_ptr<Progress> progress = nullptr;  // on the printing process (rank 0) only
};

void check(ncclResult_t res, ncclComm_t comm, int rank, const char* what) {
  if (res == ncclSuccess) return;
  const char* last = ncclGetLastError(comm);
  std::string detail = last != nullptr ? last : "";
  std::string text = ncclGetErrorString(res);
  if (!detail.empty()) {
    // The message says what went wrong: NCCL's "(run with NCCL_DEBUG=... for details)" would not.
    size_t hint = text.find(" (run with NCCL_DEBUG");
    if (hint != std::string::npos) text.erase(hint);
    text += ": " + detail;
  }
  throw CallFailure("rank " + std::to_string(rank) + ": " + what + " failed: " + text, res,
                    std::move(detail));
}

// One benchmark thread: drives nGpus ranks of the process.
class Worker {
 public:
  Worker(Job& job, int thread)
      : job_(job),
        o_(job.opt),
        mine_(std::span<RankState>(job.ranks).subspan(static_cast<size_t>(thread * job.opt.nGpus),
                                                      static_cast<size_t>(job.opt.nGpus))),
        thread_(thread),
        printer_(job.where.rank == 0 && thread == 0) {}

  void run();

 private:
  void print(const std::string& s) {
    if (!printer_) return;
    std::fputs(s.c_str(), job_.out);
    std::fflush(job_.out);
  }
  // Calls f(rank) for each of this thread's ranks, inside a group when there are several.
  template <typename F>
  void forEachRank(F f, const char* what) {
    bool group = mine_.size() > 1;
    if (group) check(ncclGroupStart(), mine_[0].comm, mine_[0].rank, "ncclGroupStart");
    for (RankState& r : mine_) f(r);
    if (group) check(ncclGroupEnd(), mine_[0].comm, mine_[0].rank, what);
  }
  void barrier();
  void synchronize();
  template <typename F>
  std::vector<cuda::GraphExec> capture(F body, const std::string& what);
  std::vector<double> timeIterations(const TypeInfo& type, ncclRedOp_t op, int root,
                                     const CollCounts& c, bool inPlace);
  void checkedCall(const TypeInfo& type, ncclRedOp_t op, int root, const CollCounts& c,
                   bool inPlace);
  std::vector<double> allReduce(const std::vector<std::vector<double>>& perRank, ncclRedOp_t op);
  void printRanks();
  void timeTest(const TypeInfo& type, ncclRedOp_t op, int root);
  std::string benchTime(const TypeInfo& type, ncclRedOp_t op, int root, size_t bytes, bool inPlace);
  void issue(const TypeInfo& type, ncclRedOp_t op, int root, const CollCounts& c, bool inPlace,
             int repeat);
  void prepare(RankState& r, const Pattern& p, const CollCounts& c, const RankLayout& layout,
               bool inPlace, bool forCheck);
  uint64_t verify(RankState& r, const Pattern& p, const CollCounts& c, const RankLayout& layout,
                  ncclRedOp_t op, bool inPlace, const std::string& what);
  struct Ptrs {
    unsigned char* send;
    unsigned char* recv;
  };
  // The buffers of a call: in host memory (where data is written and checked; host: sendBase and
  // recvBase are the rank's host buffers) or as given to the API (arg: device memory on device
  // buffers).
  static Ptrs pointers(unsigned char* sendBase, unsigned char* recvBase, int rank,
                       const CollCounts& c, size_t esz, bool inPlace) {
    if (!inPlace) return {sendBase, recvBase};
    const size_t r = static_cast<size_t>(rank);
    return {recvBase + c.sendInplaceOffset * r * esz, recvBase + c.recvInplaceOffset * r * esz};
  }
  static Ptrs hostPointers(const RankState& r, const CollCounts& c, size_t esz, bool inPlace) {
    return pointers(r.buf.hostSend(), r.buf.hostRecv(), r.rank, c, esz, inPlace);
  }
  static Ptrs argPointers(const RankState& r, const CollCounts& c, size_t esz, bool inPlace) {
    return pointers(r.buf.argSend(), r.buf.argRecv(), r.rank, c, esz, inPlace);
  }
  // Bytes of the send and receive buffers that prepare() writes and verify() reads (copied to the
  // device and back on device buffers).
  struct Extents {
    size_t send;
    size_t recv;
  };
  static Extents extents(const RankState& r, const CollCounts& c, const RankLayout& layout,
                         size_t esz, bool inPlace, bool forCheck) {
    const size_t sendBytes = static_cast<size_t>(layout.sendBlocks) * c.paramCount * esz;
    if (inPlace) {
      Ptrs p = hostPointers(r, c, esz, true);
      const size_t sendEnd = static_cast<size_t>(p.send - r.buf.hostRecv()) + sendBytes;
      return {0, std::max(std::max(c.sendCount, c.recvCount) * esz, sendEnd)};
    }
    return {sendBytes, forCheck ? c.recvCount * esz + kGuardBytes : 0};
  }

  Job& job_;
  const Options& o_;
  std::span<RankState> mine_;
  int thread_;
  bool printer_;
};

// Waits for the streams of this thread's ranks (device buffers): the driver's own calls on host
// memory (barrier, results) then follow the device work instead of overtaking it.
void Worker::synchronize() {
  for (RankState& r : mine_) {
    r.buf.activate();
    r.buf.synchronize();
  }
}

void Worker::barrier() {
  synchronize();
  // An all-reduce completes on a rank only after every rank has called it.
  std::vector<int32_t> in(mine_.size(), 1), out(mine_.size(), 0);
  size_t i = 0;
  forEachRank(
      [&](RankState& r) {
        check(ncclAllReduce(&in[i], &out[i], 1, ncclInt32, ncclSum, r.comm, nullptr), r.comm,
              r.rank, "ncclAllReduce (barrier)");
        ++i;
      },
      "ncclGroupEnd (barrier)");
}

std::vector<double> Worker::allReduce(const std::vector<std::vector<double>>& perRank,
                                      ncclRedOp_t op) {
  synchronize();
  std::vector<std::vector<double>> results(perRank.size(),
                                           std::vector<double>(perRank[0].size(), 0.0));
  size_t i = 0;
  forEachRank(
      [&](RankState& r) {
        check(ncclAllReduce(perRank[i].data(), results[i].data(), perRank[i].size(), ncclFloat64,
                            op, r.comm, nullptr),
              r.comm, r.rank, "ncclAllReduce (results)");
        ++i;
      },
      "ncclGroupEnd (results)");
  return results[0];
}

void Worker::printRanks() {
  // Each rank fills its 64-byte record; a byte-wise sum over all ranks gathers them.
  struct Record {
    int32_t pid;
    int32_t group;
    int32_t device;
    char host[52];
    char memory[64];  // "[host] CPU memory", or nccl-tests' "[pci id] GPU name"
  };
  constexpr size_t kRecord = sizeof(Record);
  static_assert(kRecord == 128);
  const size_t n = static_cast<size_t>(job_.nranks);
  std::vector<std::vector<unsigned char>> in(mine_.size(),
                                             std::vector<unsigned char>(n * kRecord, 0));
  std::vector<std::vector<unsigned char>> out(mine_.size(),
                                              std::vector<unsigned char>(n * kRecord, 0));
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  for (size_t i = 0; i < mine_.size(); ++i) {
    Record rec{};
    rec.pid = static_cast<int32_t>(getpid());
    rec.group = job_.where.rank;
    rec.device = mine_[i].device;
    std::memcpy(rec.host, host, std::min(std::strlen(host), sizeof(rec.host) - 1));
    const std::string memory =
        mine_[i].buf.isDevice() ? cuda::describe(mine_[i].device) : "[host] CPU memory";
    std::memcpy(rec.memory, memory.data(), std::min(memory.size(), sizeof(rec.memory) - 1));
    std::memcpy(in[i].data() + static_cast<size_t>(mine_[i].rank) * kRecord, &rec, sizeof(rec));
  }
  size_t i = 0;
  forEachRank(
      [&](RankState& r) {
        check(ncclAllReduce(in[i].data(), out[i].data(), n * kRecord, ncclUint8, ncclSum, r.comm,
                            nullptr),
              r.comm, r.rank, "ncclAllReduce (rank list)");
        ++i;
      },
      "ncclGroupEnd (rank list)");
  if (!printer_) return;
  std::string text = "#\n# Using devices\n";
  for (size_t r = 0; r < n; ++r) {
    Record rec;
    std::memcpy(&rec, out[0].data() + r * kRecord, sizeof(rec));
    rec.host[sizeof(rec.host) - 1] = '\0';
    rec.memory[sizeof(rec.memory) - 1] = '\0';
    text +=
        formatRankLine(static_cast<int>(r), rec.group, rec.pid, rec.host, rec.device, rec.memory);
  }
  text += "#\n";
  print(text);
}

void Worker::issue(const TypeInfo& type, ncclRedOp_t op, int root, const CollCounts& c,
                   bool inPlace, int repeat) {
  const bool group = repeat > 1 || mine_.size() > 1;
  if (group) check(ncclGroupStart(), mine_[0].comm, mine_[0].rank, "ncclGroupStart");
  for (int a = 0; a < repeat; ++a) {
    for (RankState& r : mine_) {
      Ptrs p = argPointers(r, c, type.size, inPlace);
      r.buf.activate();
      ncclResult_t res = job_.coll.run(p.send, p.recv, c.paramCount, type.type, op, root, r.rank,
                                       job_.nranks, r.comm, r.buf.stream());
      if (res != ncclSuccess) {
        std::string what = std::string(job_.coll.name) + " (" + type.name + ", " +
                           std::to_string(c.paramCount) + " elements)";
        if (group) ncclGroupEnd();
        check(res, r.comm, r.rank, what.c_str());
      }
    }
  }
  if (group) check(ncclGroupEnd(), mine_[0].comm, mine_[0].rank, "ncclGroupEnd");
}

void Worker::prepare(RankState& r, const Pattern& p, const CollCounts& c, const RankLayout& layout,
                     bool inPlace, bool forCheck) {
  const size_t esz = p.type().size;
  Ptrs ptr = hostPointers(r, c, esz, inPlace);
  if (forCheck) {
    // Everything the call may not write, or must overwrite, starts as the sentinel.
    if (inPlace)
      std::memset(r.buf.hostRecv(), kSentinelByte, std::max(c.sendCount, c.recvCount) * esz);
    else
      std::memset(r.buf.hostRecv(), kSentinelByte,
                  std::min(r.buf.size(), c.recvCount * esz + kGuardBytes));
  }
  const size_t n = std::min(c.paramCount, kPatternPeriod);
  for (int b = 0; b < layout.sendBlocks; ++b)
    fillRepeated(ptr.send + static_cast<size_t>(b) * c.paramCount * esz, c.paramCount,
                 inputTable(p, r.rank, b, n), esz);
  const Extents e = extents(r, c, layout, esz, inPlace, forCheck);
  r.buf.upload(e.send, e.recv);
}

uint64_t Worker::verify(RankState& r, const Pattern& p, const CollCounts& c,
                        const RankLayout& layout, ncclRedOp_t op, bool inPlace,
                        const std::string& what) {
  const TypeInfo& t = p.type();
  const size_t esz = t.size;
  const size_t n = std::min(c.paramCount, kPatternPeriod);
  const Extents span = extents(r, c, layout, esz, inPlace, true);
  r.buf.download(span.send, span.recv);
  Ptrs ptr = hostPointers(r, c, esz, inPlace);
  const std::vector<unsigned char> sentinel(esz, kSentinelByte);
  uint64_t wrong = 0;
  std::optional<Mismatch> first;
  std::string where;
  if (!inPlace) {
    uint64_t changed = 0;
    for (int b = 0; b < layout.sendBlocks; ++b)
      changed += countChanged(ptr.send + static_cast<size_t>(b) * c.paramCount * esz, c.paramCount,
                              inputTable(p, r.rank, b, n), esz);
    if (changed) where += " " + std::to_string(changed) + " in the send buffer;";
    uint64_t stray = 0;
    if (layout.recv.empty()) stray += countChanged(ptr.recv, c.recvCount, sentinel, esz);
    size_t guard = std::min(kGuardBytes, r.buf.size() - c.recvCount * esz) / esz;
    stray += countChanged(ptr.recv + c.recvCount * esz, guard, sentinel, esz);
    if (stray) where += " " + std::to_string(stray) + " written outside the result;";
    wrong += changed + stray;
  }
  size_t firstBlock = 0;
  for (size_t j = 0; j < layout.recv.size(); ++j) {
    ExpectedTable e = expectedTable(p, layout.recv[j], op, n);
    bool hadFirst = first.has_value();
    wrong += checkBlock(t, ptr.recv + j * c.paramCount * esz, c.paramCount, e, &first);
    if (!hadFirst && first) firstBlock = j;
  }
  if (wrong > 0 && job_.reports.fetch_add(1) < kMaxMismatchReports) {
    std::string msg = job_.prog + ": rank " + std::to_string(r.rank) + ": " +
                      std::to_string(wrong) + " wrong elements in " + what + ":" + where;
    if (first) {
      char buf[200];
      std::snprintf(buf, sizeof(buf),
                    " first wrong result at element %zu (block %zu, index %zu): got %.17g, "
                    "expected %.17g",
                    firstBlock * c.paramCount + first->index, firstBlock, first->index, first->got,
                    first->expected);
      msg += buf;
    }
    std::fprintf(job_.err, "%s\n", msg.c_str());
    std::fflush(job_.err);
  }
  return wrong;
}

// Stream capture of what body() issues on this thread's ranks, one graph per rank. A call that
// fails under capture (a path that cannot be captured) ends every capture and is reported as a -G
// failure.
template <typename F>
std::vector<cuda::GraphExec> Worker::capture(F body, const std::string& what) {
  size_t begun = 0;
  try {
    for (RankState& r : mine_) {
      r.buf.activate();
      cuda::beginCapture(r.buf.stream());
      ++begun;
    }
    body();
  } catch (const std::exception& e) {
    for (size_t i = 0; i < begun; ++i) {
      mine_[i].buf.activate();
      cuda::endCapture(mine_[i].buf.stream(), true);
    }
    throw Failure("-G " + std::to_string(o_.cudaGraph) + ": capturing " + what +
                  " into a CUDA graph failed: " + e.what() +
                  ". The path these buffers take does not support CUDA graph capture; run "
                  "without -G");
  }
  std::vector<cuda::GraphExec> graphs;
  for (RankState& r : mine_) {
    r.buf.activate();
    graphs.push_back(cuda::endCapture(r.buf.stream(), false));
  }
  return graphs;
}

// The timed iterations; returns each of this thread's ranks' seconds per operation. Host buffers:
// host time from after the barrier to the return of the last call. Device buffers: CUDA events
// recorded on each rank's stream before and after the iterations (or around -G launches of the
// graph that captured them), or host time up to the streams' completion with -C 1.
std::vector<double> Worker::timeIterations(const TypeInfo& type, ncclRedOp_t op, int root,
                                           const CollCounts& c, bool inPlace) {
  const double perIteration = static_cast<double>(o_.iters) * o_.aggIters;
  auto seconds = [](Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  auto iterations = [&] {
    for (int it = 0; it < o_.iters; ++it) {
      issue(type, op, root, c, inPlace, o_.aggIters);
      if (job_.onDevice && o_.blocking != 0 && o_.cudaGraph == 0) synchronize();
    }
  };
  if (!job_.onDevice) {
    barrier();
    const Clock::time_point start = Clock::now();
    iterations();
    return std::vector<double>(mine_.size(), seconds(start) / perIteration);
  }
  std::vector<cuda::GraphExec> graphs;
  if (o_.cudaGraph > 0) graphs = capture(iterations, "the timed iterations");
  barrier();
  const Clock::time_point start = Clock::now();
  for (RankState& r : mine_) {
    r.buf.activate();
    r.buf.startTimer();
  }
  if (graphs.empty()) {
    iterations();
  } else {
    for (int l = 0; l < o_.cudaGraph; ++l)
      for (size_t i = 0; i < mine_.size(); ++i) {
        mine_[i].buf.activate();
        graphs[i].launch(mine_[i].buf.stream());
      }
  }
  for (RankState& r : mine_) {
    r.buf.activate();
    r.buf.stopTimer();
  }
  synchronize();
  const double host = seconds(start);
  const double launches = graphs.empty() ? 1.0 : static_cast<double>(o_.cudaGraph);
  std::vector<double> out;
  for (RankState& r : mine_)
    out.push_back((o_.reportCpuTime != 0 ? host : r.buf.timerSeconds()) /
                  (perIteration * launches));
  return out;
}

// The one call of a correctness check (captured and launched once with -G, as nccl-tests), then
// waits for it.
void Worker::checkedCall(const TypeInfo& type, ncclRedOp_t op, int root, const CollCounts& c,
                         bool inPlace) {
  if (!job_.onDevice || o_.cudaGraph == 0) {
    issue(type, op, root, c, inPlace, 1);
  } else {
    std::vector<cuda::GraphExec> graphs =
        capture([&] { issue(type, op, root, c, inPlace, 1); }, "the checked call");
    for (size_t i = 0; i < mine_.size(); ++i) {
      mine_[i].buf.activate();
      graphs[i].launch(mine_[i].buf.stream());
    }
  }
  synchronize();
}

std::string Worker::benchTime(const TypeInfo& type, ncclRedOp_t op, int root, size_t bytes,
                              bool inPlace) {
  const CollCounts c = job_.coll.counts(bytes / type.size, job_.nranks);
  const PatternKind kind = patternKind(job_.coll.hasOp, op);

  // Inputs for the timed iterations (their results are not checked).
  const Pattern timingData(type, kind, job_.nranks, 0);
  for (RankState& r : mine_)
    prepare(r, timingData, c, job_.coll.layout(r.rank, job_.nranks, root), inPlace, false);
  const std::vector<double> seconds = timeIterations(type, op, root, c, inPlace);

  // Correctness: fresh data for each check iteration, one call, compare on every rank.
  std::vector<double> wrong(mine_.size(), 0.0);
  const int checks = (!inPlace || job_.coll.checkInPlace) ? o_.check : 0;
  for (int ci = 1; ci <= checks; ++ci) {
    const Pattern data(type, kind, job_.nranks, static_cast<uint64_t>(ci));
    for (RankState& r : mine_)
      prepare(r, data, c, job_.coll.layout(r.rank, job_.nranks, root), inPlace, true);
    checkedCall(type, op, root, c, inPlace);
    std::string what = std::string(job_.coll.name) + (inPlace ? " in-place " : " out-of-place ") +
                       type.name + (job_.coll.hasOp ? std::string(" ") + opName(op) : "") +
                       (job_.coll.hasRoot ? " root " + std::to_string(root) : "") + ", " +
                       std::to_string(bytes) + " bytes, check " + std::to_string(ci);
    for (size_t i = 0; i < mine_.size(); ++i)
      wrong[i] += static_cast<double>(verify(mine_[i], data, c,
                                             job_.coll.layout(mine_[i].rank, job_.nranks, root), op,
                                             inPlace, what));
  }

  // Aggregate over all ranks: time (sum, or min/max for -a 2/3), wrong elements, rank count.
  std::vector<std::vector<double>> local;
  for (size_t i = 0; i < mine_.size(); ++i) local.push_back({seconds[i], wrong[i], 1.0});
  std::vector<double> sum = allReduce(local, ncclSum);
  double reported = seconds[0];  // -a 0: rank 0's own time (rank 0 is the printer's first)
  if (o_.average == 1) {
    reported = sum[0] / job_.nranks;
  } else if (o_.average == 2 || o_.average == 3) {
    std::vector<std::vector<double>> t;
    for (double s : seconds) t.push_back({s});
    reported = allReduce(t, o_.average == 2 ? ncclMin : ncclMax)[0];
  }
  if (sum[2] != job_.nranks)
    throw Failure("the all-reduce that gathers results summed the rank count to " +
                  std::to_string(sum[2]) + " instead of " + std::to_string(job_.nranks) +
                  ": results cannot be trusted");
  const uint64_t wrongAll = static_cast<uint64_t>(sum[1]);

  const double algBw =
      algorithmBandwidth(job_.coll.algBytes(c.paramCount, type.size, job_.nranks), reported);
  const double busBw = busBandwidth(job_.coll, algBw, job_.nranks);
  if (thread_ == 0) {  // one thread per process keeps the totals (every rank has them)
    job_.wrongTotal += wrongAll;
    job_.busBwSum += busBw;
    job_.busBwCount += 1;
  }
  return formatRowResult(reported * 1e6, algBw, busBw,
                         checks > 0 ? std::optional<uint64_t>(wrongAll) : std::nullopt);
}

void Worker::timeTest(const TypeInfo& type, ncclRedOp_t op, int root) {
  if (thread_ == 0)
    job_.watchdog.arm(std::string(job_.coll.name) + " " + type.name + " " + opName(op) + " root " +
                      std::to_string(root));
  barrier();
  // Warm-up at the largest and the smallest size (as nccl-tests).
  for (size_t bytes : {o_.maxBytes, o_.minBytes}) {
    const CollCounts c = job_.coll.counts(bytes / type.size, job_.nranks);
    for (int w = 0; w < o_.warmupIters; ++w) issue(type, op, root, c, false, 1);
  }
  synchronize();
  if (thread_ == 0 && job_.progress) job_.progress->roundStart();
  const char* opText = job_.coll.hasOp ? opName(op) : "none";
  for (size_t bytes : job_.sizes) {
    const CollCounts c = job_.coll.counts(bytes / type.size, job_.nranks);
    std::string row = formatRowStart(std::max(c.sendCount, c.recvCount) * type.size, c.paramCount,
                                     type.name, opText, root);
    row += benchTime(type, op, root, bytes, false);
    row += benchTime(type, op, root, bytes, true);
    print(row + "\n");
    if (thread_ == 0 && job_.progress) job_.progress->sizeDone();
  }
  if (thread_ == 0) job_.watchdog.disarm();
}

void Worker::run() {
  printRanks();
  print(formatColumnHeader());
  std::vector<ncclRedOp_t> ops = job_.coll.hasOp ? o_.ops : std::vector<ncclRedOp_t>{ncclSum};
  std::vector<int> roots;
  if (!job_.coll.hasRoot)
    roots = {-1};
  else if (o_.root < 0)
    for (int r = 0; r < job_.nranks; ++r) roots.push_back(r);
  else
    roots = {o_.root};
  for (int cycle = 0; o_.runCycles == 0 || cycle < o_.runCycles; ++cycle)
    for (ncclDataType_t t : o_.types)
      for (ncclRedOp_t op : ops)
        for (int root : roots) timeTest(typeInfo(t), op, root);
  barrier();
}

// Creates the communicators of this process's ranks.
void initCommunicators(Job& job) {
  const int base = job.where.rank * job.nlocal;
  for (int i = 0; i < job.nlocal; ++i) job.ranks[static_cast<size_t>(i)].rank = base + i;
  std::vector<ncclComm_t> comms(static_cast<size_t>(job.nlocal), nullptr);
  if (job.where.size == 1) {
    std::vector<int> devs(static_cast<size_t>(job.nlocal));
    for (int i = 0; i < job.nlocal; ++i)
      devs[static_cast<size_t>(i)] = job.ranks[static_cast<size_t>(i)].device;
    check(ncclCommInitAll(comms.data(), job.nlocal, devs.data()), nullptr, 0, "ncclCommInitAll");
  } else {
    ncclUniqueId id;
    if (job.where.shareId)
      check(job.where.shareId(id), nullptr, base, "the unique id's broadcast (MPI)");
    else
      check(plexusGetUniqueIdFromEnv(&id), nullptr, base, "plexusGetUniqueIdFromEnv");
    std::vector<ncclResult_t> results(static_cast<size_t>(job.nlocal), ncclSuccess);
    auto initOne = [&](int i) {
      // As NCCL: a rank's communicator belongs to the current device.
      job.ranks[static_cast<size_t>(i)].buf.activate();
      results[static_cast<size_t>(i)] =
          ncclCommInitRank(&comms[static_cast<size_t>(i)], job.nranks, id, base + i);
    };
    if (job.nlocal == 1) {
      initOne(0);
    } else {
      std::vector<std::thread> threads;
      for (int i = 0; i < job.nlocal; ++i) threads.emplace_back(initOne, i);
      for (std::thread& t : threads) t.join();
    }
    for (int i = 0; i < job.nlocal; ++i) {
      if (results[static_cast<size_t>(i)] != ncclSuccess) {
        for (ncclComm_t c : comms)
          if (c != nullptr) ncclCommAbort(c);
        check(results[static_cast<size_t>(i)], nullptr, base + i, "ncclCommInitRank");
      }
    }
  }
  for (int i = 0; i < job.nlocal; ++i) {
    RankState& r = job.ranks[static_cast<size_t>(i)];
    r.comm = comms[static_cast<size_t>(i)];
    int count = 0, rank = -1;
    check(ncclCommCount(r.comm, &count), r.comm, r.rank, "ncclCommCount");
    check(ncclCommUserRank(r.comm, &rank), r.comm, r.rank, "ncclCommUserRank");
    if (count != job.nranks || rank != r.rank)
      throw Failure("communicator " + std::to_string(i) + " of this process reports rank " +
                    std::to_string(rank) + " of " + std::to_string(count) + ", expected rank " +
                    std::to_string(r.rank) + " of " + std::to_string(job.nranks));
  }
}

// Decides where the buffers live (Options::buffers) and which CUDA device each rank uses. Returns
// false with a message when device buffers were asked for and none can be had; else `line` says
// what was chosen (the "# Buffers:" line).
bool chooseBuffers(Job& job, std::string& line) {
  const cuda::Availability cudaDevices =
      job.opt.buffers == BufferKind::kHost ? cuda::Availability{} : cuda::probe();
  if (job.opt.buffers == BufferKind::kHost) {
    line = "host memory (--host)";
  } else if (cudaDevices.count == 0) {
    if (job.opt.buffers == BufferKind::kDevice) {
      line = "--buffers device: " + cudaDevices.reason;
      return false;
    }
    line = "host memory (" + cudaDevices.reason + ")";
  } else {
    job.onDevice = true;
  }
  job.ranks.resize(static_cast<size_t>(job.nlocal));
  if (!job.onDevice) {
    for (int i = 0; i < job.nlocal; ++i) job.ranks[static_cast<size_t>(i)].device = i;
    return true;
  }
  // As nccl-tests: this process's ranks take consecutive devices from its index on the host
  // times its rank count, or from NCCL_TESTS_DEVICE; modulo the device count, so that several
  // ranks share a GPU when there are fewer GPUs than ranks (Plexus allows it; NCCL does not).
  int first = detectLocalRank().value_or(job.where.rank) * job.nlocal;
  std::string from = "local rank x ranks per process";
  if (auto gpu0 = processEnv("NCCL_TESTS_DEVICE")) {
    first = std::max(0, std::atoi(gpu0->c_str()));
    from = "NCCL_TESTS_DEVICE=" + *gpu0;
  }
  for (int i = 0; i < job.nlocal; ++i)
    job.ranks[static_cast<size_t>(i)].device = (first + i) % cudaDevices.count;
  line = "device memory (cudaMalloc), " + std::to_string(cudaDevices.count) +
         " CUDA device(s) visible; rank uses device (" + from + " + index) % " +
         std::to_string(cudaDevices.count) + "; --host for host memory";
  return true;
}

void allocateBuffers(Job& job) {
  const size_t bytes = job.opt.maxBytes + kGuardBytes;
  for (RankState& r : job.ranks) {
    if (!job.onDevice) {
      r.buf = RankBuffers::onHost(bytes, job.opt.localRegister != 0);
      continue;
    }
    try {
      r.buf = RankBuffers::onDevice(bytes, r.device, job.opt.streamNull != 0);
    } catch (const std::runtime_error& e) {
      throw Failure(
          "rank " +
          std::to_string(job.where.rank * job.nlocal + static_cast<int>(&r - job.ranks.data())) +
          ": device buffers: " + e.what());
    }
  }
}

void destroyCommunicators(Job& job, bool abort) {
  if (abort) {
    for (RankState& r : job.ranks)
      if (r.comm != nullptr) ncclCommAbort(r.comm);
  } else {
    // Finalize the ranks of each thread together (a group when a thread holds several).
    for (int t = 0; t < job.opt.nThreads; ++t) {
      bool group = job.opt.nGpus > 1;
      if (group) ncclGroupStart();
      for (int g = 0; g < job.opt.nGpus; ++g) {
        RankState& r = job.ranks[static_cast<size_t>(t * job.opt.nGpus + g)];
        if (r.comm != nullptr) ncclCommFinalize(r.comm);
      }
      if (group) ncclGroupEnd();
    }
    for (RankState& r : job.ranks)
      if (r.comm != nullptr) ncclCommDestroy(r.comm);
  }
  for (RankState& r : job.ranks) r.comm = nullptr;
}

// How many times the sweep's sizes are measured: per cycle (-N; 0: until stopped), type, op and
// root, as Worker::run loops.
uint64_t sweepRounds(const Collective& coll, const Options& opt, int nranks) {
  const uint64_t ops = coll.hasOp ? opt.ops.size() : 1;
  const uint64_t roots = !coll.hasRoot ? 1 : opt.root < 0 ? static_cast<uint64_t>(nranks) : 1;
  return static_cast<uint64_t>(opt.runCycles) * opt.types.size() * ops * roots;
}

}  // namespace

int runPerf(const Collective& coll, const Options& opt, const ProcessPlacement& where,
            std::FILE* out, std::FILE* err) {
  const std::string prog = std::string(coll.name) + "_perf";
  Job job{coll,
          opt,
          where,
          out,
          err,
          prog,
          1,
          1,
          {},
          {},
          sizeSequence(opt),
          Watchdog(opt.timeoutSeconds, err, prog)};
  job.nlocal = opt.nThreads * opt.nGpus;
  job.nranks = where.size * job.nlocal;
  if (coll.hasRoot && opt.root >= job.nranks) {
    std::fprintf(err, "%s: -r %d is not a rank: the job has %d ranks\n", prog.c_str(), opt.root,
                 job.nranks);
    return 2;
  }
  const bool printer = where.rank == 0;
  std::string progressError;
  const std::optional<ProgressMode> progressMode = progressModeFromEnv(progressError);
  if (!progressMode) {
    std::fprintf(err, "%s: %s\n", prog.c_str(), progressError.c_str());
    return 2;
  }
  if (printer)
    job.progress = std::make_unique<Progress>(err, prog, *progressMode, job.sizes,
                                              sweepRounds(coll, opt, job.nranks));
  std::string buffers;
  if (!chooseBuffers(job, buffers)) {
    std::fprintf(err, "%s: %s\n", prog.c_str(), buffers.c_str());
    return 2;
  }
  if (printer) {
    int version = 0;
    ncclGetVersion(&version);
    std::fprintf(out, "# Collective test starting: %s\n", prog.c_str());
    std::fprintf(out, "# Plexus %d.%d.%d, NCCL API nccl-headers=%d nccl-library=%d\n",
                 PLEXUS_VERSION_MAJOR, PLEXUS_VERSION_MINOR, PLEXUS_VERSION_PATCH,
                 NCCL_VERSION_CODE, version);
    std::fputs(formatParameterLine(opt).c_str(), out);
    std::fprintf(out, "# Buffers: %s\n", buffers.c_str());
    std::fflush(out);
  }
  bool initialized = false;
  try {
    allocateBuffers(job);
    initCommunicators(job);
    initialized = true;
    if (opt.nThreads == 1) {
      Worker(job, 0).run();
    } else {
      // Other threads cannot be unblocked from inside a collective, so a failure in one of them
      // ends the process (as nccl-tests does).
      auto body = [&job](int t) {
        try {
          Worker(job, t).run();
        } catch (const std::exception& e) {
          std::fprintf(job.err, "%s: %s\n", job.prog.c_str(), e.what());
          std::fflush(nullptr);
          std::_Exit(1);
        }
      };
      std::vector<std::thread> threads;
      for (int t = 1; t < opt.nThreads; ++t) threads.emplace_back(body, t);
      body(0);
      for (std::thread& t : threads) t.join();
    }
    destroyCommunicators(job, false);
    if (job.progress) job.progress->finish();
  } catch (const std::bad_alloc&) {
    if (job.progress) job.progress->finish();
    std::fprintf(err,
                 "%s: cannot allocate 2 x %zu bytes of host memory for each of %d ranks%s; "
                 "lower -e\n",
                 prog.c_str(), opt.maxBytes + kGuardBytes, job.nlocal,
                 job.onDevice ? " (the host copies of the device buffers)" : "");
    if (initialized) destroyCommunicators(job, true);
    return 1;
  } catch (const std::exception& e) {
    if (job.progress) job.progress->finish();
    std::fprintf(err, "%s: %s\n", prog.c_str(), e.what());
    auto* call = dynamic_cast<const CallFailure*>(&e);
    if (!initialized && call != nullptr && isBootstrapFailure(*call))
      std::fprintf(err,
                   "%s: this process was placed by %s; check that every rank was started and can "
                   "reach rank 0\n",
                   prog.c_str(), where.source.c_str());
    if (initialized) destroyCommunicators(job, true);
    return 1;
  }
  if (printer) {
    double avg = job.busBwCount > 0 ? job.busBwSum / job.busBwCount : 0.0;
    std::fputs(formatSummary(job.wrongTotal, avg).c_str(), out);
    std::fprintf(out, "# Collective test concluded: %s\n", prog.c_str());
    std::fflush(out);
  }
  // Every process knows the total of wrong elements (it was all-reduced), so all exit alike.
  return job.wrongTotal == 0 ? 0 : 1;
}

}  // namespace plexus::perf
