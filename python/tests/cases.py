"""Every operation x dtype x reduce op of the plexus backend, as named cases.

Each case runs inside an initialised "plexus" default group (tests/harness.py). It computes the
expected result from the inputs every rank can rebuild (integer-valued data, so sums and products
are exact in every dtype), checks plexus against it, and, where Gloo implements the same call,
runs it on a Gloo group too and checks that both agree. A case raises on any mismatch.
"""

import torch
import torch.distributed as dist

FLOAT_TYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
INT_TYPES = [torch.int8, torch.uint8, torch.int32, torch.int64]
ALL_TYPES = FLOAT_TYPES + INT_TYPES + [torch.bool]
OPS = ["SUM", "PRODUCT", "MIN", "MAX", "AVG"]
BOOL_OPS = ["SUM", "PRODUCT", "MIN", "MAX", "BAND", "BOR"]
COUNT = 1031  # odd, not a multiple of any vector width


def torch_version():
    parts = torch.__version__.split("+")[0].split(".")
    return int(parts[0]), int(parts[1])


def dname(dtype):
    return str(dtype).replace("torch.", "")


def make(rank, count, dtype, seed=0, small=False):
    """Integer-valued data in 1..5 (1..2 with small=True), different on every rank."""
    base = torch.arange(count, dtype=torch.int64) * (seed + 3) + rank * 7 + seed
    vals = base % (2 if small else 5) + 1
    if dtype == torch.bool:
        return (base % 3) == 0
    return vals.to(dtype)


def reference(inputs, op, dtype):
    """Reduction of the ranks' inputs as the backend defines it."""
    n = len(inputs)
    if dtype == torch.bool:
        stack = torch.stack(inputs)
        if op in ("SUM", "MAX", "BOR"):
            return stack.any(0)
        return stack.all(0)
    wide = torch.stack([t.to(torch.float64) if dtype.is_floating_point else t.to(torch.int64)
                        for t in inputs])
    if op == "SUM":
        out = wide.sum(0)
    elif op == "PRODUCT":
        out = wide.prod(0)
    elif op == "MIN":
        out = wide.min(0).values
    elif op == "MAX":
        out = wide.max(0).values
    elif op == "AVG":
        out = wide.sum(0) / n if dtype.is_floating_point else torch.div(
            wide.sum(0), n, rounding_mode="trunc")
    else:
        raise ValueError(op)
    return out.to(dtype)


def check(actual, expected, what):
    if actual.dtype != expected.dtype or actual.shape != expected.shape:
        raise AssertionError(f"{what}: got {actual.dtype}{list(actual.shape)}, expected "
                             f"{expected.dtype}{list(expected.shape)}")
    if actual.dtype in (torch.float16, torch.bfloat16):
        ok = torch.allclose(actual.double(), expected.double(), rtol=1e-2, atol=1e-2)
    elif actual.dtype.is_floating_point:
        ok = torch.allclose(actual, expected, rtol=1e-6, atol=1e-6)
    elif actual.dtype.is_complex:
        ok = torch.allclose(actual, expected, rtol=1e-6, atol=1e-6)
    else:
        ok = torch.equal(actual, expected)
    if not ok:
        bad = (actual != expected).nonzero()
        first = bad[0].tolist() if len(bad) else "?"
        raise AssertionError(f"{what}: mismatch at {first}: got {actual.flatten()[:8].tolist()}, "
                             f"expected {expected.flatten()[:8].tolist()}")


def rop(name):
    return getattr(dist.ReduceOp, name)


def with_gloo(ctx, fn):
    """fn(group) on Gloo; None when Gloo does not implement it."""
    try:
        return fn(ctx.gloo)
    except (RuntimeError, ValueError, TypeError, NotImplementedError):
        return None


class Ctx:
    def __init__(self, rank, n, gloo):
        self.rank, self.n, self.gloo = rank, n, gloo


# ---- the cases ------------------------------------------------------------------------------

def all_reduce_case(dtype, op, noncontig=False):
    def run(c):
        small = op == "PRODUCT"
        ins = [make(r, COUNT, dtype, 1, small) for r in range(c.n)]
        expected = reference(ins, op, dtype)
        t = ins[c.rank].clone()
        if noncontig:
            buf = torch.zeros(COUNT, 2, dtype=dtype)
            buf[:, 0] = t
            t = buf[:, 0]
            assert not t.is_contiguous()
        dist.all_reduce(t, op=rop(op))
        check(t, expected, "plexus")
        if op != "AVG":
            g = ins[c.rank].clone()
            if with_gloo(c, lambda grp: dist.all_reduce(g, op=rop(op), group=grp) or True):
                check(t.contiguous(), g, "plexus vs gloo")
    return run


def all_reduce_sizes_case():
    def run(c):
        for count in (0, 1, 2, 1031, 65537, 1 << 20):
            ins = [make(r, count, torch.float32, 2) for r in range(c.n)]
            t = ins[c.rank].clone()
            dist.all_reduce(t)
            check(t, reference(ins, "SUM", torch.float32), f"{count} elements")
    return run


def all_reduce_complex_case(dtype, op):
    def run(c):
        ins = [torch.complex(make(r, COUNT, torch.float64, 1), make(r, COUNT, torch.float64, 2))
               .to(dtype) for r in range(c.n)]
        total = sum(t.to(torch.complex128) for t in ins)
        expected = (total / c.n if op == "AVG" else total).to(dtype)
        t = ins[c.rank].clone()
        dist.all_reduce(t, op=rop(op))
        check(t, expected, "plexus")
    return run


def all_reduce_premul_case(dtype, tensor_factor):
    def run(c):
        ins = [make(r, COUNT, dtype, 1) for r in range(c.n)]
        factor = 0.5
        expected = (sum(t.double() for t in ins) * factor).to(dtype)
        t = ins[c.rank].clone()
        f = torch.tensor([factor], dtype=dtype) if tensor_factor else factor
        dist.all_reduce(t, op=dist._make_nccl_premul_sum(f))
        check(t, expected, "plexus")
    return run


def all_reduce_coalesced_case(dtype):
    def run(c):
        shapes = [(3, 5), (7,), (2, 2, 2)]
        ins = [[make(r, s[0] * (s[1] if len(s) > 1 else 1) * (s[2] if len(s) > 2 else 1), dtype, i)
                .reshape(s) for i, s in enumerate(shapes)] for r in range(c.n)]
        ts = [t.clone() for t in ins[c.rank]]
        dist.all_reduce_coalesced(ts)
        for i, t in enumerate(ts):
            check(t, reference([ins[r][i] for r in range(c.n)], "SUM", dtype), f"tensor {i}")
    return run


def broadcast_case(dtype, root, noncontig=False):
    def run(c):
        root_ = root % c.n
        src = make(root_, COUNT, dtype, 3)
        t = src.clone() if c.rank == root_ else torch.zeros(COUNT, dtype=dtype)
        if noncontig:
            buf = torch.zeros(2, COUNT, dtype=dtype)
            buf[1] = t
            t = buf.t()[:, 1]
        dist.broadcast(t, root_)
        check(t.contiguous(), src, "plexus")
        g = src.clone() if c.rank == root_ else torch.zeros(COUNT, dtype=dtype)
        if with_gloo(c, lambda grp: dist.broadcast(g, root_, group=grp) or True):
            check(g, src, "gloo")
    return run


def reduce_case(dtype, op, root):
    def run(c):
        root_ = root % c.n
        ins = [make(r, COUNT, dtype, 4, op == "PRODUCT") for r in range(c.n)]
        t = ins[c.rank].clone()
        dist.reduce(t, root_, op=rop(op))
        if c.rank == root_:
            check(t, reference(ins, op, dtype), "plexus")
            g = ins[c.rank].clone()
            if with_gloo(c, lambda grp: dist.reduce(g, root_, op=rop(op), group=grp) or True):
                check(t, g, "plexus vs gloo")
        else:
            with_gloo(c, lambda grp: dist.reduce(ins[c.rank].clone(), root_, op=rop(op),
                                                 group=grp))
    return run


def all_gather_case(dtype):
    def run(c):
        ins = [make(r, COUNT, dtype, 5).reshape(-1, 1) for r in range(c.n)]
        outs = [torch.zeros_like(ins[0]) for _ in range(c.n)]
        dist.all_gather(outs, ins[c.rank])
        for r in range(c.n):
            check(outs[r], ins[r], f"from rank {r}")
        flat = torch.zeros(c.n * COUNT, dtype=dtype)
        dist.all_gather_into_tensor(flat, ins[c.rank].flatten())
        check(flat, torch.cat([t.flatten() for t in ins]), "all_gather_into_tensor")
        g = [torch.zeros_like(ins[0]) for _ in range(c.n)]
        if with_gloo(c, lambda grp: dist.all_gather(g, ins[c.rank], group=grp) or True):
            for r in range(c.n):
                check(outs[r], g[r], "plexus vs gloo")
    return run


def all_gather_coalesced_case():
    def run(c):
        ins = [[make(r, 5, torch.float32, 1), make(r, 9, torch.float32, 2).reshape(3, 3)]
               for r in range(c.n)]
        outs = [[torch.zeros_like(t) for t in ins[0]] for _ in range(c.n)]
        dist.all_gather_coalesced(outs, ins[c.rank])
        for r in range(c.n):
            for i in range(2):
                check(outs[r][i], ins[r][i], f"rank {r} tensor {i}")
    return run


def gather_case(dtype, root):
    def run(c):
        root_ = root % c.n
        ins = [make(r, COUNT, dtype, 6) for r in range(c.n)]
        outs = [torch.zeros_like(ins[0]) for _ in range(c.n)] if c.rank == root_ else None
        dist.gather(ins[c.rank], outs, dst=root_)
        if c.rank == root_:
            for r in range(c.n):
                check(outs[r], ins[r], f"from rank {r}")
        g = [torch.zeros_like(ins[0]) for _ in range(c.n)] if c.rank == root_ else None
        if with_gloo(c, lambda grp: dist.gather(ins[c.rank], g, dst=root_, group=grp) or True):
            if c.rank == root_:
                for r in range(c.n):
                    check(outs[r], g[r], "plexus vs gloo")
    return run


def scatter_case(dtype, root):
    def run(c):
        root_ = root % c.n
        chunks = [make(r, COUNT, dtype, 7) for r in range(c.n)]
        out = torch.zeros_like(chunks[0])
        dist.scatter(out, chunks if c.rank == root_ else None, src=root_)
        check(out, chunks[c.rank], "plexus")
        g = torch.zeros_like(chunks[0])
        if with_gloo(c, lambda grp: dist.scatter(g, chunks if c.rank == root_ else None,
                                                 src=root_, group=grp) or True):
            check(out, g, "plexus vs gloo")
    return run


def reduce_scatter_case(dtype, op):
    def run(c):
        small = op == "PRODUCT"
        # ins[r][k]: what rank r contributes to rank k.
        ins = [[make(r * c.n + k, COUNT, dtype, 8, small) for k in range(c.n)] for r in range(c.n)]
        expected = reference([ins[r][c.rank] for r in range(c.n)], op, dtype)
        out = torch.zeros(COUNT, dtype=dtype)
        dist.reduce_scatter(out, [t.clone() for t in ins[c.rank]], op=rop(op))
        check(out, expected, "reduce_scatter")
        out2 = torch.zeros(COUNT, dtype=dtype)
        dist.reduce_scatter_tensor(out2, torch.cat(ins[c.rank]), op=rop(op))
        check(out2, expected, "reduce_scatter_tensor")
        if op != "AVG":
            g = torch.zeros(COUNT, dtype=dtype)
            if with_gloo(c, lambda grp: dist.reduce_scatter(
                    g, [t.clone() for t in ins[c.rank]], op=rop(op), group=grp) or True):
                check(out, g, "plexus vs gloo")
    return run


def all_to_all_single_case(dtype, uneven):
    def run(c):
        n = c.n
        # Rank r sends (r + k) % 3 + 1 rows to rank k when uneven, else 2 rows.
        rows = [[((r + k) % 3 + 1) if uneven else 2 for k in range(n)] for r in range(n)]
        ins = [make(r, sum(rows[r]) * 3, dtype, 9).reshape(-1, 3) for r in range(n)]
        in_splits = rows[c.rank]
        out_splits = [rows[k][c.rank] for k in range(n)]
        expected = torch.cat([ins[k][sum(rows[k][:c.rank]):sum(rows[k][:c.rank + 1])]
                              for k in range(n)])
        out = torch.zeros(sum(out_splits), 3, dtype=dtype)
        dist.all_to_all_single(out, ins[c.rank], out_splits if uneven else None,
                               in_splits if uneven else None)
        check(out, expected, "plexus")
        g = torch.zeros_like(out)
        if with_gloo(c, lambda grp: dist.all_to_all_single(
                g, ins[c.rank], out_splits if uneven else None, in_splits if uneven else None,
                group=grp) or True):
            check(out, g, "plexus vs gloo")
    return run


def all_to_all_case(dtype):
    def run(c):
        n = c.n
        size = lambda src, dst: (src + 2 * dst) % 4  # noqa: E731  (includes empty tensors)
        ins = [make(c.rank * n + k, size(c.rank, k), dtype, 10) for k in range(n)]
        outs = [torch.zeros(size(k, c.rank), dtype=dtype) for k in range(n)]
        dist.all_to_all(outs, ins)
        for k in range(n):
            check(outs[k], make(k * n + c.rank, size(k, c.rank), dtype, 10), f"from rank {k}")
    return run


def all_to_all_equal_case():
    """The list form with one size everywhere, and all_to_all_single with equal split sizes."""
    def run(c):
        n = c.n
        ins = [make(c.rank * n + k, 5, torch.float32, 12) for k in range(n)]
        outs = [torch.zeros(5) for _ in range(n)]
        dist.all_to_all(outs, ins)
        for k in range(n):
            check(outs[k], make(k * n + c.rank, 5, torch.float32, 12), f"list from rank {k}")
        flat = [torch.cat([make(r * n + k, 5, torch.float32, 12) for k in range(n)])
                for r in range(n)]
        out = torch.zeros(5 * n)
        dist.all_to_all_single(out, flat[c.rank], [5] * n, [5] * n)
        check(out, torch.cat(outs), "single with equal split sizes")
    return run


def exchange_layouts_case():
    """Gather, scatter and all_to_all_single on non-contiguous and on empty tensors."""
    def run(c):
        n, root = c.n, c.n - 1
        # Transposed views: non-contiguous inputs and outputs.
        ins = [make(r, 12, torch.float32, 11).reshape(3, 4).t() for r in range(n)]
        outs = [torch.zeros(3, 4).t() for _ in range(n)] if c.rank == root else None
        dist.gather(ins[c.rank], outs, dst=root)
        if c.rank == root:
            for r in range(n):
                check(outs[r], ins[r], f"gather from rank {r}")
        out = torch.zeros(3, 4).t()
        dist.scatter(out, ins if c.rank == root else None, src=root)
        check(out, ins[c.rank], "scatter")
        rows = [make(r, 6 * n, torch.int32, 13).reshape(3, 2 * n).t() for r in range(n)]
        got = torch.zeros(3, 2 * n, dtype=torch.int32).t()
        dist.all_to_all_single(got, rows[c.rank])
        check(got, torch.cat([rows[k][2 * c.rank:2 * c.rank + 2] for k in range(n)]),
              "all_to_all_single")
        # Empty tensors.
        outs = [torch.zeros(0) for _ in range(n)] if c.rank == root else None
        dist.gather(torch.zeros(0), outs, dst=root)
        dist.scatter(torch.zeros(0), [torch.zeros(0)] * n if c.rank == root else None, src=root)
        empty = torch.zeros(0, 3)
        dist.all_to_all_single(empty, torch.zeros(0, 3))
        check(empty, torch.zeros(0, 3), "empty all_to_all_single")
    return run


def send_recv_case(dtype):
    def run(c):
        n = c.n
        for src in range(n):
            if c.rank == src:
                for dst in range(n):
                    if dst != src:
                        dist.send(make(src * n + dst, COUNT, dtype, 11), dst)
            else:
                t = torch.zeros(COUNT, dtype=dtype)
                dist.recv(t, src)
                check(t, make(src * n + c.rank, COUNT, dtype, 11), f"from rank {src}")
    return run


def p2p_async_tags_case():
    def run(c):
        # Each rank sends two tagged messages to the next rank; the receiver takes them in the
        # opposite tag order (Gloo semantics: matched by source and tag).
        n = c.n
        nxt, prv = (c.rank + 1) % n, (c.rank - 1) % n
        a = torch.full((10,), float(c.rank), dtype=torch.float32)
        b = torch.full((20,), float(c.rank) + 0.5, dtype=torch.float32)
        sends = [dist.isend(a, nxt, tag=1), dist.isend(b, nxt, tag=2)]
        rb = torch.zeros(20)
        ra = torch.zeros(10)
        w2 = dist.irecv(rb, prv, tag=2)
        w1 = dist.irecv(ra, prv, tag=1)
        for w in [w1, w2] + sends:
            w.wait()
        check(ra, torch.full((10,), float(prv)), "tag 1")
        check(rb, torch.full((20,), float(prv) + 0.5), "tag 2")
        # Non-contiguous receive and an empty message.
        big = torch.zeros(6, 4)
        col = big[:, 1]
        s = dist.isend(torch.arange(6.0) + c.rank, nxt)
        e = dist.isend(torch.zeros(0), nxt)
        dist.recv(col, prv)
        dist.recv(torch.zeros(0), prv)
        s.wait()
        e.wait()
        check(big[:, 1].contiguous(), torch.arange(6.0) + prv, "non-contiguous")
    return run


def any_source_case():
    def run(c):
        n = c.n
        for dst in range(n):
            if c.rank == dst:
                seen = []
                for _ in range(2 * (n - 1)):
                    t = torch.full((10,), -1.0)
                    sender = dist.recv(t)
                    if not bool(t.eq(sender).all()):
                        raise AssertionError(f"message from {sender} holds {t.tolist()}")
                    seen.append(sender)
                if sorted(seen) != sorted([r for r in range(n) if r != dst] * 2):
                    raise AssertionError(f"senders {seen}")
            else:
                dist.send(torch.full((10,), float(c.rank)), dst)
                dist.send(torch.full((10,), float(c.rank)), dst)
        dist.barrier()
    return run


def barrier_case():
    def run(c):
        for _ in range(5):
            dist.barrier()
        w = dist.barrier(async_op=True)
        w.wait()
    return run


def data_movement_other_types_case():
    """Types Plexus cannot reduce still move (broadcast, all-gather, send/recv, all-to-all)."""
    def run(c):
        for dtype in (torch.int16, torch.complex64):
            src = (torch.arange(12) + 100).to(dtype)
            t = src.clone() if c.rank == 0 else torch.zeros(12, dtype=dtype)
            dist.broadcast(t, 0)
            check(t, src, f"broadcast {dname(dtype)}")
            outs = [torch.zeros(12, dtype=dtype) for _ in range(c.n)]
            dist.all_gather(outs, src + c.rank)
            for r in range(c.n):
                check(outs[r], src + r, f"all_gather {dname(dtype)}")
    return run


def build_cases(n):
    """Ordered {name: fn(ctx)}; the same on every rank."""
    cases = {}
    v2 = torch_version() >= (2, 0)
    for dtype in ALL_TYPES:
        ops = BOOL_OPS if dtype == torch.bool else OPS
        for op in ops:
            cases[f"all_reduce-{dname(dtype)}-{op}"] = all_reduce_case(dtype, op)
    cases["all_reduce-float32-SUM-noncontiguous"] = all_reduce_case(torch.float32, "SUM", True)
    cases["all_reduce-sizes"] = all_reduce_sizes_case()
    for dtype in (torch.complex64, torch.complex128):
        for op in ("SUM", "AVG"):
            cases[f"all_reduce-{dname(dtype)}-{op}"] = all_reduce_complex_case(dtype, op)
    if v2 and hasattr(dist, "_make_nccl_premul_sum"):
        for dtype in (torch.float32, torch.float64, torch.bfloat16):
            cases[f"all_reduce-{dname(dtype)}-PREMUL_SUM"] = all_reduce_premul_case(dtype, False)
        cases["all_reduce-float32-PREMUL_SUM-tensor"] = all_reduce_premul_case(torch.float32, True)
    if hasattr(dist, "all_reduce_coalesced"):
        for dtype in (torch.float32, torch.int64):
            cases[f"all_reduce_coalesced-{dname(dtype)}"] = all_reduce_coalesced_case(dtype)
    for dtype in ALL_TYPES:
        cases[f"broadcast-{dname(dtype)}"] = broadcast_case(dtype, -1)
        cases[f"all_gather-{dname(dtype)}"] = all_gather_case(dtype)
        cases[f"gather-{dname(dtype)}"] = gather_case(dtype, 1)
        cases[f"scatter-{dname(dtype)}"] = scatter_case(dtype, -1)
        cases[f"all_to_all_single-{dname(dtype)}-even"] = all_to_all_single_case(dtype, False)
        cases[f"all_to_all_single-{dname(dtype)}-uneven"] = all_to_all_single_case(dtype, True)
        cases[f"all_to_all-{dname(dtype)}"] = all_to_all_case(dtype)
        cases[f"send_recv-{dname(dtype)}"] = send_recv_case(dtype)
        ops = ["SUM", "MAX"] if dtype == torch.bool else OPS
        for op in ops:
            cases[f"reduce-{dname(dtype)}-{op}"] = reduce_case(dtype, op, 0)
            cases[f"reduce_scatter-{dname(dtype)}-{op}"] = reduce_scatter_case(dtype, op)
    cases["broadcast-float32-root0-noncontiguous"] = broadcast_case(torch.float32, 0, True)
    cases["reduce-float32-SUM-lastroot"] = reduce_case(torch.float32, "SUM", -1)
    cases["gather-float32-root0"] = gather_case(torch.float32, 0)
    cases["scatter-float32-root1"] = scatter_case(torch.float32, 1)
    cases["all_to_all-equal-sizes"] = all_to_all_equal_case()
    cases["gather-scatter-all_to_all-layouts"] = exchange_layouts_case()
    if hasattr(dist, "all_gather_coalesced"):
        cases["all_gather_coalesced"] = all_gather_coalesced_case()
    cases["p2p-async-tags"] = p2p_async_tags_case()
    cases["recv-any-source"] = any_source_case()
    cases["barrier"] = barrier_case()
    cases["data-movement-other-types"] = data_movement_other_types_case()
    return cases


def run_all(rank, n, selection=None):
    """Runs the cases on this rank; returns {name: None or error text}."""
    import traceback

    gloo = dist.new_group(backend="gloo")
    c = Ctx(rank, n, gloo)
    out = {}
    for name, fn in build_cases(n).items():
        if selection is not None and name not in selection:
            continue
        try:
            fn(c)
            out[name] = None
        except Exception:  # noqa: BLE001  (reported per case)
            out[name] = traceback.format_exc(limit=4)
        # Keep the ranks in step after a failure on one of them.
        dist.barrier()
    return out
