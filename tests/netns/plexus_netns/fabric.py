# A throw-away multi-host network made of Linux network namespaces: K "host" namespaces, each
# with `lo` up and one veth (PLX_IFNAME) whose peer is a port of a bridge living in its own
# "switch" namespace. Nothing is created in the namespace the harness runs in: no interface, route
# or address of the machine changes, and deleting the run's namespaces removes everything (the
# veths and the bridge die with them). Optional shaping per host link: tbf rate on both ends,
# netem delay on the host's egress (so one-way host-to-host latency is the delay).
#
# Names: every namespace of a run starts with "<PREFIX><pid>.<starttime>.<random>-", so parallel
# runs never collide, and a later run can tell (pid + process start time) whether the run that
# made a namespace is still alive; `remove_stale()` deletes the namespaces of dead runs.
from __future__ import annotations

import ipaddress
import os
import random
import re
import shutil
import signal
import subprocess
import time

PREFIX = "plxnt-"  # every namespace this harness creates starts with this
PLX_IFNAME = "plx0"  # the veth inside each host namespace
BRIDGE = "br0"  # the bridge inside the switch namespace
SUBNET_BASE = "10.201"  # host i of a run gets <SUBNET_BASE>.<x>.<i+1>/24


class CannotRun(Exception):
    """This machine cannot run the harness (not root, no netns, no veth...): tests skip."""


class FabricError(Exception):
    """Setting up or tearing down the network failed for another reason: tests fail."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=30)
    if check and res.returncode != 0:
        raise FabricError(f"'ip {' '.join(args)}' failed ({res.returncode}): "
                          f"{res.stderr.strip() or res.stdout.strip()}")
    return res


def _tc(ns: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, "tc", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)


def _proc_start_time(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def run_tag() -> str:
    """The unique part of this run's names: pid, process start time, random."""
    pid = os.getpid()
    return f"{pid}.{_proc_start_time(pid) or 0}.{random.randrange(16**4):04x}"


_TAG_RE = re.compile(r"^" + re.escape(PREFIX) + r"(\d+)\.(\d+)\.([0-9a-f]{4})-")


def list_namespaces(prefix: str = PREFIX) -> list[str]:
    res = _ip("netns", "list", check=False)
    names = [line.split()[0] for line in res.stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith(prefix)]


def owner_alive(ns: str) -> bool:
    """True when the run that created namespace `ns` is still running."""
    m = _TAG_RE.match(ns)
    if not m:
        return False
    pid, start = int(m.group(1)), m.group(2)
    return _proc_start_time(pid) == start


def kill_namespace_processes(ns: str) -> None:
    """SIGKILL every process whose network namespace is `ns`."""
    for _ in range(20):
        res = _ip("netns", "pids", ns, check=False)
        pids = [int(p) for p in res.stdout.split() if p.isdigit() and int(p) != os.getpid()]
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def delete_namespaces(names: list[str]) -> list[str]:
    """Kills the processes inside, then deletes each namespace. Returns errors (empty: all gone)."""
    errors = []
    for ns in names:
        kill_namespace_processes(ns)
    for ns in names:
        res = _ip("netns", "delete", ns, check=False)
        if res.returncode != 0 and ns in list_namespaces(ns):
            errors.append(f"cannot delete network namespace {ns}: {res.stderr.strip()}")
    return errors


def remove_stale(log=print) -> int:
    """Deletes the namespaces left by harness runs that no longer exist. Returns how many."""
    stale = [ns for ns in list_namespaces() if not owner_alive(ns)]
    if stale:
        log(f"netns: removing {len(stale)} namespace(s) left by dead runs: {' '.join(stale)}")
        for err in delete_namespaces(stale):
            log(f"netns: {err}")
    return len(stale)


def check_can_run() -> None:
    """Raises CannotRun with one clear reason when this machine cannot host the fabric."""
    if os.name != "posix" or not os.path.isdir("/proc/self/ns"):
        raise CannotRun("needs Linux network namespaces")
    if os.geteuid() != 0:
        raise CannotRun("needs root (creates network namespaces and veth pairs)")
    if shutil.which("ip") is None:
        raise CannotRun("the 'ip' command (iproute2) is not installed")
    probe = f"{PREFIX}{run_tag()}-probe"
    res = _ip("netns", "add", probe, check=False)
    if res.returncode != 0:
        raise CannotRun(f"'ip netns add' is not permitted here: {res.stderr.strip()}")
    try:
        steps = [
            (("-n", probe, "link", "add", "va", "type", "veth", "peer", "name", "vb"),
             "the kernel has no veth support"),
            (("-n", probe, "link", "add", "vbr", "type", "bridge"),
             "the kernel has no bridge support"),
            (("-n", probe, "link", "set", "va", "master", "vbr"), "cannot attach a veth to a bridge"),
            (("netns", "exec", probe, "true"), "'ip netns exec' is not permitted here"),
        ]
        for args, why in steps:
            r = _ip(*args, check=False)
            if r.returncode != 0:
                raise CannotRun(f"{why}: {r.stderr.strip()}")
    finally:
        delete_namespaces([probe])


def _used_networks() -> list[ipaddress.IPv4Network]:
    """IPv4 networks this (the harness's) namespace already has addresses or routes in."""
    nets = []
    for args in (("-4", "-o", "addr", "show"), ("-4", "route", "show", "table", "all")):
        out = _ip(*args, check=False).stdout
        for tok in re.findall(r"\b(\d+\.\d+\.\d+\.\d+(?:/\d+)?)\b", out):
            try:
                nets.append(ipaddress.ip_network(tok, strict=False))
            except ValueError:
                pass
    return [n for n in nets if n.prefixlen > 0]  # "default" routes are not addresses


def pick_subnet() -> ipaddress.IPv4Network:
    """A 10.201.x.0/24 that overlaps nothing configured here (the fabric is isolated anyway)."""
    used = _used_networks()
    start = random.randrange(256)
    for i in range(256):
        cand = ipaddress.ip_network(f"{SUBNET_BASE}.{(start + i) % 256}.0/24")
        if not any(cand.overlaps(u) for u in used):
            return cand
    raise FabricError(f"every {SUBNET_BASE}.x.0/24 overlaps an address or route of this machine")


class Fabric:
    """K host namespaces on one bridge. Use as a context manager: teardown always runs."""

    def __init__(self, hosts: int, rate: str | None = None, delay: str | None = None,
                 log=print):
        if hosts < 1:
            raise ValueError("need at least one host")
        self.hosts = hosts
        self.rate = rate
        self.delay = delay
        self.log = log
        self.tag = run_tag()
        self.switch_ns = f"{PREFIX}{self.tag}-sw"
        self.host_ns = [f"{PREFIX}{self.tag}-h{i}" for i in range(hosts)]
        self.subnet: ipaddress.IPv4Network | None = None
        self.addresses: list[str] = []
        self.shaping: list[str] = []  # what shaping was applied, for the log
        self._created: list[str] = []

    # -- setup --------------------------------------------------------------------------------
    def __enter__(self) -> "Fabric":
        try:
            self.setup()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()

    def _add_ns(self, name: str) -> None:
        _ip("netns", "add", name)
        self._created.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def setup(self) -> None:
        self.subnet = pick_subnet()
        base = self.subnet.network_address
        self._add_ns(self.switch_ns)
        _ip("-n", self.switch_ns, "link", "add", BRIDGE, "type", "bridge")
        for i, ns in enumerate(self.host_ns):
            self._add_ns(ns)
            port = f"p{i}"
            # Both ends are created inside namespaces of this run: nothing appears in ours.
            _ip("-n", self.switch_ns, "link", "add", port, "type", "veth", "peer", "name",
                PLX_IFNAME, "netns", ns)
            _ip("-n", self.switch_ns, "link", "set", port, "master", BRIDGE)
            addr = str(base + i + 1)
            self.addresses.append(addr)
            _ip("-n", ns, "addr", "add", f"{addr}/{self.subnet.prefixlen}", "dev", PLX_IFNAME)
            _ip("-n", ns, "link", "set", PLX_IFNAME, "up")
            _ip("-n", self.switch_ns, "link", "set", port, "up")
        _ip("-n", self.switch_ns, "link", "set", BRIDGE, "up")
        if self.rate or self.delay:
            self._shape()
        self.log(f"netns: {self.hosts} host(s) on {self.subnet} "
                 f"({', '.join(f'{n}={a}' for n, a in zip(self.host_ns, self.addresses))}), "
                 f"bridge in {self.switch_ns}; shaping: "
                 f"{'; '.join(self.shaping) if self.shaping else 'none'}")

    def _shape(self) -> None:
        """tbf at `rate` on both ends of every host link; netem `delay` on the host's egress.

        A qdisc the kernel lacks (netem is often not built) is reported and skipped: shaping is
        an approximation of a network, never a reason to fail the run."""
        rate_ok = delay_ok = False
        missing = []
        for i, ns in enumerate(self.host_ns):
            for where, dev in ((ns, PLX_IFNAME), (self.switch_ns, f"p{i}")):
                parent = ["root"]
                if self.rate:
                    # burst: 1 ms at the rate (at least 64 KiB, the largest veth GSO packet).
                    burst = max(65536, _rate_bits(self.rate) // 8 // 1000)
                    r = _tc(where, "qdisc", "add", "dev", dev, "root", "handle", "1:", "tbf",
                            "rate", self.rate, "burst", str(burst), "latency", "5ms")
                    if r.returncode == 0:
                        rate_ok = True
                        parent = ["parent", "1:1"]
                    elif "tbf" not in missing:
                        missing.append("tbf")
                        self.log(f"netns: tbf rate shaping unavailable: {r.stderr.strip()}")
                if self.delay and where == ns:
                    r = _tc(where, "qdisc", "add", "dev", dev, *parent, "handle", "10:", "netem",
                            "delay", self.delay)
                    if r.returncode == 0:
                        delay_ok = True
                    elif "netem" not in missing:
                        missing.append("netem")
                        self.log(f"netns: netem delay unavailable (kernel without sch_netem?): "
                                 f"{r.stderr.strip()}")
        if rate_ok:
            self.shaping.append(f"tbf rate {self.rate} per link and direction")
        if delay_ok:
            self.shaping.append(f"netem delay {self.delay} host egress")
        for m in missing:
            self.shaping.append(f"{m} not available")

    # -- teardown -----------------------------------------------------------------------------
    def teardown(self) -> None:
        names = [ns for ns in self._created]
        self._created = []
        for err in delete_namespaces(names):
            self.log(f"netns: {err}")


def _rate_bits(rate: str) -> int:
    """tc rate text ("10gbit", "500mbit", "1gbps") to bits per second."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(bit|bps)", rate.strip().lower())
    if not m:
        raise ValueError(f"rate '{rate}': expected a tc rate such as 10gbit or 500mbit")
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}[m.group(2)]
    bits = float(m.group(1)) * scale * (8 if m.group(3) == "bps" else 1)
    return int(bits)
