/* libplexus-transport-shortv2.so: a malformed version 2 plugin (its table claims a struct_size
 * shorter than plexus_transport_v2_t), which Plexus must refuse by name rather than read past
 * the table. Only the fields the loader looks at are set. */
#include <plexus/transport.h>
#include <stddef.h>

const plexus_transport_v2_t* plexus_transport_v2(void) {
  static plexus_transport_v2_t table;
  table.v1.abi_version = PLEXUS_TRANSPORT_ABI_VERSION_2;
  table.v1.name = "shortv2";
  table.struct_size = (uint32_t)offsetof(plexus_transport_v2_t, mem_reg_caps);
  return &table;
}
