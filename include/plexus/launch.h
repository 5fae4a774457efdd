/* Plexus extension to the NCCL C API (not in NCCL): a unique id from the launcher's environment.
 *
 * Under a launcher (plexus-run, mpirun, srun, torchrun), every process of a job may call
 * plexusGetUniqueIdFromEnv and get the same id without shipping it: the bootstrap root's address
 * is PLEXUS_COMM_ID (or MASTER_ADDR and MASTER_PORT), else under Slurm the first node of the
 * step, else, when the launcher says every rank runs on this host, 127.0.0.1 and a port derived
 * from the launcher's job id. Rank 0 starts the root inside ncclCommInitRank. Nothing is started
 * by this call. When no launcher is found, or no root address is set or derivable (ranks on
 * several hosts and no variable), it fails at once with ncclInvalidUsage / ncclInvalidArgument and
 * ncclGetLastError(NULL) names the launcher and the variables to set. docs/launching.md. */
#ifndef PLEXUS_LAUNCH_H_
#define PLEXUS_LAUNCH_H_

#include "nccl.h"

#ifdef __cplusplus
extern "C" {
#endif

PLEXUS_API ncclResult_t plexusGetUniqueIdFromEnv(ncclUniqueId* uniqueId);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PLEXUS_LAUNCH_H_ */
