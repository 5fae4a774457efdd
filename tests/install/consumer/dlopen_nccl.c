/* What frameworks do: dlopen("libnccl.so.2") (found through LD_LIBRARY_PATH) and call into it.
 * Exits 0 when the library loads and ncclGetVersion answers NCCL_VERSION_CODE. */
#include <dlfcn.h>
#include <nccl.h>
#include <stdio.h>

int main(void) {
  void* lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "dlopen(libnccl.so.2): %s\n", dlerror());
    return 1;
  }
  ncclResult_t (*getVersion)(int*) = (ncclResult_t(*)(int*))dlsym(lib, "ncclGetVersion");
  if (getVersion == NULL) {
    fprintf(stderr, "dlsym(ncclGetVersion): %s\n", dlerror());
    return 1;
  }
  int version = 0;
  ncclResult_t r = getVersion(&version);
  printf("dlopen(libnccl.so.2): ncclGetVersion -> %d (result %d)\n", version, (int)r);
  return (r == ncclSuccess && version == NCCL_VERSION_CODE) ? 0 : 1;
}
