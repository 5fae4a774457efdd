// Builds one ABI table (see abi_layout.h) from the nccl.h selected by the include path; compiled
// once against Plexus's header and once against NVIDIA's, under two function names.
#include <nccl.h>

#include <cstring>
#include <string>
#include <vector>

#include "abi_layout.h"

#ifndef ABI_TABLE_FN
#error "define ABI_TABLE_FN"
#endif

std::vector<std::pair<std::string, long long>> ABI_TABLE_FN() {
  std::vector<std::pair<std::string, long long>> t;
#define PLEXUS_ABI_RECORD(e) t.emplace_back(#e, static_cast<long long>(e));
  PLEXUS_ABI_ENTRIES(PLEXUS_ABI_RECORD)
  ncclConfig_t c = NCCL_CONFIG_INITIALIZER;
  t.emplace_back("init.size", static_cast<long long>(c.size));
  t.emplace_back("init.magic", static_cast<long long>(c.magic));
  t.emplace_back("init.version", static_cast<long long>(c.version));
  t.emplace_back("init.blocking", c.blocking);
  t.emplace_back("init.netName", c.netName == nullptr ? 0 : 1);
  t.emplace_back("init.nvlinkCentricSched", c.nvlinkCentricSched);
  ncclSimInfo_t si = NCCL_SIM_INFO_INITIALIZER;
  t.emplace_back("siminit.magic", static_cast<long long>(si.magic));
  t.emplace_back("siminit.size", static_cast<long long>(si.size));
  return t;
}
