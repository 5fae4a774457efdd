// A POSIX shared-memory segment (shm_open + mmap), owned RAII. Names are made from ids the
// communicator agrees on, so two processes can meet on one segment without exchanging fds.
#pragma once

#include <cstddef>
#include <string>

namespace plexus {

class ShmSegment {
 public:
  ShmSegment() = default;
  // Creates (or opens, if it exists already) the segment `name` of `size` bytes, zero-filled
  // when new. The name must start with '/'.
  static ShmSegment createOrOpen(const std::string& name, size_t size);
  // Opens an existing segment; throws Error(kRemote) when it does not exist.
  static ShmSegment openExisting(const std::string& name, size_t size);
  ~ShmSegment();
  ShmSegment(ShmSegment&& other) noexcept;
  ShmSegment& operator=(ShmSegment&& other) noexcept;
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& name() const { return name_; }
  bool valid() const { return data_ != nullptr; }
  // Removes the name (mapping stays valid). Idempotent.
  void unlink();

 private:
  void reset();
  void* data_ = nullptr;
  size_t size_ = 0;
  std::string name_;
  bool linked_ = false;
};

}  // namespace plexus
