/* libplexus-transport-oldv1.so: a plugin as written for plugin ABI version 1 (it exports only
 * plexus_transport_v1, with abi_version 1, and knows nothing of registration caps), so that the
 * tests show such plugins still load under version 2. It initialises only when Plexus passes
 * config->abi_version == 1, reports one device, and connects nobody. */
#include <plexus/transport.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char error[128];
} old_ctx;

static plexus_tp_result_t old_init(const plexus_tp_config_t* config, void** ctx, char* error,
                                   size_t error_len) {
  if (config->abi_version != 1) {
    snprintf(error, error_len, "oldv1 speaks plugin ABI 1, was given %u", config->abi_version);
    return PLEXUS_TP_ERROR;
  }
  old_ctx* c = calloc(1, sizeof(*c));
  if (c == NULL) return PLEXUS_TP_ERROR;
  *ctx = c;
  return PLEXUS_TP_SUCCESS;
}
static void old_finalize(void* ctx) {
  free(ctx);
}
static int old_device_count(void* ctx) {
  return 1;
}
static plexus_tp_result_t old_device(void* ctx, int index, plexus_tp_device_t* out) {
  memset(out, 0, sizeof(*out));
  snprintf(out->name, sizeof(out->name), "old0");
  out->bandwidth_gbps = 80; /* 10 GB/s */
  out->latency_us = 4;
  out->mem_kinds = PLEXUS_TP_MEM_HOST;
  return PLEXUS_TP_SUCCESS;
}
static plexus_tp_result_t old_local_address(void* ctx, void* blob, size_t* len) {
  *len = 0;
  return PLEXUS_TP_SUCCESS;
}
static int old_can_reach(void* ctx, const plexus_tp_peer_t* self, const plexus_tp_peer_t* peer) {
  return 0;
}
static plexus_tp_result_t old_connect(void* ctx, int id, const plexus_tp_peer_t* peer,
                                      void** conn) {
  return PLEXUS_TP_ERROR;
}
static plexus_tp_result_t old_reg_mem(void* ctx, void* ptr, size_t size, uint32_t kind,
                                      void** handle) {
  *handle = NULL;
  return PLEXUS_TP_SUCCESS;
}
static plexus_tp_result_t old_dereg_mem(void* ctx, void* handle) {
  return PLEXUS_TP_SUCCESS;
}
static void* old_send_acquire(void* conn) {
  return NULL;
}
static plexus_tp_result_t old_send_post(void* conn, uint32_t bytes, uint32_t tag) {
  return PLEXUS_TP_ERROR;
}
static const void* old_recv_peek(void* conn, uint32_t* bytes, uint32_t* tag) {
  return NULL;
}
static plexus_tp_result_t old_recv_release(void* conn) {
  return PLEXUS_TP_ERROR;
}
static int old_send_drained(void* conn) {
  return 1;
}
static plexus_tp_result_t old_check_peer(void* conn) {
  return PLEXUS_TP_SUCCESS;
}
static void old_describe(void* conn, char* buf, size_t len) {
  snprintf(buf, len, "oldv1");
}
static plexus_tp_result_t old_progress(void* ctx) {
  return PLEXUS_TP_AGAIN;
}
static int old_poll_fds(void* ctx, struct pollfd* fds, int capacity) {
  return 0;
}
static void old_abort(void* ctx, const char* reason) {}
static const char* old_last_error(void* ctx) {
  return ((old_ctx*)ctx)->error;
}

const plexus_transport_v1_t* plexus_transport_v1(void) {
  static const plexus_transport_v1_t table = {1,
                                              "oldv1",
                                              0,
                                              old_init,
                                              old_finalize,
                                              old_device_count,
                                              old_device,
                                              old_local_address,
                                              old_can_reach,
                                              old_connect,
                                              old_reg_mem,
                                              old_dereg_mem,
                                              old_send_acquire,
                                              old_send_post,
                                              old_recv_peek,
                                              old_recv_release,
                                              old_send_drained,
                                              old_check_peer,
                                              old_describe,
                                              old_progress,
                                              old_poll_fds,
                                              old_abort,
                                              old_last_error};
  return &table;
}
