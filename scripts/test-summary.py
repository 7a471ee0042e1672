#!/usr/bin/env python3
"""Add up the results of `make test` into one closing line.

Usage: test-summary.py [--not-run FILE] LABEL=LOG...

Counts cargo's per-binary "test result:" lines, the C checks' and fuzz
targets' "name: N passed, N failed" lines, pytest's closing lines
("N passed, M failed in 1.2s") and Maven surefire's totals ("Tests run: N,
Failures: F, Errors: E, Skipped: S", the lines without "Time elapsed") of
each LOG, and prints

    tests: N passed, M failed (Rust 290, C 8963, fuzz targets 15, Rust under Miri 34)

then one line per check that could not run here (listed in the --not-run
file by scripts/deny.sh and scripts/miri.sh). Exits non-zero if anything
failed, if nothing ran, or if a LOG is missing.
"""
import re
import sys

args = sys.argv[1:]
not_run_path = None
if len(args) >= 2 and args[0] == "--not-run":
    not_run_path = args[1]
    args = args[2:]

passed = failed = ignored = 0
parts = []
missing = []
for arg in args:
    label, _, path = arg.partition("=")
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except FileNotFoundError:
        missing.append(path)
        continue
    p = f = 0
    for m in re.finditer(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", text):
        p += int(m.group(1))
        f += int(m.group(2))
        ignored += int(m.group(3))
    for m in re.finditer(r"^[\w-]+: (\d+) passed, (\d+) failed$", text, re.M):
        p += int(m.group(1))
        f += int(m.group(2))
    # pytest: "=== 3 failed, 40 passed, 1 skipped in 2.31s ===" (or with -q
    # the same without the "=" rules).
    for m in re.finditer(r"^=*\s*((?:\d+ \w+(?:, )?)+) in [\d.]+s\b.*$", text, re.M):
        for n, what in re.findall(r"(\d+) (\w+)", m.group(1)):
            if what == "passed":
                p += int(n)
            elif what in ("failed", "error", "errors"):
                f += int(n)
            elif what == "skipped":
                ignored += int(n)
    # Maven surefire totals (per-class lines end in "Time elapsed ...").
    for m in re.finditer(
        r"Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)\s*$", text, re.M
    ):
        run, fails, errors, skipped = (int(g) for g in m.groups())
        p += run - fails - errors - skipped
        f += fails + errors
        ignored += skipped
    passed += p
    failed += f
    parts.append(f"{label} {p}" + (f" ({f} failed)" if f else ""))

line = f"tests: {passed} passed, {failed} failed"
if ignored:
    line += f", {ignored} skipped"
print(f"{line} ({', '.join(parts)})")
for path in missing:
    print(f"MISSING LOG: {path}")
if not_run_path:
    try:
        for entry in open(not_run_path, encoding="utf-8"):
            if entry.strip():
                print(f"NOT RUN: {entry.strip()}")
    except FileNotFoundError:
        pass
sys.exit(1 if failed or missing or passed == 0 else 0)
