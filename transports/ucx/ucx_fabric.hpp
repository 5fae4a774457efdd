// The UCX side of the ucx plugin: a UCP context and worker with the tag API, one endpoint per peer
// (created from the peer's worker address, with peer failure detection when the transports offer
// it), and the worker's event fd for poll() (ucp_worker_get_efd/ucp_worker_arm). UCX picks its
// transports itself (UCX_TLS, UCX_NET_DEVICES).
#pragma once

#include <ucp/api/ucp.h>

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "transports/common/transport.hpp"
#include "transports/plugin_common/tagged_fabric.hpp"

namespace plexus::transport {

class UcxFabric final : public TaggedFabric {
 public:
  // Throws Error(kInvalidUsage) when UCX cannot start here (the transport then steps aside).
  explicit UcxFabric(const TransportContext& ctx);
  ~UcxFabric() override;
  UcxFabric(const UcxFabric&) = delete;
  UcxFabric& operator=(const UcxFabric&) = delete;

  std::string describe() const override { return "ucx (" + tls_ + ")"; }
  std::string localAddress() override { return address_; }
  void addPeer(int rank, const std::string& address) override;
  void* registerMemory(void*, size_t) override { return nullptr; }
  bool post(FabricOp& op) override;
  bool progress() override;
  bool waitFds(std::vector<pollfd>& fds, bool* busy) override;
  bool peerFailed(int rank, std::string* why) const override;
  plexus_tp_device_t device() const override;

 private:
  struct Peer {
    UcxFabric* owner = nullptr;
    int rank = -1;
    ucp_ep_h ep = nullptr;
    std::string failure;  // set by the error handler
  };
  struct Done {
    FabricOp* op;
    bool ok;
    size_t length;
    std::string error;
  };
  static void onSend(void* request, ucs_status_t status, void* user);
  static void onRecv(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                     void* user);
  static void onEpError(void* arg, ucp_ep_h ep, ucs_status_t status);
  void finished(FabricOp& op, ucs_status_t status, size_t length);
  void shutdown();

  const TransportContext& ctx_;
  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  int efd_ = -1;
  bool peerErrors_ = true;  // endpoints created with UCP_ERR_HANDLING_MODE_PEER
  std::string tls_;
  std::string address_;
  std::map<int, std::unique_ptr<Peer>> peers_;
  std::set<FabricOp*> inFlight_;
  std::deque<Done> done_;
  bool closing_ = false;
};

}  // namespace plexus::transport
