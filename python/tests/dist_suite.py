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
import atexit
import os
import shutil
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
# Only with --gates gloo (plexus posing as Gloo).
SKIPS_POSING = {
    "test_get_backend": "checks that the default group's backend is named gloo",
}


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world-size", type=int, default=3)
    ap.add_argument("-k", action="append", default=[],
                    help="run only tests whose name contains one of these substrings")
    ap.add_argument("--list", help="file with test names (one a line) to run")
    ap.add_argument("--max-tests", type=int, default=0)
    ap.add_argument("-v", action="store_true", help="print every test's outcome")
    ap.add_argument("--gates", default="plexus",
                    help="evaluate the suite's backend-name gates (skip decorators) as for this "
                         "backend, e.g. gloo, while running plexus: runs the tests PyTorch "
                         "reserves for Gloo by name")
    return ap.parse_args()


ARGS = parse() if __name__ == "__main__" else None
os.environ["BACKEND"] = ARGS.gates if ARGS is not None else "plexus"
os.environ["PLEXUS_SUITE_GATES"] = os.environ["BACKEND"]
if ARGS is not None:
    os.environ["WORLD_SIZE"] = str(ARGS.world_size)
os.environ.setdefault("WORLD_SIZE", "3")
os.environ.update(MASTER_ADDR="127.0.0.1", PLEXUS_SOCKET_IFNAME="lo", GLOO_SOCKET_IFNAME="lo")
if "TEMP_DIR" not in os.environ:
    # The suite's scratch folder, removed at exit by the process that made it (the rank processes
    # inherit TEMP_DIR, and forked ones also this handler: the pid check keeps them off it).
    _TEMP_DIR = tempfile.mkdtemp(prefix="plexus-dist-")
    os.environ["TEMP_DIR"] = _TEMP_DIR
    _TEMP_OWNER = os.getpid()
    atexit.register(
        lambda: os.getpid() == _TEMP_OWNER and shutil.rmtree(_TEMP_DIR, ignore_errors=True)
    )

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

import plexus_torch  # noqa: E402,F401  (registers "plexus")
from torch.testing._internal.common_distributed import DistTestCases  # noqa: E402

DistTestCases.backend_feature["plugin"].add("plexus")
DistTestCases.backend_feature["ddp"].add("plexus")

import torch.testing._internal.distributed.distributed_test as _dt  # noqa: E402
from torch.testing._internal.distributed.distributed_test import (  # noqa: E402
    DistributedTest,
    TestDistBackend,
)

if os.environ["BACKEND"] != "plexus":
    # Impersonation: the suite believes it runs BACKEND (gates and test bodies take their
    # CPU paths for it), but the default group, and every group that does not name its backend,
    # is plexus. Explicit new_group(backend="gloo") reference groups stay Gloo.
    _init = dist.init_process_group

    def _init_as_plexus(*args, **kwargs):
        if kwargs.get("backend") == os.environ["BACKEND"]:
            kwargs["backend"] = "plexus"
        return _init(*args, **kwargs)

    dist.init_process_group = _init_as_plexus


TORCH_MAJOR = int(torch.__version__.split(".")[0])
if TORCH_MAJOR < 2:
    # PyTorch 1.13's harness turns on DDP's experimental replicated-tensor path in every rank,
    # which imports torch.distributed._shard; on Python 3.11 that module fails to import (a
    # dataclass with a mutable default), whatever the backend. Keep DDP on its normal path.
    import torch.nn.parallel._replicated_tensor_ddp_utils as _rt

    _rt._set_ddp_with_replicated_tensor = lambda value: None


class TestPlexus(TestDistBackend, DistributedTest._DistTestBase):
    def setUp(self):
        super().setUp()
        self._start_processes(torch.multiprocessing.get_context("fork").Process)


def skip_reason(name):
    table = dict(SKIPS)
    if os.environ.get("PLEXUS_SUITE_GATES", "plexus") != "plexus":
        table.update(SKIPS_POSING)
    for prefix, why in table.items():
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
