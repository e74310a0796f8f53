"""Regenerates (or checks) the committed golden outputs; see tests/golden/README.md.

    python tests/golden/regen.py            # rewrite expected/ and print what changed
    python tests/golden/regen.py --check    # only report differences (exit status 1 if any)
    python tests/golden/regen.py strategies_v2 costs   # only these scenarios

Every scenario is run twice before anything is written: output that differs between two runs
in one process is a determinism bug, not a new golden value, and is refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import goldenlib as g  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", help="scenario names (default: all)")
    ap.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = ap.parse_args(argv)

    fx = g.load_fixtures()
    names = args.scenarios or list(fx["scenarios"])
    unknown = [n for n in names if n not in fx["scenarios"]]
    if unknown:
        ap.error(f"unknown scenario(s) {unknown}; known: {list(fx['scenarios'])}")

    inputs = g.build_inputs(fx)
    hashes = g.input_hashes(inputs)
    old_hashes = json.loads(g.INPUTS_FILE.read_text()) if g.INPUTS_FILE.exists() else {}
    changed = 0
    for k in sorted(set(hashes) | set(old_hashes)):
        if hashes.get(k) != old_hashes.get(k):
            print(f"input {k}: sha256 {old_hashes.get(k)} -> {hashes.get(k)}")
            changed += 1

    total = 0
    for name in names:
        first = g.run_scenario(fx, name, inputs)
        second = g.run_scenario(fx, name, inputs)
        for t in g.TABLES:
            if first[t] != second[t]:
                print(f"REFUSED: {name}.{t} differs between two runs (determinism bug)")
                return 2
        for t in g.TABLES:
            old = g.read_expected(name, t)
            lines = g.describe_diff(old, first[t])
            if lines:
                changed += 1
                print(f"{name}.{t}:")
                for line in lines:
                    print(f"    {line}")
                if not args.check:
                    g.write_expected(name, t, first[t])
            total += g.expected_path(name, t).stat().st_size if not args.check else 0
    # Files of scenarios that no longer exist.
    if not args.scenarios:
        wanted = {g.expected_path(n, t).name for n in names for t in g.TABLES}
        for p in sorted(g.EXPECTED.glob("*.arrows.gz")):
            if p.name not in wanted:
                changed += 1
                print(f"{p.name}: no longer a scenario" + ("" if args.check else " (removed)"))
                if not args.check:
                    p.unlink()
    if not args.check:
        g.INPUTS_FILE.write_text(json.dumps(hashes, indent=2, sort_keys=True) + "\n")
        print(f"golden outputs: {len(names)} scenarios, {total / 1024:.1f} KiB compressed")
    if changed == 0:
        print("no differences")
        return 0
    if args.check:
        return 1
    print("review the changes above (git diff --stat tests/golden) before committing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
