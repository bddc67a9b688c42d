"""Reads an uncompressed callgrind dump (`--compress-strings=no
--compress-pos=no`) into instruction counts, for selfcost.py and callers.py."""
import collections


def parse(path):
    """(self cost per function, inclusive cost per (caller, callee) call)."""
    self_ = collections.Counter(); calls = collections.Counter()
    fn = None; after = False; cfn = None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("fn="): fn = line[3:]; continue
        if line.startswith("cfn="): cfn = line[4:]; continue
        if line.startswith("calls="): after = True; continue
        if line and (line[0].isdigit() or line[0] in "+-*"):
            p = line.split()
            if len(p) >= 2:
                if after: calls[(fn, cfn)] += int(p[1]); after = False
                else: self_[fn] += int(p[1])
    return self_, calls
