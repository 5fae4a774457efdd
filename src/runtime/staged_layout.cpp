// bufferUse: the bytes each collective reads and writes on one rank.
#include "runtime/staged_layout.hpp"

namespace plexus::runtime {

BufferUse bufferUse(const OpArgs& a, int rank, int nranks) {
  size_t one = a.count * dataTypeSize(a.type);
  size_t all = one * static_cast<size_t>(nranks);
  bool root = rank == a.root;
  BufferUse u;
  switch (a.collective) {
    case algo::Collective::kAllReduce:
      u = {one, one};
      break;
    case algo::Collective::kBroadcast:
      u = {root ? one : 0, one};
      break;
    case algo::Collective::kReduce:
      u = {one, root ? one : 0};
      break;
    case algo::Collective::kAllGather:
      u = {one, all};
      break;
    case algo::Collective::kReduceScatter:
      u = {all, one};
      break;
    case algo::Collective::kAllToAll:
      u = {all, all};
      break;
    case algo::Collective::kGather:
      u = {one, root ? all : 0};
      break;
    case algo::Collective::kScatter:
      u = {root ? all : 0, one};
      break;
    case algo::Collective::kSendRecv:
      u = {a.isSend ? one : 0, a.isSend ? 0 : one};
      break;
    case algo::Collective::kBarrier:
      break;
  }
  return u;
}

}  // namespace plexus::runtime
