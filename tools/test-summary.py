#!/usr/bin/env python3
"""Prints 'N passed, M failed[, K skipped]' from meson's testlog.json.

Counts TAP subtests (GTest cases) where a program reported them, and the
program itself otherwise.  A program that failed without reporting a
failing subtest (a crash, a timeout, a leak found at exit) counts as one
failure.  Exits 1 when anything failed or nothing ran."""
import json
import re
import sys

OK = re.compile(r'^ok\b')
NOT_OK = re.compile(r'^not ok\b')
SKIP = re.compile(r'#\s*skip', re.IGNORECASE)


def main(path):
    passed = failed = skipped = 0
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            entries = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        entries = []
    for entry in entries:
        result = entry.get('result', '')
        lines = (entry.get('stdout') or '').splitlines()
        ok = sum(1 for l in lines if OK.match(l) and not SKIP.search(l))
        skip = sum(1 for l in lines if (OK.match(l) or NOT_OK.match(l)) and SKIP.search(l))
        bad = sum(1 for l in lines if NOT_OK.match(l) and not SKIP.search(l))
        program_failed = result not in ('OK', 'SKIP', 'EXPECTEDFAIL')
        if ok + skip + bad == 0:
            if result == 'SKIP':
                skipped += 1
            elif program_failed:
                failed += 1
            else:
                passed += 1
            continue
        passed += ok
        skipped += skip
        failed += bad
        if program_failed and bad == 0:
            failed += 1
    line = f'{passed} passed, {failed} failed'
    if skipped:
        line += f', {skipped} skipped'
    print(line)
    return 1 if failed or passed == 0 else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else 'build/meson-logs/testlog.json'))
