"""Work handles (async_op=True): wait, wait(timeout), is_completed, exception, get_future; errors
that name what failed; the backend's name."""

import datetime

import pytest
import torch
import torch.distributed as dist

from conftest import WORLD_SIZES
from harness import run_ranks


def _torch_version():
    parts = torch.__version__.split("+")[0].split(".")
    return int(parts[0]), int(parts[1])


def async_handles(rank, n):
    t = torch.full((1000,), float(rank + 1))
    work = dist.all_reduce(t, async_op=True)
    fut = work.get_future()
    work.wait()
    assert work.is_completed()
    if _torch_version() >= (2, 0):  # torch 1.13 cannot return Work.exception() to Python
        assert work.exception() is None
    expected = float(n * (n + 1) // 2)
    assert torch.all(t == expected), t[:4]
    # The future completes with the output tensors, without anybody calling wait().
    t2 = torch.full((10,), float(rank))
    fut2 = dist.all_reduce(t2, async_op=True).get_future()
    got = fut2.wait()
    assert isinstance(got, list) and torch.equal(got[0], t2)
    assert torch.all(t2 == float(n * (n - 1) // 2))
    assert fut.done()
    # then() chains (what DDP communication hooks do).
    t3 = torch.ones(4)
    chained = dist.all_reduce(t3, async_op=True).get_future().then(lambda f: f.value()[0] * 2)
    assert torch.all(chained.wait() == 2 * n)
    # Many in flight at once, completed in any order.
    ts = [torch.full((257,), float(i)) for i in range(8)]
    works = [dist.all_reduce(x, async_op=True) for x in ts]
    for w in reversed(works):
        w.wait()
    for i, x in enumerate(ts):
        assert torch.all(x == i * n)
    # A broadcast future carries the tensor.
    b = torch.arange(5.0) if rank == 0 else torch.zeros(5)
    res = dist.broadcast(b, 0, async_op=True).get_future().wait()
    assert torch.equal(res[0], torch.arange(5.0))
    return True


def recv_timeout(rank, n):
    """wait(timeout) gives up on a receive with no sender yet; the receive still completes."""
    if rank == 1:
        t = torch.zeros(16)
        work = dist.irecv(t, 0)
        assert not work.is_completed()
        with pytest.raises(RuntimeError, match="Timed out"):
            work.wait(timeout=datetime.timedelta(milliseconds=300))
        assert not work.is_completed()
        dist.barrier()  # now rank 0 sends
        work.wait()
        assert work.is_completed()
        assert torch.all(t == 7)
        fut = work.get_future()
        assert torch.all(fut.wait()[0] == 7)
    else:
        dist.barrier()
        if rank == 0:
            dist.send(torch.full((16,), 7.0), 1)
    dist.barrier()
    return True


def source_rank(rank, n):
    if rank == 0:
        senders = set()
        for _ in range(n - 1):
            t = torch.zeros(3)
            work = dist.irecv(t)  # any source
            work.wait()
            src = work._source_rank()
            assert torch.all(t == src), (t, src)
            senders.add(src)
        assert senders == set(range(1, n))
    else:
        dist.send(torch.full((3,), float(rank)), 0)
    dist.barrier()
    return True


def errors_name_what_failed(rank, n):
    msgs = {}

    def expect(fn, *words):
        with pytest.raises(Exception) as info:
            fn()
        text = str(info.value)
        for w in words:
            assert w.lower() in text.lower(), f"{w!r} not in {text!r}"
        msgs[words[0]] = text

    # Every rank raises before communicating, so the group stays usable.
    expect(lambda: dist.all_reduce(torch.zeros(4, dtype=torch.int16)), "all_reduce", "Short")
    expect(lambda: dist.all_reduce(torch.zeros(4, dtype=torch.int32), op=dist.ReduceOp.BXOR),
           "all_reduce", "BXOR")
    expect(lambda: dist.all_gather_into_tensor(torch.zeros(3), torch.zeros(2)),
           "all_gather_into_tensor", "elements")
    expect(lambda: dist.all_reduce(torch.zeros(4).to_sparse()), "sparse")
    # Still usable afterwards.
    t = torch.ones(3)
    dist.all_reduce(t)
    assert torch.all(t == n)
    return msgs


def size_mismatch(rank, n):
    """A receive whose tensor does not fit the message fails with both sizes in the message."""
    if rank == 0:
        dist.send(torch.ones(8), 1)
    elif rank == 1:
        with pytest.raises(RuntimeError, match="32 bytes"):
            dist.recv(torch.zeros(4), 0)
    dist.barrier()
    return True


def backend_name(rank, n):
    assert dist.get_backend() == "plexus"
    g = dist.new_group(list(range(n)))
    assert dist.get_backend(g) == "plexus"
    return True


@pytest.mark.parametrize("n", WORLD_SIZES)
def test_async_handles(n):
    run_ranks(async_handles, n)


@pytest.mark.parametrize("n", [2, 3])
def test_recv_timeout(n):
    run_ranks(recv_timeout, n)


@pytest.mark.parametrize("n", WORLD_SIZES)
def test_source_rank(n):
    run_ranks(source_rank, n)


def test_errors_name_what_failed():
    msgs = run_ranks(errors_name_what_failed, 2)
    for text in msgs[0].values():
        assert "plexus" in text.lower()


def test_size_mismatch():
    run_ranks(size_mismatch, 2)


@pytest.mark.parametrize("n", [2, 4])
def test_backend_name(n):
    run_ranks(backend_name, n)
