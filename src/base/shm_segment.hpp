// Shared memory that cannot outlive its processes: an anonymous memory file (memfd) mapped RAII.
// It has no name in /dev/shm; other processes map it through its file descriptor, passed to them
// over a Unix socket (SCM_RIGHTS). The pages are freed when the last mapping and descriptor go,
// however the processes end (SIGKILL and the OOM killer included).
#pragma once

#include <cstddef>
#include <string>

#include "base/socket.hpp"

namespace plexus {

class ShmSegment {
 public:
  ShmSegment() = default;
  // A new zero-filled segment of `size` bytes whose pages are reserved now (a full memory fails
  // here with a clear error, not later with SIGBUS). `label` names it in errors and in
  // /proc/PID/maps. The segment keeps its descriptor for passing to peers (fd()).
  static ShmSegment create(const std::string& label, size_t size);
  // Maps a segment received from a peer; checks that it holds at least `size` bytes. The
  // descriptor is closed once mapped.
  static ShmSegment map(Fd fd, size_t size, const std::string& label);
  ~ShmSegment();
  ShmSegment(ShmSegment&& other) noexcept;
  ShmSegment& operator=(ShmSegment&& other) noexcept;
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }
  bool valid() const { return data_ != nullptr; }
  // The descriptor of a segment made by create() (to pass to peers), or -1.
  int fd() const { return fd_.get(); }
  // Closes the descriptor once it was passed on (the mapping stays): a rank with many peers
  // would otherwise hold one per segment.
  void closeFd() { fd_.reset(); }

 private:
  void reset();
  void* data_ = nullptr;
  size_t size_ = 0;
  Fd fd_;
};

}  // namespace plexus
