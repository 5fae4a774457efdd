# Starts and supervises the ranks of one job across the host namespaces of a Fabric: R ranks per
# host, rank r on host r // R, each started as
#   ip netns exec NS env PLEXUS_RANK=.. PLEXUS_WORLD_SIZE=.. PLEXUS_LOCAL_RANK=..
#       PLEXUS_LOCAL_SIZE=.. PLEXUS_COMM_ID=<host 0 address>:<port> PLEXUS_SECRET=<random>
#       PLEXUS_SOCKET_IFNAME=<veth in NS> prog args
# Output (stdout and stderr merged) is kept per rank and echoed with a "[h<host> r<rank>] " prefix.
# Each rank has its own process group and dies with the harness (PR_SET_PDEATHSIG), so even a
# SIGKILLed harness leaves no rank behind. One thread: a poll loop over the ranks' pipes.
from __future__ import annotations

import ctypes
import os
import re
import secrets
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from .fabric import PLX_IFNAME, Fabric

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class Rank:
    rank: int
    host: int
    local_rank: int
    proc: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)
    returncode: int | None = None
    exit_time: float | None = None  # time.monotonic() when it was seen to exit
    _partial: bytes = b""

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.returncode is None


class Job:
    """One program run as `ranks_per_host` ranks on each host of `fabric`."""

    def __init__(self, fabric: Fabric, ranks_per_host: int, argv: list[str],
                 env: dict[str, str] | None = None, port: int = 29500, echo: bool = True,
                 grace: float = 3.0):
        if ranks_per_host < 1:
            raise ValueError("need at least one rank per host")
        self.fabric = fabric
        self.rph = ranks_per_host
        self.argv = list(argv)
        self.env = dict(env or {})
        self.port = port
        self.echo = echo
        self.grace = grace
        self.secret = secrets.token_hex(16)
        self.world = fabric.hosts * ranks_per_host
        self.ranks = [Rank(r, r // ranks_per_host, r % ranks_per_host) for r in range(self.world)]
        self._sel = selectors.DefaultSelector()
        self._open = 0

    def comm_id(self) -> str:
        return f"{self.fabric.addresses[0]}:{self.port}"

    def command(self, r: Rank) -> list[str]:
        env = {
            **self.env,
            "PLEXUS_RANK": str(r.rank),
            "PLEXUS_WORLD_SIZE": str(self.world),
            "PLEXUS_LOCAL_RANK": str(r.local_rank),
            "PLEXUS_LOCAL_SIZE": str(self.rph),
            "PLEXUS_COMM_ID": self.comm_id(),
            "PLEXUS_SECRET": self.secret,
            "PLEXUS_SOCKET_IFNAME": PLX_IFNAME,
        }
        return (["ip", "netns", "exec", self.fabric.host_ns[r.host], "env"] +
                [f"{k}={v}" for k, v in env.items()] + self.argv)

    def start(self) -> None:
        for r in self.ranks:
            # `ip netns exec` and `env` both exec: the pid is the program's pid.
            r.proc = subprocess.Popen(self.command(r), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      start_new_session=True, preexec_fn=_die_with_parent)
            os.set_blocking(r.proc.stdout.fileno(), False)
            self._sel.register(r.proc.stdout, selectors.EVENT_READ, r)
            self._open += 1

    # -- the poll loop ------------------------------------------------------------------------
    def _emit(self, r: Rank, line: str) -> None:
        r.lines.append(line)
        if self.echo:
            sys.stdout.write(f"[h{r.host} r{r.rank}] {line}\n")
            sys.stdout.flush()

    def pump(self, timeout: float) -> None:
        """Reads what the ranks wrote for up to `timeout` seconds and notes exits."""
        if self._open:
            for key, _ in self._sel.select(timeout):
                r: Rank = key.data
                try:
                    data = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not data:
                    self._sel.unregister(key.fileobj)
                    key.fileobj.close()
                    self._open -= 1
                    if r._partial:
                        self._emit(r, r._partial.decode(errors="replace"))
                        r._partial = b""
                    continue
                buf = r._partial + data
                *complete, r._partial = buf.split(b"\n")
                for line in complete:
                    self._emit(r, line.decode(errors="replace"))
        else:
            time.sleep(min(timeout, 0.05))
        for r in self.ranks:
            if r.running and r.proc.poll() is not None:
                r.returncode = r.proc.returncode
                r.exit_time = time.monotonic()

    def running(self) -> list[Rank]:
        return [r for r in self.ranks if r.running]

    def wait(self, timeout: float, stop_on_failure: bool = True) -> bool:
        """Waits until every rank exited (True) or `timeout` passed (False, ranks still running).

        With stop_on_failure, the first rank that fails makes the others stop (SIGTERM, then
        SIGKILL after the grace period), as plexus-run does."""
        deadline = time.monotonic() + timeout
        while self.running() or self._open:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.pump(min(left, 0.1))
            if stop_on_failure and any(r.returncode not in (None, 0) for r in self.ranks):
                if self.running():
                    bad = next(r for r in self.ranks if r.returncode not in (None, 0))
                    print(f"netns: rank {bad.rank} (h{bad.host}) exited with "
                          f"{describe_status(bad.returncode)}; stopping the others", flush=True)
                    self.stop()
                stop_on_failure = False
        return True

    def wait_for_line(self, rank: int, pattern: str, timeout: float) -> bool:
        """Waits until rank `rank` printed a line matching the regex `pattern`."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        r = self.ranks[rank]
        while time.monotonic() < deadline:
            for line in r.lines[seen:]:
                if rx.search(line):
                    return True
            seen = len(r.lines)
            if not r.running and not self._open:
                return False
            self.pump(0.05)
        return False

    def signal_rank(self, rank: int, sig: int) -> None:
        r = self.ranks[rank]
        if r.running:
            os.killpg(r.proc.pid, sig)

    def stop(self) -> None:
        """SIGTERM to every running rank, SIGKILL after the grace period; reaps them all."""
        for r in self.running():
            try:
                os.killpg(r.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + self.grace
        while self.running() and time.monotonic() < deadline:
            self.pump(0.05)
        for r in self.running():
            try:
                os.killpg(r.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while (self.running() or self._open) and time.monotonic() < deadline:
            self.pump(0.05)


def describe_status(code: int | None) -> str:
    if code is None:
        return "no exit (still running)"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"
