// The C++ API (include/plexus/plexus.hpp) over the communicator core.
#include <cstring>

#include "api/device_dispatch.hpp"
#include "base/error.hpp"
#include "plexus/plexus.hpp"
#include "runtime/communicator.hpp"
#include "runtime/launch_env.hpp"
#include "runtime/staged_executor.hpp"

namespace plexus {

struct Request::State {
  std::shared_ptr<runtime::Communicator> comm;  // keeps the engine alive
  engine::WorkPtr work;
};

struct Communicator::Impl {
  std::shared_ptr<runtime::Communicator> core;
  void* stream = nullptr;  // for device buffers (Options::stream)
};

UniqueId UniqueId::create() {
  UniqueId out;
  auto bytes = runtime::createRootAndId().encode();
  std::memcpy(out.bytes.data(), bytes.data(), bytes.size());
  return out;
}

Request::Request() = default;
Request::~Request() = default;
Request::Request(const Request&) = default;
Request& Request::operator=(const Request&) = default;
Request::Request(std::shared_ptr<State> state) : state_(std::move(state)) {}

void Request::wait() {
  if (!state_) return;
  engine::Engine::wait({{&state_->comm->engine(), state_->work}});
  if (auto e = error()) throw *e;
}

bool Request::waitFor(std::chrono::milliseconds timeout) {
  if (!state_) return true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!state_->work->finished()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    state_->work->waitFinished(std::min<std::chrono::nanoseconds>(
        deadline - std::chrono::steady_clock::now(), std::chrono::milliseconds(10)));
  }
  if (auto e = error()) throw *e;
  return true;
}

bool Request::test() const {
  return !state_ || state_->work->finished();
}

std::optional<Error> Request::error() const {
  if (!state_ || state_->work->state() != engine::Work::kFailed) return std::nullopt;
  return Error(state_->work->errorCode(), state_->work->errorMessage());
}

Communicator::Communicator() = default;
Communicator::~Communicator() = default;
Communicator::Communicator(Communicator&&) noexcept = default;
Communicator& Communicator::operator=(Communicator&&) noexcept = default;
Communicator::Communicator(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Communicator Communicator::init(const UniqueId& id, int rank, int nranks, const Options& options) {
  runtime::UniqueIdBytes bytes;
  std::memcpy(bytes.data(), id.bytes.data(), bytes.size());
  runtime::CommOptions o;
  o.name = options.name;
  o.timeout = options.timeout;
  o.check = options.check;
  o.reproducible = options.reproducible;
  auto impl = std::make_shared<Impl>();
  impl->stream = options.stream;
  impl->core = runtime::Communicator::create(runtime::UniqueId::decode(bytes), rank, nranks, o);
  return Communicator(std::move(impl));
}

Communicator Communicator::fromEnvironment(const Options& options) {
  auto env = runtime::detectLaunchEnv();
  if (!env)
    throwError(ErrorCode::kInvalidUsage,
               "Communicator::fromEnvironment: no launcher environment found (PLEXUS_RANK, RANK, "
               "OMPI_COMM_WORLD_RANK or SLURM_PROCID); start the program with plexus-run, "
               "torchrun, mpirun or srun");
  runtime::CommOptions o;
  o.name = options.name;
  o.timeout = options.timeout;
  o.check = options.check;
  o.reproducible = options.reproducible;
  auto impl = std::make_shared<Impl>();
  impl->stream = options.stream;
  impl->core = runtime::Communicator::create(runtime::idFromAddress(env->rootAddress, env->secret),
                                             env->rank, env->size, o);
  return Communicator(std::move(impl));
}

int Communicator::rank() const {
  return impl_->core->rank();
}
int Communicator::size() const {
  return impl_->core->nranks();
}

void Communicator::setStream(void* stream) {
  if (!impl_) throwError(ErrorCode::kInvalidUsage, "setStream on an empty plexus::Communicator");
  impl_->stream = stream;
}

void Communicator::checkSizes(size_t in, size_t out, size_t inFactor, size_t outFactor) const {
  runtime::checkBufferSizes(in, out, inFactor, outFactor, impl_->core->context());
}

Request Communicator::submit(int collective, const void* in, void* out, size_t count, DataType type,
                             RedOp op, int root, bool isSend, bool async) {
  if (!impl_) throwError(ErrorCode::kInvalidUsage, "operation on an empty plexus::Communicator");
  runtime::OpArgs a;
  a.collective = static_cast<algo::Collective>(collective);
  a.input = in;
  a.output = out;
  a.count = count;
  a.type = type;
  a.op = op;
  a.root = root;
  a.isSend = isSend;
  impl_->core->validate(a);
  if (api::deviceCall(*impl_->core, a, "in", "out")) {
    // Enqueued on the stream: complete as far as the caller is concerned (stream order).
    impl_->core->staged().enqueue({runtime::StagedExecutor::Op{a, impl_->stream}});
    return Request();
  }
  api::orderAfterStaged(*impl_->core);
  if (!async && impl_->core->runSmallNow(a)) return Request();  // done, the engine idle
  auto state = std::make_shared<Request::State>();
  state->comm = impl_->core;
  state->work = impl_->core->submit(a, async);
  if (impl_->core->hasUnmatchedSelfP2P() && !async)
    throwError(ErrorCode::kInvalidUsage,
               "%s: a blocking send to or receive from this rank itself can never complete; use "
               "the asynchronous form for both",
               impl_->core->context().c_str());
  return Request(std::move(state));
}

Request Communicator::allReduce(const void* in, void* out, size_t count, DataType type, RedOp op,
                                bool async) {
  return submit(static_cast<int>(algo::Collective::kAllReduce), in, out, count, type, op, 0, false,
                async);
}
Request Communicator::broadcast(const void* in, void* out, size_t count, DataType type, int root,
                                bool async) {
  return submit(static_cast<int>(algo::Collective::kBroadcast), in, out, count, type, RedOp::kSum,
                root, false, async);
}
Request Communicator::reduce(const void* in, void* out, size_t count, DataType type, RedOp op,
                             int root, bool async) {
  return submit(static_cast<int>(algo::Collective::kReduce), in, out, count, type, op, root, false,
                async);
}
Request Communicator::allGather(const void* in, void* out, size_t count, DataType type,
                                bool async) {
  return submit(static_cast<int>(algo::Collective::kAllGather), in, out, count, type, RedOp::kSum,
                0, false, async);
}
Request Communicator::reduceScatter(const void* in, void* out, size_t count, DataType type,
                                    RedOp op, bool async) {
  return submit(static_cast<int>(algo::Collective::kReduceScatter), in, out, count, type, op, 0,
                false, async);
}
Request Communicator::send(const void* in, size_t count, DataType type, int peer, bool async) {
  return submit(static_cast<int>(algo::Collective::kSendRecv), in, nullptr, count, type,
                RedOp::kSum, peer, true, async);
}
Request Communicator::recv(void* out, size_t count, DataType type, int peer, bool async) {
  return submit(static_cast<int>(algo::Collective::kSendRecv), nullptr, out, count, type,
                RedOp::kSum, peer, false, async);
}

Request Communicator::allToAll(const void* in, void* out, size_t count, DataType type, bool async) {
  return submit(static_cast<int>(algo::Collective::kAllToAll), in, out, count, type, RedOp::kSum, 0,
                false, async);
}
Request Communicator::gather(const void* in, void* out, size_t count, DataType type, int root,
                             bool async) {
  return submit(static_cast<int>(algo::Collective::kGather), in, out, count, type, RedOp::kSum,
                root, false, async);
}
Request Communicator::scatter(const void* in, void* out, size_t count, DataType type, int root,
                              bool async) {
  return submit(static_cast<int>(algo::Collective::kScatter), in, out, count, type, RedOp::kSum,
                root, false, async);
}

void Communicator::barrier() {
  barrierAsync().wait();
}

Request Communicator::barrierAsync() {
  return submit(static_cast<int>(algo::Collective::kBarrier), nullptr, nullptr, 0, DataType::kUint8,
                RedOp::kSum, 0, false, true);
}

Communicator Communicator::split(int color, int key) {
  if (!impl_) throwError(ErrorCode::kInvalidUsage, "split on an empty plexus::Communicator");
  runtime::CommOptions o;
  o.reproducible = impl_->core->reproducible() ? 1 : 0;
  auto made = impl_->core->split(color, key, o);
  if (!made) return Communicator();
  auto impl = std::make_shared<Impl>();
  impl->core = std::move(made);
  impl->stream = impl_->stream;
  return Communicator(std::move(impl));
}

Communicator Communicator::shrink(std::span<const int> excludeRanks, bool abortFirst) {
  if (!impl_) throwError(ErrorCode::kInvalidUsage, "shrink on an empty plexus::Communicator");
  runtime::CommOptions o;
  o.reproducible = impl_->core->reproducible() ? 1 : 0;
  auto made = impl_->core->shrink(std::vector<int>(excludeRanks.begin(), excludeRanks.end()),
                                  abortFirst, o);
  auto impl = std::make_shared<Impl>();
  impl->core = std::move(made);
  impl->stream = impl_->stream;
  return Communicator(std::move(impl));
}

void Communicator::abort() {
  if (impl_) impl_->core->abort("Communicator::abort was called");
}

}  // namespace plexus
