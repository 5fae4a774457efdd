// PLEXUS_IB_HCA (NCCL syntax): which RDMA devices and ports the ibverbs transport may use.
//   "mlx5_0:1,mlx5_1"  devices whose name starts with mlx5_0 (port 1 only) or mlx5_1 (any port)
//   "^mlx5_2"          every device but those starting with mlx5_2
//   "=mlx5_0"          exact names only ("^=mlx5_0": every device but exactly mlx5_0)
// Empty: every device. Pure, unit-tested.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace plexus::transport::ib {

struct HcaEntry {
  std::string name;
  int port = 0;  // 0: any port
};

struct HcaFilter {
  bool exclude = false;
  bool exact = false;
  std::vector<HcaEntry> entries;

  // Throws Error(kInvalidArgument) naming PLEXUS_IB_HCA when `spec` is malformed (bad port).
  static HcaFilter parse(std::string_view spec);
  // True if port `port` of device `device` is selected.
  bool selects(std::string_view device, int port) const;
};

}  // namespace plexus::transport::ib
