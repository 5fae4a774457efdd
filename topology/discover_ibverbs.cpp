// Discovery of RDMA ports through libibverbs, loaded with dlopen so that Plexus runs where it is
// absent (then sysfs /sys/class/infiniband is read instead). The structure layouts come from
// the rdma-core headers when the build has them; without them only the sysfs path exists.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/log.hpp"
#include "topology/inventory.hpp"

#if __has_include(<infiniband/verbs.h>)
#include <infiniband/verbs.h>
#define PLEXUS_HAVE_VERBS_HEADERS 1
#endif

namespace plexus::topo {

#ifndef PLEXUS_HAVE_VERBS_HEADERS

void discoverIbverbs(Inventory& inv, const std::string& sysfsRoot) {
  inv.absent.push_back("libibverbs (built without rdma-core headers)");
  discoverSysfsRdma(inv, sysfsRoot);
}

#else

namespace {

// Per-lane rate in Gb/s for ibv_port_attr::active_speed, and lanes for active_width.
double laneGbps(unsigned speed) {
  switch (speed) {
    case 1:
      return 2.5;  // SDR
    case 2:
      return 5.0;  // DDR
    case 4:
      return 10.0;  // QDR
    case 8:
      return 10.3125;  // FDR10 (10 Gb/s data)
    case 16:
      return 14.0625;  // FDR
    case 32:
      return 25.78125;  // EDR
    case 64:
      return 53.125;  // HDR
    case 128:
      return 106.25;  // NDR
    case 256:
      return 212.5;  // XDR
    default:
      return 0;
  }
}
int lanes(unsigned width) {
  switch (width) {
    case 1:
      return 1;
    case 2:
      return 4;
    case 4:
      return 8;
    case 8:
      return 12;
    case 16:
      return 2;
    default:
      return 0;
  }
}
// Marketing rate (what operators read): 4 x HDR = 200 Gb/s.
double nominalRate(unsigned speed, unsigned width) {
  double lane = 0;
  switch (speed) {
    case 1:
      lane = 2.5;
      break;
    case 2:
      lane = 5;
      break;
    case 4:
      lane = 10;
      break;
    case 8:
      lane = 10;
      break;
    case 16:
      lane = 14;
      break;
    case 32:
      lane = 25;
      break;
    case 64:
      lane = 50;
      break;
    case 128:
      lane = 100;
      break;
    case 256:
      lane = 200;
      break;
    default:
      lane = laneGbps(speed);
  }
  return lane * lanes(width);
}

struct Verbs {
  void* handle = nullptr;
  decltype(&::ibv_get_device_list) getDeviceList = nullptr;
  decltype(&::ibv_free_device_list) freeDeviceList = nullptr;
  decltype(&::ibv_get_device_name) getDeviceName = nullptr;
  decltype(&::ibv_get_device_guid) getDeviceGuid = nullptr;
  decltype(&::ibv_open_device) openDevice = nullptr;
  decltype(&::ibv_close_device) closeDevice = nullptr;
  decltype(&::ibv_query_device) queryDevice = nullptr;
  // The exported symbol (the header wraps it in an inline of the same name).
  int (*queryPort)(ibv_context*, uint8_t, ibv_port_attr*) = nullptr;

  // The library stays loaded: libibverbs keeps process-wide state (device list, providers)
  // that is not released on dlclose, and the RDMA transport loads it again anyway.
  bool load(std::string& why) {
    handle = ::dlopen("libibverbs.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* e = ::dlerror();
      why = e ? e : "dlopen failed";
      return false;
    }
    auto sym = [&](const char* name) { return ::dlsym(handle, name); };
    getDeviceList = reinterpret_cast<decltype(getDeviceList)>(sym("ibv_get_device_list"));
    freeDeviceList = reinterpret_cast<decltype(freeDeviceList)>(sym("ibv_free_device_list"));
    getDeviceName = reinterpret_cast<decltype(getDeviceName)>(sym("ibv_get_device_name"));
    getDeviceGuid = reinterpret_cast<decltype(getDeviceGuid)>(sym("ibv_get_device_guid"));
    openDevice = reinterpret_cast<decltype(openDevice)>(sym("ibv_open_device"));
    closeDevice = reinterpret_cast<decltype(closeDevice)>(sym("ibv_close_device"));
    queryDevice = reinterpret_cast<decltype(queryDevice)>(sym("ibv_query_device"));
    queryPort = reinterpret_cast<decltype(queryPort)>(sym("ibv_query_port"));
    if (!getDeviceList || !freeDeviceList || !getDeviceName || !openDevice || !closeDevice ||
        !queryDevice || !queryPort) {
      why = "a libibverbs symbol is missing";
      return false;
    }
    return true;
  }
};

}  // namespace

void discoverIbverbs(Inventory& inv, const std::string& sysfsRoot) {
  Verbs v;
  std::string why;
  if (!v.load(why)) {
    inv.absent.push_back("libibverbs (" + why + ")");
    discoverSysfsRdma(inv, sysfsRoot);
    return;
  }
  int n = 0;
  ibv_device** list = v.getDeviceList(&n);
  if (!list || n == 0) {
    if (list) v.freeDeviceList(list);
    inv.absent.push_back("RDMA devices (libibverbs found none)");
    inv.sources.push_back("libibverbs");
    return;
  }
  for (int i = 0; i < n; ++i) {
    ibv_device* dev = list[i];
    const char* name = v.getDeviceName(dev);
    if (!name) continue;
    const std::string devName = name;
    std::error_code ec;
    const std::string real =
        std::filesystem::canonical(sysfsRoot + "/class/infiniband/" + devName + "/device", ec)
            .string();
    const auto ids = ec ? std::vector<std::string>{} : busIdsInPath(real);
    char guid[32] = {};
    if (v.getDeviceGuid) {
      const uint64_t g = be64toh(v.getDeviceGuid(dev));
      std::snprintf(guid, sizeof guid, "0x%016llx", static_cast<unsigned long long>(g));
    }
    ibv_context* ctx = v.openDevice(dev);
    if (!ctx) {
      PLEXUS_INFO(subsys::kGraph, "topology: cannot open RDMA device %s; skipped", devName.c_str());
      continue;
    }
    ibv_device_attr attr;
    std::memset(&attr, 0, sizeof attr);
    if (v.queryDevice(ctx, &attr) == 0) {
      for (uint8_t p = 1; p <= attr.phys_port_cnt; ++p) {
        ibv_port_attr pa;
        std::memset(&pa, 0, sizeof pa);
        if (v.queryPort(ctx, p, &pa) != 0) continue;
        RdmaPortInfo port;
        port.device = devName;
        port.port = p;
        port.active = pa.state == IBV_PORT_ACTIVE;
        port.rateGbps = nominalRate(pa.active_speed, pa.active_width);
        if (port.rateGbps <= 0)  // newer speeds (active_speed_ex): sysfs has the text
          port.rateGbps = std::strtod(readSysfsLine(sysfsRoot + "/class/infiniband/" + devName +
                                                    "/ports/" + std::to_string(p) + "/rate")
                                          .c_str(),
                                      nullptr);
        port.linkLayer = pa.link_layer == IBV_LINK_LAYER_ETHERNET ? "Ethernet" : "InfiniBand";
        port.guid = guid;
        port.busId = ids.empty() ? std::string() : ids.back();
        inv.rdma.push_back(port);
      }
    }
    v.closeDevice(ctx);
  }
  v.freeDeviceList(list);
  inv.haveRdma = true;
  inv.sources.push_back("libibverbs");
}

#endif

}  // namespace plexus::topo
