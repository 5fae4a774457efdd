"""Runs PyTorch's own DistributedTest._DistTestBase suite against the "plexus" backend.

    PYTHONPATH=<built plexus_torch> python3 tests/dist_suite.py [--world-size 3] [-k PATTERN ...]
        [--list FILE] [--junit-like]

plexus is added to DistTestCases.backend_feature["plugin"] and ["ddp"]. Ranks are forked (not
spawned: a fresh interpreter per rank and test would spend most of the time importing torch) and
meet through a file store; everything stays on loopback. Tests that need CUDA or a feature the
backend does not claim are skipped with their reason printed; the run ends with the line
'N passed, N failed, N skipped' and fails if any test failed.
"""

import argparse
import os
import sys
import tempfile
import time
import unittest

SKIPS = {
    # Features of Gloo (or of a backend with a debug wrapper) that plexus does not claim.
    "test_monitored_barrier": "monitored_barrier is a Gloo-only feature",
    "test_ddp_sparse": "sparse all_reduce is not implemented by plexus (dense CPU tensors only)",
    "test_sparse_all_reduce": "sparse all_reduce is not implemented by plexus",
    "test_all_reduce_sparse": "sparse all_reduce is not implemented by plexus",
}


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world-size", type=int, default=3)
    ap.add_argument("-k", action="append", default=[],
                    help="run only tests whose name contains one of these substrings")
    ap.add_argument("--list", help="file with test names (one a line) to run")
    ap.add_argument("--max-tests", type=int, default=0)
    ap.add_argument("-v", action="store_true", help="print every test's outcome")
    return ap.parse_args()


ARGS = parse() if __name__ == "__main__" else None
os.environ.setdefault("BACKEND", "plexus")
if ARGS is not None:
    os.environ["WORLD_SIZE"] = str(ARGS.world_size)
os.environ.setdefault("WORLD_SIZE", "3")
os.environ.update(MASTER_ADDR="127.0.0.1", PLEXUS_SOCKET_IFNAME="lo", GLOO_SOCKET_IFNAME="lo")
os.environ.setdefault("TEMP_DIR", tempfile.mkdtemp(prefix="plexus-dist-"))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

import plexus_torch  # noqa: E402,F401  (registers "plexus")
from torch.testing._internal.common_distributed import DistTestCases  # noqa: E402

DistTestCases.backend_feature["plugin"].add("plexus")
DistTestCases.backend_feature["ddp"].add("plexus")

from torch.testing._internal.distributed.distributed_test import (  # noqa: E402
    DistributedTest,
    TestDistBackend,
)


class TestPlexus(TestDistBackend, DistributedTest._DistTestBase):
    def setUp(self):
        super().setUp()
        self._start_processes(torch.multiprocessing.get_context("fork").Process)


def skip_reason(name):
    for prefix, why in SKIPS.items():
        if name.startswith(prefix):
            return why
    return None


class Result(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0
        self.started = 0.0

    def startTest(self, test):
        self.started = time.time()
        super().startTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1
        if ARGS.v:
            print(f"PASS {test._testMethodName} ({time.time() - self.started:.1f} s)", flush=True)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        print(f"SKIP {test._testMethodName}: {reason}", flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        print(f"FAIL {test._testMethodName}", flush=True)

    def addError(self, test, err):
        super().addError(test, err)
        print(f"ERROR {test._testMethodName}", flush=True)


def main():
    names = sorted(n for n in dir(TestPlexus) if n.startswith("test_"))
    if ARGS.list:
        with open(ARGS.list) as f:
            wanted = {line.strip() for line in f if line.strip() and not line.startswith("#")}
        names = [n for n in names if n in wanted]
    if ARGS.k:
        names = [n for n in names if any(k in n for k in ARGS.k)]
    if ARGS.max_tests:
        names = names[: ARGS.max_tests]
    for n in names:
        why = skip_reason(n)
        if why:
            setattr(TestPlexus, n, unittest.skip(why)(getattr(TestPlexus, n)))
    suite = unittest.TestSuite(TestPlexus(n) for n in names)
    print(f"torch {torch.__version__}, plexus backend, world size {os.environ['WORLD_SIZE']}, "
          f"{len(names)} tests", flush=True)
    start = time.time()
    runner = unittest.TextTestRunner(resultclass=Result, verbosity=0, stream=sys.stderr)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors)
    print(f"DistributedTest on plexus (world size {os.environ['WORLD_SIZE']}, "
          f"{time.time() - start:.0f} s)")
    print(f"{res.passed} passed, {failed} failed, {len(res.skipped)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
