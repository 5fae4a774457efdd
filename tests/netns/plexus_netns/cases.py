# The multi-host test cases run by CTest (see ../CMakeLists.txt), each returning an exit status:
#   perf      all_reduce_perf across hosts: every rank exits 0, 0 wrong elements (the perf tool
#             checks exact results on every rank), and each rank's INFO log shows shm to the
#             ranks of its own host and tcp to every other rank; prints the busbw table.
#   kill      SIGKILL one rank on a host other than rank 0's during a run: every other rank must
#             fail by itself, within the timeout, with an error naming the lost rank.
#   cleanup   the harness itself: SIGKILL and SIGINT a running harness; its namespaces and ranks
#             must vanish and this namespace's links, addresses and routes must be unchanged.
from __future__ import annotations

import glob
import os
import re
import signal
import subprocess
import sys
import time

from . import fabric as fab
from .ranks import Job, describe_status

TRANSPORT_RE = re.compile(r"rank (\d+) -> rank (\d+) \(host ([^)]*)\): (\w+)")
ROW_RE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(-?\d+)"
                    r"\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def _fail(msg: str) -> int:
    print(f"FAIL: {msg}", flush=True)
    return 1


def check_transports(job: Job) -> list[str]:
    """Every rank logged exactly one transport per peer: shm on its host, tcp elsewhere."""
    problems = []
    for r in job.ranks:
        seen: dict[int, str] = {}
        example = {}
        for line in r.lines:
            m = TRANSPORT_RE.search(line)
            if m and int(m.group(1)) == r.rank:
                peer, transport = int(m.group(2)), m.group(4)
                if seen.get(peer, transport) != transport:
                    problems.append(f"rank {r.rank}: rank {peer} logged as both {seen[peer]} and "
                                    f"{transport}")
                seen[peer] = transport
                example.setdefault(transport, m.group(0))
        for p in job.ranks:
            if p.rank == r.rank:
                continue
            want = "shm" if p.host == r.host else "tcp"
            got = seen.get(p.rank)
            if got is None:
                problems.append(f"rank {r.rank} (host {r.host}) logged no transport for rank "
                                f"{p.rank}")
            elif got != want:
                problems.append(f"rank {r.rank} (host {r.host}) uses {got} for rank {p.rank} "
                                f"(host {p.host}); expected {want}")
        print(f"netns: rank {r.rank} on h{r.host}: " +
              ", ".join(f"{p}:{t}" for p, t in sorted(seen.items())) +
              ("  e.g. '" + "', '".join(example.values()) + "'" if example else ""), flush=True)
    return problems


def summarize_perf(lines: list[str]) -> None:
    """Prints the largest size's rows and the tool's summary lines (the busbw numbers)."""
    rows = [m.groups() for m in map(ROW_RE.match, lines) if m]
    if not rows:
        return
    top = max(int(g[0]) for g in rows)
    first_op = rows[0][3]  # with -o all, only the first reduction's rows
    print("netns: busbw at the largest size (GB/s, out-of-place / in-place):", flush=True)
    for g in rows:
        if int(g[0]) == top and g[3] == first_op:
            print(f"netns:   {g[0]:>10} B {g[2]:>9} {g[3]:>5}  busbw {g[7]:>6} / {g[11]:>6}  "
                  f"time {g[5]} / {g[9]} us", flush=True)
    for line in lines:
        if line.startswith("# Out of bounds") or line.startswith("# Avg bus bandwidth"):
            print(f"netns: {line}", flush=True)


def run_perf(fabric: fab.Fabric, rph: int, argv: list[str], env: dict[str, str], timeout: float,
             echo: bool) -> int:
    env = {"PLEXUS_DEBUG": "INFO", "PLEXUS_DEBUG_SUBSYS": "INIT", **env}
    job = Job(fabric, rph, argv, env=env, echo=echo)
    t0 = time.monotonic()
    job.start()
    try:
        finished = job.wait(timeout)
    finally:
        job.stop()
    took = time.monotonic() - t0
    print(f"netns: {fabric.hosts} hosts x {rph} ranks: {' '.join(argv)} took {took:.1f} s",
          flush=True)
    if not finished:
        return _fail(f"the ranks did not finish within {timeout:g} s")
    bad = [r for r in job.ranks if r.returncode != 0]
    if bad:
        if not echo:
            for r in bad:
                print("\n".join(f"[h{r.host} r{r.rank}] {ln}" for ln in r.lines[-40:]))
        return _fail("; ".join(f"rank {r.rank} (h{r.host}) exited with "
                               f"{describe_status(r.returncode)}" for r in bad))
    summarize_perf(job.ranks[0].lines)
    if not any(re.match(r"# Out of bounds values : 0 OK", ln) for ln in job.ranks[0].lines):
        return _fail("rank 0 did not report '# Out of bounds values : 0 OK'")
    problems = check_transports(job)
    if problems:
        return _fail("; ".join(problems))
    print("PASS", flush=True)
    return 0


def run_kill(fabric: fab.Fabric, rph: int, argv: list[str], env: dict[str, str], victim: int,
             timeout: float, echo: bool, ready: str) -> int:
    job = Job(fabric, rph, argv, env=env, echo=echo)
    if not 0 <= victim < job.world:
        return _fail(f"victim rank {victim} is not in 0..{job.world - 1}")
    vhost = job.ranks[victim].host
    if vhost == 0 and fabric.hosts > 1:
        return _fail(f"victim rank {victim} is on rank 0's host: pick a rank of another host")
    job.start()
    try:
        if not job.wait_for_line(0, ready, timeout):
            return _fail(f"rank 0 never printed a line matching '{ready}' (the run did not start)")
        time.sleep(0.5)  # collectives are in flight
        if not job.ranks[victim].running:
            return _fail(f"rank {victim} exited before it could be killed")
        print(f"netns: SIGKILL rank {victim} (h{vhost}, pid {job.ranks[victim].proc.pid})",
              flush=True)
        t_kill = time.monotonic()
        job.signal_rank(victim, signal.SIGKILL)
        finished = job.wait(timeout, stop_on_failure=False)
    finally:
        job.stop()
    left = _leftover_segments(job)
    problems = []
    pattern = f"rank {victim} (host"
    for r in job.ranks:
        if r.rank == victim:
            continue
        after = (r.exit_time - t_kill) if r.exit_time is not None else None
        named = [ln for ln in r.lines if pattern in ln]
        print(f"netns: rank {r.rank} (h{r.host}) exited with {describe_status(r.returncode)}"
              + (f" {after:.2f} s after the kill" if after is not None else "")
              + (f": {named[0].strip()}" if named else ""), flush=True)
        if not finished and r.returncode is None:
            problems.append(f"rank {r.rank} still ran {timeout:g} s after the kill")
        elif r.returncode == 0:
            problems.append(f"rank {r.rank} exited 0 although rank {victim} died")
        elif not named:
            problems.append(f"rank {r.rank}'s output does not name '{pattern}'")
    if left:
        problems.append(f"shared memory left in /dev/shm: {', '.join(left)}")
    if problems:
        return _fail("; ".join(problems))
    print("PASS", flush=True)
    return 0


def _leftover_segments(job: Job) -> list[str]:
    """Shared memory of this job's communicators still named in /dev/shm after the run.

    Plexus names none (its segments are anonymous memory passed between ranks), so a SIGKILLed
    rank must leave nothing; the survivors' log lines carry the first 8 hex digits of the id
    ("comm 1a2b3c4d")."""
    comms = {m.group(1) for r in job.ranks for ln in r.lines
             for m in [re.search(r"\bcomm ([0-9a-f]{8})\b", ln)] if m}
    return sorted(p for comm in comms for p in glob.glob(f"/dev/shm/plexus-{comm}*"))


def _network_state() -> str:
    out = []
    for args in (("-o", "link", "show"), ("-o", "addr", "show"), ("route", "show", "table", "all"),
                 ("-6", "route", "show", "table", "all"), ("rule", "show")):
        res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
        # Link statistics-free lines; drop volatile fields (valid_lft counters).
        out += [re.sub(r"valid_lft \S+ preferred_lft \S+", "", ln) for ln in res.stdout.splitlines()]
    return "\n".join(out)


def _own_namespaces(pid: int) -> list[str]:
    return [ns for ns in fab.list_namespaces(f"{fab.PREFIX}{pid}.")]


def run_cleanup_selftest(harness: str) -> int:
    """SIGKILL and SIGINT a harness running `sleep` on 2 hosts; nothing may be left behind."""
    before = _network_state()
    problems = []
    for sig in (signal.SIGKILL, signal.SIGINT):
        child = subprocess.Popen(
            [sys.executable, harness, "run", "--hosts", "2", "--ranks-per-host", "2", "--rate",
             "1gbit", "--delay", "20us", "--timeout", "60", "--", "sleep", "60"],
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        names: list[str] = []
        pids: list[int] = []
        while time.monotonic() < deadline:
            names = _own_namespaces(child.pid)
            hosts = [ns for ns in names if ns.endswith(("-h0", "-h1"))]
            pids = [int(p) for ns in hosts for p in subprocess.run(
                ["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()]
            if len(names) == 3 and len(pids) == 4:
                break
            if child.poll() is not None:
                break
            time.sleep(0.1)
        if len(names) != 3 or len(pids) != 4:
            child.kill()
            child.wait()
            problems.append(f"{signal.Signals(sig).name}: the harness did not come up "
                            f"(namespaces {names}, rank pids {pids}, exit {child.returncode})")
            continue
        print(f"netns: {signal.Signals(sig).name} to a harness (pid {child.pid}) holding "
              f"{' '.join(names)} and ranks {pids}", flush=True)
        os.kill(child.pid, sig)
        code = child.wait(30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            left_ns = _own_namespaces(child.pid)
            left_pids = [p for p in pids if os.path.exists(f"/proc/{p}")]
            if not left_ns and not left_pids:
                break
            time.sleep(0.1)
        print(f"netns:   harness exit {describe_status(code)}; left: namespaces {left_ns}, "
              f"processes {left_pids}", flush=True)
        if left_ns or left_pids:
            problems.append(f"{signal.Signals(sig).name}: left behind namespaces {left_ns}, "
                            f"processes {left_pids}")
            fab.delete_namespaces(left_ns)
        if sig == signal.SIGINT and code != 128 + signal.SIGINT:
            problems.append(f"SIGINT: the harness exited with {describe_status(code)}, "
                            f"expected code {128 + signal.SIGINT}")
    after = _network_state()
    if after != before:
        problems.append("this namespace's links, addresses, routes or rules changed:\n--- before\n"
                        f"{before}\n--- after\n{after}")
    if problems:
        return _fail("; ".join(problems))
    print("PASS", flush=True)
    return 0
