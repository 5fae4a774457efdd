// Discovery of NVIDIA GPUs through NVML, loaded with dlopen (never linked): GPUs, their NVLinks
// and remote ends, and the fabric cluster/clique that puts GPUs of several hosts into one NVLink
// domain. The few declarations below are Plexus's own, written from NVML's public API
// documentation; only the functions and structure fields used here are declared.
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

#include "base/log.hpp"
#include "topology/inventory.hpp"

namespace plexus::topo {
namespace {

using NvmlReturn = int;  // nvmlReturn_t; 0 = success
using NvmlDevice = struct NvmlDeviceOpaque*;
constexpr NvmlReturn kNvmlSuccess = 0;
constexpr unsigned kMaxNvlinks = 18;  // NVML_NVLINK_MAX_LINKS in current drivers

struct NvmlPciInfo {  // nvmlPciInfo_t (v3)
  char busIdLegacy[16];
  unsigned domain;
  unsigned bus;
  unsigned device;
  unsigned pciDeviceId;
  unsigned pciSubSystemId;
  char busId[32];
};

struct NvmlFabricInfo {  // nvmlGpuFabricInfo_t (v1)
  unsigned char clusterUuid[16];
  NvmlReturn status;
  unsigned cliqueId;
  unsigned char state;  // 3 = completed
};
constexpr unsigned char kFabricCompleted = 3;

struct Nvml {
  void* handle = nullptr;
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*getCount)(unsigned*) = nullptr;
  NvmlReturn (*getHandle)(unsigned, NvmlDevice*) = nullptr;
  NvmlReturn (*getPciInfo)(NvmlDevice, NvmlPciInfo*) = nullptr;
  NvmlReturn (*getName)(NvmlDevice, char*, unsigned) = nullptr;
  NvmlReturn (*getUuid)(NvmlDevice, char*, unsigned) = nullptr;
  NvmlReturn (*getCapability)(NvmlDevice, int*, int*) = nullptr;
  NvmlReturn (*getNvlinkState)(NvmlDevice, unsigned, int*) = nullptr;
  NvmlReturn (*getNvlinkRemotePci)(NvmlDevice, unsigned, NvmlPciInfo*) = nullptr;
  NvmlReturn (*getNvlinkRemoteType)(NvmlDevice, unsigned, int*) = nullptr;  // optional
  NvmlReturn (*getFabricInfo)(NvmlDevice, NvmlFabricInfo*) = nullptr;       // optional
  NvmlReturn (*getP2PStatus)(NvmlDevice, NvmlDevice, int, int*) = nullptr;  // optional
  bool initialized = false;

  ~Nvml() {
    if (initialized && shutdown) shutdown();
    if (handle) ::dlclose(handle);
  }
  bool load(std::string& why) {
    handle = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* e = ::dlerror();
      why = e ? e : "dlopen failed";
      return false;
    }
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(handle, name));
    };
    sym(init, "nvmlInit_v2");
    sym(shutdown, "nvmlShutdown");
    sym(getCount, "nvmlDeviceGetCount_v2");
    sym(getHandle, "nvmlDeviceGetHandleByIndex_v2");
    sym(getPciInfo, "nvmlDeviceGetPciInfo_v3");
    sym(getName, "nvmlDeviceGetName");
    sym(getUuid, "nvmlDeviceGetUUID");
    sym(getCapability, "nvmlDeviceGetCudaComputeCapability");
    sym(getNvlinkState, "nvmlDeviceGetNvLinkState");
    sym(getNvlinkRemotePci, "nvmlDeviceGetNvLinkRemotePciInfo_v2");
    sym(getNvlinkRemoteType, "nvmlDeviceGetNvLinkRemoteDeviceType");
    sym(getFabricInfo, "nvmlDeviceGetGpuFabricInfo");
    sym(getP2PStatus, "nvmlDeviceGetP2PStatus");
    if (!init || !shutdown || !getCount || !getHandle || !getPciInfo) {
      why = "an NVML symbol is missing (driver too old?)";
      return false;
    }
    const NvmlReturn rc = init();
    if (rc != kNvmlSuccess) {
      why = "nvmlInit failed with code " + std::to_string(rc);
      return false;
    }
    initialized = true;
    return true;
  }
};

std::string cstr(const char* buf, size_t cap) {
  return std::string(buf, strnlen(buf, cap));
}

// nvmlGpuP2PCapsIndex_t: read, write, NVLink, atomics (the indices NVML has had since 2015).
constexpr int kP2pRead = 0, kP2pWrite = 1, kP2pNvlink = 2, kP2pAtomics = 3;

// nvmlDeviceGetP2PStatus for every ordered pair of the host's GPUs (0 = NVML_P2P_STATUS_OK).
void p2pStatus(const Nvml& nvml, const std::vector<NvmlDevice>& devs, Inventory& inv) {
  if (!nvml.getP2PStatus) return;
  for (size_t i = 0; i < devs.size(); ++i) {
    for (size_t j = 0; j < devs.size(); ++j) {
      if (i == j || !devs[i] || !devs[j]) continue;
      GpuP2pStatus st;
      st.remoteBusId = inv.gpus[j].busId;
      auto ask = [&](int index) {
        int status = -1;
        return nvml.getP2PStatus(devs[i], devs[j], index, &status) == kNvmlSuccess ? status : -1;
      };
      st.read = ask(kP2pRead);
      st.write = ask(kP2pWrite);
      st.nvlink = ask(kP2pNvlink);
      st.atomics = ask(kP2pAtomics);
      inv.gpus[i].p2p.push_back(st);
    }
  }
}

}  // namespace

void discoverNvml(Inventory& inv) {
  Nvml nvml;
  std::string why;
  if (!nvml.load(why)) {
    inv.absent.push_back("NVML (" + why + ")");
    return;
  }
  unsigned count = 0;
  if (nvml.getCount(&count) != kNvmlSuccess) count = 0;
  std::vector<NvmlDevice> devs;
  const size_t first = inv.gpus.size();
  for (unsigned i = 0; i < count && i < 4096; ++i) {
    NvmlDevice dev = nullptr;
    if (nvml.getHandle(i, &dev) != kNvmlSuccess) continue;
    devs.push_back(dev);
    GpuInfo g;
    g.index = static_cast<int>(i);
    NvmlPciInfo pci;
    std::memset(&pci, 0, sizeof pci);
    if (nvml.getPciInfo(dev, &pci) == kNvmlSuccess)
      g.busId = canonicalBusId(cstr(pci.busId, sizeof pci.busId));
    char buf[128] = {};
    if (nvml.getName && nvml.getName(dev, buf, sizeof buf) == kNvmlSuccess)
      g.name = cstr(buf, sizeof buf);
    std::memset(buf, 0, sizeof buf);
    if (nvml.getUuid && nvml.getUuid(dev, buf, sizeof buf) == kNvmlSuccess)
      g.uuid = cstr(buf, sizeof buf);
    int major = 0, minor = 0;
    if (nvml.getCapability && nvml.getCapability(dev, &major, &minor) == kNvmlSuccess)
      g.sm = major * 10 + minor;
    if (nvml.getNvlinkState && nvml.getNvlinkRemotePci) {
      for (unsigned l = 0; l < kMaxNvlinks; ++l) {
        int active = 0;
        if (nvml.getNvlinkState(dev, l, &active) != kNvmlSuccess || !active) continue;
        NvmlPciInfo remote;
        std::memset(&remote, 0, sizeof remote);
        if (nvml.getNvlinkRemotePci(dev, l, &remote) != kNvmlSuccess) continue;
        NvlinkInfo link;
        link.link = static_cast<int>(l);
        link.remoteBusId = canonicalBusId(cstr(remote.busId, sizeof remote.busId));
        int type = -1;
        if (nvml.getNvlinkRemoteType && nvml.getNvlinkRemoteType(dev, l, &type) == kNvmlSuccess)
          link.remoteType = type == 2 ? 2 : type == 1 ? 1 : 0;
        else
          link.remoteType = -1;  // decided later from the bus id
        g.nvlinks.push_back(link);
      }
    }
    if (nvml.getFabricInfo) {
      NvmlFabricInfo f;
      std::memset(&f, 0, sizeof f);
      if (nvml.getFabricInfo(dev, &f) == kNvmlSuccess && f.state == kFabricCompleted &&
          f.status == kNvmlSuccess) {
        bool nonzero = false;
        char uuid[40] = {};
        for (int k = 0; k < 16; ++k) {
          nonzero = nonzero || f.clusterUuid[k] != 0;
          std::snprintf(uuid + 2 * k, 3, "%02x", f.clusterUuid[k]);
        }
        if (nonzero) g.fabricDomain = std::string(uuid) + "/" + std::to_string(f.cliqueId);
      }
    }
    inv.gpus.push_back(g);
  }
  if (first == 0) p2pStatus(nvml, devs, inv);
  inv.haveGpus = true;
  inv.sources.push_back("NVML (" + std::to_string(count) + " GPUs)");
}

}  // namespace plexus::topo
