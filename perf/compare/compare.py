#!/usr/bin/python3
"""Plexus against Open MPI and Gloo: one all-reduce table, one plot, one memory-bandwidth limit.

In one run this script
  1. installs what it needs from Debian (openmpi-bin libopenmpi-dev libgloo-dev
     python3-matplotlib), only if missing;
  2. builds Plexus (cmake Release into build-compare/, targets all_reduce_perf and plexus-run)
     unless --build-dir names an existing build;
  3. builds the peer drivers (mpi_allreduce.cpp with mpicxx, gloo_allreduce.cpp against
     libgloo) and the memory-bandwidth probe (membw_probe.cpp) into <build>/compare/;
  4. runs the probe, then --reps rounds of: all_reduce_perf under plexus-run, MPI_Allreduce
     under mpirun (ob1 + vader shared memory), gloo::allreduce (TCP over lo), each with the same
     ranks, sizes, iterations and datatype (fp32 sum), in a rotating order;
  5. prints one table (median time and busbw per size for each library, the spread over the
     rounds, and Plexus / peer ratios), checks the issue-6 targets, and writes CSV files, a PNG
     plot and a Markdown report into the output directory.

Every driver times like nccl-tests (warm-up at the largest and smallest size, then per size
`iters` calls timed back to back; reported time = max over ranks of the mean call) and checks
every result; a wrong result makes the script fail. See perf/compare/README.md.

Run with Debian's python (matplotlib from python3-matplotlib):
    /usr/bin/python3 perf/compare/compare.py                  # 2 ranks, 8 B .. 256 MB
    /usr/bin/python3 perf/compare/compare.py --ranks 8 --max 64M
"""

import argparse
import csv
import datetime
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
APT_PACKAGES = ["openmpi-bin", "libopenmpi-dev", "libgloo-dev", "python3-matplotlib"]
LIBS = ["plexus", "mpi", "gloo"]
PEERS = ["mpi", "gloo"]
LABEL = {
    "plexus": "Plexus (all_reduce_perf, shm)",
    "plexus_inplace": "Plexus in place",
    "mpi": "Open MPI (ob1 + vader)",
    "gloo": "Gloo (tcp, lo)",
}


def log(msg):
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


def fail(msg):
    print(f"compare.py: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def parse_bytes(text):
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kKmMgG]?)[bB]?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size '{text}' (use e.g. 8, 64K, 256M)")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def human(nbytes):
    for unit, div in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if nbytes >= div and nbytes % div == 0:
            return f"{nbytes // div}{unit}"
    return str(nbytes)


def run(cmd, timeout=None, env=None, check=True, capture=True):
    """Runs a command; returns (rc, stdout, stderr). Kills its process group on timeout."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.PIPE if capture else None, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        if check:
            fail(f"timed out after {timeout} s: {shlex.join(cmd)}\n{err or ''}")
        return 124, out or "", err or ""
    if check and proc.returncode != 0:
        fail(f"exit {proc.returncode}: {shlex.join(cmd)}\n{(out or '')[-3000:]}{(err or '')[-3000:]}")
    return proc.returncode, out or "", err or ""


# ---------------------------------------------------------------- setup


def ensure_packages(allow_install):
    missing = []
    for pkg in APT_PACKAGES:
        rc, out, _ = run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
        if rc != 0 or "install ok installed" not in out:
            missing.append(pkg)
    if not missing:
        return
    if not allow_install:
        fail(f"missing Debian packages: {' '.join(missing)} (run without --no-install)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(sudo + ["apt-get", "update", "-q"], env=env, capture=False)
    run(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing, env=env,
        capture=False)


def build_plexus(build_dir, given):
    bins = {t: os.path.join(build_dir, "bin", t) for t in ("all_reduce_perf", "plexus-run")}
    if given:
        for t, path in bins.items():
            if not os.access(path, os.X_OK):
                fail(f"--build-dir {build_dir} has no {path}: build target {t} there first")
        return bins
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        # Plexus's own build dependencies (idempotent; the same script the README commands run).
        run(["bash", os.path.join(ROOT, "scripts", "install-deps.sh")], capture=False)
        log(f"configuring Plexus (Release) in {build_dir}")
        run(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
             "-DPLEXUS_BUILD_TESTS=OFF"], capture=False)
    log(f"building all_reduce_perf and plexus-run in {build_dir}")
    run(["ninja", "-C", build_dir, "-j2", "all_reduce_perf", "plexus-run"], capture=False)
    return bins


def build_tools(build_dir):
    """Peer drivers and the probe: rebuilt when a source is newer than the binary."""
    out_dir = os.path.join(build_dir, "compare")
    os.makedirs(out_dir, exist_ok=True)
    common = os.path.join(HERE, "driver_common.hpp")
    flags = ["-O3", "-march=native", "-std=c++20", "-Wall", "-Wextra"]
    recipes = {
        "mpi_allreduce": (["mpicxx"] + flags, ["mpi_allreduce.cpp"], []),
        "gloo_allreduce": (["g++"] + flags, ["gloo_allreduce.cpp"], ["-lgloo", "-pthread"]),
        "membw_probe": (["g++"] + flags, ["membw_probe.cpp"], ["-pthread"]),
    }
    paths = {}
    for name, (cc, srcs, libs) in recipes.items():
        exe = os.path.join(out_dir, name)
        sources = [os.path.join(HERE, s) for s in srcs]
        newest = max(os.path.getmtime(p) for p in sources + [common])
        if not os.path.exists(exe) or os.path.getmtime(exe) < newest:
            log(f"building {name}")
            run(cc + ["-o", exe] + sources + libs)
        paths[name] = exe
    return paths


# ---------------------------------------------------------------- running


def parse_driver_csv(text, what):
    rows = {}
    lines = [l for l in text.splitlines() if l and not l.startswith("#")]
    if not lines or not lines[0].startswith("size_bytes"):
        fail(f"{what}: no table in its output:\n{text[-2000:]}")
    for rec in csv.DictReader(lines):
        size = int(rec["size_bytes"])
        rows[size] = {"time_us": float(rec["time_us"]), "busbw": float(rec["busbw_GBps"]),
                      "algbw": float(rec["algbw_GBps"]), "wrong": int(rec["wrong"])}
    return rows


def parse_perf_table(text):
    """all_reduce_perf (nccl-tests format): out-of-place and in-place columns per size."""
    oop, inp = {}, {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 13 and f[0].isdigit() and f[2] == "float":
            size = int(f[0])

            def num(x):
                return float("nan") if x in ("N/A", "-") else float(x)

            oop[size] = {"time_us": num(f[5]), "algbw": num(f[6]), "busbw": num(f[7]),
                         "wrong": int(f[8]) if f[8].isdigit() else 0}
            inp[size] = {"time_us": num(f[9]), "algbw": num(f[10]), "busbw": num(f[11]),
                         "wrong": int(f[12]) if f[12].isdigit() else 0}
    if not oop:
        fail(f"all_reduce_perf printed no table:\n{text[-3000:]}")
    if "Out of bounds values : 0 OK" not in text:
        fail(f"all_reduce_perf reported wrong results:\n{text[-3000:]}")
    return oop, inp


def run_plexus(a, bins, sweep):
    env = dict(os.environ)
    for kv in a.plexus_env:
        k, _, v = kv.partition("=")
        env[k] = v
    cmd = [bins["plexus-run"], "-n", str(a.ranks), "--no-prefix", "--timeout", str(a.timeout),
           bins["all_reduce_perf"]] + sweep + ["-c", "1", "-a", "3", "-d", "float", "-o", "sum"]
    cmd += shlex.split(a.plexus_args)
    _, out, _ = run(cmd, timeout=a.timeout + 30, env=env)
    return parse_perf_table(out), out


def run_mpi(a, tools, sweep):
    cmd = (["mpirun", "-n", str(a.ranks), "--oversubscribe", "--allow-run-as-root",
            "--bind-to", "none", "--mca", "pml", "ob1", "--mca", "btl", "self," + a.mpi_btl]
           + (["--mca", "btl_tcp_if_include", "lo"] if a.mpi_btl == "tcp" else [])
           + shlex.split(a.mpi_args) + [tools["mpi_allreduce"]] + sweep)
    env = dict(os.environ, OMPI_MCA_btl_base_warn_component_unused="0")
    _, out, _ = run(cmd, timeout=a.timeout, env=env)
    return parse_driver_csv(out, "mpi_allreduce"), out


def run_gloo(a, tools, sweep):
    store = tempfile.mkdtemp(prefix="plexus-compare-gloo-", dir="/tmp")
    procs = []
    try:
        for r in range(a.ranks):
            cmd = [tools["gloo_allreduce"], "--rank", str(r), "--size", str(a.ranks), "--store",
                   store, "--iface", a.gloo_iface] + sweep
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True, start_new_session=True))
        deadline = time.monotonic() + a.timeout
        outs = []
        for p in procs:
            try:
                outs.append(p.communicate(timeout=max(1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                fail(f"gloo driver timed out after {a.timeout} s")
        for r, (p, (out, err)) in enumerate(zip(procs, outs)):
            if p.returncode != 0:
                fail(f"gloo driver rank {r} exited {p.returncode}:\n{out[-2000:]}{err[-2000:]}")
        return parse_driver_csv(outs[0][0], "gloo_allreduce"), outs[0][0]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        shutil.rmtree(store, ignore_errors=True)


def cpu_busy(seconds=0.5):
    """Fraction of all CPUs busy over `seconds` (from /proc/stat): other people's work."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v), idle
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def busy_seconds():
    """CPU seconds all CPUs have been busy since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v) - idle) / os.sysconf("SC_CLK_TCK")


def children_seconds():
    """CPU seconds used by this script's finished children (and theirs, once reaped)."""
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class OthersMeter:
    """How much of the machine other people's work took while a run went on: busy CPU time of
    the whole machine minus the CPU time of our own child processes, over wall time x CPUs."""

    def __enter__(self):
        self.t0, self.b0, self.c0 = time.monotonic(), busy_seconds(), children_seconds()
        return self

    def __exit__(self, *exc):
        wall = time.monotonic() - self.t0
        others = (busy_seconds() - self.b0) - (children_seconds() - self.c0)
        self.share = max(0.0, others) / max(1e-9, wall * (os.cpu_count() or 1))
        return False


def wait_quiet(a):
    """Waits (at most --quiet seconds) until the CPUs are mostly idle; returns the busy fraction."""
    busy = cpu_busy()
    deadline = time.monotonic() + a.quiet
    while busy > a.quiet_busy and time.monotonic() < deadline:
        busy = cpu_busy()
    return busy


def run_probe(a, tools):
    threads = sorted({1, a.ranks, min(a.ranks, os.cpu_count() or 1)})
    cmd = [tools["membw_probe"], "--threads", ",".join(map(str, threads)), "--reps",
           str(a.probe_reps)]
    if a.probe_mib:
        cmd += ["--mib", str(a.probe_mib)]
    _, out, _ = run(cmd, timeout=600)
    rows = [r for r in csv.DictReader(l for l in out.splitlines() if l and not l.startswith("#"))]
    for r in rows:
        r["threads"] = int(r["threads"])
        r["best_GBps"] = float(r["best_GBps"])
        r["median_GBps"] = float(r["median_GBps"])
    return rows, out


def probe_rate(rows, kernel, threads, key="median_GBps"):
    for r in rows:
        if r["kernel"] == kernel and r["threads"] == threads:
            return r[key]
    return float("nan")


def probe_limit(rows, kernel, ranks):
    """The machine's limit for `kernel`: the best run with any thread count up to min(ranks,
    cores). Other work on the machine can only lower a rate, so the best run is the bound."""
    cap = min(ranks, os.cpu_count() or 1)
    vals = [r["best_GBps"] for r in rows if r["kernel"] == kernel and r["threads"] <= cap]
    return max(vals) if vals else float("nan")


# ---------------------------------------------------------------- report


def median_spread(values):
    vals = [v for v in values if v == v]
    if not vals:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(vals), min(vals), max(vals)


def fmt_time(us):
    if us != us:
        return "-"
    return f"{us:.1f}" if us < 1000 else f"{us:.0f}"


def select_runs(results, max_others):
    """results[lib] = [(rows, others_share)]: the quiet runs (other work took at most
    max_others of the CPUs), or every run when a library has no quiet one."""
    chosen = {}
    for lib, runs in results.items():
        quiet = [rows for rows, share in runs if share <= max_others]
        chosen[lib] = (quiet if quiet else [rows for rows, _ in runs], len(quiet), len(runs))
    return chosen


def summarize(chosen, sizes):
    """chosen[lib] = (runs, quiet, total); returns per (lib, size) medians and spreads."""
    summary = {}
    for lib, (reps, _, _) in chosen.items():
        for size in sizes:
            t = [rep[size]["time_us"] for rep in reps if size in rep]
            b = [rep[size]["busbw"] for rep in reps if size in rep]
            tm, tlo, thi = median_spread(t)
            bm, blo, bhi = median_spread(b)
            summary[(lib, size)] = {"time": tm, "time_lo": tlo, "time_hi": thi, "busbw": bm,
                                    "busbw_lo": blo, "busbw_hi": bhi, "n": len(t)}
    return summary


def table_text(summary, sizes, libs, ranks, chosen, max_others):
    peers = [l for l in libs if l in PEERS]
    head = ["size"]
    for lib in libs:
        head += [f"{lib} us", f"{lib} GB/s", f"{lib} max/min"]
    head += [f"plexus/{p}" for p in peers]
    rows = []
    for size in sizes:
        row = [human(size)]
        for lib in libs:
            s = summary[(lib, size)]
            spread = s["time_hi"] / s["time_lo"] if s["time_lo"] else float("nan")
            row += [fmt_time(s["time"]), f"{s['busbw']:.3f}", f"{spread:.2f}"]
        for p in peers:
            pl, pe = summary[("plexus", size)]["time"], summary[(p, size)]["time"]
            row.append(f"{pe / pl:.2f}x" if pl and pl == pl and pe == pe else "-")
        rows.append(row)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda r: "  ".join(str(x).rjust(w) for x, w in zip(r, widths))
    used = "; ".join(
        f"{lib} {q} of {n}" if q else f"{lib} all {n} (none quiet: NOISY)"
        for lib, (_, q, n) in chosen.items() if lib in libs)
    out = [f"# all-reduce, fp32 sum, {ranks} ranks, out of place; medians over the quiet runs (other "
           f"work took <= {100 * max_others:.0f}% of the CPUs): {used};",
           "# time = max over ranks of the mean call (us); busbw GB/s;",
           "# max/min = slowest / fastest run's time; plexus/<peer> = peer time / Plexus time "
           "(> 1: Plexus faster)", line(head)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def check_targets(summary, sizes, ranks, probe_rows):
    """The issue-6 targets that apply to this run; returns lines of text. Each verdict uses the
    medians; "best" repeats the ratio with each library's fastest run (the least disturbed one on
    a shared machine)."""
    lines = []

    def have(lib, size):
        return (lib, size) in summary and summary[(lib, size)]["n"] > 0

    def t(lib, size, best=False):
        return summary[(lib, size)]["time_lo" if best else "time"]

    def verdict(ok):
        return "MET " if ok else "MISS"

    if ranks == 2:
        for size in (16 << 20, 64 << 20):
            for peer, want in (("mpi", 2.0), ("gloo", 3.0)):
                if have("plexus", size) and have(peer, size):
                    r = t(peer, size) / t("plexus", size)
                    rb = t(peer, size, True) / t("plexus", size, True)
                    lines.append(f"{verdict(r >= want)} busbw at {human(size)} >= {want:g}x {peer}:"
                                 f" {r:.2f}x ({summary[('plexus', size)]['busbw']:.2f} vs "
                                 f"{summary[(peer, size)]['busbw']:.2f} GB/s; best runs {rb:.2f}x)")
        if have("plexus", 8):
            pl, plb = t("plexus", 8), t("plexus", 8, True)
            if have("mpi", 8):
                m, mb = t("mpi", 8), t("mpi", 8, True)
                lines.append(f"{verdict(pl <= m)} latency at 8 B <= Open MPI: {pl:.1f} vs "
                             f"{m:.1f} us ({pl / m:.2f}x; best runs {plb:.1f} vs {mb:.1f} us)")
            if have("gloo", 8):
                g, gb = t("gloo", 8), t("gloo", 8, True)
                lines.append(f"{verdict(pl <= g / 10)} latency at 8 B <= Gloo / 10: {pl:.1f} vs "
                             f"{g:.1f} us (1/{g / pl:.1f}; best runs 1/{gb / plb:.1f})")
        size = 64 << 20
        limit = probe_limit(probe_rows, "add", 2)
        if have("plexus", size) and limit == limit:
            b = summary[("plexus", size)]["busbw"]
            bb = summary[("plexus", size)]["busbw_hi"]
            lines.append(f"{verdict(b >= 0.5 * limit)} busbw at 64M >= 50% of the two-input "
                         f"limit ({limit:.2f} GB/s): {b:.2f} GB/s = {100 * b / limit:.1f}% "
                         f"(best run {100 * bb / limit:.1f}%)")
    if ranks == 8 and all(have("mpi", s) for s in sizes):
        ratio = {s: t("plexus", s) / t("mpi", s) for s in sizes}
        worst = max(sizes, key=lambda s: ratio[s])
        slow = [f"{human(s)} ({ratio[s]:.1f}x)" for s in sizes if ratio[s] > 1.5]
        lines.append(f"{verdict(not slow)} 8 ranks: no size more than 1.5x slower than Open MPI: "
                     f"worst {human(worst)} at {ratio[worst]:.2f}x Open MPI's time"
                     + (f"; over 1.5x at {', '.join(slow)}" if slow else ""))
    return lines


def plot(path, summary, sizes, libs, ranks, probe_rows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.5))
    styles = {"plexus": ("C0", "o"), "plexus_inplace": ("C0", "x"), "mpi": ("C1", "s"),
              "gloo": ("C2", "^")}
    for lib in libs:
        color, marker = styles.get(lib, ("C3", "."))
        ls = "--" if lib == "plexus_inplace" else "-"
        bw = [summary[(lib, s)]["busbw"] for s in sizes]
        lo = [summary[(lib, s)]["busbw"] - summary[(lib, s)]["busbw_lo"] for s in sizes]
        hi = [summary[(lib, s)]["busbw_hi"] - summary[(lib, s)]["busbw"] for s in sizes]
        ax1.errorbar(sizes, bw, yerr=[lo, hi], label=LABEL.get(lib, lib), color=color,
                     marker=marker, ls=ls, ms=4, capsize=2)
        t = [summary[(lib, s)]["time"] for s in sizes]
        ax2.plot(sizes, t, label=LABEL.get(lib, lib), color=color, marker=marker, ls=ls, ms=4)
    limit = probe_limit(probe_rows, "add", ranks)
    copy = probe_limit(probe_rows, "copy", ranks)
    if limit == limit:
        ax1.axhline(limit, color="grey", ls=":", label=f"probe: a+b limit ({limit:.1f} GB/s)")
    if copy == copy:
        ax1.axhline(copy, color="grey", ls="-.", lw=0.8, label=f"probe: copy limit ({copy:.1f} GB/s)")
    ticks = sorted(set(sizes[::-2]) | {sizes[0]})  # every other size, ending on the largest
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks)
        ax.set_xticklabels([human(s) for s in ticks], rotation=45)
        ax.set_xlabel("message size (bytes)")
        ax.grid(True, which="both", alpha=0.3)
    ax1.set_ylabel("busbw (GB/s), median, bars = min..max")
    ax1.set_title(f"all-reduce fp32 sum, {ranks} ranks: bus bandwidth")
    ax1.legend(fontsize=8)
    ax2.set_yscale("log")
    ax2.set_ylabel("time per call (us), median")
    ax2.set_title(f"all-reduce fp32 sum, {ranks} ranks: time")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def loadavg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def machine_text(load_start):
    lines = []
    try:
        model = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                 if l.startswith("model name")]
        lines.append(f"CPU: {model[0] if model else '?'}, {os.cpu_count()} logical CPUs")
    except OSError:
        pass
    lines.append(f"kernel: {platform.release()}")
    rc, head, _ = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=False)
    rc2, dirty, _ = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                        check=False)
    if rc == 0:
        lines.append(f"plexus source: commit {head.strip()}"
                     + (" with uncommitted changes" if rc2 == 0 and dirty.strip() else ""))
    for pkg in ("openmpi-bin", "libgloo-dev"):
        rc, out, _ = run(["dpkg-query", "-W", "-f=${Version}", pkg], check=False)
        lines.append(f"{pkg}: {out.strip() if rc == 0 else '?'}")
    lines.append(f"load average (1, 5, 15 min) at the start: {load_start}, at the end: {loadavg()}"
                 f" (on {os.cpu_count()} CPUs: above that, other work shared the machine)")
    return lines


# ---------------------------------------------------------------- main


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--ranks", type=int, default=2, help="ranks (processes) for every library")
    p.add_argument("--min", type=parse_bytes, default=8, help="smallest size in bytes")
    p.add_argument("--max", type=parse_bytes, default=256 << 20, help="largest size in bytes")
    p.add_argument("--factor", type=int, default=2,
                   help="size step (x2 from 8 B reaches 16M and 64M, the issue's target sizes; "
                        "x4 from 8 B would skip them)")
    p.add_argument("--iters", type=int, default=20, help="timed calls per size above --split")
    p.add_argument("--iters-small", type=int, default=200,
                   help="timed calls per size up to --split (run as a separate sweep)")
    p.add_argument("--split", type=parse_bytes, default=1 << 20,
                   help="largest size timed with --iters-small")
    p.add_argument("--warmup", type=int, default=5, help="warm-up calls at max and min size")
    p.add_argument("--reps", type=int, default=3,
                   help="quiet runs wanted of each library (medians over them)")
    p.add_argument("--max-others", type=float, default=0.15,
                   help="a run is quiet when other work took at most this share of the CPUs")
    p.add_argument("--max-rounds", type=int, default=6,
                   help="rounds at most: after --reps rounds, libraries short of quiet runs run "
                        "again until they have --reps or this many rounds have run")
    p.add_argument("--libs", default="plexus,mpi,gloo", help="which libraries to run")
    p.add_argument("--build-dir", help="an existing Plexus build (else build-compare/ is built)")
    p.add_argument("--out", help="output directory (default perf/results/<timestamp>)")
    p.add_argument("--no-install", action="store_true", help="do not apt-get install anything")
    p.add_argument("--timeout", type=int, default=600, help="seconds allowed for one run")
    p.add_argument("--mpi-args", default="", help="extra mpirun arguments (e.g. '--mca pml ucx')")
    p.add_argument("--gloo-iface", default="lo", help="interface for Gloo's TCP transport")
    p.add_argument("--mpi-btl", choices=("vader", "tcp"), default="vader",
                   help="Open MPI's transport between the ranks: vader (shared memory) or tcp on lo "
                        "(to compare with Plexus over tcp: add --plexus-env PLEXUS_TRANSPORTS=tcp)")
    p.add_argument("--plexus-env", action="append", default=[], metavar="VAR=VALUE",
                   help="environment for the Plexus ranks (repeatable)")
    p.add_argument("--plexus-args", default="",
                   help="more all_reduce_perf arguments, e.g. '-R 1' (buffers from ncclMemAlloc: "
                        "zero copy between the ranks)")
    p.add_argument("--probe-reps", type=int, default=5, help="runs of each probe kernel")
    p.add_argument("--probe-mib", type=int, default=0, help="probe buffer size in MiB (default 8x LLC, 256..1024)")
    p.add_argument("--quiet", type=float, default=15,
                   help="before each run, wait up to this many seconds for the CPUs to be idle "
                        "(busy fraction <= --quiet-busy): the machine may be shared")
    p.add_argument("--quiet-busy", type=float, default=0.25, help="see --quiet")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    a = p.parse_args()
    if a.mpi_btl == "tcp":
        LABEL["mpi"] = "Open MPI (ob1 + tcp on lo)"
    transports = [kv.partition("=")[2] for kv in a.plexus_env if kv.startswith("PLEXUS_TRANSPORTS=")]
    over = transports[-1] if transports else "shm"
    perf_args = f" {a.plexus_args}" if a.plexus_args else ""
    LABEL["plexus"] = f"Plexus (all_reduce_perf{perf_args}, {over})"

    libs = [l for l in a.libs.split(",") if l]
    for l in libs:
        if l not in LIBS:
            fail(f"--libs: unknown library '{l}' (choose from {', '.join(LIBS)})")
    if "plexus" not in libs:
        fail("--libs must include plexus (the table compares against it)")
    if (a.ranks < 1 or a.reps < 1 or a.iters < 1 or a.iters_small < 1 or a.min < 1
            or a.min > a.max or a.factor < 2):
        fail("need --ranks >= 1, --reps >= 1, --iters(-small) >= 1, 1 <= --min <= --max, "
             "--factor >= 2")
    # The size list all_reduce_perf makes from -b/-e/-f; small sizes get --iters-small calls (a
    # call takes microseconds there, and a mean of 20 is at the mercy of one preemption).
    grid = []
    size = a.min
    while size <= a.max:
        grid.append(size)
        size *= a.factor
    small = [s for s in grid if s <= a.split]
    large = [s for s in grid if s > a.split]
    sweeps = []
    for part, iters in ((small, a.iters_small), (large, a.iters)):
        if part:
            sweeps.append(["-b", str(part[0]), "-e", str(part[-1]), "-f", str(a.factor), "-n",
                           str(iters), "-w", str(a.warmup)])

    out_dir = a.out or os.path.join(ROOT, "perf", "results",
                                    datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out_dir, exist_ok=True)
    ensure_packages(not a.no_install)
    build_dir = os.path.abspath(a.build_dir or os.path.join(ROOT, "build-compare"))
    bins = build_plexus(build_dir, a.build_dir is not None)
    tools = build_tools(build_dir)

    t_start = time.monotonic()
    load_start = loadavg()
    wait_quiet(a)
    log(f"memory-bandwidth probe (threads 1 and {a.ranks})")
    probe_rows, probe_out = run_probe(a, tools)
    for r in probe_rows:
        r["when"] = "start"

    results = {lib: [] for lib in libs}
    if "plexus" in libs:
        results["plexus_inplace"] = []
    raw = open(os.path.join(out_dir, "raw.csv"), "w", newline="")
    rw = csv.writer(raw)
    rw.writerow(["lib", "rep", "ranks", "size_bytes", "time_us", "algbw_GBps", "busbw_GBps",
                 "wrong", "cpu_busy_before", "others_cpu_share_during"])
    logs = open(os.path.join(out_dir, "runs.log"), "w")
    busy_all, others_all, run_order = [], [], []

    def quiet_runs(lib):
        return sum(1 for _, share in results[lib] if share <= a.max_others)

    planned = a.reps * len(libs)  # runs at least (more when other work disturbs some)
    started = time.monotonic()
    for rnd in range(max(a.reps, a.max_rounds)):
        if rnd >= a.reps:  # extra rounds only for libraries that still lack quiet runs
            todo = [l for l in libs if quiet_runs(l) < a.reps]
            if not todo:
                break
            log(f"round {rnd + 1}: other work disturbed earlier runs; again: {', '.join(todo)}")
        else:
            todo = libs
        order = todo[rnd % len(todo):] + todo[:rnd % len(todo)]  # rotate: none always first
        for lib in order:
            run_order.append(lib)
            got, text = {}, ""
            busy = wait_quiet(a)
            t0 = time.monotonic()
            busy_all.append(busy)
            meter = OthersMeter().__enter__()
            for sweep in sweeps:
                if lib == "plexus":
                    (oop, inp), out = run_plexus(a, bins, sweep)
                    part = {"plexus": oop, "plexus_inplace": inp}
                elif lib == "mpi":
                    rows, out = run_mpi(a, tools, sweep)
                    part = {"mpi": rows}
                else:
                    rows, out = run_gloo(a, tools, sweep)
                    part = {"gloo": rows}
                text += out
                for name, rows in part.items():
                    got.setdefault(name, {}).update(rows)
            meter.__exit__(None, None, None)
            others_all.append(meter.share)
            logs.write(f"===== {lib} round {rnd} (other work: {100 * meter.share:.0f}% of the "
                       f"CPUs)\n{text}\n")
            logs.flush()
            for name, rows in got.items():
                for size, r in rows.items():
                    if r["wrong"]:
                        fail(f"{name} returned {r['wrong']} wrong elements at {size} bytes")
                    rw.writerow([name, rnd, a.ranks, size, r["time_us"], r["algbw"], r["busbw"],
                                 r["wrong"], f"{busy:.2f}", f"{meter.share:.2f}"])
                results[name].append((rows, meter.share))
            raw.flush()
            done = len(run_order)
            elapsed = time.monotonic() - started
            left = elapsed / done * max(0, planned - done)
            log(f"round {rnd + 1}: {lib} took {time.monotonic() - t0:.1f} s (CPUs "
                f"{100 * busy:.0f}% busy before it, other work took {100 * meter.share:.0f}% of "
                f"the CPUs during it); progress: run {done} of {max(planned, done)}, "
                f"{elapsed:.0f} s elapsed, about {left:.0f} s left")
    raw.close()
    logs.close()

    wait_quiet(a)
    log("memory-bandwidth probe again")
    end_rows, end_out = run_probe(a, tools)
    for r in end_rows:
        r["when"] = "end"
    probe_rows += end_rows
    with open(os.path.join(out_dir, "probe.csv"), "w") as f:
        f.write("# before the runs\n" + probe_out + "# after the runs\n" + end_out)

    sizes = sorted(set().union(*[set(r) for runs in results.values() for r, _ in runs]))
    chosen = select_runs(results, a.max_others)
    summary = summarize(chosen, sizes)
    text = table_text(summary, sizes, libs, a.ranks, chosen, a.max_others)
    with open(os.path.join(out_dir, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        names = list(results)
        w.writerow(["size_bytes"] + [f"{l}_{k}" for l in names for k in
                                     ("time_us", "time_min_us", "time_max_us", "busbw_GBps",
                                      "busbw_min_GBps", "busbw_max_GBps")]
                   + [f"plexus_over_{p}" for p in PEERS if p in libs])
        for s in sizes:
            row = [s]
            for l in names:
                m = summary[(l, s)]
                row += [f"{m['time']:.3f}", f"{m['time_lo']:.3f}", f"{m['time_hi']:.3f}",
                        f"{m['busbw']:.4f}", f"{m['busbw_lo']:.4f}", f"{m['busbw_hi']:.4f}"]
            row += [f"{summary[(p, s)]['time'] / summary[('plexus', s)]['time']:.3f}"
                    for p in PEERS if p in libs]
            w.writerow(row)

    probe_lines = ["# memory-bandwidth probe, before and after the runs (output bytes per second, "
                   f"median of {a.probe_reps}; best in brackets)"]
    for r in probe_rows:
        if r["when"] == "start":
            e = [x for x in probe_rows if x["when"] == "end" and x["kernel"] == r["kernel"]
                 and x["threads"] == r["threads"]]
            after = f"   after: {e[0]['median_GBps']:6.2f} [{e[0]['best_GBps']:.2f}]" if e else ""
            probe_lines.append(f"  {r['kernel']:7s} {r['threads']} thread(s): before: "
                               f"{r['median_GBps']:6.2f} [{r['best_GBps']:.2f}]{after}")
    lim_t = min(a.ranks, os.cpu_count() or 1)
    probe_lines.append(
        f"  limit (best run, 1..{lim_t} threads): two-input reduction (a+b) "
        f"{probe_limit(probe_rows, 'add', a.ranks):.2f} GB/s, copy "
        f"{probe_limit(probe_rows, 'copy', a.ranks):.2f} GB/s, a+b with non-temporal stores "
        f"{probe_limit(probe_rows, 'add_nt', a.ranks):.2f} GB/s")
    targets = check_targets(summary, sizes, a.ranks, probe_rows)
    inplace = "# Plexus in place (median us / busbw): " + ", ".join(
        f"{human(s)} {fmt_time(summary[('plexus_inplace', s)]['time'])}/"
        f"{summary[('plexus_inplace', s)]['busbw']:.2f}" for s in sizes) if "plexus" in libs else ""
    cmdline = "/usr/bin/python3 perf/compare/compare.py " + shlex.join(sys.argv[1:])
    report = [f"# command: {cmdline}", *("# " + l for l in machine_text(load_start)),
              f"# wall time of the measurements: {time.monotonic() - t_start:.0f} s; CPUs busy "
              f"with other work just before each run: {', '.join(f'{100 * b:.0f}%' for b in busy_all)}"
              + (f" (waited up to {a.quiet:g} s for <= {100 * a.quiet_busy:.0f}%)" if a.quiet else ""),
              "# share of the CPUs other work took during each run: "
              + ", ".join(f"{100 * b:.0f}%" for b in others_all)
              + " (order: " + ", ".join(f"{l}" for l in run_order) + ")",
              "",
              text, "", inplace, "", *probe_lines, ""]
    if targets:
        report += ["# issue-6 targets:", *("  " + l for l in targets), ""]
    report_text = "\n".join(report)
    print(report_text)
    with open(os.path.join(out_dir, "report.txt"), "w") as f:
        f.write(report_text + "\n")
    if not a.no_plot:
        plot_libs = libs + (["plexus_inplace"] if "plexus" in libs else [])
        plot(os.path.join(out_dir, "busbw.png"), summary, sizes, plot_libs, a.ranks, probe_rows)
    log(f"results in {out_dir} (report.txt, summary.csv, raw.csv, probe.csv, runs.log"
        f"{'' if a.no_plot else ', busbw.png'})")


if __name__ == "__main__":
    main()
