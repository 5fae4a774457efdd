"""Every operation x dtype x reduce op on 2, 3 and 4 ranks, against a computed reference and Gloo.

One set of ranks per world size runs all cases (tests/cases.py); each case is its own test.
"""

import functools

import pytest

import cases
from conftest import WORLD_SIZES
from harness import run_ranks

NAMES = list(cases.build_cases(4).keys())


@functools.lru_cache(maxsize=None)
def results(n):
    per_rank = run_ranks(cases.run_all, n, timeout=900)
    merged = {}
    for rank, res in enumerate(per_rank):
        for name, err in res.items():
            if err is not None:
                merged.setdefault(name, []).append(f"rank {rank}: {err}")
            else:
                merged.setdefault(name, [])
    return merged


@pytest.mark.parametrize("n", WORLD_SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_case(n, name):
    res = results(n)
    assert name in res, f"case {name} did not run on {n} ranks"
    errors = res[name]
    assert not errors, "\n".join(errors)
