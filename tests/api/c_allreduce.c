/* A C program that includes only nccl.h and uses only the NCCL API: N processes (fork) all-reduce
 * int32 host buffers, in-place and out-of-place, and check the exact sums. Built twice by CTest:
 * against Plexus's nccl.h and against NVIDIA's (proving source and ABI compatibility), both
 * linked with -lnccl from Plexus's lib/plexus directory. Usage: c_allreduce [nranks] [count] */
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int run(int rank, int n, ncclUniqueId id, size_t count) {
  ncclComm_t comm;
  ncclResult_t r = ncclCommInitRank(&comm, n, id, rank);
  if (r != ncclSuccess) { fprintf(stderr, "init %d: %s\n", rank, ncclGetLastError(NULL)); return 1; }
  int* buf = malloc((count + 1) * sizeof(int));
  int* out = malloc((count + 1) * sizeof(int));
  int bad = 0;
  for (int inplace = 0; inplace < 2; ++inplace) {
    for (size_t i = 0; i < count; ++i) buf[i] = rank * 1000 + (int)i;
    int* dst = inplace ? buf : out;
    r = ncclAllReduce(buf, dst, count, ncclInt32, ncclSum, comm, NULL);
    if (r != ncclSuccess) {
      fprintf(stderr, "allreduce %d: %s: %s\n", rank, ncclGetErrorString(r), ncclGetLastError(comm));
      return 1;
    }
    for (size_t i = 0; i < count; ++i) {
      int expect = 1000 * (n * (n - 1) / 2) + n * (int)i;
      if (dst[i] != expect) {
        if (bad < 5) fprintf(stderr, "rank %d: out[%zu]=%d expect %d\n", rank, i, dst[i], expect);
        bad++;
      }
    }
  }
  int nr = 0, me = -1;
  if (ncclCommCount(comm, &nr) != ncclSuccess || nr != n) bad++;
  if (ncclCommUserRank(comm, &me) != ncclSuccess || me != rank) bad++;
  free(buf);
  free(out);
  ncclCommDestroy(comm);
  return bad != 0;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 4;
  size_t count = argc > 2 ? strtoul(argv[2], 0, 10) : 1000;
  ncclUniqueId id;
  if (ncclGetUniqueId(&id) != ncclSuccess) { fprintf(stderr, "id: %s\n", ncclGetLastError(NULL)); return 1; }
  for (int r = 0; r < n; ++r) if (fork() == 0) _exit(run(r, n, id, count));
  int fails = 0, st;
  for (int r = 0; r < n; ++r) { wait(&st); if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fails++; }
  printf("%s (%d failed)\n", fails ? "FAIL" : "OK", fails);
  return fails != 0;
}
