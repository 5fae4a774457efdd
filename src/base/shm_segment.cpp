// Anonymous shared memory segments (memfd).
#include "base/shm_segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "base/error.hpp"

namespace plexus {
namespace {

void* mapShared(int fd, size_t size, const std::string& label) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    throwSystemError(errno, "mmap of shared memory '%s' (%zu bytes) failed", label.c_str(), size);
  return p;
}

}  // namespace

ShmSegment ShmSegment::create(const std::string& label, size_t size) {
  Fd fd(memfd_create(label.c_str(), MFD_CLOEXEC));
  if (!fd)
    throwSystemError(errno, "memfd_create(%s) failed; check the process's open-file limit",
                     label.c_str());
  // Reserving the pages makes an exhausted memory fail here and not with SIGBUS on first touch.
  int rc = posix_fallocate(fd.get(), 0, static_cast<off_t>(size));
  if (rc != 0 && rc != EINVAL && rc != EOPNOTSUPP)
    throwSystemError(rc,
                     "cannot reserve %zu bytes of shared memory for %s: the host is out of "
                     "memory; see PLEXUS_SHM_BUDGET in docs/environment.md",
                     size, label.c_str());
  if (rc != 0 && ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
    throwSystemError(errno, "ftruncate(%s, %zu) failed", label.c_str(), size);
  ShmSegment seg;
  seg.data_ = mapShared(fd.get(), size, label);
  seg.size_ = size;
  seg.fd_ = std::move(fd);
  return seg;
}

ShmSegment ShmSegment::map(Fd fd, size_t size, const std::string& label) {
  struct stat st {};
  if (fstat(fd.get(), &st) != 0)
    throwSystemError(errno, "fstat of shared memory %s", label.c_str());
  if (static_cast<size_t>(st.st_size) < size)
    throwError(ErrorCode::kRemote, "shared memory %s holds %lld bytes where %zu were expected",
               label.c_str(), static_cast<long long>(st.st_size), size);
  ShmSegment seg;
  seg.data_ = mapShared(fd.get(), size, label);
  seg.size_ = size;
  return seg;
}

ShmSegment::~ShmSegment() {
  reset();
}

ShmSegment::ShmSegment(ShmSegment&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      fd_(std::move(o.fd_)) {}

ShmSegment& ShmSegment::operator=(ShmSegment&& o) noexcept {
  if (this != &o) {
    reset();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    fd_ = std::move(o.fd_);
  }
  return *this;
}

void ShmSegment::reset() {
  if (data_ != nullptr) munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
  fd_.reset();
}

}  // namespace plexus
