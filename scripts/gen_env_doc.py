#!/usr/bin/env python3
"""Regenerates the table in docs/environment.md from src/base/env_registry.cpp (the one source)."""
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
src = (root / "src/base/env_registry.cpp").read_text()
rows = re.findall(r'\{"([A-Z0-9_]+)", "([^"]*)", "((?:[^"\\]|\\.)*)", (true|false)\}', src)
out = [
    "# Environment variables",
    "",
    "Every variable Plexus reads, with its default and meaning (generated from",
    "`src/base/env_registry.cpp` by `scripts/gen_env_doc.py`). Where an NCCL alias is listed, the",
    "NCCL spelling is honoured when the `PLEXUS_` one is not set. Sizes accept K/M/G suffixes.",
    "",
    "| variable | default | NCCL alias | meaning |",
    "|---|---|---|---|",
]
for name, default, meaning, alias in rows:
    alias_txt = "`NCCL_%s`" % name if alias == "true" else "-"
    meaning = meaning.replace("|", "\\|").replace('\\"', '"')
    out.append("| `PLEXUS_%s` | %s | %s | %s |" % (name, default or "(unset)", alias_txt, meaning))
(root / "docs/environment.md").write_text("\n".join(out) + "\n")
