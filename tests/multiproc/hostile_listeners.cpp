// The hostile neighbour (hostile_listeners.hpp).
#include "tests/multiproc/hostile_listeners.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "../common/peak_memory.hpp"
#include "runtime/protocol.hpp"
#include "transports/tcp/tcp_wire.hpp"

namespace plexus::testing {
namespace {

// Socket inodes of this process's descriptors.
std::set<unsigned long> socketInodes() {
  std::set<unsigned long> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (target.rfind("socket:[", 0) == 0) out.insert(std::stoul(target.substr(8)));
  }
  return out;
}

void addListening(const char* table, const std::set<unsigned long>& mine, std::set<int>& ports) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string slot, local, remote, state, queues, timer, retr, uid, timeout;
    unsigned long inode = 0;
    s >> slot >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
    if (state != "0A" || mine.count(inode) == 0) continue;  // 0A: LISTEN
    ports.insert(std::stoi(local.substr(local.find(':') + 1), nullptr, 16));
  }
}

Fd connectLoopback(int port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return Fd();
  return fd;
}

template <typename T>
std::string bytesOf(const T& v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof(v));
}

// What each bad connection sends (empty: nothing at all). The last one connects and closes.
std::vector<std::string> payloads() {
  runtime::RootHello root{};
  root.magic = runtime::kRootHelloMagic;
  root.version = runtime::kProtocolVersion;
  std::memset(root.secret, 0x5a, sizeof(root.secret));
  root.rank = 0;
  root.nranks = 0x7fffffff;  // absurd: must be refused, never allocated
  root.listenAddress.length = 0xffffffff;
  runtime::LinkHello link{};
  link.magic = runtime::kLinkHelloMagic;
  link.fromRank = 1;
  std::memset(link.secret, 0x5a, sizeof(link.secret));
  transport::tcp::Hello tcp{};
  tcp.magic = transport::tcp::kHelloMagic;
  tcp.connection = transport::tcp::kAbortNotice;
  std::memset(tcp.secret, 0x5a, sizeof(tcp.secret));
  const uint64_t huge = ~uint64_t{0};
  return {
      "",                                                        // silent, held open
      std::string(4096, '\xab'),                                 // garbage
      bytesOf(huge) + bytesOf(huge) + std::string(512, '\xff'),  // absurd length prefixes
      bytesOf(root),                                 // root hello, wrong secret, absurd nranks
      bytesOf(link) + bytesOf(huge),                 // link hello, wrong secret
      bytesOf(tcp) + bytesOf(uint32_t{0xffffffff}),  // tcp abort notice, wrong secret
      "GET / HTTP/1.0\r\n\r\n",                      // a stray client
  };
}

}  // namespace

std::set<int> listeningPorts() {
  const std::set<unsigned long> mine = socketInodes();
  std::set<int> ports;
  addListening("/proc/self/net/tcp", mine, ports);
  addListening("/proc/self/net/tcp6", mine, ports);
  return ports;
}

HostileListeners::HostileListeners() : thread_([this] { run(); }) {}

HostileListeners::~HostileListeners() {
  stop();
}

void HostileListeners::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  held_.clear();
}

void HostileListeners::run() {
  while (!stop_.load()) {
    for (int port : listeningPorts())
      if (seen_.insert(port).second) attack(port);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void HostileListeners::attack(int port) {
  ports_.fetch_add(1);
  for (const std::string& p : payloads()) {
    Fd fd = connectLoopback(port);
    if (!fd) continue;
    connections_.fetch_add(1);
    if (!p.empty()) (void)::send(fd.get(), p.data(), p.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    held_.push_back(std::move(fd));
  }
  if (Fd fd = connectLoopback(port)) connections_.fetch_add(1);  // connect, then close at once
}

}  // namespace plexus::testing
