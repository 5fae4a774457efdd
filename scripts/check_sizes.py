#!/usr/bin/env python3
"""Checks the size limits of the library's code (issue 12; docs/design.md, "Layout").

No source file over 600 lines and no function over 80 lines in the library's layers (src/,
transports/, algorithms/, topology/) and the PyTorch backend (python/csrc); tests, tools, perf
and generated files aside. Function lengths come from lizard (https://github.com/terryyin/lizard,
`pip install lizard`), which parses C++ well enough to find function bodies. An exception needs
a line in scripts/size_exceptions.txt: `<path>[:<function>]  <one-line reason>`.

  python3 scripts/check_sizes.py          # exit 1 and a list when a limit is broken
Exits 77 (CTest's skip code) when lizard is not installed.
"""
import sys
from pathlib import Path

MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80
FOLDERS = ["src", "transports", "algorithms", "topology", "python/csrc"]
SUFFIXES = {".c", ".cpp", ".h", ".hpp", ".cu", ".cuh"}


def exceptions(root: Path):
    allowed = {}
    path = root / "scripts" / "size_exceptions.txt"
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, reason = line.partition(" ")
                if not reason.strip():
                    sys.exit(f"{path}: '{key}' needs a one-line reason")
                allowed[key] = reason.strip()
    return allowed


def main():
    try:
        import lizard
    except ImportError:
        print("check_sizes: lizard is not installed (pip install lizard): skipped")
        return 77
    root = Path(__file__).resolve().parent.parent
    allowed = exceptions(root)
    problems = []
    files = [p for f in FOLDERS for p in sorted((root / f).rglob("*")) if p.suffix in SUFFIXES]
    for path in files:
        rel = path.relative_to(root).as_posix()
        lines = path.read_text(errors="replace").count("\n")
        if lines > MAX_FILE_LINES and rel not in allowed:
            problems.append(f"{rel}: {lines} lines (limit {MAX_FILE_LINES})")
        for fn in lizard.analyze_file(str(path)).function_list:
            if fn.length > MAX_FUNCTION_LINES and f"{rel}:{fn.name}" not in allowed:
                problems.append(f"{rel}:{fn.start_line}: {fn.name} has {fn.length} lines "
                                f"(limit {MAX_FUNCTION_LINES})")
    for p in problems:
        print(p)
    if problems:
        print(f"check_sizes: {len(problems)} limit(s) broken; split by purpose, or add a line "
              "with the reason to scripts/size_exceptions.txt")
        return 1
    print(f"check_sizes: {len(files)} files within {MAX_FILE_LINES} lines, every function within "
          f"{MAX_FUNCTION_LINES} ({len(allowed)} listed exception(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
