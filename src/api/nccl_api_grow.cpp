// NCCL 2.29 communicator life-cycle calls (include/plexus/nccl.h): ncclCommGetUniqueId and
// ncclCommGrow (growing a communicator with new ranks), ncclCommSuspend / ncclCommResume and
// ncclCommMemStats. Grow is real: the existing ranks learn the id from the rank that made it
// through an all-gather on the old communicator, then every rank (old and new) initialises a new
// communicator of nRanks with it; old ranks keep their ranks.
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "api/api_guard.hpp"
#include "base/log.hpp"
#include "runtime/op_args.hpp"

using plexus::ErrorCode;
using plexus::throwError;
namespace api = plexus::api;

#define PLEXUS_ALIAS(name) __attribute__((alias(#name), visibility("default")))

namespace {

// Per-communicator state of these calls, kept beside ncclComm. An entry belongs to the runtime
// communicator it was made for: once that is gone (ncclCommDestroy) the entry is stale and a new
// ncclComm at the same address starts afresh.
struct ExtraState {
  std::weak_ptr<plexus::runtime::Communicator> owner;
  bool suspended = false;
  bool idOutstanding = false;  // an id from ncclCommGetUniqueId not yet consumed by ncclCommGrow
};

std::mutex gStateMutex;
std::map<const ncclComm*, ExtraState>& states() {
  static std::map<const ncclComm*, ExtraState> m;
  return m;
}

// Runs `f` on the state of `comm` under the lock (creating or refreshing a stale entry).
template <class F>
auto withState(ncclComm_t comm, F&& f) {
  std::lock_guard<std::mutex> lock(gStateMutex);
  auto& m = states();
  for (auto it = m.begin(); it != m.end();) it = it->second.owner.expired() ? m.erase(it) : ++it;
  ExtraState& s = m[comm];
  const auto& impl = comm->impl;
  bool same = !s.owner.owner_before(impl) && !impl.owner_before(s.owner) && !s.owner.expired();
  if (!same) s = ExtraState{impl, false, false};
  return f(s);
}

void requireComm(ncclComm_t comm, const char* call) {
  if (comm == nullptr || !comm->impl)
    throwError(ErrorCode::kInvalidArgument, "%s: the communicator argument is NULL or destroyed",
               call);
}

// What each existing rank contributes to the grow all-gather.
struct GrowEntry {
  uint8_t hasId;
  char id[NCCL_UNIQUE_ID_BYTES];
};
static_assert(sizeof(GrowEntry) == 1 + NCCL_UNIQUE_ID_BYTES);

// The id of the grow, from the one existing rank that passed it.
ncclUniqueId shareGrowId(ncclComm_t comm, const ncclUniqueId* uniqueId) {
  const std::string& ctx = comm->impl->context();
  int n = comm->impl->nranks();
  GrowEntry mine{};
  mine.hasId = uniqueId != nullptr ? 1 : 0;
  if (uniqueId != nullptr) std::memcpy(mine.id, uniqueId->internal, sizeof(mine.id));
  std::vector<GrowEntry> all(static_cast<size_t>(n));
  ncclResult_t r = ncclAllGather(&mine, all.data(), sizeof(GrowEntry), ncclUint8, comm, nullptr);
  if (r != ncclSuccess)
    throwError(ErrorCode::kRemote,
               "ncclCommGrow (%s): sharing the grow id with the other existing ranks failed: %s",
               ctx.c_str(), ncclGetLastError(comm));
  int holders = 0;
  ncclUniqueId id{};
  for (const GrowEntry& e : all) {
    if (e.hasId == 0) continue;
    ++holders;
    std::memcpy(id.internal, e.id, sizeof(id.internal));
  }
  if (holders != 1)
    throwError(ErrorCode::kInvalidUsage,
               "ncclCommGrow (%s): %d existing ranks passed a uniqueId; exactly one must (the rank "
               "that called ncclCommGetUniqueId), the others pass NULL",
               ctx.c_str(), holders);
  return id;
}

}  // namespace

extern "C" {

ncclResult_t ncclCommGetUniqueId(ncclComm_t comm, ncclUniqueId* uniqueId) {
  return api::guarded(comm, [&] {
    requireComm(comm, "ncclCommGetUniqueId");
    if (uniqueId == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclCommGetUniqueId (%s): uniqueId is NULL",
                 comm->impl->context().c_str());
    withState(comm, [&](ExtraState& s) {
      if (s.idOutstanding)
        throwError(ErrorCode::kInvalidUsage,
                   "ncclCommGetUniqueId (%s): the id from the previous call has not been consumed "
                   "by ncclCommGrow yet (one grow at a time)",
                   comm->impl->context().c_str());
      auto bytes = plexus::runtime::createRootAndId().encode();
      std::memset(uniqueId->internal, 0, sizeof(uniqueId->internal));
      std::memcpy(uniqueId->internal, bytes.data(), bytes.size());
      s.idOutstanding = true;
    });
  });
}

ncclResult_t ncclCommGrow(ncclComm_t comm, int nRanks, const ncclUniqueId* uniqueId, int rank,
                          ncclComm_t* newcomm, ncclConfig_t* config) {
  ncclResult_t checked = api::guarded(comm, [&] {
    if (newcomm == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclCommGrow: newcomm is NULL");
    *newcomm = nullptr;
    if (api::inGroup())
      throwError(ErrorCode::kInvalidUsage,
                 "ncclCommGrow: not supported inside ncclGroupStart/ncclGroupEnd; call it outside "
                 "a group");
    if (comm == nullptr) {  // a new rank
      if (uniqueId == nullptr)
        throwError(ErrorCode::kInvalidArgument,
                   "ncclCommGrow: a new rank (comm = NULL) needs the uniqueId from "
                   "ncclCommGetUniqueId");
      plexus::runtime::checkRankArgs(rank, nRanks, "ncclCommGrow");
      return;
    }
    requireComm(comm, "ncclCommGrow");
    const char* ctx = comm->impl->context().c_str();
    if (rank != -1)
      throwError(ErrorCode::kInvalidArgument,
                 "ncclCommGrow (%s): existing ranks pass rank = -1 (they keep their rank); got %d",
                 ctx, rank);
    if (nRanks <= comm->impl->nranks())
      throwError(ErrorCode::kInvalidArgument,
                 "ncclCommGrow (%s): nRanks %d must exceed the communicator's %d ranks", ctx,
                 nRanks, comm->impl->nranks());
  });
  if (checked != ncclSuccess) return checked;
  if (comm == nullptr) return ncclCommInitRankConfig(newcomm, nRanks, *uniqueId, rank, config);

  ncclUniqueId id{};
  ncclResult_t shared = api::guarded(comm, [&] { id = shareGrowId(comm, uniqueId); });
  if (shared != ncclSuccess) return shared;
  ncclResult_t made = ncclCommInitRankConfig(newcomm, nRanks, id, comm->impl->rank(), config);
  if (made != ncclSuccess) return made;
  (*newcomm)->device = comm->device;
  if (uniqueId != nullptr) withState(comm, [](ExtraState& s) { s.idOutstanding = false; });
  PLEXUS_INFO(plexus::subsys::kInit, "%s: grown to %d ranks", comm->impl->context().c_str(),
              nRanks);
  return ncclSuccess;
}

ncclResult_t ncclCommSuspend(ncclComm_t comm, int flags) {
  return api::guarded(comm, [&] {
    requireComm(comm, "ncclCommSuspend");
    const char* ctx = comm->impl->context().c_str();
    if ((flags & ~NCCL_SUSPEND_MEM) != 0)
      throwError(ErrorCode::kInvalidArgument,
                 "ncclCommSuspend (%s): unknown flags 0x%x (only NCCL_SUSPEND_MEM = 0x1)", ctx,
                 static_cast<unsigned>(flags));
    if (api::inGroup())
      throwError(ErrorCode::kInvalidUsage,
                 "ncclCommSuspend (%s): not allowed inside ncclGroupStart/ncclGroupEnd", ctx);
    bool already = withState(comm, [](ExtraState& s) { return s.suspended; });
    if (already)
      throwError(ErrorCode::kInvalidUsage, "ncclCommSuspend (%s): already suspended", ctx);
    comm->impl->finalize();  // every queued operation completes first
    withState(comm, [](ExtraState& s) { s.suspended = true; });
    PLEXUS_INFO(plexus::subsys::kInit, "%s: suspended (no GPU memory to release)", ctx);
  });
}

ncclResult_t ncclCommResume(ncclComm_t comm) {
  return api::guarded(comm, [&] {
    requireComm(comm, "ncclCommResume");
    bool was = withState(comm, [](ExtraState& s) {
      bool w = s.suspended;
      s.suspended = false;
      return w;
    });
    if (!was)
      throwError(ErrorCode::kInvalidUsage,
                 "ncclCommResume (%s): the communicator is not suspended (call ncclCommSuspend "
                 "first)",
                 comm->impl->context().c_str());
  });
}

// Plexus allocates no GPU memory per communicator on this path: the byte counts are 0.
ncclResult_t ncclCommMemStats(ncclComm_t comm, ncclCommMemStat_t stat, uint64_t* value) {
  return api::guarded(comm, [&] {
    requireComm(comm, "ncclCommMemStats");
    const char* ctx = comm->impl->context().c_str();
    if (value == nullptr)
      throwError(ErrorCode::kInvalidArgument, "ncclCommMemStats (%s): value is NULL", ctx);
    int raw = 0;
    std::memcpy(&raw, &stat, sizeof(raw) < sizeof(stat) ? sizeof(raw) : sizeof(stat));
    switch (raw) {
      case ncclStatGpuMemSuspend:
      case ncclStatGpuMemPersist:
      case ncclStatGpuMemTotal:
        *value = 0;
        break;
      case ncclStatGpuMemSuspended:
        *value = withState(comm, [](ExtraState& s) { return s.suspended ? 1u : 0u; });
        break;
      default:
        throwError(ErrorCode::kInvalidArgument,
                   "ncclCommMemStats (%s): stat %d is not an ncclCommMemStat_t (0 to 3)", ctx, raw);
    }
  });
}

ncclResult_t pncclCommGetUniqueId(ncclComm_t, ncclUniqueId*) PLEXUS_ALIAS(ncclCommGetUniqueId);
ncclResult_t pncclCommGrow(ncclComm_t, int, const ncclUniqueId*, int, ncclComm_t*, ncclConfig_t*)
    PLEXUS_ALIAS(ncclCommGrow);
ncclResult_t pncclCommSuspend(ncclComm_t, int) PLEXUS_ALIAS(ncclCommSuspend);
ncclResult_t pncclCommResume(ncclComm_t) PLEXUS_ALIAS(ncclCommResume);
ncclResult_t pncclCommMemStats(ncclComm_t, ncclCommMemStat_t, uint64_t*)
    PLEXUS_ALIAS(ncclCommMemStats);

}  // extern "C"
