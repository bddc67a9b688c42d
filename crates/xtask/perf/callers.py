#!/usr/bin/env python3
"""usage: callers.py FILE N REGEX   -> callers of matching functions (inclusive cost of those calls)
          callers.py FILE N -i [TOP] -> inclusive cost per function (self + callees)
          callers.py FILE N -c REGEX -> callees of matching functions"""
import sys, re, collections

import cgdump

f, n, arg = sys.argv[1], int(sys.argv[2]), sys.argv[3]
self_, calls = cgdump.parse(f)
if arg == "-i":
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 60
    inc = collections.Counter(self_)
    for (a, b), c in calls.items():
        if a != b: inc[a] += c
    for name, c in inc.most_common(top): print(f"{c/n:9.0f}  {name[:180]}")
elif arg == "-c":
    rx = re.compile(sys.argv[4])
    for (a, b), c in sorted(calls.items(), key=lambda x: -x[1]):
        if rx.search(a) and c/n >= 5: print(f"{c/n:9.0f}  {a[:60]} -> {b[:140]}")
else:
    rx = re.compile(arg)
    for (a, b), c in sorted(calls.items(), key=lambda x: -x[1]):
        if rx.search(b) and c/n >= 5: print(f"{c/n:9.0f}  {a[:150]} -> {b[:50]}")
