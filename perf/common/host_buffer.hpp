// Page-aligned host memory for the perf tools' send and receive buffers, zero-filled at
// allocation so that page faults happen before anything is timed. From std::aligned_alloc, or
// from ncclMemAlloc (-R 1 or 2: nccl-tests takes registered buffers from ncclMemAlloc; on one
// host Plexus reduces straight from peers' ncclMemAlloc buffers).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "plexus/nccl.h"

namespace plexus::perf {

class HostBuffer {
 public:
  HostBuffer() = default;
  explicit HostBuffer(size_t bytes, bool fromNccl = false) : size_(bytes) {
    constexpr size_t kAlign = 4096;
    size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    if (rounded == 0) rounded = kAlign;
    void* p = nullptr;
    if (fromNccl) {
      if (ncclMemAlloc(&p, rounded) != ncclSuccess) p = nullptr;
    } else {
      p = std::aligned_alloc(kAlign, rounded);
    }
    if (p == nullptr) throw std::bad_alloc();
    std::memset(p, 0, rounded);
    data_ = std::unique_ptr<unsigned char, Free>(static_cast<unsigned char*>(p), Free{fromNccl});
  }
  unsigned char* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    bool nccl;  // from ncclMemAlloc (value-initialised: false)
    void operator()(unsigned char* p) const {
      if (nccl)
        ncclMemFree(p);
      else
        std::free(p);
    }
  };
  std::unique_ptr<unsigned char, Free> data_;
  size_t size_ = 0;
};

}  // namespace plexus::perf
