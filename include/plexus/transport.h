/*
 * Plexus transport plugin ABI, version 2 (version 1 plugins still load).
 *
 * A transport moves bytes between two ranks reliably and in order through a FIFO of fixed-size
 * slots per connection and direction: the sender acquires a free slot, fills it and posts it; the
 * receiver peeks at the oldest filled slot, consumes it in place (Plexus reduces straight out of
 * it) and releases it. Every call is non-blocking.
 *
 * A plugin is a shared library named libplexus-transport-NAME.so that exports
 *
 *     const plexus_transport_v2_t* plexus_transport_v2(void);
 *
 * (version 2: the version 1 table followed by memory registration for host and CUDA device
 * memory, see plexus_transport_v2_t) or, from plugins written for version 1,
 *
 *     const plexus_transport_v1_t* plexus_transport_v1(void);
 *
 * Plexus looks up plexus_transport_v2 first, then plexus_transport_v1; a version 1 plugin is used
 * as before and registers no memory.
 *
 * Plexus looks for it in PLEXUS_PLUGIN_PATH (colon-separated directories), then in the plexus/
 * directory next to libplexus.so, then on the dynamic loader's default path. PLEXUS_TRANSPORTS
 * picks and orders transports by NAME. The built-in shm and tcp transports are exposed through this
 * same table (see docs/transport-plugins.md, which also walks through writing one).
 *
 * Threading: Plexus calls a context and its connections from one thread at a time.
 * Errors: a call that returns PLEXUS_TP_ERROR or PLEXUS_TP_REMOTE leaves a one-line message in
 * last_error(ctx) that names the peer and what to check.
 */
#ifndef PLEXUS_TRANSPORT_H_
#define PLEXUS_TRANSPORT_H_

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PLEXUS_TRANSPORT_ABI_VERSION 2 /* the newest version this header describes */
#define PLEXUS_TRANSPORT_ABI_VERSION_1 1
#define PLEXUS_TRANSPORT_ABI_VERSION_2 2
#define PLEXUS_TRANSPORT_ENTRY "plexus_transport_v2"
#define PLEXUS_TRANSPORT_ENTRY_V1 "plexus_transport_v1"

typedef enum {
  PLEXUS_TP_SUCCESS = 0,    /* done */
  PLEXUS_TP_AGAIN = 1,      /* not yet: call again after progress() */
  PLEXUS_TP_ERROR = 2,      /* local failure (see last_error) */
  PLEXUS_TP_REMOTE = 3,     /* the peer failed, left, or the network broke (see last_error) */
  PLEXUS_TP_UNAVAILABLE = 4 /* init: no usable device here; Plexus skips the transport */
} plexus_tp_result_t;

/* Memory a transport reads and writes directly. */
#define PLEXUS_TP_MEM_HOST 0x1u
#define PLEXUS_TP_MEM_CUDA 0x2u

/* Memory registration capabilities (plexus_transport_v2_t: reg_caps, mem_reg_caps()). */
#define PLEXUS_TP_REG_HOST 0x1u        /* registers host memory */
#define PLEXUS_TP_REG_CUDA_DMABUF 0x2u /* registers CUDA device memory through its dma-buf fd */
#define PLEXUS_TP_REG_CUDA_HMEM 0x4u   /* registers CUDA device memory by address (FI_HMEM_CUDA) */
#define PLEXUS_TP_REG_CUDA (PLEXUS_TP_REG_CUDA_DMABUF | PLEXUS_TP_REG_CUDA_HMEM)

/* Transport flags. */
#define PLEXUS_TP_FLAG_SAME_HOST_ONLY 0x1u /* reaches only ranks with the same host hash */
#define PLEXUS_TP_FLAG_DOORBELL 0x2u       /* wakes peers through the Plexus doorbell (shm) */

/* Log levels for plexus_tp_config_t.log. */
#define PLEXUS_TP_LOG_WARN 2
#define PLEXUS_TP_LOG_INFO 3
#define PLEXUS_TP_LOG_TRACE 4

typedef struct {
  char name[64];         /* e.g. "mlx5_0:1", "eth0", "tcp;ofi_rxm" */
  char pci_path[128];    /* sysfs PCI path or bus id, "" if none */
  char link_layer[16];   /* "InfiniBand", "Ethernet", "shared memory", ... */
  double bandwidth_gbps; /* per direction, Gbit/s */
  double latency_us;
  uint32_t mem_kinds; /* PLEXUS_TP_MEM_* */
  int port;           /* device port, 0 if not applicable */
} plexus_tp_device_t;

typedef struct {
  uint32_t abi_version; /* the version of the table Plexus loaded: 1 for a plexus_transport_v1
                         * table, 2 for a plexus_transport_v2 one */
  int rank;
  int nranks;
  uint64_t comm_id;    /* random per communicator, equal on all its ranks */
  uint32_t slot_bytes; /* payload bytes per slot (equal on all ranks) */
  uint32_t slots;      /* slots per FIFO */
  uint8_t secret[16];  /* the job secret: present it when connecting, check it when accepting */
  int requested;       /* 1 when the user named this transport in PLEXUS_TRANSPORTS */
  void (*log)(void* host, int level, const char* message);
  void* host;
  /* Version 2 (read only when abi_version >= 2): the memory kinds (PLEXUS_TP_MEM_*) Plexus may
   * ask this context to register, so that a plugin can open its fabric for them (ofi requests
   * FI_HMEM when PLEXUS_TP_MEM_CUDA is set). */
  uint32_t mem_kinds;
} plexus_tp_config_t;

typedef struct {
  int rank;
  uint64_t host_hash; /* equal for ranks on one host */
  int pid;
  const char* host_name;
  const void* address; /* the blob this peer's local_address() produced */
  size_t address_len;
} plexus_tp_peer_t;

typedef struct plexus_transport_v1 {
  uint32_t abi_version; /* 1, or 2 when this is the v1 member of a plexus_transport_v2_t */
  const char* name;     /* "tcp", "ofi", "ucx", "ibverbs", ... */
  uint32_t flags;       /* PLEXUS_TP_FLAG_* */

  /* Lifetime. init returns UNAVAILABLE (and a reason in error) when the machine lacks what it
   * needs; finalize closes every connection and frees the context. */
  plexus_tp_result_t (*init)(const plexus_tp_config_t* config, void** ctx, char* error,
                             size_t error_len);
  void (*finalize)(void* ctx);

  /* Devices, for the topology and the tuner. */
  int (*device_count)(void* ctx);
  plexus_tp_result_t (*device)(void* ctx, int index, plexus_tp_device_t* out);

  /* This rank's address blob for the all-gather; *len is the capacity in, the length out. */
  plexus_tp_result_t (*local_address)(void* ctx, void* blob, size_t* len);
  /* Non-zero if this transport can connect the two ranks. */
  int (*can_reach)(void* ctx, const plexus_tp_peer_t* self, const plexus_tp_peer_t* peer);

  /* Starts or continues connecting to `peer` on `connection_id` (both ranks call it with the same
   * id). Returns AGAIN while pending; on SUCCESS *conn is valid until finalize. */
  plexus_tp_result_t (*connect)(void* ctx, int connection_id, const plexus_tp_peer_t* peer,
                                void** conn);

  /* Memory registration (RDMA transports; others may return SUCCESS with a NULL handle).
   * Version 1 only: a version 2 plugin registers through register_memory below and may return
   * SUCCESS with a NULL handle here. */
  plexus_tp_result_t (*reg_mem)(void* ctx, void* ptr, size_t size, uint32_t mem_kind,
                                void** handle);
  plexus_tp_result_t (*dereg_mem)(void* ctx, void* handle);

  /* Data path: slot FIFO per direction. */
  void* (*send_acquire)(void* conn); /* a free slot of slot_bytes, or NULL while full */
  plexus_tp_result_t (*send_post)(void* conn, uint32_t bytes, uint32_t tag);
  const void* (*recv_peek)(void* conn, uint32_t* bytes, uint32_t* tag); /* NULL if none yet */
  plexus_tp_result_t (*recv_release)(void* conn);
  /* Non-zero once everything posted has left this process (Plexus may then exit). */
  int (*send_drained)(void* conn);
  /* SUCCESS if the peer is alive as far as the transport knows, else REMOTE. */
  plexus_tp_result_t (*check_peer)(void* conn);
  void (*describe)(void* conn, char* buf, size_t len);

  /* Progress and waiting: progress moves bytes (SUCCESS if something moved, AGAIN if nothing);
   * poll_fds fills up to `capacity` fds to poll while idle and returns how many, or -1 when the
   * transport cannot be waited on (Plexus then naps briefly between progress calls). */
  plexus_tp_result_t (*progress)(void* ctx);
  int (*poll_fds)(void* ctx, struct pollfd* fds, int capacity);

  /* Tells peers this rank is going away because of `reason` (best effort), then stops. */
  void (*abort)(void* ctx, const char* reason);
  const char* (*last_error)(void* ctx);
} plexus_transport_v1_t;

typedef const plexus_transport_v1_t* (*plexus_transport_entry_fn)(void);

/* A buffer to register (version 2). */
typedef struct {
  uint32_t struct_size;   /* sizeof(plexus_tp_mem_desc_t) of the caller */
  uint32_t kind;          /* PLEXUS_TP_MEM_HOST or PLEXUS_TP_MEM_CUDA */
  void* ptr;              /* start (for CUDA: the device virtual address) */
  size_t size;            /* bytes, > 0 */
  int device;             /* CUDA device ordinal (kind CUDA), -1 for host memory */
  int dmabuf_fd;          /* dma-buf of the device memory, -1 when not given; the caller keeps
                           * it open during the call and closes it afterwards */
  uint64_t dmabuf_offset; /* offset of ptr inside the dma-buf (when dmabuf_fd >= 0) */
} plexus_tp_mem_desc_t;

/* A registration (version 2). */
typedef struct {
  void* handle;        /* the plugin's, passed back to deregister_memory */
  uint64_t remote_key; /* the key a peer uses to reach the memory (RDMA rkey), 0 if none */
} plexus_tp_mem_reg_t;

/* Version 2: the version 1 table (v1.abi_version == 2), then memory registration. Fields may be
 * appended in later minor revisions: Plexus reads a field only when struct_size covers it. */
typedef struct plexus_transport_v2 {
  plexus_transport_v1_t v1;
  uint32_t struct_size; /* sizeof(plexus_transport_v2_t) the plugin was built with */
  uint32_t reg_caps;    /* PLEXUS_TP_REG_* the plugin can do at most (as built) */

  /* PLEXUS_TP_REG_* this context can do now (its devices, provider and knobs decided). */
  uint32_t (*mem_reg_caps)(void* ctx);
  /* Registers mem for zero-copy access by the transport's device. ERROR (and last_error saying
   * why: a kind this context cannot register, no dma-buf support, ...) when it cannot; Plexus
   * then stages through host memory. */
  plexus_tp_result_t (*register_memory)(void* ctx, const plexus_tp_mem_desc_t* mem,
                                        plexus_tp_mem_reg_t* out);
  plexus_tp_result_t (*deregister_memory)(void* ctx, void* handle);
} plexus_transport_v2_t;

typedef const plexus_transport_v2_t* (*plexus_transport_v2_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* PLEXUS_TRANSPORT_H_ */
