"""all_reduce of float32 tensors through torch.distributed: plexus against Gloo, 2 local ranks.

    PYTHONPATH=<built plexus_torch> python3 bench/allreduce_bench.py [--min 4] [--max 256M]
        [--factor 4] [--ranks 2] [--json out.json]

Both backends run in the same processes, one size at a time (plexus first, then Gloo, each with
warm-up iterations), over loopback (PLEXUS_SOCKET_IFNAME=lo, GLOO_SOCKET_IFNAME=lo). One run: the
printed times are the mean of the timed iterations on rank 0. The last column is the time ratio
plexus/gloo (below 1: plexus is faster).
"""

import argparse
import datetime
import json
import multiprocessing as mp
import os
import socket
import time


def parse_size(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = s.strip().upper().rstrip("B")
    if s and s[-1] in units:
        return int(float(s[:-1]) * units[s[-1]])
    return int(s)


def human(n):
    for unit, div in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= div:
            return f"{n / div:g} {unit}"
    return f"{n} B"


def iterations(nbytes):
    """Same on every rank: many for small messages, a few for large ones."""
    return max(3, min(1000, int(2e8 // max(nbytes, 200_000))))


def rank_main(rank, world, port, sizes, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), PLEXUS_SOCKET_IFNAME="lo",
                      GLOO_SOCKET_IFNAME="lo")
    import torch
    import torch.distributed as dist

    import plexus_torch  # noqa: F401

    torch.set_num_threads(1)
    dist.init_process_group("plexus", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=600))
    groups = {"plexus": dist.group.WORLD, "gloo": dist.new_group(backend="gloo")}
    rows = []
    for nbytes in sizes:
        count = max(1, nbytes // 4)
        t = torch.ones(count, dtype=torch.float32)
        iters = iterations(nbytes)
        row = {"bytes": count * 4, "iters": iters}
        for name, g in groups.items():
            for _ in range(min(5, iters)):
                dist.all_reduce(t, group=g)
            dist.barrier(group=g)
            start = time.perf_counter()
            for _ in range(iters):
                dist.all_reduce(t, group=g)
            row[name] = (time.perf_counter() - start) / iters
        rows.append(row)
        if rank == 0:
            print_row(row, flush=True)
    dist.barrier()
    dist.destroy_process_group()
    if rank == 0:
        out.put(rows)


HEADER = f"{'size':>10} {'iters':>6} {'plexus us':>12} {'gloo us':>12} {'plexus GB/s':>12} " \
         f"{'gloo GB/s':>10} {'plexus/gloo':>12}"


def print_row(r, flush=False):
    p, g = r["plexus"], r["gloo"]
    print(f"{human(r['bytes']):>10} {r['iters']:>6} {p * 1e6:>12.1f} {g * 1e6:>12.1f} "
          f"{r['bytes'] / p / 1e9:>12.3f} {r['bytes'] / g / 1e9:>10.3f} {p / g:>12.3f}",
          flush=flush)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min", default="4")
    ap.add_argument("--max", default="256M")
    ap.add_argument("--factor", type=int, default=4)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--json", help="also write the rows as JSON here")
    args = ap.parse_args()
    sizes = []
    s = parse_size(args.min)
    while s <= parse_size(args.max):
        sizes.append(s)
        s *= args.factor
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    import torch

    print(f"all_reduce float32 (sum), {args.ranks} ranks on this host, torch {torch.__version__}")
    print(HEADER, flush=True)
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=rank_main, args=(r, args.ranks, port, sizes, out))
             for r in range(args.ranks)]
    for p in procs:
        p.start()
    rows = out.get()
    for p in procs:
        p.join()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if all(p.exitcode == 0 for p in procs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
