// Network checks: the interfaces PLEXUS_SOCKET_IFNAME (or NCCL_SOCKET_IFNAME) selects for the
// bootstrap and tcp, through the same selection the library makes (base/socket.hpp).
#include <net/if.h>

#include <cstdlib>
#include <set>

#include "base/error.hpp"
#include "base/socket.hpp"
#include "check.hpp"

namespace plexus::tools::doctor {
namespace {

// Every interface name the kernel knows, with what the library can use of each.
std::string existingInterfaces(const std::vector<NetInterface>& usable) {
  std::set<std::string> withAddress;
  for (const auto& n : usable) withAddress.insert(n.name);
  std::string out;
  if (struct if_nameindex* names = if_nameindex()) {
    for (auto* it = names; it->if_index != 0 && it->if_name != nullptr; ++it) {
      std::string name = it->if_name;
      out += (out.empty() ? "" : ", ") + name;
      if (withAddress.count(name) == 0) out += " (down or no address)";
    }
    if_freenameindex(names);
  }
  return out.empty() ? "none" : out;
}

std::string describe(const std::vector<NetInterface>& list) {
  std::string out;
  for (const auto& n : list) {
    out += (out.empty() ? "" : ", ") + n.name + " " + n.address.hostString();
  }
  return out;
}

Result interfaces(const Context&) {
  const char* plexus = std::getenv("PLEXUS_SOCKET_IFNAME");
  const char* nccl = std::getenv("NCCL_SOCKET_IFNAME");
  std::string variable;
  if (plexus != nullptr && *plexus != '\0')
    variable = std::string("PLEXUS_SOCKET_IFNAME=") + plexus;
  else if (nccl != nullptr && *nccl != '\0')
    variable = std::string("NCCL_SOCKET_IFNAME=") + nccl;
  std::vector<NetInterface> all = listInterfaces();
  std::vector<NetInterface> chosen;
  try {
    chosen = selectInterfaces();
  } catch (const plexus::Error&) {
    if (variable.empty())
      return fail("",
                  "no network interface is up with an address (not even lo); interfaces: " +
                      existingInterfaces(all),
                  "bring an interface up (ip link set lo up) and give it an address");
    return fail("",
                variable + " matches no interface that is up with an address; interfaces: " +
                    existingInterfaces(all),
                "set PLEXUS_SOCKET_IFNAME to one of the names above (prefixes: eth,ib; exact: "
                "=eth0; exclude: ^docker), or unset it for the default");
  }
  std::string found =
      (variable.empty() ? std::string("default (no PLEXUS_SOCKET_IFNAME)") : variable) +
      " selects " + describe(chosen);
  if (plexus != nullptr && *plexus != '\0' && nccl != nullptr && *nccl != '\0' &&
      std::string(plexus) != nccl)
    found += std::string("; NCCL_SOCKET_IFNAME=") + nccl + " is ignored (PLEXUS_ wins)";
  bool onlyLoopback = true;
  for (const auto& n : chosen) onlyLoopback = onlyLoopback && n.loopback;
  if (onlyLoopback) found += "; loopback only: ranks on other hosts cannot reach this one";
  return ok("", found);
}

PLEXUS_DOCTOR_CHECK(10, "net.interfaces", interfaces);

}  // namespace
}  // namespace plexus::tools::doctor
