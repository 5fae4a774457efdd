// The one table of environment variables Plexus reads. docs/environment.md mirrors it (checked by
// tests/util/env_docs_test). Keep entries sorted by area; add a row here before reading a new one.
#include "util/env.hpp"

namespace plexus {
namespace {
// clang-format off
constexpr EnvVar kVars[] = {
  // Logging
  {"DEBUG", "WARN", "Log level: VERSION, WARN, INFO or TRACE.", true},
  {"DEBUG_SUBSYS", "ALL", "Comma list of subsystems to log (INIT, COLL, P2P, SHM, NET, GRAPH, TUNE, ENV, BOOTSTRAP, ALL); ^ excludes.", true},
  {"DEBUG_FILE", "", "Write log lines to this file instead of stderr; %h is replaced by the host name, %p by the pid.", true},
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
  {"TRANSPORTS", "shm,ibverbs,tcp", "Transports to use, in order of preference: 'tcp' (only tcp), 'shm,ofi' (this order), '^shm' (the default list without shm). Plugins (ibverbs, ofi, ucx, ...) are loaded from libplexus-transport-NAME.so.", false},
  {"PLUGIN_PATH", "", "Colon-separated directories searched first for transport plugins (libplexus-transport-NAME.so); then <libdir>/plexus and the loader's default path.", false},
  {"SHM_DISABLE", "0", "Disable the shared-memory transport (same as PLEXUS_TRANSPORTS=^shm).", true},
  {"SLOT_SIZE", "512K", "Bytes per slot in a connection's FIFO (all ranks must agree).", false},
  {"SLOTS", "8", "Slots per connection FIFO (all ranks must agree).", false},
  {"NSOCKS_PERTHREAD", "1", "TCP sockets per peer connection.", true},
  // Algorithms and engine
  {"ALGO", "", "Force or exclude algorithms (NCCL syntax: ring,tree / ^tree / allreduce:ring;allgather:ring).", true},
  {"NCHANNELS", "", "Number of channels (parallel rings) per collective; default chosen by the tuner.", false},
  {"MIN_NCHANNELS", "", "Lower bound for the channels the tuner picks.", true},
  {"MAX_NCHANNELS", "", "Upper bound for the channels the tuner picks.", true},
  {"SPIN_US", "50", "Microseconds a waiting rank polls before it sleeps (futex or poll); default 2 when this host runs more ranks than this process has cores.", false},
  {"REDUCE_ISA", "auto", "Host reduction kernels: auto (the best this CPU runs), avx512bf16, avx512, avx2 or scalar. A family the CPU lacks falls back to the best, with a warning.", false},
  // Topology
  {"TOPO_FILE", "", "Read the local topology from this NCCL XML or Plexus JSON file instead of discovering it.", true},
  {"TOPO_DUMP_FILE", "", "Write the discovered local topology to this file (XML, or JSON when it ends in .json).", true},
  {"PLAN_FILE", "", "Load custom algorithms (Plexus plan JSON) from this file.", false},
};
// clang-format on
}  // namespace

std::span<const EnvVar> documentedEnvVars() {
  return kVars;
}

}  // namespace plexus
