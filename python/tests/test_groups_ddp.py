"""new_group subgroups, and DistributedDataParallel training with plexus equal to Gloo."""

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn

from conftest import WORLD_SIZES
from harness import run_ranks


def subgroups(rank, n):
    # Two halves (disjoint, used at the same time) and one group of the odd-numbered ranks.
    lo = list(range(n // 2))
    hi = list(range(n // 2, n))
    g_lo = dist.new_group(lo)
    g_hi = dist.new_group(hi)
    odd = [r for r in range(n) if r % 2 == 1]
    g_odd = dist.new_group(odd)
    mine, members = (g_lo, lo) if rank in lo else (g_hi, hi)
    t = torch.full((100,), float(rank))
    dist.all_reduce(t, group=mine)
    assert torch.all(t == sum(members)), t[:3]
    assert dist.get_world_size(mine) == len(members)
    assert dist.get_rank(mine) == members.index(rank)
    # Rooted operations take global ranks.
    b = torch.full((5,), float(rank))
    dist.broadcast(b, members[-1], group=mine)
    assert torch.all(b == members[-1])
    outs = [torch.zeros(2) for _ in members]
    dist.all_gather(outs, torch.full((2,), float(rank)), group=mine)
    assert [int(o[0]) for o in outs] == members
    if rank in odd:
        x = torch.ones(3)
        dist.all_reduce(x, group=g_odd)
        assert torch.all(x == len(odd))
        if len(odd) > 1:
            # Point-to-point inside a group, with global ranks.
            peer = odd[(odd.index(rank) + 1) % len(odd)]
            prev = odd[(odd.index(rank) - 1) % len(odd)]
            s = dist.isend(torch.full((4,), float(rank)), peer, group=g_odd)
            r = torch.zeros(4)
            dist.recv(r, prev, group=g_odd)
            s.wait()
            assert torch.all(r == prev)
    # The default group still works, interleaved with the subgroups.
    y = torch.ones(2)
    dist.all_reduce(y)
    assert torch.all(y == n)
    assert dist.get_backend(mine) == "plexus"
    return True


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(16, 32)
        self.b = nn.Linear(32, 4)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def train(rank, n, backend_group):
    from torch.nn.parallel import DistributedDataParallel as DDP

    torch.manual_seed(0)
    model = Net()
    if rank != 0:
        # Different starting weights: DDP's broadcast from rank 0 must fix them.
        with torch.no_grad():
            for p in model.parameters():
                p.add_(float(rank))
    ddp = DDP(model, process_group=backend_group, bucket_cap_mb=0.001)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(100 + rank)
    for _ in range(5):
        x = torch.randn(8, 16, generator=gen)
        y = torch.randn(8, 4, generator=gen)
        opt.zero_grad()
        loss = ((ddp(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


def ddp_equal(rank, n):
    gloo = dist.new_group(backend="gloo")
    plexus = dist.new_group()  # the default backend, plexus
    p_params = train(rank, n, plexus)
    g_params = train(rank, n, gloo)
    for a, b in zip(p_params, g_params):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), (a - b).abs().max()
    # Every rank ends with the same parameters.
    for a in p_params:
        ref = a.clone()
        dist.broadcast(ref, 0)
        assert torch.equal(ref, a)
    return True


@pytest.mark.parametrize("n", WORLD_SIZES)
def test_subgroups(n):
    run_ranks(subgroups, n)


@pytest.mark.parametrize("n", WORLD_SIZES)
def test_ddp_equals_gloo(n):
    run_ranks(ddp_equal, n)
