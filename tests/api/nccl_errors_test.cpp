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

// Every argument check says which argument is bad; inside a group a bad call fails itself, not
// ncclGroupEnd.
TEST(NcclErrors, ArgumentChecksNameTheBadArgument) {
  ncclComm_t comm = nullptr;
  ASSERT_EQ(ncclCommInitAll(&comm, 1, nullptr), ncclSuccess) << lastError();
  int x = 1;
  auto expectInvalid = [&](ncclResult_t r, const char* words) {
    EXPECT_EQ(r, ncclInvalidArgument) << words;
    std::string e = ncclGetLastError(comm);
    EXPECT_NE(e.find(words), std::string::npos) << "'" << e << "' lacks '" << words << "'";
    EXPECT_NE(e.find("rank 0 of 1"), std::string::npos) << e;
  };
  expectInvalid(ncclAllReduce(&x, &x, 1, static_cast<ncclDataType_t>(-1), ncclSum, comm, nullptr),
                "allreduce: invalid datatype -1");
  expectInvalid(ncclAllReduce(&x, &x, 1, ncclInt32, static_cast<ncclRedOp_t>(9), comm, nullptr),
                "allreduce: invalid or unsupported reduction op 9");
  expectInvalid(ncclBroadcast(&x, &x, 1, ncclInt32, 3, comm, nullptr),
                "root 3 is not a rank of this 1-rank communicator");
  expectInvalid(ncclSend(&x, 1, ncclInt32, -2, comm, nullptr),
                "peer -2 is not a rank of this 1-rank communicator");
  expectInvalid(ncclAllGather(nullptr, &x, 1, ncclInt32, comm, nullptr),
                "allgather: send buffer is NULL with count 1");
  EXPECT_EQ(ncclGroupStart(), ncclSuccess);
  expectInvalid(ncclReduce(&x, nullptr, 1, ncclInt32, ncclSum, 0, comm, nullptr),
                "reduce: receive buffer is NULL with count 1");
  EXPECT_EQ(ncclGroupEnd(), ncclSuccess) << lastError();
  // A collective without an op ignores whatever op a caller passes; zero counts need no buffers.
  EXPECT_EQ(ncclAllGather(nullptr, nullptr, 0, ncclInt32, comm, nullptr), ncclSuccess);
  EXPECT_EQ(ncclAllReduce(&x, &x, 1, ncclInt32, ncclMax, comm, nullptr), ncclSuccess);
  EXPECT_EQ(x, 1);
  EXPECT_EQ(ncclCommDestroy(comm), ncclSuccess);

  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  EXPECT_EQ(ncclCommInitRank(&comm, 2, id, 2), ncclInvalidArgument);
  EXPECT_NE(lastError().find("ncclCommInitRank: rank 2 is not in [0, 2)"), std::string::npos)
      << lastError();
  EXPECT_EQ(ncclCommInitRank(&comm, 0, id, 0), ncclInvalidArgument);
  EXPECT_NE(lastError().find("ncclCommInitRank: nranks 0 < 1"), std::string::npos) << lastError();
}

}  // namespace
