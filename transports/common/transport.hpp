// The transport contract (DESIGN.md, "Transports"): a transport moves bytes between two ranks
// reliably and in order, or says that it cannot. The data path is a FIFO of fixed-size slots per
// connection and direction: a sender fills the slot the receiver will read, and the receiver
// reduces straight out of the slot. A transport also says how a waiting rank is woken
// (doorbell.hpp) and what its links cost. The engine depends on this header only, never on a
// concrete transport.
#pragma once

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/deadline.hpp"
#include "plexus/transport.h"
#include "transports/common/doorbell.hpp"
#include "transports/common/rank_control.hpp"

namespace plexus::transport {

// FIFO geometry; every rank of a communicator must use the same (checked at init).
struct SlotConfig {
  uint32_t slotBytes = 128 * 1024;
  uint32_t slots = 8;
};
SlotConfig slotConfigFromEnv();
// True when PLEXUS_SLOT_SIZE or PLEXUS_SLOTS is set (the user chose the geometry).
bool slotConfigFromUser();
// The shared memory the shm FIFOs of one host may hold: PLEXUS_SHM_BUDGET, or a quarter of the
// host's physical memory.
uint64_t shmBudgetFromEnv();
// The geometry for a communicator whose largest host has `localRanks` ranks: `wanted` when every
// rank's receive FIFOs from all its same-host peers on `channels` connections each fit its share
// of `budget`; otherwise (unless the user chose the geometry) smaller slots, then fewer, down to
// 4 KiB x 2. The same inputs give the same geometry on every rank.
SlotConfig fitSlotsToBudget(SlotConfig wanted, bool fromUser, int localRanks, uint64_t budget,
                            int channels);

// What the communicator knows of one rank after the bootstrap all-gather.
struct PeerRecord {
  int rank = -1;
  uint64_t hostHash = 0;
  std::string hostName;
  int pid = 0;
  std::map<std::string, std::string> addresses;  // transport name -> opaque address blob
};

// Everything a transport needs from its communicator. Non-owning pointers stay valid for the
// transport's lifetime (the communicator owns them and destroys transports first).
struct TransportContext {
  uint64_t commId = 0;
  int rank = 0;
  int nranks = 1;
  SlotConfig slots;
  uint8_t secret[16] = {};
  const std::vector<PeerRecord>* peers = nullptr;  // indexed by rank; set before connect()
  const std::atomic<bool>* abort = nullptr;
  bool requested = false;  // the user named this transport in PLEXUS_TRANSPORTS
  // Memory kinds (PLEXUS_TP_MEM_*) the caller may ask the transport to register: a transport
  // opens its fabric for them (ofi requests FI_HMEM for PLEXUS_TP_MEM_CUDA).
  uint32_t memKinds = PLEXUS_TP_MEM_HOST;
};

// A buffer to register with a transport (plexus_tp_mem_desc_t in the plugin ABI).
struct MemoryRegion {
  void* ptr = nullptr;
  size_t size = 0;
  uint32_t kind = PLEXUS_TP_MEM_HOST;  // PLEXUS_TP_MEM_HOST or PLEXUS_TP_MEM_CUDA
  int device = -1;                     // CUDA device ordinal (kind CUDA)
  int dmabufFd = -1;                   // dma-buf of the device memory, -1 when not given
  uint64_t dmabufOffset = 0;           // offset of ptr inside the dma-buf
};

// A registration: the transport's handle and the key a peer uses to reach it (RDMA rkey; 0 if
// none).
struct MemoryRegistration {
  void* handle = nullptr;
  uint64_t remoteKey = 0;
};

// Sending side of one direction. Non-blocking.
class SendEndpoint {
 public:
  virtual ~SendEndpoint() = default;
  // A free slot (slotBytes long) to fill, or nullptr while the FIFO is full.
  virtual std::byte* acquire() = 0;
  // Publishes the acquired slot: `bytes` of data and a tag the receiver checks.
  virtual void post(uint32_t bytes, uint32_t tag) = 0;
  // Publishes the acquired `slot` with the `bytes` at `src` as its data; `src` may change once
  // this returns. A transport that writes to a socket sends straight from `src` where the socket
  // takes it and copies into the slot only the rest; by default the bytes are copied, then posted.
  virtual void postFrom(std::byte* slot, const std::byte* src, uint32_t bytes, uint32_t tag) {
    if (bytes != 0) std::memcpy(slot, src, bytes);
    post(bytes, tag);
  }
  // True when postFrom() saves the copy into the slot (the engine then sends from the buffers
  // it would have copied from).
  virtual bool sendsFromMemory() const { return false; }
};

// Receiving side of one direction. Non-blocking.
class RecvEndpoint {
 public:
  virtual ~RecvEndpoint() = default;
  // The oldest filled slot, or nullptr if none has arrived. Stays valid until release().
  virtual const std::byte* peek(uint32_t* bytes, uint32_t* tag) = 0;
  virtual void release() = 0;
  // peek() for a piece the caller will copy to `dst` (`expected` bytes long): a transport that
  // reads from a socket may read the oldest piece straight into `dst`, and then returns `dst`.
  // `dst` is not written after the call returns (a piece that arrived in part is finished in its
  // slot). By default, peek().
  virtual const std::byte* peekInto(std::byte* dst, uint32_t expected, uint32_t* bytes,
                                    uint32_t* tag) {
    (void)dst;
    (void)expected;
    return peek(bytes, tag);
  }
};

// What moving bytes over a transport costs, declared by the transport itself; the tuner's link
// costs are built from these (the runtime maps them to the cost model's inputs).
struct Costs {
  double latencyUs = 0;          // one small message, one way
  double bandwidthGBps = 0;      // per connection and direction, GB/s
  double messageUs = 1;          // engine + transport overhead per message
  bool registersMemory = false;  // can register user buffers (zero-copy): registerCaps != 0
  uint32_t registerCaps = 0;     // which memory it registers: PLEXUS_TP_REG_* (host, CUDA)
  int maxChannels = 2;           // connections per peer pair worth using
};

// A connection to one peer on one connection id: both directions.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual SendEndpoint& sender() = 0;
  virtual RecvEndpoint& receiver() = 0;
  // Moves bytes that need a CPU (sockets); true if anything moved. Throws Error(kRemote) naming
  // the peer when the connection broke.
  virtual bool progress() = 0;
  // Throws Error(kRemote) naming the peer if it is known to be gone (exited or aborted).
  virtual void checkPeer() = 0;
  // True when everything posted has left this process (sockets: written to the kernel), so the
  // operation that posted it may complete even if nobody drives progress afterwards.
  virtual bool sendDrained() const = 0;
  // Adds this connection's fds to poll while waiting (sockets); none by default.
  virtual void addPollFds(std::vector<pollfd>&) {}
  // "rank 3 (host b, pid 12) over shm".
  virtual std::string describe() const = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;
  // This rank's address blob for the all-gather (may be empty).
  virtual std::string localAddress() = 0;
  // Whether this transport can connect these two ranks (after the all-gather).
  virtual bool canReach(const PeerRecord& self, const PeerRecord& peer) const = 0;
  // Starts or continues connecting to `peer` on connection id `connectionId`. Non-blocking:
  // returns nullptr while the connection is being established (call again after progress()).
  // The transport owns the connection; it lives until the transport is destroyed. Once it has
  // returned a connection the caller keeps it (the one connection cache is the caller's) and
  // does not ask for that pair again.
  virtual Connection* connect(int connectionId, int peer) = 0;
  // Background work (accepting sockets, moving bytes on every connection); true if anything
  // happened.
  virtual bool progress() = 0;
  // How a rank waiting on this transport is woken. May change as connections are set up (shm
  // polls its links while one is pending).
  virtual WakeSources wakeSources() const = 0;
  // Fds to poll while the engine sleeps (listening sockets and connections), when
  // wakeSources().pollFds.
  virtual void addPollFds(std::vector<pollfd>&) {}
  // Tells peers this rank is going away because of an error: best effort, the reason travels to
  // them (so a failure far away in a ring is reported with its origin), then connections close.
  virtual void abortAll(const std::string& reason) = 0;
  // Devices this transport drives (for the topology); none by default.
  virtual std::vector<plexus_tp_device_t> devices() const { return {}; }
  // What this transport's links cost (the tuner reads these).
  virtual Costs costs() const = 0;
  // Which memory this transport can register now (PLEXUS_TP_REG_*); none by default.
  virtual uint32_t registrationCaps() const { return 0; }
  // Registers `region` for zero-copy access by the transport's device (GPUDirect for CUDA
  // memory). Throws Error(kInvalidUsage) naming the transport and why when it cannot register
  // that memory here (the caller then stages through host memory); the default cannot.
  virtual MemoryRegistration registerMemory(const MemoryRegion& region);
  // Releases a registration that registerMemory returned.
  virtual void deregisterMemory(void* handle);
};

// "cuda device 0, 4096 bytes at 0x7f..., dma-buf fd 12 + 0" for messages.
std::string describeRegion(const MemoryRegion& region);
// "host, cuda (dma-buf)" for messages; "none" for 0.
std::string registrationCapsText(uint32_t caps);
// The PLEXUS_TP_REG_* capability a region needs: REG_HOST for host memory; for CUDA memory
// REG_CUDA_DMABUF when a dma-buf fd is given, else either CUDA capability.
uint32_t capsNeededFor(const MemoryRegion& region);
// Throws Error(kInvalidArgument/kInvalidUsage) naming `transport` when `region` is malformed
// (null, empty, unknown kind) or needs a capability `caps` lacks (saying which it has).
void checkRegion(const char* transport, const MemoryRegion& region, uint32_t caps);

// A transport implemented in C++ and a factory for it: what the shipped plugins provide to be
// exported through the plugin ABI (plugin_common/abi_export.hpp).
using TransportFactory = std::unique_ptr<Transport> (*)(const TransportContext& ctx);

// Built-in transports, used as C++ objects (no plugin table). A factory throws
// Error(kInvalidUsage) when the transport cannot work here.
std::unique_ptr<Transport> makeShmTransport(const TransportContext& ctx);
std::unique_ptr<Transport> makeTcpTransport(const TransportContext& ctx);
// Their declared costs, known before any transport exists (the FIFO geometry depends on them).
Costs shmCosts();
Costs tcpCosts();

}  // namespace plexus::transport
