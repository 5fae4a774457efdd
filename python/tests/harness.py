"""Runs a function on N local ranks (forked processes) with the "plexus" backend initialised.

Ranks talk over loopback only: MASTER_ADDR=127.0.0.1, PLEXUS_SOCKET_IFNAME=lo,
GLOO_SOCKET_IFNAME=lo. The function's return value of every rank comes back to the caller; an
exception on any rank fails the run with that rank's traceback.
"""

import datetime
import multiprocessing as mp
import os
import queue
import socket
import traceback

LOOPBACK_ENV = {
    "MASTER_ADDR": "127.0.0.1",
    "PLEXUS_SOCKET_IFNAME": "lo",
    "GLOO_SOCKET_IFNAME": "lo",
}


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stacks(pid):
    """Every thread's native stack of a hung rank (gdb), for the failure report."""
    import shutil
    import subprocess

    if not shutil.which("gdb"):
        return "(gdb not installed)"
    try:
        out = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 30"],
                             capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"(gdb failed: {e})"
    return "\n".join(line for line in out.splitlines() if line.startswith(("#", "Thread")))


def _entry(fn, rank, world_size, port, results, args, backend, pg_timeout):
    try:
        os.environ.update(LOOPBACK_ENV)
        os.environ["MASTER_PORT"] = str(port)
        os.environ["RANK"] = str(rank)
        os.environ["WORLD_SIZE"] = str(world_size)
        import torch

        torch.set_num_threads(1)
        import torch.distributed as dist

        import plexus_torch  # noqa: F401  (registers "plexus")

        dist.init_process_group(
            backend,
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=pg_timeout),
        )
        out = fn(rank, world_size, *args)
        # Rank 0 serves the store: leave only when every rank is done with it.
        dist.barrier()
        dist.destroy_process_group()
        results.put((rank, True, out))
    except BaseException:  # noqa: BLE001  (report everything to the parent)
        results.put((rank, False, traceback.format_exc()))
    finally:
        results.close()
        results.join_thread()  # flush the result before leaving without atexit handlers
        os._exit(0)


def run_ranks(fn, world_size, *args, timeout=240, backend="plexus", pg_timeout=120):
    """Runs fn(rank, world_size, *args) on world_size forked ranks; returns results by rank."""
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    port = free_port()
    procs = [
        ctx.Process(
            target=_entry,
            args=(fn, r, world_size, port, results, args, backend, pg_timeout),
            daemon=True,
        )
        for r in range(world_size)
    ]
    for p in procs:
        p.start()
    got = {}
    errors = []
    try:
        for _ in range(world_size):
            try:
                rank, ok, payload = results.get(timeout=timeout)
            except queue.Empty:
                missing = sorted(set(range(world_size)) - set(got))
                errors.append(f"ranks {missing} gave no result within {timeout} s")
                for r in missing:
                    errors.append(f"rank {r} stacks:\n{stacks(procs[r].pid)}")
                break
            got[rank] = payload
            if not ok:
                errors.append(f"rank {rank} failed:\n{payload}")
                # Give the others a moment to report their side, then stop.
                timeout = min(timeout, 20)
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()
    if errors:
        raise AssertionError("\n".join(errors))
    return [got[r] for r in range(world_size)]
