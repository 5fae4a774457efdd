// The one table of environment variables Plexus reads. docs/environment.md mirrors it (checked by
// tests/util/env_docs_test). Keep entries sorted by area; add a row here before reading a new one.
#include "base/env.hpp"

namespace plexus {
namespace {
// clang-format off
constexpr EnvVar kVars[] = {
  // Logging
  {"DEBUG", "WARN", "Log level: VERSION, WARN, INFO or TRACE (any case; NONE or 0: nothing). INFO prints per communicator the lines of docs/logs.md (build, Init START, transports, channel rings, trees, the tuner's choice per message size, Init COMPLETE with the init time). An unknown level logs at WARN, with a warning.", true},
  {"DEBUG_SUBSYS", "ALL", "Comma list of subsystems to log (INIT, COLL, P2P, SHM, NET, GRAPH, TUNE, ENV, BOOT or BOOTSTRAP, ALL; any case); ^ excludes. An unknown name is warned about.", true},
  {"DEBUG_FILE", "", "Write log lines to this file instead of stderr; %h is replaced by the host name, %p by the pid (one file per process: log.%h.%p). A file that cannot be opened is warned about, and stderr used.", true},
  // Perf tools (perf/; read by all_reduce_perf and its siblings, not by the library)
  {"PERF_PROGRESS", "", "Progress of a perf tool's sweep on stderr (sizes done/total, elapsed, estimate; rewritten in place, cleared at the end; never on stdout): 1 always, 0 never; unset: when stderr is a terminal and the run looks longer than 3 s.", false},
  // Failure diagnosis (docs/reliability.md)
  {"FLIGHT_RECORDER_ENTRIES", "64", "Operations each communicator keeps in its flight recorder (a fixed ring: sequence number, collective, algorithm, count, type, op, root or peer, steps done, what it waits for, times, state); 0 turns recording off.", false},
  {"DUMP_ON", "error", "When a communicator dumps its flight recorder: comma list of error (any failure: timeout, lost peer, a peer's failure notice), timeout (only the PLEXUS_TIMEOUT stall), abort (ncclCommAbort, ncclCommRevoke, Communicator::abort), fatal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM: dump, then the previous handler), usr1 (SIGUSR1 makes every live communicator dump, from a watcher thread); all; none.", false},
  {"DUMP_DIR", "", "Folder for flight-recorder dumps, one JSON file per rank and communicator (plexus-fr-HOST-PID-rRANK-COMM.json, merged by plexus-trace); unset: one JSON line on stderr.", false},
  // Bootstrap and launch
  {"TIMEOUT", "1800", "Seconds any wait may last without progress (init, connect, collectives) before it fails with an error naming what it waited for.", false},
  {"SOCKET_IFNAME", "", "Network interfaces for bootstrap and TCP: prefix list (eth,ib), ^ to exclude (^docker,lo), = for exact names (=eth0). Default: any interface but lo and docker*, else lo.", true},
  {"SOCKET_FAMILY", "", "Restrict socket addresses to AF_INET or AF_INET6.", true},
  {"COMM_ID", "", "host:port of the bootstrap root when ranks are started by a launcher (set by plexus-run).", true},
  {"RANK", "", "This process's rank when started by plexus-run (also RANK, OMPI_COMM_WORLD_RANK, SLURM_PROCID).", false},
  {"WORLD_SIZE", "", "Number of ranks when started by plexus-run (also WORLD_SIZE, OMPI_COMM_WORLD_SIZE, SLURM_NTASKS).", false},
  {"LOCAL_RANK", "", "Rank among the processes of this host (also LOCAL_RANK, OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID).", false},
  {"LOCAL_SIZE", "", "Number of processes of this job on this host (set by plexus-run).", false},
  {"SECRET", "", "Hex secret shared by the ranks of a launcher-started job; the root refuses connections without it. plexus-run sets a random one.", false},
  {"HOSTID", "", "Override this host's identity (ranks with equal ids are on one host and may use shared memory).", true},
  // Transports
  {"TRANSPORTS", "shm,ibverbs,tcp", "Transports to use, in order of preference: 'tcp' (only tcp), 'shm,ofi' (this order), '^shm' (the default list without shm). Names: shm and tcp (built in); ibverbs, ofi, ucx (plugins, loaded from libplexus-transport-NAME.so, as is any other NAME). Aliases: libfabric = ofi, verbs = ib = ibverbs. When none of the listed transports is usable, the error says why for each.", false},
  {"PLUGIN_PATH", "", "Colon-separated directories searched first for transport plugins (libplexus-transport-NAME.so); then <libdir>/plexus and the loader's default path.", false},
  {"SHM_DISABLE", "0", "Disable the shared-memory transport (same as PLEXUS_TRANSPORTS=^shm).", true},
  {"SLOT_SIZE", "128K", "Bytes per slot in a connection's FIFO (all ranks must agree); the unit the engine moves data in. Small enough that the FIFOs of a shared-memory pair stay in the cache.", false},
  {"SLOTS", "8", "Slots per connection FIFO (all ranks must agree).", false},
  {"SHM_BUDGET", "a quarter of the host's memory", "Shared memory the communicator's ranks on one host may hold for shm FIFOs, shared equally among them. Init sizes FIFOs (unless PLEXUS_SLOT_SIZE or PLEXUS_SLOTS is set) so that a full mesh of a host's ranks fits; a connection whose FIFO would pass a rank's share fails with an error naming this budget.", false},
  {"NSOCKS_PERTHREAD", "1", "TCP sockets per peer connection (1 to 16); slots larger than PLEXUS_SOCKET_STRIPE are striped across them.", true},
  {"SOCKET_STRIPE", "64K", "tcp transport: smallest piece of a slot sent on one socket when PLEXUS_NSOCKS_PERTHREAD > 1 (smaller slots travel whole).", false},
  {"SOCKET_BUF_SIZE", "4M", "tcp transport: SO_SNDBUF/SO_RCVBUF of each data socket; 0 keeps the kernel's autotuning.", false},
  {"SOCKET_INFLIGHT", "0", "tcp transport: bytes a connection stages per direction when more than the engine's FIFO (slots x slot size); for links whose bandwidth-delay product exceeds the FIFO. 0 stages the FIFO's depth only.", false},
  {"FI_PROVIDER", "", "ofi transport: libfabric provider to use, e.g. 'tcp;ofi_rxm', 'shm', 'verbs;ofi_rxm', 'efa' (default: libfabric's FI_PROVIDER filter, then its first provider with reliable tagged messages).", false},
  {"IB_HCA", "", "ibverbs transport: RDMA devices and ports to use (NCCL syntax: 'mlx5_0:1,mlx5_1' prefixes with optional port, '^mlx5_2' excludes, '=mlx5_0' exact names). Default: every active port.", true},
  {"IB_GID_INDEX", "", "ibverbs transport: GID index for RoCE (default: the first RoCE v2 GID with an IPv4-mapped address, then RoCE v2 IPv6, then index 0).", true},
  {"IB_QPS_PER_CONNECTION", "1", "ibverbs transport: RC queue pairs per connection (1 to 16); large slots are striped across them.", true},
  {"IB_TIMEOUT", "18", "ibverbs transport: local ACK timeout exponent of the queue pairs (4.096 us * 2^N).", true},
  {"IB_RETRY_CNT", "7", "ibverbs transport: transport retry count of the queue pairs.", true},
  {"IB_SL", "0", "ibverbs transport: InfiniBand service level.", true},
  {"IB_TC", "0", "ibverbs transport: traffic class (RoCE DSCP << 2).", true},
  {"IB_MR_CACHE_SIZE", "256", "ibverbs transport: registrations kept by the memory-registration cache before unused ones are evicted.", false},
  {"NET_GDR", "1", "Network transports register CUDA device buffers for GPUDirect RDMA (ibverbs through dma-buf, ofi through FI_HMEM) where the plugin, device and driver support it; 0 always stages device buffers through host memory. Compiled and unit-tested; untested on RDMA hardware.", false},
  {"DMABUF_ENABLE", "1", "Register CUDA device memory through its dma-buf fd (cuMemGetHandleForAddressRange; ibverbs ibv_reg_dmabuf_mr); 0 disables that route (ofi may still use FI_HMEM by address).", true},
  // Algorithms and engine
  {"ALGO", "", "Force or exclude algorithms (NCCL syntax: ring,tree / ^tree / allreduce:ring;allgather:ring).", true},
  {"NCHANNELS", "", "Number of channels (parallel rings) per collective; default chosen by the tuner.", false},
  {"MIN_NCHANNELS", "", "Lower bound for the channels the tuner picks.", true},
  {"MAX_NCHANNELS", "", "Upper bound for the channels the tuner picks.", true},
  {"REPRODUCIBLE", "0", "1: floating-point all-reduce, reduce-scatter and reduce give the same bits for a given world size, count and data whatever the algorithm, channels, chunk size, ring order, placement or transport: each element's contributions are combined in one canonical pairwise tree over rank ids; only the algorithms that follow it are offered (a forced other one is replaced, with a warning). docs/algorithms.md, Reproducible mode. Every rank must set it alike.", false},
  {"SPIN_US", "1000", "Microseconds a blocked caller polls before it sleeps (futex or poll); default 0 when this host runs more ranks than this process has cores (it yields at once), and at most 50 while sockets (tcp, network plugins) carry the wait. The progress thread of asynchronous operations polls at most 100 us.", false},
  {"YIELD_US", "0", "After PLEXUS_SPIN_US, microseconds a blocked caller yields its core (sched_yield) between polls before it sleeps; default 1000 when this host runs more ranks than this process has cores (a peer that has work then gets the core at once), else 0.", false},
  {"NT_STORE_MIN", "auto", "Operations on buffers at least this large write their results with non-temporal (cache-bypassing) stores; 0 disables. auto: those whose buffers on the host's ranks together (input and output, one buffer when in place) exceed half the last-level cache (sysconf; 8M where it is unknown).", false},
  {"EXECUTOR", "engine", "Which executor runs collectives on host buffers: engine (the host engine over the transports) or mapped (the step interpreter, a thread per channel, over windows the ranks map from each other; needs every rank on this host, else the engine runs them, with one INFO line). Point-to-point always runs on the engine.", false},
  {"SINGLE_COPY", "auto", "All-reduce, reduce-scatter and all-gather on host buffers whose ranks are all on this host, from PLEXUS_SINGLE_COPY_MIN bytes (the largest buffer of the call). auto: ncclMemAlloc returns buffers of at least PLEXUS_SINGLE_COPY_MIN bytes from a memfd that peers map, and an all-reduce whose buffers all come from such allocations on every rank reduces and copies straight from the peers' buffers (zero copy); every other call keeps the shm slots (on at most 64 ranks). 1: also plain buffers, moved once with cross-memory attach (process_vm_readv of the peers' buffers; measured slower than the slots on the reference VM: docs/performance.md, \"Single copy\"), and every ncclMemAlloc buffer from a memfd. 0: never (ncclMemAlloc returns plain memory). Init probes every peer with process_vm_readv (after PR_SET_PTRACER_ANY); where that fails (kernel.yama.ptrace_scope, a container's seccomp) they stay on the slots, with one INFO line. Every rank must set it alike. Only between ranks the shm transport serves; off with PLEXUS_EXECUTOR=mapped, PLEXUS_CHECK or reproducible reductions.", false},
  {"SINGLE_COPY_MIN", "1M", "Smallest call (bytes of its largest buffer) that takes single copy (PLEXUS_SINGLE_COPY=1) or is offered zero copy (auto), and with auto the smallest ncclMemAlloc buffer taken from a memfd; rank 0's value holds for calls.", false},
  {"SMALL_MAX", "16K", "All-reduces on host buffers of at most this many bytes (default 16K, or 128K / ranks when smaller) whose ranks (at most 64) are all on this host skip the engine: each rank writes its input into its cell of a segment every rank maps and reduces all cells in rank order (one cache-line transfer per peer for up to 48 bytes); 0 never. Rank 0's value holds. Off with PLEXUS_EXECUTOR=mapped, PLEXUS_CHECK, reproducible reductions, an all-reduce algorithm forced by PLEXUS_ALGO, plan files, PLEXUS_SYSTEM, or a transport other than shm between the ranks (docs/performance.md, \"Small all-reduce\").", false},
  {"GPU_EXECUTOR", "staged", "Which executor runs collectives on device buffers: staged (copied to pinned host memory on the stream, run by the host engine) or device (the step interpreter as a CUDA kernel over cuda-ipc windows; not wired yet, so device falls back to staged with one INFO line). Compiled here; device has never run on a GPU.", false},
  {"REDUCE_ISA", "auto", "Host reduction kernels: auto (the best this CPU runs), avx512bf16, avx512, avx2 or scalar. A family the CPU lacks falls back to the best, with a warning.", false},
  {"CHECK", "0", "1: before each collective the ranks all-gather its signature (call number, collective, count, type, op, root) and run it only if all agree; a mismatch fails the call on every rank with an error naming two ranks and their calls, instead of a hang or mixed data. Costs one small all-gather per collective (docs/reliability.md); every rank must set it alike.", false},
  // Topology
  {"TOPO_FILE", "", "Read the local topology from this NCCL XML or Plexus JSON file instead of discovering it.", true},
  {"SYSTEM", "", "Plan as if rank r were device r of this synthetic system (plexus-topo systems: nvl576, gb200-nvl72:x8, dgx-h100:x8, ...): the tuner's costs and hierarchical domains are that system's, rings follow rank order, while the bytes move over this host's transports (channels capped at what its FIFOs were sized for). One INFO line names the injected system.", false},
  {"TOPO_DUMP_FILE", "", "Write the discovered local topology to this file (XML, or JSON when it ends in .json).", true},
  {"PLAN_FILE", "", "Load custom algorithms (Plexus plan JSON) from this file.", false},
};
// clang-format on
}  // namespace

std::span<const EnvVar> documentedEnvVars() {
  return kVars;
}

}  // namespace plexus
