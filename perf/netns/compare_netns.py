#!/usr/bin/env python3
"""Plexus vs Open MPI vs Gloo all-reduce in the SAME shaped network namespaces (issue 16, item 3).

One fabric of tests/netns/netns_harness.py (default 2 hosts x 2 ranks, each host link shaped to
10 Gbit/s by tbf) is made once; then, interleaved round by round (Plexus, Open MPI, Gloo, Plexus,
...), each library runs an fp32-sum all-reduce sweep (default 1 MB .. 64 MB, x4) with ranks 0..R-1
on host 0, R..2R-1 on host 1, and so on:

  plexus  build/bin/all_reduce_perf, one process per rank started by the harness (PLEXUS_* rank
          variables; shm inside a host, tcp on the veth between hosts).
  mpi     perf/compare's mpi_allreduce under mpirun, which runs inside host 0's namespace and
          starts one orted per other host through an rsh agent (a generated script that runs
          'ip netns exec <host namespace> ...'); hostfile = the hosts' veth addresses, R slots
          each. ob1 with the tcp BTL pinned to the veth (btl_tcp_if_include, oob_tcp_if_include),
          and vader (shared memory) inside a host, or --mpi-btl tcp for tcp only.
  gloo    perf/compare's gloo_allreduce, one process per rank started by the harness; ranks meet
          in a FileStore directory (the namespaces share the file system) and connect with Gloo's
          tcp transport on the veth (Gloo has no shared-memory transport: ranks of one host talk
          tcp through their own address).

Every driver times like all_reduce_perf (warm-up, then per size --iters back-to-back calls; time =
max over ranks of the mean call; busbw = algbw x 2(n-1)/n) and checks exact results; a wrong
result fails the run. Printed: a Markdown table of busbw per size, median and best over the rounds
for each library, and Plexus/peer ratios. Everything made (namespaces, veths, bridge, rsh agent,
hostfile, Gloo store) is removed at the end, on failure, on Ctrl-C or SIGTERM; a SIGKILL leaves
the namespaces to the harness's guard. Traffic stays inside the namespaces made here.

    sudo python3 perf/netns/compare_netns.py                       # 2 x 2, 10gbit, 3 rounds
    python3 perf/netns/compare_netns.py --dry-run                  # print the commands only
"""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
HARNESS = os.path.join(ROOT, "tests", "netns", "netns_harness.py")
sys.path.insert(0, os.path.join(ROOT, "tests", "netns"))
sys.path.insert(0, os.path.join(ROOT, "perf", "compare"))

from plexus_netns import fabric as fab  # noqa: E402
from plexus_netns import guard  # noqa: E402
from plexus_netns.ranks import Job, describe_status  # noqa: E402
from compare import parse_bytes  # noqa: E402  (perf/compare/compare.py)

LIBS = ("plexus", "mpi", "gloo")
NAME = {"plexus": "Plexus", "mpi": "Open MPI", "gloo": "Gloo"}


class Interrupted(Exception):
    def __init__(self, sig: int):
        super().__init__(signal.Signals(sig).name)
        self.sig = sig


class RunFailed(Exception):
    pass


def _on_signal(sig, _frame):
    raise Interrupted(sig)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-H", "--hosts", type=int, default=2, help="host namespaces")
    p.add_argument("-r", "--ranks-per-host", type=int, default=2, help="ranks on each host")
    p.add_argument("--rate", default="10gbit", help="tbf rate per host link and direction "
                   "('none': unshaped)")
    p.add_argument("--min", type=parse_bytes, default="1M", help="smallest size (-b)")
    p.add_argument("--max", type=parse_bytes, default="64M", help="largest size (-e)")
    p.add_argument("--factor", type=int, default=4, help="size step (-f)")
    p.add_argument("--iters", type=int, default=20, help="timed calls per size (-n)")
    p.add_argument("--warmup", type=int, default=5, help="warm-up calls (-w)")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds; each runs every library once, in the order of --libs")
    p.add_argument("--libs", default="plexus,mpi,gloo", help="subset of plexus,mpi,gloo")
    p.add_argument("--mpi-btl", choices=("sm", "tcp"), default="sm",
                   help="Open MPI inside a host: sm = vader shared memory (tcp BTL between "
                        "hosts), tcp = tcp BTL for every pair")
    p.add_argument("--mpi-yield", choices=("auto", "0", "1"), default="auto",
                   help="Open MPI's mpi_yield_when_idle; auto: 1 when the ranks outnumber this "
                        "machine's CPUs (mpirun counts the hostfile's slots, not real cores, so it "
                        "would busy-poll and starve the network stack: 10x slower here)")
    p.add_argument("--mpi-args", default="",
                   help="extra mpirun arguments, e.g. '--mca btl_tcp_sndbuf 4194304'")
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build"),
                   help="Plexus build with bin/all_reduce_perf; the peer drivers are built into "
                        "<build-dir>/compare by perf/compare/compare.py's recipe")
    p.add_argument("--timeout", type=float, default=300, help="seconds for one library run")
    p.add_argument("--port", type=int, default=29500,
                   help="first bootstrap port on host 0 (each run takes the next one)")
    p.add_argument("--plexus-env", action="append", default=[], metavar="VAR=VALUE",
                   help="environment for the Plexus ranks (repeatable)")
    p.add_argument("--raw", help="also write every run's rows to this CSV file")
    p.add_argument("-v", "--verbose", action="store_true", help="echo every rank's output")
    p.add_argument("--dry-run", action="store_true",
                   help="parse the options and print what would run; needs no root, no build")
    a = p.parse_args(argv)
    a.libs = [x for x in a.libs.split(",") if x]
    bad = [x for x in a.libs if x not in LIBS]
    if bad or not a.libs:
        p.error(f"--libs: unknown {', '.join(bad) or '(empty)'}; choose from {', '.join(LIBS)}")
    if (a.hosts < 1 or a.ranks_per_host < 1 or a.rounds < 1 or a.iters < 1 or a.factor < 2
            or a.warmup < 0 or not 4 <= a.min <= a.max):
        p.error("need --hosts, --ranks-per-host, --rounds, --iters >= 1, --warmup >= 0, "
                "--factor >= 2 and 4 <= --min <= --max")
    if a.rate and a.rate != "none":
        try:
            fab._rate_bits(a.rate)
        except ValueError as e:
            p.error(f"--rate: {e}")
    if a.mpi_yield == "auto":
        a.mpi_yield = "1" if a.hosts * a.ranks_per_host > (os.cpu_count() or 1) else "0"
    if a.rate == "none":
        a.rate = None
    return a


def sweep_args(a):
    return ["-b", str(a.min), "-e", str(a.max), "-f", str(a.factor), "-n", str(a.iters), "-w",
            str(a.warmup)]


def log(msg):
    print(f"[compare_netns] {msg}", file=sys.stderr, flush=True)


def load_text():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


# ------------------------------------------------------------------ the three libraries


def plexus_argv(a, exe):
    return [exe] + sweep_args(a) + ["-c", "1", "-a", "3", "-d", "float", "-o", "sum"]


def gloo_argv(a, exe, store):
    # The harness gives rank and size as PLEXUS_* variables; the driver takes them as options.
    return ["sh", "-c", 'exec "$0" --rank "$PLEXUS_RANK" --size "$PLEXUS_WORLD_SIZE" "$@"', exe,
            "--store", store, "--iface", fab.PLX_IFNAME] + sweep_args(a)


def mpi_argv(a, exe, hostfile, agent):
    btl = "self,vader,tcp" if a.mpi_btl == "sm" else "self,tcp"
    return (["mpirun", "--allow-run-as-root", "-n", str(a.hosts * a.ranks_per_host),
             "--hostfile", hostfile, "--map-by", "slot", "--bind-to", "none",
             "--mca", "plm_rsh_agent", agent, "--mca", "plm_rsh_no_tree_spawn", "1",
             "--mca", "pml", "ob1", "--mca", "btl", btl,
             "--mca", "btl_tcp_if_include", fab.PLX_IFNAME,
             "--mca", "oob_tcp_if_include", fab.PLX_IFNAME,
             "--mca", "btl_base_warn_component_unused", "0",
             "--mca", "mpi_yield_when_idle", a.mpi_yield] + shlex.split(a.mpi_args)
            + [exe] + sweep_args(a))


def write_mpi_files(tmp, fabric, rph):
    """The hostfile (veth addresses, rph slots each) and the rsh agent that maps an address to
    its host namespace. mpirun calls the agent as: agent [options] HOST COMMAND..."""
    hostfile = os.path.join(tmp, "hostfile")
    with open(hostfile, "w") as f:
        for addr in fabric.addresses:
            f.write(f"{addr} slots={rph}\n")
    agent = os.path.join(tmp, "netns_rsh")
    cases = "\n".join(f"    {addr}) ns={shlex.quote(ns)}; name=plx-h{i}; shift; break;;"
                      for i, (addr, ns) in enumerate(zip(fabric.addresses, fabric.host_ns)))
    with open(agent, "w") as f:
        f.write(f"""#!/bin/sh
# rsh agent for mpirun (made by perf/netns/compare_netns.py): runs the command in the namespace
# of the host whose address is the first argument that names one (options before it are dropped),
# with the host's own hostname (a UTS namespace): Open MPI names its shared-memory segments and
# session directories after the hostname, and the namespaces would otherwise share one.
ns=
while [ $# -gt 0 ]; do
  case "$1" in
{cases}
    *) shift;;
  esac
done
[ -n "$ns" ] || {{ echo "netns_rsh: no known host address in the arguments" >&2; exit 255; }}
exec ip netns exec "$ns" unshare --uts sh -c "hostname $name && $*"
""")
    os.chmod(agent, 0o755)
    return hostfile, agent


def _die_with_parent():
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def run_mpi(a, fabric, exe, hostfile, agent):
    """mpirun in host 0's namespace; returns rank 0's output (the driver's CSV)."""
    cmd = (["ip", "netns", "exec", fabric.host_ns[0], "unshare", "--uts", "sh", "-c",
            'hostname plx-h0 && exec "$@"', "sh"] + mpi_argv(a, exe, hostfile, agent))
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_base_warn_component_unused="0")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True, preexec_fn=_die_with_parent)
    try:
        out, _ = proc.communicate(timeout=a.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RunFailed(f"mpirun timed out after {a.timeout:g} s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if a.verbose:
        sys.stdout.write(out)
    if proc.returncode != 0:
        raise RunFailed(f"mpirun exited {proc.returncode}:\n{out[-4000:]}")
    return out


def run_job(a, fabric, argv, env, port, what):
    """One process per rank through the harness; returns rank 0's output."""
    job = Job(fabric, a.ranks_per_host, argv, env=env, port=port, echo=a.verbose)
    job.start()
    try:
        if not job.wait(a.timeout):
            raise RunFailed(f"{what} timed out after {a.timeout:g} s")
    finally:
        job.stop()
    bad = next((r for r in job.ranks if r.returncode != 0), None)
    if bad is not None:
        raise RunFailed(f"{what}: rank {bad.rank} (h{bad.host}) exited with "
                        f"{describe_status(bad.returncode)}:\n" + bad.output[-3000:])
    return job.ranks[0].output


# ------------------------------------------------------------------ report


def busbw_rows(lib, out):
    """{size: busbw GB/s} of one run, from all_reduce_perf's table or a driver's CSV."""
    import compare  # perf/compare/compare.py: its parsers (they exit on wrong results)
    if lib == "plexus":
        oop, _ = compare.parse_perf_table(out)
        rows = oop
    else:
        rows = compare.parse_driver_csv(out, f"{lib} driver")
    for size, r in rows.items():
        if r["wrong"]:
            raise RunFailed(f"{lib}: {r['wrong']} wrong elements at {size} bytes")
    return {size: r["busbw"] for size, r in rows.items()}


def human(n):
    for unit, div in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} B"


def table(a, results, link_gbs):
    """results[lib] = [{size: busbw}] per round. Markdown: median [best] busbw and ratios."""
    libs = [l for l in a.libs if results.get(l)]
    sizes = sorted(set().union(*[set(r) for l in libs for r in results[l]]))
    peers = [l for l in libs if l != "plexus"] if "plexus" in libs else []
    head = ["size"] + [f"{NAME[l]} median [best]" for l in libs]
    head += [f"Plexus / {NAME[p]} median (best)" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def stats(lib, size):
        v = [r[size] for r in results[lib] if size in r]
        return (statistics.median(v), max(v)) if v else (float("nan"), float("nan"))

    for size in sizes:
        row = [human(size)]
        for l in libs:
            med, best = stats(l, size)
            pct = f" ({100 * med / link_gbs:.0f} %)" if link_gbs else ""
            row.append(f"{med:.3f} [{best:.3f}]{pct}")
        for p in peers:
            (pm, pb), (qm, qb) = stats("plexus", size), stats(p, size)
            row.append(f"{pm / qm:.2f}x ({pb / qb:.2f}x)" if qm and qb else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ main


TMP_PREFIX = "plexus-compare-netns-"


def remove_stale_files():
    """Temporary folders of runs that were SIGKILLed (their namespaces the harness's guard
    removes): "<TMP_PREFIX><fabric tag>-*" whose run is gone."""
    import glob
    import shutil
    base = tempfile.gettempdir()
    for path in glob.glob(os.path.join(base, TMP_PREFIX + "*")):
        tag = os.path.basename(path)[len(TMP_PREFIX):].split("-")[0]
        if not fab.owner_alive(f"{fab.PREFIX}{tag}-x"):
            log(f"removing {path}, left by a run that no longer exists")
            shutil.rmtree(path, ignore_errors=True)


def remove_vader_segments():
    """Open MPI's vader segments of this script's hosts (named after their UTS hostnames,
    plx-h<i>): /dev/shm is not in the namespaces, and a rank that crashed or was killed leaves
    its segments there."""
    import glob
    for path in glob.glob("/dev/shm/vader_segment.plx-h*"):
        try:
            os.unlink(path)
        except OSError:
            pass


def build_peer_drivers(a):
    import compare
    if not os.access(os.path.join(a.build_dir, "bin", "all_reduce_perf"), os.X_OK):
        raise RunFailed(f"{a.build_dir}/bin/all_reduce_perf is missing: build it first "
                        "(/work/build.sh all_reduce_perf, or cmake --build build --target "
                        "all_reduce_perf)")
    if any(l != "plexus" for l in a.libs):
        compare.ensure_packages(False)
    return compare.build_tools(a.build_dir)


def print_dry_run(a):
    n = a.hosts * a.ranks_per_host
    print(f"# dry run: {a.hosts} hosts x {a.ranks_per_host} ranks = {n} ranks, rate "
          f"{a.rate or 'unshaped'}, {a.rounds} round(s) of {', '.join(a.libs)}")
    print(f"# made: {a.hosts + 1} namespaces via {os.path.relpath(HARNESS, ROOT)}'s fabric; "
          "each library run in them:")
    exe = lambda name: os.path.join(a.build_dir, "compare", name)
    print("plexus (per rank):", shlex.join(plexus_argv(
        a, os.path.join(a.build_dir, "bin", "all_reduce_perf"))))
    print("mpi (in host 0):", shlex.join(mpi_argv(a, exe("mpi_allreduce"), "HOSTFILE", "AGENT")))
    print("gloo (per rank):", shlex.join(gloo_argv(a, exe("gloo_allreduce"), "STORE")))
    return 0


def measure(a, fabric, tools, tmp):
    """The interleaved rounds; returns (results, per-run notes)."""
    results = {l: [] for l in a.libs}
    notes = []
    hostfile, agent = write_mpi_files(tmp, fabric, a.ranks_per_host)
    env = dict(kv.partition("=")[::2] for kv in a.plexus_env)
    port = a.port
    for rnd in range(a.rounds):
        for lib in a.libs:
            load = load_text()
            t0 = time.monotonic()
            port += 1
            if lib == "plexus":
                out = run_job(a, fabric, plexus_argv(a, os.path.join(
                    a.build_dir, "bin", "all_reduce_perf")), env, port, "plexus")
            elif lib == "gloo":
                store = tempfile.mkdtemp(prefix=f"gloo-{rnd}-", dir=tmp)
                out = run_job(a, fabric, gloo_argv(a, tools["gloo_allreduce"], store), {}, port,
                              "gloo")
            else:
                out = run_mpi(a, fabric, tools["mpi_allreduce"], hostfile, agent)
            rows = busbw_rows(lib, out)
            results[lib].append(rows)
            dt = time.monotonic() - t0
            notes.append((rnd, lib, load, dt, rows))
            log(f"round {rnd + 1}/{a.rounds}: {lib} {dt:.1f} s (load {load}): " +
                ", ".join(f"{human(s)} {b:.3f}" for s, b in sorted(rows.items())) + " GB/s busbw")
    return results, notes


def main(argv):
    a = parse_args(argv)
    if a.dry_run:
        return print_dry_run(a)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    try:
        fab.check_can_run()
    except fab.CannotRun as e:
        print(f"SKIP: cannot make network namespaces here: {e}", flush=True)
        return 77
    tools = build_peer_drivers(a)
    fab.remove_stale(log)
    remove_stale_files()
    remove_vader_segments()
    link = (fab._rate_bits(a.rate) / 8e9) if a.rate else 0.0
    load_start = load_text()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    fabric = fab.Fabric(a.hosts, rate=a.rate, log=log)
    keeper = guard.start(HARNESS, fabric.tag)  # removes the namespaces even if we are SIGKILLed
    try:
        with tempfile.TemporaryDirectory(prefix=f"{TMP_PREFIX}{fabric.tag}-") as tmp, fabric:
            results, notes = measure(a, fabric, tools, tmp)
            shaping = "; ".join(fabric.shaping) or "none"
    finally:
        keeper.stdin.close()
        remove_vader_segments()
    if a.raw:
        with open(a.raw, "w") as f:
            f.write("round,lib,load_before,seconds,size_bytes,busbw_GBps\n")
            for rnd, lib, load, dt, rows in notes:
                for s, b in sorted(rows.items()):
                    f.write(f"{rnd},{lib},{load.replace(' ', '/')},{dt:.1f},{s},{b}\n")
    cmd = "python3 perf/netns/compare_netns.py " + shlex.join(argv)
    mpi = ("ob1, vader inside a host, tcp BTL on the veth between hosts" if a.mpi_btl == "sm"
           else "ob1, tcp BTL on the veth for every pair")
    mpi += f", mpi_yield_when_idle {a.mpi_yield}" + (f", {a.mpi_args}" if a.mpi_args else "")
    print(f"\n# command: {cmd}")
    print(f"# {started}; {a.hosts} hosts x {a.ranks_per_host} ranks; shaping: {shaping}"
          f"; fp32 sum, out of place, {a.iters} iterations, {a.warmup} warm-up")
    print(f"# Open MPI: {mpi}; Gloo: tcp transport on {fab.PLX_IFNAME} "
          "(inside a host: tcp to the host's own address); "
          "Plexus: shm inside a host, tcp between hosts")
    print(f"# busbw GB/s, median [best] of {a.rounds} interleaved rounds"
          + (f", (% of the {link:.2f} GB/s link)" if link else "")
          + "; ratio = Plexus busbw / peer busbw (> 1: Plexus faster)")
    print(f"# load average (1, 5, 15 min) at the start: {load_start}, at the end: {load_text()} "
          f"on {os.cpu_count()} CPUs; before each run: "
          + ", ".join(f"{lib} {load.split()[0]}" for _, lib, load, _, _ in notes))
    print()
    print(table(a, results, link))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("compare_netns: interrupted (SIGINT); cleaned up", file=sys.stderr, flush=True)
        sys.exit(128 + signal.SIGINT)
    except Interrupted as e:
        print(f"compare_netns: interrupted ({e}); cleaned up", file=sys.stderr, flush=True)
        sys.exit(128 + e.sig)
    except (RunFailed, fab.FabricError) as e:
        print(f"compare_netns: FAIL: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
