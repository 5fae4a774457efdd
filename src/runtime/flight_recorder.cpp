// The flight recorder's ring and its async-signal-safe JSON writer.
#include "runtime/flight_recorder.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>
#include <type_traits>

#include "base/env.hpp"
#include "base/error.hpp"
#include "kernels/datatype.hpp"

namespace plexus::runtime {

struct FlightRecorder::Slot {
  engine::OpTrace live;  // what the engine updates
  std::atomic<uint32_t> seq{0};
  std::atomic<uint32_t> collective{0};
  std::atomic<uint32_t> send{0};  // for send/recv: 1 send, 0 receive
  std::atomic<uint32_t> type{0};
  std::atomic<uint32_t> op{0};
  std::atomic<int32_t> root{-1};  // root, or the peer of a send/recv; -1 when neither
  std::atomic<uint32_t> stepsTotal{0};
  std::atomic<uint64_t> count{0};
  std::atomic<int64_t> startUs{0};
  static constexpr size_t kAlgoWords = 3;
  std::atomic<uint64_t> algorithm[kAlgoWords] = {};  // up to 24 characters, NUL-padded
};

namespace {

// Appends text to a stack buffer and writes it out with write(2) when full: nothing allocates,
// nothing locks (callable in a signal handler).
class JsonOut {
 public:
  explicit JsonOut(int fd) : fd_(fd) {}
  ~JsonOut() { flush(); }
  bool ok() const { return ok_; }
  void raw(const char* s, size_t len) {
    for (size_t i = 0; i < len; ++i) put(s[i]);
  }
  void raw(const char* s) { raw(s, std::strlen(s)); }
  void str(const char* s) {
    put('"');
    for (; s != nullptr && *s != 0; ++s) {
      const auto c = static_cast<unsigned char>(*s);
      if (c == '"' || c == '\\') {
        put('\\');
        put(static_cast<char>(c));
      } else if (c < 0x20) {
        static const char hex[] = "0123456789abcdef";
        raw("\\u00");
        put(hex[c >> 4]);
        put(hex[c & 15]);
      } else {
        put(static_cast<char>(c));
      }
    }
    put('"');
  }
  void num(int64_t v) {
    char digits[24];
    size_t n = 0;
    const bool negative = v < 0;
    uint64_t u = negative ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
    do {
      digits[n++] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u != 0);
    if (negative) put('-');
    while (n > 0) put(digits[--n]);
  }
  void field(const char* name) {
    raw(",\"");
    raw(name);
    raw("\":");
  }
  void flush() {
    size_t done = 0;
    while (done < n_ && ok_) {
      ssize_t w = ::write(fd_, buf_ + done, n_ - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) ok_ = false;
      if (w > 0) done += static_cast<size_t>(w);
    }
    n_ = 0;
  }

 private:
  void put(char c) {
    if (n_ == sizeof(buf_)) flush();
    buf_[n_++] = c;
  }
  int fd_;
  char buf_[2048];
  size_t n_ = 0;
  bool ok_ = true;
};

const char* stateName(uint32_t s) {
  switch (s) {
    case engine::OpTrace::kQueued:
      return "queued";
    case engine::OpTrace::kRunning:
      return "running";
    case engine::OpTrace::kDone:
      return "done";
    case engine::OpTrace::kFailed:
      return "failed";
    default:
      return "free";
  }
}

}  // namespace

FlightRecorder::FlightRecorder(size_t entries, RecorderIdentity identity, std::string dumpDir)
    : entries_(entries == 0 ? 1 : entries),
      ring_(std::make_unique<Slot[]>(entries_)),
      identity_(std::move(identity)) {
  std::string comm =
      formatString("%08llx", static_cast<unsigned long long>(identity_.commId >> 32));
  header_ = formatString(",\"host\":\"%s\",\"pid\":%d,\"rank\":%d,\"nranks\":%d,\"comm\":\"%s\"",
                         identity_.host.c_str(), identity_.pid, identity_.rank, identity_.nranks,
                         comm.c_str());
  if (!dumpDir.empty()) {
    ::mkdir(dumpDir.c_str(), 0755);  // one level; an existing folder is fine
    path_ = formatString("%s/plexus-fr-%s-%d-r%d-%s.json", dumpDir.c_str(), identity_.host.c_str(),
                         identity_.pid, identity_.rank, comm.c_str());
    tmpPath_ = path_ + ".tmp";
  }
}

FlightRecorder::~FlightRecorder() = default;

engine::TraceRef FlightRecorder::record(const OpArgs& a, const char* algorithm,
                                        uint32_t stepsTotal) {
  constexpr auto r = std::memory_order_relaxed;
  const uint32_t id = next_.fetch_add(1, r) + 1;
  // A power-of-two ring (the default 64) masks: a 64-bit division costs tens of cycles per call.
  Slot& s =
      ring_[(entries_ & (entries_ - 1)) == 0 ? (id - 1) & (entries_ - 1) : (id - 1) % entries_];
  s.live.id.store(id, r);  // from now on the engine leaves the previous op's updates out
  s.live.state.store(engine::OpTrace::kQueued, r);
  s.live.stepsDone.store(0, r);
  for (size_t l = 0; l < engine::OpTrace::kLanes; ++l) s.live.waitFor[l].store(nullptr, r);
  s.live.endUs.store(0, r);
  const int64_t now = engine::traceClockUs();
  s.startUs.store(now, r);
  s.live.lastProgressUs.store(now, r);
  s.seq.store(0, r);
  s.collective.store(static_cast<uint32_t>(a.collective), r);
  s.send.store(a.isSend ? 1 : 0, r);
  s.type.store(static_cast<uint32_t>(a.type), r);
  s.op.store(static_cast<uint32_t>(a.op), r);
  const bool p2p = a.collective == algo::Collective::kSendRecv;
  s.root.store(p2p || rooted(a.collective) ? a.root : -1, r);
  s.count.store(a.count, r);
  s.stepsTotal.store(stepsTotal, r);
  storeAlgorithm(s, algorithm);
  return engine::TraceRef{&s.live, id};
}

void FlightRecorder::storeAlgorithm(Slot& s, const char* algorithm) {
  const size_t len = algorithm != nullptr ? std::strlen(algorithm) : 0;
  for (size_t w = 0; w < Slot::kAlgoWords; ++w) {
    uint64_t word = 0;
    const size_t at = w * sizeof(word);
    if (at < len) std::memcpy(&word, algorithm + at, std::min(sizeof(word), len - at));
    s.algorithm[w].store(word, std::memory_order_relaxed);
  }
}

void FlightRecorder::ranZeroCopy(const engine::TraceRef& ref) {
  if (!ref.owns()) return;
  Slot& s = *reinterpret_cast<Slot*>(ref.slot);  // the live part is its first member (setSeq)
  s.stepsTotal.store(0, std::memory_order_relaxed);
  storeAlgorithm(s, "zerocopy");
}

void FlightRecorder::setSeq(const engine::TraceRef& ref, uint32_t seq) {
  static_assert(std::is_standard_layout_v<Slot>);  // a pointer to its first member is one to it
  if (!ref.owns()) return;
  // The live part is the Slot's first member: the ref's slot is the Slot.
  reinterpret_cast<Slot*>(ref.slot)->seq.store(seq, std::memory_order_relaxed);
}

bool FlightRecorder::writeJson(int fd, const char* reason) const {
  constexpr auto r = std::memory_order_relaxed;
  JsonOut out(fd);
  out.raw("{\"plexus_flight_recorder\":1");
  out.raw(header_.data(), header_.size());
  out.field("context");
  out.str(identity_.context.c_str());
  out.field("reason");
  out.str(reason);
  out.field("dumped_us");
  out.num(engine::traceClockUs());
  const uint32_t last = next_.load(r);
  out.field("recorded");
  out.num(last);
  out.field("ops");
  out.raw("[");
  const uint32_t first = last > entries_ ? last - static_cast<uint32_t>(entries_) + 1 : 1;
  bool any = false;
  for (uint32_t id = first; id != 0 && id <= last; ++id) {
    const Slot& s = ring_[(id - 1) % entries_];
    if (s.live.id.load(r) != id) continue;  // reused meanwhile
    if (any) out.raw(",");
    any = true;
    out.raw("{\"id\":");
    out.num(id);
    out.field("seq");
    out.num(s.seq.load(r));
    const auto coll = static_cast<algo::Collective>(s.collective.load(r));
    out.field("collective");
    out.str(coll == algo::Collective::kSendRecv ? (s.send.load(r) != 0 ? "send" : "recv")
                                                : algo::collectiveName(coll));
    char algoName[Slot::kAlgoWords * 8 + 1] = {};
    for (size_t w = 0; w < Slot::kAlgoWords; ++w) {
      const uint64_t word = s.algorithm[w].load(r);
      std::memcpy(algoName + w * 8, &word, 8);
    }
    out.field("algorithm");
    out.str(algoName);
    out.field("count");
    out.num(static_cast<int64_t>(s.count.load(r)));
    out.field("type");
    out.str(dataTypeName(static_cast<DataType>(s.type.load(r))));
    out.field("op");
    out.str(redOpName(static_cast<RedOp>(s.op.load(r))));
    out.field(coll == algo::Collective::kSendRecv ? "peer" : "root");
    out.num(s.root.load(r));
    out.field("state");
    out.str(stateName(s.live.state.load(r)));
    out.field("steps_done");
    out.num(s.live.stepsDone.load(r));
    out.field("steps_total");
    out.num(s.stepsTotal.load(r));
    out.field("waits");
    out.raw("[");
    bool anyWait = false;
    for (size_t l = 0; l < engine::OpTrace::kLanes; ++l) {
      const char* what = s.live.waitFor[l].load(r);
      if (what == nullptr) continue;
      out.raw(anyWait ? ",{\"channel\":" : "{\"channel\":");
      anyWait = true;
      out.num(static_cast<int64_t>(l));
      out.field("for");
      out.str(what);
      out.field("peer");
      out.num(s.live.waitPeer[l].load(r));
      out.raw("}");
    }
    out.raw("]");
    out.field("start_us");
    out.num(s.startUs.load(r));
    out.field("last_progress_us");
    out.num(s.live.lastProgressUs.load(r));
    out.field("end_us");
    out.num(s.live.endUs.load(r));
    out.raw("}");
  }
  out.raw("]}\n");
  out.flush();
  return out.ok();
}

void FlightRecorder::dump(const char* reason) const {
  // One dump at a time (the temporary file is shared); a second waits up to 200 ms.
  for (int i = 0; dumping_.exchange(true, std::memory_order_acquire); ++i) {
    if (i == 200) return;
    timespec ms{0, 1000 * 1000};
    nanosleep(&ms, nullptr);
  }
  dumpUnlocked(reason);
  dumping_.store(false, std::memory_order_release);
}

void FlightRecorder::dumpUnlocked(const char* reason) const {
  if (path_.empty()) {
    writeJson(STDERR_FILENO, reason);
    return;
  }
  int fd = ::open(tmpPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    writeJson(STDERR_FILENO, reason);  // the folder is not writable: stderr rather than nothing
    return;
  }
  const bool ok = writeJson(fd, reason);
  ::close(fd);
  if (ok) ::rename(tmpPath_.c_str(), path_.c_str());
}

}  // namespace plexus::runtime
