"""PLEXUS_REPRODUCIBLE=1 through the PyTorch backend: DDP training with different all-reduce
algorithms forced ends with bit-identical weights (issue 18). The environment reaches the
communicators the backend creates (the ranks are forked after it is set)."""

import os

import pytest
import torch
import torch.nn as nn

from harness import run_ranks

# Forced in turn: those the reproducible mode offers (docs/algorithms.md, "Reproducible mode")
# and two it replaces (with a WARN) by an offered one.
ALGORITHMS = ["oneshot", "twoshot", "nvls", "ring", "tree"]
STEPS = 20


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(33, 61)  # odd sizes: buckets that do not split evenly over ranks
        self.b = nn.Linear(61, 7)

    def forward(self, x):
        return self.b(torch.tanh(self.a(x)))


def train(rank, n):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    torch.manual_seed(0)
    model = Net()
    # Several buckets of different sizes: many all-reduces per step.
    ddp = DDP(model, bucket_cap_mb=0.004)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    gen = torch.Generator().manual_seed(1000 + rank)
    for _ in range(STEPS):
        x = torch.randn(16, 33, generator=gen)
        y = torch.randn(16, 7, generator=gen)
        opt.zero_grad()
        loss = ((ddp(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    params = [p.detach().clone() for p in model.parameters()]
    for p in params:  # every rank holds the same weights
        ref = p.clone()
        dist.broadcast(ref, 0)
        assert torch.equal(ref, p)
    # Bytes, not tensors: a tensor crosses the result queue as a file descriptor that its rank,
    # exiting at once, no longer serves.
    return [p.numpy().tobytes() for p in params]


def run_with(env, n):
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return run_ranks(train, n)[0]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("n", [2, 3])
def test_ddp_weights_identical_across_algorithms(n):
    runs = {
        a: run_with({"PLEXUS_REPRODUCIBLE": "1", "PLEXUS_ALGO": f"allreduce:{a}"}, n)
        for a in ALGORITHMS
    }
    first = runs[ALGORITHMS[0]]
    for algo, params in runs.items():
        for i, (p, q) in enumerate(zip(first, params)):
            if p != q:
                a = torch.frombuffer(bytearray(p), dtype=torch.float32)
                b = torch.frombuffer(bytearray(q), dtype=torch.float32)
                raise AssertionError(
                    f"{n} ranks: parameter {i} differs between {ALGORITHMS[0]} and {algo}: "
                    f"max |diff| {(a - b).abs().max().item():.3e}")
    if n == 3:
        # Without the mode a ring sums each chunk starting at a different rank: other bits, so the
        # identity above is the mode's doing (2 ranks: a + b is b + a, bit for bit).
        ring = run_with({"PLEXUS_REPRODUCIBLE": "0", "PLEXUS_ALGO": "allreduce:ring"}, n)
        assert ring != first, "the default-mode ring gave the canonical bits: the test cannot fail"
