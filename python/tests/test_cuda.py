"""CUDA tensors: what the build says about them everywhere, and, where a GPU is present, the
collectives on CUDA tensors (2 ranks on GPU 0; exact against values computed on the CPU).

Without a GPU the collective tests skip with one line; the build tests still run: a plexus_torch
built against a PyTorch with CUDA registers the backend for "cuda" too and takes its NCCL calls
from Plexus's library, not from the NCCL PyTorch loads."""

import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist

import plexus_torch
from harness import run_ranks


def _gpu_count():
    # In a child: initialising CUDA here would break the forked ranks of later tests.
    code = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    try:
        return int(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return 0


def test_build_says_whether_it_takes_cuda_tensors():
    built = plexus_torch._C.built_with_cuda
    if torch.version.cuda is None:
        assert not built, "a PyTorch without CUDA cannot give a CUDA build"
    assert plexus_torch.backend_devices() == (["cpu", "cuda"] if built else ["cpu"])


@pytest.mark.skipif(not plexus_torch._C.built_with_cuda, reason="plexus_torch built without CUDA")
def test_cuda_path_calls_plexus_not_the_nccl_torch_loads():
    lib = os.path.realpath(plexus_torch._C.cuda_nccl_library())
    assert os.path.basename(lib).startswith("libplexus"), lib
    assert "nvidia" not in lib, lib


def _cuda_collectives(rank, n):
    dev = torch.device("cuda", 0)  # every rank on the one GPU
    torch.cuda.set_device(dev)
    out = {}
    t = torch.arange(1000, dtype=torch.int64, device=dev) + rank
    dist.all_reduce(t)
    out["all_reduce"] = torch.equal(t.cpu(), torch.arange(1000) * n + n * (n - 1) // 2)

    f = torch.full((257,), float(rank + 1), device=dev)
    work = dist.all_reduce(f, op=dist.ReduceOp.MAX, async_op=True)
    work.wait()  # the current stream waits; reading on it sees the result
    out["async_max"] = bool(torch.all(f == float(n)).item()) and work.is_completed()

    b = torch.full((33,), float(rank), device=dev)
    dist.broadcast(b, src=n - 1)
    out["broadcast"] = bool(torch.all(b == float(n - 1)).item())

    g = torch.empty(n * 5, dtype=torch.int32, device=dev)
    dist.all_gather_into_tensor(g, torch.full((5,), rank, dtype=torch.int32, device=dev))
    out["all_gather_into_tensor"] = torch.equal(g.cpu(), torch.arange(n).repeat_interleave(5).int())

    parts = [torch.empty(3, device=dev) for _ in range(n)]
    dist.all_gather(parts, torch.full((3,), float(rank * 10), device=dev))
    out["all_gather"] = all(torch.all(p == float(r * 10)).item() for r, p in enumerate(parts))

    rs_in = torch.arange(n * 4, dtype=torch.float32, device=dev) * (rank + 1)
    rs_out = torch.empty(4, device=dev)
    dist.reduce_scatter_tensor(rs_out, rs_in)
    want = torch.arange(n * 4, dtype=torch.float32)[rank * 4:(rank + 1) * 4] * (n * (n + 1) // 2)
    out["reduce_scatter_tensor"] = torch.equal(rs_out.cpu(), want)

    r = torch.full((7,), rank + 1, dtype=torch.int64, device=dev)
    dist.reduce(r, dst=0)
    out["reduce"] = (rank != 0) or bool(torch.all(r == n * (n + 1) // 2).item())
    torch.cuda.synchronize()
    return out


@pytest.mark.skipif(not plexus_torch._C.built_with_cuda, reason="plexus_torch built without CUDA")
def test_cuda_collectives_on_the_current_stream():
    if _gpu_count() < 1:
        pytest.skip("no CUDA device: CUDA-tensor collectives not run")
    for rank, res in enumerate(run_ranks(_cuda_collectives, 2)):
        assert all(res.values()), f"rank {rank}: {res}"
