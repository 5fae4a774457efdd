// Host and machine identity (base/host_id.hpp).
#include <gtest/gtest.h>

#include <stdlib.h>

#include <fstream>
#include <string>

#include "../common/env_guard.hpp"
#include "base/host_id.hpp"

namespace {

TEST(HostId, PlexusHostIdNamesAHostButNotAMachine) {
  const uint64_t host = plexus::hostHash();
  const uint64_t machine = plexus::machineHash();
  EXPECT_EQ(host, plexus::hostHash());
  EXPECT_EQ(machine, plexus::machineHash());
  if (getenv("PLEXUS_HOSTID") != nullptr) GTEST_SKIP() << "PLEXUS_HOSTID is set by the caller";
  plexus::test::EnvGuard env({"PLEXUS_HOSTID"});
  setenv("PLEXUS_HOSTID", "fake-host-7", 1);
  // A faked host (as the tests run several "hosts" on one machine) is another host...
  EXPECT_NE(plexus::hostHash(), host);
  // ...on the same kernel, sharing its cores: the wait policy counts its ranks as this machine's.
  EXPECT_EQ(plexus::machineHash(), machine);
}

TEST(HostId, MachineHashIsTheKernelBootId) {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (!(boot >> id)) GTEST_SKIP() << "no /proc/sys/kernel/random/boot_id here";
  EXPECT_EQ(plexus::machineHash(), plexus::fnv1a64(id.data(), id.size()));
}

}  // namespace
