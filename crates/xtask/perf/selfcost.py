#!/usr/bin/env python3
"""Exclusive and inclusive instruction counts per function from an uncompressed callgrind dump.
usage: selfcost.py FILE N [TOP]  (N = requests, to print per request)"""
import sys, re, collections
f, n = sys.argv[1], int(sys.argv[2]); top = int(sys.argv[3]) if len(sys.argv) > 3 else 45
self_ = collections.Counter(); incl_calls = collections.Counter()
fn = None; after_calls = False; cfn = None
for line in open(f, errors="replace"):
    line = line.rstrip("\n")
    if line.startswith("fn="): fn = line[3:]; continue
    if line.startswith("cfn="): cfn = line[4:]; continue
    if line.startswith("calls="): after_calls = True; continue
    if line and (line[0].isdigit() or line[0] in "+-*"):
        parts = line.split()
        if len(parts) >= 2:
            c = int(parts[1])
            if after_calls:
                incl_calls[(fn, cfn)] += c
                after_calls = False
            else:
                self_[fn] += c
total = sum(self_.values())
print(f"total {total} = {total/n:.0f} per request")
for name, c in self_.most_common(top):
    print(f"{c/n:9.0f} {100*c/total:5.1f}%  {name[:170]}")
