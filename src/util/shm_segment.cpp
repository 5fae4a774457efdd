// POSIX shared memory segments.
#include "util/shm_segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "util/error.hpp"

namespace plexus {

ShmSegment ShmSegment::createOrOpen(const std::string& name, size_t size) {
  int fd = shm_open(name.c_str(), O_RDWR | O_CREAT, 0600);
  if (fd < 0)
    throwSystemError(errno, "shm_open(%s) failed; check that /dev/shm is mounted and has space",
                     name.c_str());
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    throwSystemError(e, "fstat(%s) failed", name.c_str());
  }
  if (static_cast<size_t>(st.st_size) < size) {
    // posix_fallocate reserves the pages now, so a full /dev/shm fails here and not with SIGBUS.
    int rc = posix_fallocate(fd, 0, static_cast<off_t>(size));
    if (rc != 0 && rc != EINVAL && rc != EOPNOTSUPP) {
      close(fd);
      shm_unlink(name.c_str());
      throwSystemError(rc, "cannot reserve %zu bytes of shared memory for %s; /dev/shm may be full",
                       size, name.c_str());
    }
    if (rc != 0 && ftruncate(fd, static_cast<off_t>(size)) != 0) {
      int e = errno;
      close(fd);
      throwSystemError(e, "ftruncate(%s, %zu) failed", name.c_str(), size);
    }
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int e = errno;
  close(fd);
  if (p == MAP_FAILED)
    throwSystemError(e, "mmap of shared memory %s (%zu bytes) failed", name.c_str(), size);
  ShmSegment seg;
  seg.data_ = p;
  seg.size_ = size;
  seg.name_ = name;
  seg.linked_ = true;
  return seg;
}

ShmSegment ShmSegment::openExisting(const std::string& name, size_t size) {
  int fd = shm_open(name.c_str(), O_RDWR, 0600);
  if (fd < 0) {
    if (errno == ENOENT)
      throwError(ErrorCode::kRemote,
                 "shared memory %s does not exist: its owner has exited or destroyed it",
                 name.c_str());
    throwSystemError(errno, "shm_open(%s) failed", name.c_str());
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int e = errno;
  close(fd);
  if (p == MAP_FAILED) throwSystemError(e, "mmap of shared memory %s failed", name.c_str());
  ShmSegment seg;
  seg.data_ = p;
  seg.size_ = size;
  seg.name_ = name;
  seg.linked_ = false;
  return seg;
}

ShmSegment::~ShmSegment() {
  reset();
}

ShmSegment::ShmSegment(ShmSegment&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      name_(std::move(o.name_)),
      linked_(std::exchange(o.linked_, false)) {}

ShmSegment& ShmSegment::operator=(ShmSegment&& o) noexcept {
  if (this != &o) {
    reset();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    name_ = std::move(o.name_);
    linked_ = std::exchange(o.linked_, false);
  }
  return *this;
}

void ShmSegment::unlink() {
  if (linked_) {
    shm_unlink(name_.c_str());
    linked_ = false;
  }
}

void ShmSegment::reset() {
  if (data_ != nullptr) munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace plexus
