// NCCL API calls that fail say why in ncclGetLastError, argument checks included.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "plexus/nccl.h"

namespace {

std::string lastError() {
  const char* e = ncclGetLastError(nullptr);
  return e != nullptr ? e : "";
}

TEST(NcclErrors, GetVersionWithNullSaysWhy) {
  EXPECT_EQ(ncclGetVersion(nullptr), ncclInvalidArgument);
  EXPECT_NE(lastError().find("ncclGetVersion: version is NULL"), std::string::npos)
      << "'" << lastError() << "'";
  int version = 0;
  EXPECT_EQ(ncclGetVersion(&version), ncclSuccess);
  EXPECT_EQ(version, NCCL_VERSION_CODE);
}

TEST(NcclErrors, MalformedVariableAtInitNamesItsValueAndMeaning) {
  setenv("PLEXUS_TIMEOUT", "abc", 1);
  ncclComm_t comms[2] = {nullptr, nullptr};
  ncclResult_t r = ncclCommInitAll(comms, 2, nullptr);
  unsetenv("PLEXUS_TIMEOUT");
  EXPECT_EQ(r, ncclInvalidArgument);
  EXPECT_NE(lastError().find("PLEXUS_TIMEOUT='abc' is not a number (default 1800;"),
            std::string::npos)
      << lastError();
}

}  // namespace
