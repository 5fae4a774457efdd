#!/usr/bin/env python3
"""Plots for the docs, drawn from the tables the docs already hold (the numbers are measured or
predicted elsewhere: scripts/scale.sh, plexus-topo simulate; this only draws them):

  docs/images/scale-per-rank.png      docs/scale.md: init time and memory per rank against ranks
                                      (nvls, every rank connected to every rank), and per
                                      all-reduce algorithm at 576 ranks
  docs/images/simulator-a100.png      docs/simulator.md: published vs predicted busbw over the
                                      8x A100 sweep, and the error of every validation point
  docs/images/netns-2x2.png           docs/performance.md: Plexus, Open MPI and Gloo between two
                                      network namespaces (2 x 2 ranks, 10 Gbit/s veth)

Run from the repository root: python3 scripts/doc_plots.py (needs matplotlib: pip install
matplotlib, or Debian's python3-matplotlib with /usr/bin/python3). Re-run after editing a table.
"""
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "docs", "images")


def tables(path):
    """Every Markdown table of `path`: a list of (header cells, rows of cells)."""
    out, header, rows = [], None, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("|"):
                cells = [c.strip() for c in line.strip("|").split("|")]
                if header is None:
                    header = cells
                elif not all(re.fullmatch(r"-+", c) for c in cells):
                    rows.append(cells)
            elif header is not None:
                out.append((header, rows))
                header, rows = None, []
    if header is not None:
        out.append((header, rows))
    return out


def first_number(cell):
    m = re.search(r"[-+]?\d+(?:\.\d+)?", cell.replace(",", ""))
    return float(m.group(0)) if m else None


def size_bytes(cell):
    m = re.fullmatch(r"(\d+)\s*([KMG]?)B?", cell.strip())
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]


def scale_plot():
    ts = [t for t in tables(os.path.join(ROOT, "docs", "scale.md")) if t[0][:2] == ["ranks", "algo"]]
    if len(ts) < 2:
        sys.exit("docs/scale.md: the two per-rank tables (ranks | algo | ...) were not found")
    nvls = [r for r in ts[0][1] if r[1] == "nvls"]
    at576 = [r for r in ts[1][1] if r[0] == "576"]
    h = ts[0][0]
    col = {name: h.index(name) for name in h}
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(15, 4.5))
    ranks = [int(r[0]) for r in nvls]
    a1.plot(ranks, [first_number(r[col["init ms (slowest)"]]) / 1000 for r in nvls], marker="o")
    a1.set(xlabel="ranks (processes on 2 vCPUs)", ylabel="init, slowest rank (s)",
           title="init time, nvls (all-to-all connected)")
    a2.plot(ranks, [first_number(r[col["peak RSS MiB (median / max)"]]) for r in nvls], marker="o",
            label="peak RSS, median")
    a2.plot(ranks, [first_number(r[col["shm MiB/rank (median / max)"]]) for r in nvls], marker="s",
            label="shared memory, median")
    a2.set(xlabel="ranks", ylabel="MiB per rank", title="memory per rank, nvls")
    a2.legend()
    names = [r[1] for r in at576]
    peers = [first_number(r[col["peers/rank (max)"]]) for r in at576]
    rss = [first_number(r[col["peak RSS MiB (median / max)"]]) for r in at576]
    a3.bar(names, rss, color="tab:blue")
    for i, p in enumerate(peers):
        a3.annotate(f"{int(p)} peers", (i, rss[i]), ha="center", va="bottom", fontsize=8)
    a3.set(ylabel="peak RSS per rank, median (MiB)", title="576 ranks: memory follows peers")
    for a in (a1, a2):
        a.set_xscale("log", base=2)
        a.set_xticks(ranks, [str(r) for r in ranks])
        a.grid(alpha=0.3)
    fig.tight_layout()
    out = os.path.join(IMAGES, "scale-per-rank.png")
    fig.savefig(out, dpi=90)
    return out


def simulator_plot():
    ts = tables(os.path.join(ROOT, "docs", "simulator.md"))
    sweep = next((t for t in ts if t[0][:3] == ["size", "published busbw", "predicted busbw"]), None)
    points = next((t for t in ts if t[0][:2] == ["system (source)", "size"]), None)
    if sweep is None or points is None:
        sys.exit("docs/simulator.md: the calibration or validation table was not found")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(14, 4.8))
    sizes = [size_bytes(r[0]) for r in sweep[1]]
    a1.plot(sizes, [first_number(r[1]) for r in sweep[1]], marker="o", label="published (nccl-tests)")
    a1.plot(sizes, [first_number(r[2]) for r in sweep[1]], marker="x", ls="--", label="predicted")
    a1.set(xscale="log", yscale="log", xlabel="bytes", ylabel="busbw (GB/s)",
           title="8x A100 all-reduce: calibration sweep")
    a1.set_xscale("log", base=2)
    a1.grid(alpha=0.3)
    a1.legend()
    labels, errors = [], []
    for r in points[1]:
        err = first_number(r[4])
        if err is None:
            continue
        name = re.sub(r"\s*\(.*?\)", "", r[0]).replace("`", "")
        labels.append(f"{name}, {r[1]}")
        errors.append(err)
    colors = ["tab:green" if abs(e) <= 10 else "tab:red" for e in errors]
    a2.barh(range(len(errors)), errors, color=colors)
    a2.set_yticks(range(len(errors)), labels, fontsize=7)
    a2.axvline(10, color="grey", ls=":")
    a2.axvline(-10, color="grey", ls=":")
    a2.invert_yaxis()
    a2.set(xlabel="predicted vs published busbw (%)", title="validation points (goal: within 10 %)")
    fig.tight_layout()
    out = os.path.join(IMAGES, "simulator-a100.png")
    fig.savefig(out, dpi=90)
    return out


def netns_plot():
    ts = tables(os.path.join(ROOT, "docs", "performance.md"))
    t = next((t for t in ts if t[0][:1] == ["size (netns 2x2)"]), None)
    if t is None:
        sys.exit("docs/performance.md: the netns 2x2 table was not found")
    header, rows = t
    sizes = [size_bytes(r[0]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for col, name in enumerate(header[1:], start=1):
        ax.plot(sizes, [first_number(r[col]) for r in rows], marker="o", label=name)
    ax.axhline(1.25, color="grey", ls=":", label="link (10 Gbit/s)")
    ax.set_xscale("log", base=2)
    ax.set(xlabel="bytes", ylabel="busbw (GB/s), median of 3",
           title="all-reduce between two netns hosts, 2 x 2 ranks")
    ax.set_xticks(sizes, [r[0] for r in rows])
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = os.path.join(IMAGES, "netns-2x2.png")
    fig.savefig(out, dpi=90)
    return out


def main():
    os.makedirs(IMAGES, exist_ok=True)
    for made in (scale_plot(), simulator_plot(), netns_plot()):
        print("wrote", os.path.relpath(made, ROOT))


if __name__ == "__main__":
    main()
