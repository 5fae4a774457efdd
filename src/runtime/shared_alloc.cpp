// Host memory from memfds (runtime/shared_alloc.hpp).
#include "runtime/shared_alloc.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <string>

#include "base/error.hpp"
#include "runtime/single_copy.hpp"

namespace plexus::runtime {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<uintptr_t, SharedRegion> regions;  // by base address
  uint64_t nextId = 1;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: buffers may be freed during exit
  return *r;
}

}  // namespace

AllocChoice allocChoice(size_t bytes) {
  const SingleCopySettings s = singleCopySettingsFromEnv();
  if (s.mode == SingleCopyMode::kOn) return AllocChoice::kSharedOnly;
  return s.mode == SingleCopyMode::kAuto && bytes >= s.threshold ? AllocChoice::kShared
                                                                 : AllocChoice::kPlain;
}

void* sharedAlloc(size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t size = (bytes == 0 ? page : (bytes + page - 1) / page * page);
  const int fd = memfd_create("plexus-mem", MFD_CLOEXEC);
  if (fd < 0)
    throw Error(ErrorCode::kSystem, std::string("ncclMemAlloc: memfd_create failed: ") +
                                        std::strerror(errno) + " (PLEXUS_SINGLE_COPY=0 avoids it)");
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int err = errno;
    close(fd);
    throw Error(ErrorCode::kSystem, "ncclMemAlloc: cannot size a memfd to " + std::to_string(size) +
                                        " bytes: " + std::strerror(err));
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    close(fd);
    throw Error(ErrorCode::kSystem, "ncclMemAlloc: cannot map " + std::to_string(size) +
                                        " bytes of a memfd: " + std::strerror(err));
  }
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.regions[reinterpret_cast<uintptr_t>(p)] =
      SharedRegion{fd, r.nextId++, static_cast<const std::byte*>(p), size};
  return p;
}

bool sharedFree(void* p) {
  Registry& r = registry();
  SharedRegion region;
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.regions.find(reinterpret_cast<uintptr_t>(p));
    if (it == r.regions.end()) return false;
    region = it->second;
    r.regions.erase(it);
  }
  munmap(const_cast<std::byte*>(region.base), region.size);
  close(region.fd);
  return true;
}

std::optional<SharedRegion> sharedRegionOf(const void* p, size_t bytes) {
  Registry& r = registry();
  const auto at = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.regions.upper_bound(at);
  if (it == r.regions.begin()) return std::nullopt;
  --it;
  const SharedRegion& s = it->second;
  if (at + bytes > it->first + s.size) return std::nullopt;
  return s;
}

}  // namespace plexus::runtime
