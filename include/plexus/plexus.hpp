// Plexus C++ API: an RAII communicator over the same core as the NCCL C API, with typed spans and
// asynchronous requests (wait, test, error) that a framework's work handle can wrap.
//
//   auto id = plexus::UniqueId::create();            // on one rank; ship id.bytes to the others
//   plexus::Communicator comm = plexus::Communicator::init(id, rank, nranks);
//   comm.allReduce<float>(in, out);                  // blocking
//   plexus::Request r = comm.allReduceAsync<float>(in, out, plexus::RedOp::kMax);
//   r.wait();                                        // throws plexus::Error on failure
//
// Ranks started by plexus-run, torchrun, Open MPI or Slurm can use Communicator::fromEnvironment().
// Asynchronous operations progress on the communicator's progress thread; all operations on one
// communicator must be issued in the same order on every rank. Concurrent asynchronous sends and
// receives never deadlock, whatever their order.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "plexus/types.hpp"

namespace plexus {

template <typename T>
struct DataTypeOf;
template <>
struct DataTypeOf<int8_t> {
  static constexpr DataType value = DataType::kInt8;
};
template <>
struct DataTypeOf<uint8_t> {
  static constexpr DataType value = DataType::kUint8;
};
template <>
struct DataTypeOf<int32_t> {
  static constexpr DataType value = DataType::kInt32;
};
template <>
struct DataTypeOf<uint32_t> {
  static constexpr DataType value = DataType::kUint32;
};
template <>
struct DataTypeOf<int64_t> {
  static constexpr DataType value = DataType::kInt64;
};
template <>
struct DataTypeOf<uint64_t> {
  static constexpr DataType value = DataType::kUint64;
};
template <>
struct DataTypeOf<float> {
  static constexpr DataType value = DataType::kFloat32;
};
template <>
struct DataTypeOf<double> {
  static constexpr DataType value = DataType::kFloat64;
};

// The 128 bytes ranks share to meet (same layout as ncclUniqueId).
struct PLEXUS_PUBLIC UniqueId {
  std::array<std::byte, 128> bytes{};
  // Starts the bootstrap root in this process and returns its id.
  static UniqueId create();
};

class Communicator;

// An operation in flight. Copyable handle; an empty Request is complete.
class PLEXUS_PUBLIC Request {
 public:
  Request();
  ~Request();
  Request(const Request&);
  Request& operator=(const Request&);

  // Drives progress until the operation finishes; throws Error if it failed.
  void wait();
  // As wait(), but gives up after `timeout` and returns false (the operation goes on).
  bool waitFor(std::chrono::milliseconds timeout);
  // Non-blocking: true once finished (successfully or not).
  bool test() const;
  // The failure, once finished and failed.
  std::optional<Error> error() const;

 private:
  friend class Communicator;
  struct State;
  explicit Request(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

class PLEXUS_PUBLIC Communicator {
 public:
  struct Options {
    std::string name;  // appears in log lines and errors
    // Bound for init and for any operation that makes no progress; zero: PLEXUS_TIMEOUT.
    std::chrono::milliseconds timeout{0};
    // Device buffers (docs/gpu.md, "Device buffers (staged path)"): the cudaStream_t that
    // operations on device or managed memory are enqueued on (nullptr: the legacy default
    // stream). Such an operation returns at once with a complete Request; it runs in stream
    // order, after earlier work on the stream, and later work on the stream sees its result. Host
    // buffers ignore it. Change it later with setStream().
    void* stream = nullptr;
    // Mismatch detection (docs/reliability.md): before each collective the ranks compare its
    // count, type, op and root, and a mismatch fails it on every rank naming two ranks and their
    // calls. 1 on, 0 off, -1 as PLEXUS_CHECK says; every rank must choose alike.
    int check = -1;
    // Reproducible reductions (docs/algorithms.md, "Reproducible mode"): floating-point
    // all-reduce, reduce-scatter and reduce give the same bits for a given world size, count and
    // data whatever algorithm, channels, chunking, ring order, placement or transport carry them.
    // 1 on, 0 off, -1 as PLEXUS_REPRODUCIBLE says; every rank must choose alike. Communicators
    // made by split() and shrink() inherit it.
    int reproducible = -1;
  };

  // Collective over `nranks` callers with the same id.
  static Communicator init(const UniqueId& id, int rank, int nranks, const Options& options);
  static Communicator init(const UniqueId& id, int rank, int nranks) {
    return init(id, rank, nranks, Options{});
  }
  // Rank, size and bootstrap root from the launcher's environment (plexus-run, torchrun, Open MPI,
  // Slurm; see docs/launching.md).
  static Communicator fromEnvironment(const Options& options);
  static Communicator fromEnvironment() { return fromEnvironment(Options{}); }

  Communicator();  // empty
  ~Communicator();
  Communicator(Communicator&&) noexcept;
  Communicator& operator=(Communicator&&) noexcept;
  explicit operator bool() const { return static_cast<bool>(impl_); }

  int rank() const;
  int size() const;

  // The cudaStream_t for later operations on device buffers (see Options::stream).
  void setStream(void* stream);

  // Untyped operations (any DataType, fp16/bf16/fp8 included). Counts follow NCCL: all-gather's
  // count is per rank, reduce-scatter's is the per-rank output.
  Request allReduce(const void* in, void* out, size_t count, DataType type, RedOp op, bool async);
  Request broadcast(const void* in, void* out, size_t count, DataType type, int root, bool async);
  Request reduce(const void* in, void* out, size_t count, DataType type, RedOp op, int root,
                 bool async);
  Request allGather(const void* in, void* out, size_t count, DataType type, bool async);
  Request reduceScatter(const void* in, void* out, size_t count, DataType type, RedOp op,
                        bool async);
  Request send(const void* in, size_t count, DataType type, int peer, bool async);
  Request recv(void* out, size_t count, DataType type, int peer, bool async);
  // `count` elements per rank: all-to-all sends in[j*count..] to rank j and receives rank i's
  // block into out[i*count..]; gather collects into out at the root; scatter sends in[j*count..]
  // from the root to rank j.
  Request allToAll(const void* in, void* out, size_t count, DataType type, bool async);
  Request gather(const void* in, void* out, size_t count, DataType type, int root, bool async);
  Request scatter(const void* in, void* out, size_t count, DataType type, int root, bool async);

  // Typed, blocking.
  template <typename T>
  void allReduce(std::span<const T> in, std::span<T> out, RedOp op = RedOp::kSum) {
    checkSizes(in.size(), out.size(), 1, 1);
    allReduce(in.data(), out.data(), in.size(), DataTypeOf<T>::value, op, false).wait();
  }
  template <typename T>
  void allReduce(std::span<T> inout, RedOp op = RedOp::kSum) {
    allReduce(inout.data(), inout.data(), inout.size(), DataTypeOf<T>::value, op, false).wait();
  }
  template <typename T>
  void broadcast(std::span<T> inout, int root) {
    broadcast(inout.data(), inout.data(), inout.size(), DataTypeOf<T>::value, root, false).wait();
  }
  template <typename T>
  void reduce(std::span<const T> in, std::span<T> out, int root, RedOp op = RedOp::kSum) {
    if (rank() == root) checkSizes(in.size(), out.size(), 1, 1);
    reduce(in.data(), out.data(), in.size(), DataTypeOf<T>::value, op, root, false).wait();
  }
  template <typename T>
  void allGather(std::span<const T> in, std::span<T> out) {
    checkSizes(in.size(), out.size(), 1, size());
    allGather(in.data(), out.data(), in.size(), DataTypeOf<T>::value, false).wait();
  }
  template <typename T>
  void reduceScatter(std::span<const T> in, std::span<T> out, RedOp op = RedOp::kSum) {
    checkSizes(in.size(), out.size(), size(), 1);
    reduceScatter(in.data(), out.data(), out.size(), DataTypeOf<T>::value, op, false).wait();
  }
  template <typename T>
  void send(std::span<const T> in, int peer) {
    send(in.data(), in.size(), DataTypeOf<T>::value, peer, false).wait();
  }
  template <typename T>
  void recv(std::span<T> out, int peer) {
    recv(out.data(), out.size(), DataTypeOf<T>::value, peer, false).wait();
  }

  template <typename T>
  void allToAll(std::span<const T> in, std::span<T> out) {
    checkSizes(in.size(), out.size(), 1, 1);
    allToAll(in.data(), out.data(), in.size() / static_cast<size_t>(size()), DataTypeOf<T>::value,
             false)
        .wait();
  }
  template <typename T>
  void gather(std::span<const T> in, std::span<T> out, int root) {
    if (rank() == root) checkSizes(in.size(), out.size(), 1, size());
    gather(in.data(), out.data(), in.size(), DataTypeOf<T>::value, root, false).wait();
  }
  template <typename T>
  void scatter(std::span<const T> in, std::span<T> out, int root) {
    if (rank() == root) checkSizes(in.size(), out.size(), size(), 1);
    scatter(in.data(), out.data(), out.size(), DataTypeOf<T>::value, root, false).wait();
  }

  // Typed, asynchronous: the buffers must stay alive until the request finishes.
  template <typename T>
  Request allReduceAsync(std::span<const T> in, std::span<T> out, RedOp op = RedOp::kSum) {
    checkSizes(in.size(), out.size(), 1, 1);
    return allReduce(in.data(), out.data(), in.size(), DataTypeOf<T>::value, op, true);
  }
  template <typename T>
  Request allGatherAsync(std::span<const T> in, std::span<T> out) {
    checkSizes(in.size(), out.size(), 1, size());
    return allGather(in.data(), out.data(), in.size(), DataTypeOf<T>::value, true);
  }
  template <typename T>
  Request reduceScatterAsync(std::span<const T> in, std::span<T> out, RedOp op = RedOp::kSum) {
    checkSizes(in.size(), out.size(), size(), 1);
    return reduceScatter(in.data(), out.data(), out.size(), DataTypeOf<T>::value, op, true);
  }
  template <typename T>
  Request broadcastAsync(std::span<T> inout, int root) {
    return broadcast(inout.data(), inout.data(), inout.size(), DataTypeOf<T>::value, root, true);
  }
  template <typename T>
  Request sendAsync(std::span<const T> in, int peer) {
    return send(in.data(), in.size(), DataTypeOf<T>::value, peer, true);
  }
  template <typename T>
  Request recvAsync(std::span<T> out, int peer) {
    return recv(out.data(), out.size(), DataTypeOf<T>::value, peer, true);
  }

  // Blocks until every rank has called it (dissemination barrier: no data, log2(n) rounds).
  void barrier();
  Request barrierAsync();
  // Ranks with the same color form a new communicator, ordered by key (then rank); a negative
  // color returns an empty communicator.
  Communicator split(int color, int key);
  // ncclCommShrink: every rank not in `excludeRanks` calls it (the excluded ones do not, and may
  // be dead) and gets a communicator of the remaining ranks, in the order they have here. With
  // `abortFirst` (NCCL_SHRINK_ABORT; after a failure) this communicator's operations fail first,
  // and it is left aborted; otherwise (NCCL_SHRINK_DEFAULT) those in flight complete first.
  Communicator shrink(std::span<const int> excludeRanks, bool abortFirst = false);
  // Fails every pending operation here and on peers waiting for this rank.
  void abort();

 private:
  struct Impl;
  explicit Communicator(std::shared_ptr<Impl> impl);
  void checkSizes(size_t in, size_t out, size_t inFactor, size_t outFactor) const;
  Request submit(int collective, const void* in, void* out, size_t count, DataType type, RedOp op,
                 int root, bool isSend, bool async);
  std::shared_ptr<Impl> impl_;
};

}  // namespace plexus
