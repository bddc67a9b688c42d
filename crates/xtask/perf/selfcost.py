#!/usr/bin/env python3
"""Exclusive instruction counts per function from an uncompressed callgrind dump.
usage: selfcost.py FILE N [TOP]  (N = requests, to print per request)"""
import sys

import cgdump

f, n = sys.argv[1], int(sys.argv[2]); top = int(sys.argv[3]) if len(sys.argv) > 3 else 45
self_, _ = cgdump.parse(f)
total = sum(self_.values())
print(f"total {total} = {total/n:.0f} per request")
for name, c in self_.most_common(top):
    print(f"{c/n:9.0f} {100*c/total:5.1f}%  {name[:170]}")
