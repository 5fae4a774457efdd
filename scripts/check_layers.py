#!/usr/bin/env python3
"""Checks that every #include of the library respects the layers (docs/design.md, "Layers").

Each source file belongs to the layer of its folder; each quoted include is resolved the way the
compiler would (the including file's folder first, then the layer include roots) and must land in
the file's own layer or one it may depend on. Relative climbs ("../") are refused outright. The
build enforces the same rule through include roots (cmake/PlexusLayers.cmake); this script also
catches what a compiler cannot see, e.g. a same-named header reached through a relative path.

  python3 scripts/check_layers.py            # the repository this script is in
  python3 scripts/check_layers.py --root DIR # another tree laid out the same way (tests use this)
Exits 1 and names file, line, include and the two layers on every violation.
"""
import argparse
import re
import sys
from pathlib import Path

# layer -> (folder, layers it may include). Keep in step with the CMake targets.
LAYERS = {
    "base": ("src/base", []),
    "kernels": ("src/kernels", ["base"]),
    "topology": ("topology", ["base"]),
    "transports": ("transports", ["base"]),
    "plan": ("src/plan", []),
    "algorithms": ("algorithms", ["plan", "topology", "base"]),
    "engine": ("src/engine", ["plan", "transports", "kernels", "base"]),
    "runtime": ("src/runtime",
                ["engine", "algorithms", "plan", "transports", "topology", "kernels", "base"]),
    "api": ("src/api",
            ["runtime", "engine", "algorithms", "plan", "transports", "topology", "kernels",
             "base"]),
}
# Public headers every layer may include (vocabulary and the plugin ABI), and those only the api
# layer may include.
VOCABULARY = {"plexus/types.hpp", "plexus/transport.h"}
API_HEADERS = {"plexus/nccl.h", "plexus/plexus.hpp", "plexus/launch.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(path: Path, root: Path):
    rel = path.relative_to(root).as_posix()
    for name, (folder, _) in LAYERS.items():
        if rel.startswith(folder + "/"):
            return name
    return None


def resolve(header: str, including: Path, root: Path):
    """The layer a quoted include lands in, or a string saying why it is refused."""
    if ".." in Path(header).parts:
        return "relative climb"
    if header in VOCABULARY:
        return "vocabulary"
    if header in API_HEADERS:
        return "api"
    if (including.parent / header).exists():
        return layer_of(including.parent / header, root)
    first = header.split("/", 1)[0]
    if first in LAYERS and (root / LAYERS[first][0] / header.split("/", 1)[1]).exists():
        return first
    return "unresolved"


def check(root: Path):
    problems = []
    for name, (folder, allowed) in LAYERS.items():
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in {".c", ".cpp", ".h", ".hpp", ".cu", ".cuh"}:
                continue
            for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = resolve(m.group(1), path, root)
                ok = target in (name, "vocabulary") or target in allowed
                if not ok:
                    rel = path.relative_to(root).as_posix()
                    problems.append(f'{rel}:{lineno}: layer {name} includes "{m.group(1)}" '
                                    f"({target}); {name} may include only "
                                    f"{', '.join([name] + allowed) or 'itself'}")
    return problems


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = p.parse_args()
    problems = check(args.root.resolve())
    for line in problems:
        print(line)
    if problems:
        print(f"check_layers: {len(problems)} include(s) break the layers (docs/design.md)")
        return 1
    print(f"check_layers: every include of the {len(LAYERS)} layers stays in its layer or points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
