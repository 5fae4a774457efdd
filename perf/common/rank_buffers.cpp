// A rank's buffers on the host or on a CUDA device (see rank_buffers.hpp).
#include "common/rank_buffers.hpp"

#include <algorithm>

namespace plexus::perf {

RankBuffers RankBuffers::onHost(size_t bytes, bool fromNccl) {
  RankBuffers b;
  b.hostSend_ = HostBuffer(bytes, fromNccl);
  b.hostRecv_ = HostBuffer(bytes, fromNccl);
  return b;
}

RankBuffers RankBuffers::onDevice(size_t bytes, int device, bool nullStream) {
  RankBuffers b = onHost(bytes);
  b.device_ = device;
  b.devSend_ = cuda::Memory(bytes, device);
  b.devRecv_ = cuda::Memory(bytes, device);
  b.stream_ = cuda::Stream(device, nullStream);
  b.start_ = cuda::Event(device);
  b.stop_ = cuda::Event(device);
  return b;
}

void RankBuffers::activate() const {
  if (isDevice()) cuda::setDevice(device_);
}

void RankBuffers::upload(size_t sendBytes, size_t recvBytes) const {
  if (!isDevice()) return;
  activate();
  stream_.synchronize();
  cuda::copyToDevice(devSend_.data(), hostSend_.data(), std::min(sendBytes, size()), stream());
  cuda::copyToDevice(devRecv_.data(), hostRecv_.data(), std::min(recvBytes, size()), stream());
}

void RankBuffers::download(size_t sendBytes, size_t recvBytes) const {
  if (!isDevice()) return;
  activate();
  stream_.synchronize();
  cuda::copyToHost(hostSend_.data(), devSend_.data(), std::min(sendBytes, size()), stream());
  cuda::copyToHost(hostRecv_.data(), devRecv_.data(), std::min(recvBytes, size()), stream());
}

void RankBuffers::synchronize() const {
  if (isDevice()) stream_.synchronize();
}

void RankBuffers::startTimer() const {
  if (isDevice()) start_.record(stream());
}

void RankBuffers::stopTimer() const {
  if (isDevice()) stop_.record(stream());
}

double RankBuffers::timerSeconds() const {
  return isDevice() ? stop_.millisecondsSince(start_) / 1e3 : 0.0;
}

}  // namespace plexus::perf
