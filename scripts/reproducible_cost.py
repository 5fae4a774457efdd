#!/usr/bin/env python3
"""What PLEXUS_REPRODUCIBLE=1 costs: all_reduce_perf (fp32 sum) busbw with and without the mode,
at 2, 4 and 8 ranks, 8 B to 64 MB, as one Markdown table (docs/algorithms.md, issue 18).

  python3 scripts/reproducible_cost.py [--build build] [--ranks 2,4,8] [--max 64M] [--reps 2]

Each (ranks, mode) pair runs --reps times, the modes alternating, and the best busbw of each size
is kept (the machine is shared: the best run is the least disturbed). Out-of-place column. Ranks
talk over loopback (PLEXUS_SOCKET_IFNAME=lo); a benchmark, not a test.
"""
import argparse
import os
import re
import subprocess
import sys

ROW = re.compile(r"^\[0\]\s+(\d+)\s+\d+\s+\w+\s+\w+\s+-?\d+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)")


def run(build, ranks, reproducible, max_bytes, min_bytes="8"):
    env = dict(os.environ, PLEXUS_SOCKET_IFNAME="lo", PLEXUS_REPRODUCIBLE=str(reproducible))
    cmd = [os.path.join(build, "bin", "plexus-run"), "-n", str(ranks), "--timeout", "600",
           os.path.join(build, "bin", "all_reduce_perf"), "-b", min_bytes, "-e", max_bytes, "-f", "4",
           "-n", "20", "-w", "5"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} (PLEXUS_REPRODUCIBLE={reproducible}) failed:\n{out.stdout}{out.stderr}")
    rows = {}
    for line in out.stdout.splitlines():
        m = ROW.match(line)
        if m:
            if int(m.group(5)) != 0:
                sys.exit(f"{ranks} ranks, mode {reproducible}: wrong results at {m.group(1)} B")
            rows[int(m.group(1))] = (float(m.group(2)), float(m.group(4)))  # time us, busbw
    return rows


def human(b):
    for unit, size in (("M", 1 << 20), ("K", 1 << 10)):
        if b >= size:
            return f"{b // size}{unit}"
    return str(b)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build")
    p.add_argument("--ranks", default="2,4,8")
    p.add_argument("--max", default="64M")
    p.add_argument("--reps", type=int, default=2)
    a = p.parse_args()
    ranks = [int(x) for x in a.ranks.split(",")]
    best = {}  # (n, mode) -> size -> (time, busbw), best of reps
    for n in ranks:
        for _ in range(a.reps):
            for mode in (0, 1):
                rows = run(a.build, n, mode, a.max)
                # x4 from 8 B stops short of a power-of-4 maximum such as 64M: measure it too.
                rows.update(run(a.build, n, mode, a.max, a.max))
                for size, (t, bw) in rows.items():
                    old = best.setdefault((n, mode), {}).get(size)
                    if old is None or t < old[0]:
                        best[(n, mode)][size] = (t, bw)
    sizes = sorted(best[(ranks[0], 0)])
    head = "| size | " + " | ".join(f"{n} ranks: default / reproducible (time us; busbw GB/s) | ratio" for n in ranks) + " |"
    print(head)
    print("|---:|" + "---:|---:|" * len(ranks))
    for s in sizes:
        cells = []
        for n in ranks:
            (t0, b0), (t1, b1) = best[(n, 0)][s], best[(n, 1)][s]
            cells.append(f"{t0:.1f} / {t1:.1f} us; {b0:.2f} / {b1:.2f}")
            cells.append(f"{t1 / t0:.2f}x")
        print(f"| {human(s)} | " + " | ".join(cells) + " |")
    print(f"\n(time ratio reproducible / default; best of {a.reps} runs each, fp32 sum, out-of-place)")


if __name__ == "__main__":
    main()
