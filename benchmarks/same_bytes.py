"""Whether two run directories hold the same outputs, file by file.

Usage: python benchmarks/same_bytes.py RUN_A RUN_B

Hashes every output file of both runs (the manifest and the databases left out, as
:func:`bureau.rundir.content_hashes` does) and prints how many are byte-identical, then every
file that differs or is only in one of them. Exits 1 when any differs: a change meant to keep a
run's bytes is checked by running the same scenario with the code before and after it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bureau.rundir import content_hashes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    before, after = content_hashes(args.before), content_hashes(args.after)
    same = sorted(p for p in before.keys() & after.keys() if before[p] == after[p])
    changed = sorted(p for p in before.keys() & after.keys() if before[p] != after[p])
    print(f"{len(same)} files byte-identical")
    for label, paths in (
        ("differs", changed),
        (f"only in {args.before}", sorted(before.keys() - after.keys())),
        (f"only in {args.after}", sorted(after.keys() - before.keys())),
    ):
        for path in paths:
            print(f"  {label}: {path}")
    return 1 if changed or before.keys() != after.keys() else 0


if __name__ == "__main__":
    sys.exit(main())
