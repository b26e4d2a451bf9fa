#!/usr/bin/env python3
"""No source file of the three crates holds more than LIMIT lines of non-test code
(the lines before its `#[cfg(test)]` module): a file that grows past that is split by
responsibility. Function length is clippy's `too_many_lines` (Cargo.toml, clippy.toml)."""

import os
import sys

LIMIT = 420
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

too_long = []
for crate in ("auth-core", "user-store", "api"):
    src = os.path.join(ROOT, "crates", crate, "src")
    for folder, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
            code = next((i for i, line in enumerate(lines) if line.startswith("#[cfg(test)]")), len(lines))
            if code > LIMIT:
                too_long.append((code, os.path.relpath(path, ROOT)))

for count, path in sorted(too_long, reverse=True):
    print(f"{path}: {count} lines of non-test code (at most {LIMIT}); split it by responsibility")
sys.exit(1 if too_long else 0)
