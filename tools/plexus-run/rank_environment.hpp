// The environment each rank starts with: the launcher's own environment, then -x assignments,
// then the job variables that plexus-run owns (rank, sizes, bootstrap root, secret).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "launch_options.hpp"

namespace plexus::run {

// What all ranks of one job share.
struct JobIdentity {
  std::string commId;     // "127.0.0.1:<port>" (PLEXUS_COMM_ID)
  std::string secretHex;  // 32 hex digits from getrandom (PLEXUS_SECRET)
};

// Picks the bootstrap port (the given one, or a free one found by binding 127.0.0.1:0 and
// releasing it) and a random secret. Throws plexus::Error when no port can be bound.
JobIdentity makeJobIdentity(std::optional<uint16_t> port);

// 32 lowercase hex digits of 16 random bytes.
std::string randomSecretHex();

// The launcher's environment as "NAME=value" strings.
std::vector<std::string> currentEnvironment();

// Environment of `rank`: `base` with the -x assignments applied, then PLEXUS_RANK,
// PLEXUS_WORLD_SIZE, PLEXUS_LOCAL_RANK, PLEXUS_LOCAL_SIZE, PLEXUS_COMM_ID and PLEXUS_SECRET set
// (replacing inherited values), and PLEXUS_SOCKET_IFNAME=lo unless PLEXUS_SOCKET_IFNAME or
// NCCL_SOCKET_IFNAME is already set (all ranks are on this host).
std::vector<std::string> rankEnvironment(const std::vector<std::string>& base,
                                         const LaunchOptions& options, const JobIdentity& job,
                                         int rank);

}  // namespace plexus::run
