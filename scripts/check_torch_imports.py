#!/usr/bin/env python3
"""Checks that Plexus's libnccl.so.2 can stand in for the NCCL that PyTorch links.

    check_torch_imports.py exports  --lib build/lib/plexus/libnccl.so.2 [--list tests/data/...]
    check_torch_imports.py bindings --lib build/lib/plexus/libnccl.so.2

exports: every nccl* symbol that the installed PyTorch's libtorch_cuda.so imports
(nm -D --undefined-only) is exported by --lib (nm -D --defined-only); the missing ones are named.
Also checked against --list (the imports of the PyTorch wheel python/ci.sh installs, kept in the
tree so the check runs where no PyTorch with CUDA is installed), and --lib must export no cuda*/cu*
symbol (the static CUDA runtime stays hidden: -Wl,--exclude-libs in src/api/CMakeLists.txt).

bindings: with LD_PRELOAD=--lib, `LD_BIND_NOW=1 LD_DEBUG=bindings python -c "import torch"` binds
every nccl* import of libtorch_cuda.so to --lib, none to the NCCL the wheel ships. LD_BIND_NOW makes
the loader resolve every import at load time (it would otherwise bind functions on first call, and
`import torch` calls none of NCCL's). Skips (exit 77, one line) without a PyTorch that has
libtorch_cuda.so.

PyTorch is looked for with $PLEXUS_TORCH_PYTHON, then the environment python/ci.sh makes
($PLEXUS_TORCH_CI_VENV or ~/.cache/plexus/venv-torch-<python tag>), then python3.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77


def candidates():
    env = os.environ.get("PLEXUS_TORCH_PYTHON")
    if env:
        yield env
    tag = sys.implementation.cache_tag
    cache = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    venv = os.environ.get("PLEXUS_TORCH_CI_VENV", f"{cache}/plexus/venv-torch-{tag}")
    yield f"{venv}/bin/python"
    yield "python3"


def find_torch():
    """(python, libtorch_cuda.so) of the first PyTorch with CUDA found, or (None, reason)."""
    probe = (
        "import importlib.util as u; s = u.find_spec('torch'); "
        "print(s.submodule_search_locations[0] if s else '')"
    )
    seen = []
    for py in candidates():
        try:
            out = subprocess.run([py, "-c", probe], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            seen.append(f"{py}: cannot run")
            continue
        where = out.stdout.strip()
        if not where:
            seen.append(f"{py}: no torch")
            continue
        lib = Path(where) / "lib" / "libtorch_cuda.so"
        if lib.exists():
            return py, lib
        seen.append(f"{py}: torch at {where} has no lib/libtorch_cuda.so (CPU-only build)")
    return None, "; ".join(seen) or "no python found"


def nm(lib, *flags):
    out = subprocess.run(["nm", "-D", *flags, str(lib)], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in out.stdout.splitlines() if line.strip()}


def torch_imports(libtorch_cuda):
    return sorted(s for s in nm(libtorch_cuda, "--undefined-only") if s.startswith("nccl"))


def read_list(path):
    return sorted(
        line.strip()
        for line in Path(path).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )


def check_exports(args):
    lib = Path(args.lib)
    exported = nm(lib, "--defined-only")
    ok = True
    leaked = sorted(s for s in exported if s.startswith("cu") or s.startswith("__cuda"))
    if leaked:
        ok = False
        print(f"FAIL: {lib} exports {len(leaked)} CUDA symbols (the static runtime must stay "
              f"hidden): {' '.join(leaked[:20])}")
    else:
        print(f"ok: {lib} exports no cuda*/cu* symbol")
    nccl = sorted(s for s in exported if s.startswith("nccl"))
    print(f"{lib} exports {len(nccl)} nccl* symbols")

    listed = read_list(args.list) if args.list else []
    py, where = find_torch()
    sets = []
    if py:
        live = torch_imports(where)
        sets.append((f"libtorch_cuda.so of {py} ({where})", live))
        if listed and set(live) != set(listed):
            print(f"note: the installed PyTorch imports differ from {args.list}: "
                  f"new {sorted(set(live) - set(listed))}, gone {sorted(set(listed) - set(live))}")
    else:
        print(f"note: no PyTorch with libtorch_cuda.so ({where}); checking the stored list only")
    if listed:
        sets.append((f"the stored list {args.list}", listed))
    if not sets:
        print("SKIP: no PyTorch with libtorch_cuda.so and no --list")
        return SKIP
    for name, imports in sets:
        missing = [s for s in imports if s not in exported]
        if missing:
            ok = False
            print(f"FAIL: {name} imports {len(imports)} nccl* symbols; {lib} lacks "
                  f"{len(missing)}: {' '.join(missing)}")
        else:
            print(f"ok: {name}: all {len(imports)} imported nccl* symbols are exported")
    return 0 if ok else 1


def parse_bindings(text, importer):
    """{symbol: target file} for the nccl* symbols `importer` was bound to, from LD_DEBUG output."""
    bound = {}
    for line in text.splitlines():
        if "binding file " not in line or "`nccl" not in line:
            continue
        try:
            src = line.split("binding file ", 1)[1].split(" [", 1)[0]
            dst = line.split(" to ", 1)[1].split(" [", 1)[0]
            sym = line.rsplit("`", 1)[1].rstrip("'")
        except IndexError:
            continue
        if os.path.basename(src) == importer:
            bound[sym] = dst
    return bound


def check_bindings(args):
    lib = Path(args.lib).resolve()
    py, where = find_torch()
    if not py:
        print(f"SKIP: no PyTorch with libtorch_cuda.so ({where})")
        return SKIP
    imports = torch_imports(where)
    with tempfile.TemporaryDirectory(prefix="plexus-ld-debug-") as tmp:
        env = dict(os.environ, LD_PRELOAD=str(lib), LD_BIND_NOW="1", LD_DEBUG="bindings",
                   LD_DEBUG_OUTPUT=f"{tmp}/ld")
        run = subprocess.run([py, "-c", "import torch; print(torch.__version__)"], env=env,
                             capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            print(f"FAIL: import torch with LD_PRELOAD={lib} failed ({run.returncode}):\n"
                  f"{run.stderr[-2000:]}")
            return 1
        text = "".join(p.read_text(errors="replace") for p in Path(tmp).iterdir())
    version = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "?"
    bound = parse_bindings(text, "libtorch_cuda.so")
    to_plexus = [s for s in imports if s in bound and Path(bound[s]).resolve() == lib]
    elsewhere = {s: bound[s] for s in imports if s in bound and Path(bound[s]).resolve() != lib}
    unbound = [s for s in imports if s not in bound]
    print(f"torch {version} ({py}): libtorch_cuda.so imports {len(imports)} nccl* symbols; "
          f"{len(to_plexus)} bound to {lib}")
    for s, dst in sorted(elsewhere.items()):
        print(f"FAIL: {s} bound to {dst}")
    if unbound:
        print(f"FAIL: no binding seen for {len(unbound)}: {' '.join(unbound)}")
    return 0 if not elsewhere and not unbound else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["exports", "bindings"])
    ap.add_argument("--lib", required=True, help="Plexus's libnccl.so.2")
    ap.add_argument("--list", help="stored list of libtorch_cuda.so's nccl* imports")
    args = ap.parse_args()
    if not Path(args.lib).exists():
        print(f"FAIL: {args.lib} does not exist (build the plexus target)")
        return 1
    return check_exports(args) if args.mode == "exports" else check_bindings(args)


if __name__ == "__main__":
    sys.exit(main())
