// Memory registration in the transport contract: the default (cannot register), the checks every
// transport applies to a region, and the knobs that switch GPUDirect registration off.
#include "transports/common/memory_region.hpp"

#include "base/env.hpp"
#include "base/error.hpp"
#include "transports/common/transport.hpp"

namespace plexus::transport {

MemoryRegistration Transport::registerMemory(const MemoryRegion& region) {
  throwError(ErrorCode::kInvalidUsage,
             "%s transport registers no memory (%s); the data is staged through host memory",
             name(), describeRegion(region).c_str());
}

void Transport::deregisterMemory(void*) {}

std::string describeRegion(const MemoryRegion& r) {
  std::string where = r.kind == PLEXUS_TP_MEM_CUDA   ? formatString("cuda device %d", r.device)
                      : r.kind == PLEXUS_TP_MEM_HOST ? std::string("host")
                                                     : formatString("memory kind %u", r.kind);
  std::string s = formatString("%s, %zu bytes at %p", where.c_str(), r.size, r.ptr);
  if (r.dmabufFd >= 0)
    s += formatString(", dma-buf fd %d + %llu", r.dmabufFd,
                      static_cast<unsigned long long>(r.dmabufOffset));
  return s;
}

std::string registrationCapsText(uint32_t caps) {
  std::string s;
  auto add = [&](uint32_t bit, const char* what) {
    if ((caps & bit) != 0) s += (s.empty() ? "" : ", ") + std::string(what);
  };
  add(PLEXUS_TP_REG_HOST, "host");
  add(PLEXUS_TP_REG_CUDA_DMABUF, "cuda (dma-buf)");
  add(PLEXUS_TP_REG_CUDA_HMEM, "cuda (FI_HMEM)");
  return s.empty() ? "none" : s;
}

uint32_t capsNeededFor(const MemoryRegion& r) {
  if (r.kind == PLEXUS_TP_MEM_HOST) return PLEXUS_TP_REG_HOST;
  return r.dmabufFd >= 0 ? PLEXUS_TP_REG_CUDA_DMABUF : PLEXUS_TP_REG_CUDA;
}

void checkRegion(const char* transport, const MemoryRegion& r, uint32_t caps) {
  if (r.ptr == nullptr || r.size == 0)
    throwError(ErrorCode::kInvalidArgument, "%s transport: cannot register %s (empty region)",
               transport, describeRegion(r).c_str());
  if (r.kind != PLEXUS_TP_MEM_HOST && r.kind != PLEXUS_TP_MEM_CUDA)
    throwError(ErrorCode::kInvalidArgument,
               "%s transport: cannot register %s (the kind must be PLEXUS_TP_MEM_HOST or "
               "PLEXUS_TP_MEM_CUDA)",
               transport, describeRegion(r).c_str());
  if (r.kind == PLEXUS_TP_MEM_CUDA && r.device < 0)
    throwError(ErrorCode::kInvalidArgument,
               "%s transport: cannot register %s (CUDA memory needs its device ordinal)", transport,
               describeRegion(r).c_str());
  if ((caps & capsNeededFor(r)) == 0)
    throwError(ErrorCode::kInvalidUsage,
               "%s transport cannot register %s here: it registers %s; the data is staged "
               "through host memory instead",
               transport, describeRegion(r).c_str(), registrationCapsText(caps).c_str());
}

uint32_t applyRegistrationKnobs(uint32_t caps) {
  if (!envBool("NET_GDR", true)) caps &= ~PLEXUS_TP_REG_CUDA;
  if (!envBool("DMABUF_ENABLE", true)) caps &= ~PLEXUS_TP_REG_CUDA_DMABUF;
  return caps;
}

}  // namespace plexus::transport
