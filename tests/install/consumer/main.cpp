// Uses the installed Plexus: one rank, the C++ API and the NCCL API side by side.
#include <plexus/nccl.h>

#include <cstdio>
#include <plexus/plexus.hpp>
#include <vector>

int main() {
  auto comm = plexus::Communicator::init(plexus::UniqueId::create(), 0, 1);
  std::vector<int> v{1, 2, 3};
  comm.allReduce<int>(v);
  int version = 0;
  ncclGetVersion(&version);
  std::printf("consumer ok: %d %d %d, NCCL API %d\n", v[0], v[1], v[2], version);
  return (v[2] == 3 && version == NCCL_VERSION_CODE) ? 0 : 1;
}
