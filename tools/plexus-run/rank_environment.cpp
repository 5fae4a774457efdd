// Builds the per-rank environment and the job identity (bootstrap address and secret).
#include "rank_environment.hpp"

#include <unistd.h>

#include <algorithm>

#include "base/random.hpp"
#include "base/socket.hpp"

extern char** environ;

namespace plexus::run {
namespace {

std::string nameOf(const std::string& entry) {
  return entry.substr(0, entry.find('='));
}

void setVar(std::vector<std::string>& env, const std::string& name, const std::string& value) {
  std::erase_if(env, [&](const std::string& e) { return nameOf(e) == name; });
  env.push_back(name + "=" + value);
}

bool hasNonEmpty(const std::vector<std::string>& env, const std::string& name) {
  return std::any_of(env.begin(), env.end(), [&](const std::string& e) {
    return nameOf(e) == name && e.size() > name.size() + 1;
  });
}

}  // namespace

std::string randomSecretHex() {
  unsigned char bytes[16];
  randomBytes(bytes, sizeof(bytes));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

JobIdentity makeJobIdentity(std::optional<uint16_t> port) {
  uint16_t chosen = 0;
  if (port) {
    chosen = *port;
  } else {
    // Bind port 0 on loopback to learn a free port, then release it for rank 0's root. Another
    // process could take it in between; --port avoids that window when it matters.
    SocketAddress addr = *SocketAddress::parse("127.0.0.1:0");
    Fd listener = listenOn(addr, 1);
    chosen = addr.port();
  }
  return JobIdentity{"127.0.0.1:" + std::to_string(chosen), randomSecretHex()};
}

std::vector<std::string> currentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

std::vector<std::string> rankEnvironment(const std::vector<std::string>& base,
                                         const LaunchOptions& options, const JobIdentity& job,
                                         int rank) {
  std::vector<std::string> env = base;
  for (const auto& [name, value] : options.extraEnv) setVar(env, name, value);
  setVar(env, "PLEXUS_RANK", std::to_string(rank));
  setVar(env, "PLEXUS_WORLD_SIZE", std::to_string(options.nranks));
  setVar(env, "PLEXUS_LOCAL_RANK", std::to_string(rank));
  setVar(env, "PLEXUS_LOCAL_SIZE", std::to_string(options.nranks));
  setVar(env, "PLEXUS_COMM_ID", job.commId);
  setVar(env, "PLEXUS_SECRET", job.secretHex);
  if (!hasNonEmpty(env, "PLEXUS_SOCKET_IFNAME") && !hasNonEmpty(env, "NCCL_SOCKET_IFNAME"))
    setVar(env, "PLEXUS_SOCKET_IFNAME", "lo");
  return env;
}

}  // namespace plexus::run
