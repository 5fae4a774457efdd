// Discovery of network interfaces: sysfs (state, speed, PCI function, type) plus getifaddrs
// (addresses). Physical interfaces are always kept; virtual ones only when up with a routable
// address (a container's veth, a bond), and loopback never.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "base/log.hpp"
#include "topology/inventory.hpp"

namespace plexus::topo {
namespace fs = std::filesystem;
namespace {

int prefixLength(const sockaddr* mask) {
  if (!mask) return 0;
  int bits = 0;
  const unsigned char* p = nullptr;
  size_t n = 0;
  if (mask->sa_family == AF_INET) {
    p = reinterpret_cast<const unsigned char*>(
        &reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    n = 4;
  } else if (mask->sa_family == AF_INET6) {
    p = reinterpret_cast<const unsigned char*>(
        &reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    n = 16;
  }
  for (size_t i = 0; i < n; ++i) bits += __builtin_popcount(p[i]);
  return bits;
}

// name -> addresses ("192.0.2.2/24"), link-local IPv6 left out.
std::map<std::string, std::vector<std::string>> interfaceAddresses() {
  std::map<std::string, std::vector<std::string>> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || !a->ifa_name) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr)) continue;
      ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    } else {
      continue;
    }
    out[a->ifa_name].push_back(std::string(buf) + "/" +
                               std::to_string(prefixLength(a->ifa_netmask)));
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace

void discoverNetInterfaces(Inventory& inv, const std::string& root) {
  const std::string netDir = root + "/class/net";
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(netDir, ec)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    inv.absent.push_back("network interfaces (" + netDir + " is empty or missing)");
    return;
  }
  const auto addrs =
      root == "/sys" ? interfaceAddresses() : std::map<std::string, std::vector<std::string>>{};
  int kept = 0;
  for (const std::string& name : names) {
    const std::string dir = netDir + "/" + name;
    NetInterfaceInfo n;
    n.name = name;
    n.type = std::atoi(readSysfsLine(dir + "/type").c_str());
    if (n.type == 772 || name == "lo") continue;  // loopback
    const std::string oper = readSysfsLine(dir + "/operstate");
    const unsigned long flags = std::strtoul(readSysfsLine(dir + "/flags").c_str(), nullptr, 0);
    n.up = oper == "up" || (oper == "unknown" && (flags & IFF_UP));
    const long speed = std::strtol(readSysfsLine(dir + "/speed").c_str(), nullptr, 10);
    n.speedGbps = speed > 0 ? static_cast<double>(speed) / 1000.0 : 0.0;
    n.mac = readSysfsLine(dir + "/address");
    n.mtu = std::atoi(readSysfsLine(dir + "/mtu").c_str());
    n.devPort = std::atoi(readSysfsLine(dir + "/dev_port").c_str());
    std::error_code e2;
    const std::string real = fs::canonical(dir + "/device", e2).string();
    if (!e2) {
      const auto ids = busIdsInPath(real);
      if (!ids.empty()) n.busId = ids.back();
    }
    if (auto it = addrs.find(name); it != addrs.end()) n.addresses = it->second;
    if (n.busId.empty() && !(n.up && !n.addresses.empty())) continue;  // idle virtual interface
    inv.netifs.push_back(n);
    ++kept;
  }
  inv.sources.push_back("network interfaces (" + std::to_string(kept) + ")");
}

}  // namespace plexus::topo
