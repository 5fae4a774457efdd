#!/usr/bin/env python3
"""PyTorch's own ProcessGroupNCCL on Plexus (issue 13, scope 8), run by scripts/gpu-check.sh.

Two ranks on the one GPU (Plexus allows several ranks per GPU; NCCL does not), started with
Plexus's libnccl.so.2 preloaded (torch's RPATH would otherwise win):

  LD_PRELOAD=build-gpu/lib/libnccl.so.2 python3 scripts/gpu_torch_check.py

Each rank checks that the preloaded library is the one mapped, then runs all_reduce,
all_gather_into_tensor, reduce_scatter_tensor, broadcast and one DDP step, and compares every
result exactly with the same computed on the CPU (integer-valued float32 data, so any order of
summation is exact). One line per check, "PASS|FAIL <check> ..."; exit 0 when all passed.
"""
import argparse
import os
import socket
import sys
import traceback


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_input(rank, n, torch):
    # Distinct integers per rank, small enough that every sum is exact in float32.
    return (torch.arange(n, dtype=torch.float32) % 97 + 1) * (rank + 1)


def checks(rank, world, torch, dist):
    dev = torch.device("cuda", 0)
    n = 1 << 20
    results = []

    def record(name, ok, detail=""):
        results.append((name, bool(ok), detail))

    x = rank_input(rank, n, torch).to(dev)
    dist.all_reduce(x)
    want = sum(rank_input(r, n, torch) for r in range(world))
    record("all_reduce", torch.equal(x.cpu(), want))

    out = torch.empty(world * n, device=dev)
    dist.all_gather_into_tensor(out, rank_input(rank, n, torch).to(dev))
    want = torch.cat([rank_input(r, n, torch) for r in range(world)])
    record("all_gather_into_tensor", torch.equal(out.cpu(), want))

    big = torch.cat([rank_input(rank, n, torch) * (b + 1) for b in range(world)]).to(dev)
    part = torch.empty(n, device=dev)
    dist.reduce_scatter_tensor(part, big)
    want = sum(rank_input(r, n, torch) * (rank + 1) for r in range(world))
    record("reduce_scatter_tensor", torch.equal(part.cpu(), want))

    b = rank_input(rank, n, torch).to(dev)
    dist.broadcast(b, src=world - 1)
    record("broadcast", torch.equal(b.cpu(), rank_input(world - 1, n, torch)))

    record("ddp_step", ddp_step(rank, world, torch, dev))
    torch.cuda.synchronize()
    return results


def make_model(torch):
    model = torch.nn.Linear(8, 4)
    with torch.no_grad():
        model.weight.copy_(torch.arange(32, dtype=torch.float32).reshape(4, 8) % 5 - 2)
        model.bias.copy_(torch.tensor([1.0, -1.0, 2.0, 0.0]))
    return model


def batch(rank, torch):
    return (torch.arange(6 * 8, dtype=torch.float32).reshape(6, 8) % 7 - 3) * (rank + 1)


def ddp_step(rank, world, torch, dev):
    """One SGD step of a DDP-wrapped linear layer against the same step on the CPU with the
    gradients averaged over every rank's batch (integers and powers of two: exact)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    torch.backends.cuda.matmul.allow_tf32 = False
    model = DDP(make_model(torch).to(dev), device_ids=[0])
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    model(batch(rank, torch).to(dev)).sum().backward()
    opt.step()

    ref = make_model(torch)
    grads = [torch.zeros_like(p) for p in ref.parameters()]
    for r in range(world):
        ref.zero_grad()
        ref(batch(r, torch)).sum().backward()
        for g, p in zip(grads, ref.parameters()):
            g += p.grad / world
    with torch.no_grad():
        for g, p in zip(grads, ref.parameters()):
            p -= 0.5 * g
    return all(torch.equal(a.detach().cpu(), b) for a, b in zip(model.module.parameters(), ref.parameters()))


def worker(rank, world, port, queue):
    try:
        import torch
        import torch.distributed as dist

        preload = os.environ.get("LD_PRELOAD", "")
        with open("/proc/self/maps") as f:
            maps = f.read()
        mapped = bool(preload) and os.path.realpath(preload.split(":")[0]) in maps
        torch.cuda.set_device(0)
        dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world)
        results = [("plexus_libnccl_mapped", mapped, preload or "LD_PRELOAD unset")]
        results += checks(rank, world, torch, dist)
        dist.destroy_process_group()
        queue.put((rank, results, ""))
    except Exception:  # reported by the parent, which fails the run
        queue.put((rank, [], traceback.format_exc()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=100.0)
    args = ap.parse_args()
    import torch
    import torch.multiprocessing as mp

    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), "
          f"{torch.cuda.device_count()} GPU(s), {args.ranks} ranks on device 0, "
          f"LD_PRELOAD={os.environ.get('LD_PRELOAD', '')}", flush=True)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=worker, args=(r, args.ranks, port, queue)) for r in range(args.ranks)]
    for p in procs:
        p.start()
    reports = {}
    try:
        for _ in procs:
            rank, results, error = queue.get(timeout=args.timeout)
            reports[rank] = (results, error)
    except Exception:
        print(f"FAIL torch: no result from {sorted(set(range(args.ranks)) - set(reports))} "
              f"within {args.timeout:.0f}s", flush=True)
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    ok = len(reports) == args.ranks
    names = []
    for rank in sorted(reports):
        results, error = reports[rank]
        if error:
            print(f"FAIL rank {rank}: {error}", flush=True)
            ok = False
        for name, good, detail in results:
            if name not in names:
                names.append(name)
            if not good:
                print(f"FAIL {name} on rank {rank} {detail}", flush=True)
                ok = False
    for name in names:
        if all(good for r in reports.values() for n, good, _ in r[0] if n == name):
            print(f"PASS {name} (all {len(reports)} ranks, exact against the CPU)", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
