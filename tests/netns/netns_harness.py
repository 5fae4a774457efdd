#!/usr/bin/env python3
# Multi-host test harness for Plexus: runs ranks across Linux network namespaces joined by veth
# pairs and a bridge, so that each namespace is a distinct host (see README.md in this folder).
#
#   netns_harness.py run     -H 2 -r 2 [--rate 10gbit] [--delay 20us] -- prog args...
#   netns_harness.py perf    -H 2 -r 2 --rate 10gbit --delay 20us -- all_reduce_perf -b 8 -e 4M
#   netns_harness.py kill    -H 2 -r 2 [--victim N] -- all_reduce_perf -b 1M -e 1M -n 1000000
#   netns_harness.py cleanup [--all]       remove namespaces left by dead runs (--all: every one)
#   netns_harness.py probe                 can this machine run it? (exit 0, or 77 and why)
#   netns_harness.py selftest-cleanup      SIGKILL/SIGINT a running harness; nothing may remain
#
# Exit status: 0 pass, 1 fail, 2 usage, 77 cannot run here (not root, no netns or veth: tests skip),
# 124 timeout (run), 128+N interrupted by signal N; `run` exits with the first failing rank's code.
from __future__ import annotations

import argparse
import os
import signal
import sys

sys.dont_write_bytecode = True  # the source tree may be read-only
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from plexus_netns import cases, guard  # noqa: E402
from plexus_netns import fabric as fab  # noqa: E402
from plexus_netns.ranks import Job, describe_status  # noqa: E402

SKIP = 77


class Interrupted(Exception):
    def __init__(self, sig: int):
        super().__init__(signal.Signals(sig).name)
        self.sig = sig


def _raise_interrupted(sig, _frame):
    raise Interrupted(sig)


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="netns_harness.py",
                                 description="Run Plexus ranks across network namespaces.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "perf", "kill"):
        p = sub.add_parser(name)
        p.add_argument("-H", "--hosts", type=int, default=2, help="host namespaces (default 2)")
        p.add_argument("-r", "--ranks-per-host", type=int, default=2, help="default 2")
        p.add_argument("--rate", help="tbf rate per host link and direction, e.g. 10gbit")
        p.add_argument("--delay", help="netem delay on each host's egress, e.g. 20us")
        p.add_argument("--timeout", type=float, default=120, help="seconds (default 120)")
        p.add_argument("--port", type=int, default=29500, help="bootstrap root port on host 0")
        p.add_argument("-x", action="append", default=[], metavar="VAR=VALUE",
                       help="extra environment for every rank (repeatable)")
        p.add_argument("-q", "--quiet", action="store_true", help="do not echo rank output")
        if name == "kill":
            p.add_argument("--victim", type=int, default=-1,
                           help="rank to SIGKILL (default: the last, on the last host)")
            p.add_argument("--ready", default=r"^#\s+size\s+count",
                           help="regex of rank 0's line after which to kill (default: the "
                                "perf tools' column header)")
        p.add_argument("prog", nargs=argparse.REMAINDER, help="-- program and its arguments")
    c = sub.add_parser("cleanup")
    c.add_argument("--all", action="store_true",
                   help="also namespaces of runs that are still alive")
    sub.add_parser("probe")
    sub.add_parser("selftest-cleanup")
    g = sub.add_parser("_guard")
    g.add_argument("tag")
    args = ap.parse_args(argv)
    if getattr(args, "prog", None) is not None:
        if args.prog and args.prog[0] == "--":
            args.prog = args.prog[1:]
        if not args.prog:
            ap.error(f"{args.cmd}: give the program after --")
        if args.hosts < 1 or args.ranks_per_host < 1:
            ap.error("--hosts and --ranks-per-host must be at least 1")
    return args


def _env(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        out[k] = v if sep else os.environ.get(k, "")
    return out


def with_fabric(args: argparse.Namespace, body) -> int:
    """Checks the machine, removes stale namespaces, builds the fabric under a guard, runs body."""
    try:
        fab.check_can_run()
    except fab.CannotRun as e:
        print(f"SKIP: the netns harness cannot run here: {e}", flush=True)
        return SKIP
    fab.remove_stale()
    fabric = fab.Fabric(args.hosts, rate=args.rate, delay=args.delay)
    keeper = guard.start(os.path.abspath(__file__), fabric.tag)
    try:
        with fabric:
            return body(fabric)
    finally:
        keeper.stdin.close()  # the guard finds nothing left and exits


def cmd_run(args: argparse.Namespace) -> int:
    def body(fabric: fab.Fabric) -> int:
        job = Job(fabric, args.ranks_per_host, args.prog, env=_env(args.x), port=args.port,
                  echo=not args.quiet)
        job.start()
        try:
            if not job.wait(args.timeout):
                print(f"netns: timeout after {args.timeout:g} s; stopping the ranks", flush=True)
                return 124
        finally:
            job.stop()
        bad = next((r for r in job.ranks if r.returncode != 0), None)
        if bad is None:
            return 0
        print(f"netns: rank {bad.rank} (h{bad.host}) exited with "
              f"{describe_status(bad.returncode)}", flush=True)
        return bad.returncode if bad.returncode > 0 else 128 - bad.returncode
    return with_fabric(args, body)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.cmd == "_guard":
        return guard.main(args.tag)
    if args.cmd == "probe":
        try:
            fab.check_can_run()
        except fab.CannotRun as e:
            print(f"SKIP: the netns harness cannot run here: {e}")
            return SKIP
        print("netns: this machine can run the harness")
        return 0
    if args.cmd == "cleanup":
        if args.all:
            names = fab.list_namespaces()
            print(f"netns: removing {len(names)} namespace(s): {' '.join(names)}")
            errors = fab.delete_namespaces(names)
            for e in errors:
                print(f"netns: {e}")
            return 1 if errors else 0
        fab.remove_stale()
        return 0
    if args.cmd == "selftest-cleanup":
        try:
            fab.check_can_run()
        except fab.CannotRun as e:
            print(f"SKIP: the netns harness cannot run here: {e}", flush=True)
            return SKIP
        return cases.run_cleanup_selftest(os.path.abspath(__file__))
    if args.cmd == "run":
        return cmd_run(args)
    env = _env(args.x)
    if args.cmd == "perf":
        return with_fabric(args, lambda f: cases.run_perf(
            f, args.ranks_per_host, args.prog, env, args.timeout, not args.quiet))
    if args.cmd == "kill":
        env.setdefault("PLEXUS_TIMEOUT", "20")
        victim = args.victim if args.victim >= 0 else args.hosts * args.ranks_per_host - 1
        return with_fabric(args, lambda f: cases.run_kill(
            f, args.ranks_per_host, args.prog, env, victim, args.timeout, not args.quiet,
            args.ready))
    return 2


if __name__ == "__main__":
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _raise_interrupted)
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("netns: interrupted (SIGINT); cleaned up", file=sys.stderr, flush=True)
        sys.exit(128 + signal.SIGINT)
    except Interrupted as e:
        print(f"netns: interrupted ({e}); cleaned up", file=sys.stderr, flush=True)
        sys.exit(128 + e.sig)
    except fab.FabricError as e:
        print(f"FAIL: netns: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
