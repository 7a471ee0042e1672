#!/usr/bin/env python3
"""Sum cargo's per-binary "test result:" lines into one closing line.

Usage: test-summary.py LOG... Also counts the C tests' "name: N passed, N failed"
lines. Prints "tests: N passed, M failed, K ignored" and
exits non-zero if nothing ran or anything failed.
"""
import re
import sys

passed = failed = ignored = 0
for path in sys.argv[1:]:
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except FileNotFoundError:
        continue
    for m in re.finditer(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", text):
        passed += int(m.group(1))
        failed += int(m.group(2))
        ignored += int(m.group(3))
    for m in re.finditer(r"^[\w-]+: (\d+) passed, (\d+) failed$", text, re.M):
        passed += int(m.group(1))
        failed += int(m.group(2))
print(f"tests: {passed} passed, {failed} failed" + (f", {ignored} skipped" if ignored else ""))
sys.exit(1 if failed or passed == 0 else 0)
