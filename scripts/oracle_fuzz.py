#!/usr/bin/env python3
"""The long differential run against the upstream oracle (issue 11): many random objects of every
stored group/version/kind, made and stored by Kubernetes' own Go code, must print in ketui exactly
as upstream prints them (JSON values and key order, YAML bytes), in the default view and in the
oracle's release's view. The suite runs 50 per kind (tests/oracle/test_oracle.py); this runs more.

Usage (from the repository root)::

    .venv/bin/python scripts/oracle_fuzz.py                        # 1,000 per kind, 2 workers
    .venv/bin/python scripts/oracle_fuzz.py --per-kind 200 --seed 7 --workers 1

Each worker runs the oracle with its own seed (seed, seed + 1, ...) and an equal share of the
objects; a mismatch prints the stored value (base64) to reproduce with ``ketui decode``.
Exit status 1 when any object differs.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.oracle.differential import Tally, build_oracle, fuzz, newer_than_known, release_of


def _run(oracle: Path, per_kind: int, seed: int) -> tuple[str, Tally]:
    version, objects = fuzz(oracle, per_kind, seed)
    tally = Tally(release_of(version))
    if why := newer_than_known(tally.release):
        raise SystemExit(why)
    for obj in objects:
        tally.add(obj)
    return version, tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-kind", type=int, default=1000, help="objects per kind (1000)")
    parser.add_argument("--seed", type=int, default=1136, help="first worker's seed (1136)")
    parser.add_argument("--workers", type=int, default=2, help="parallel workers (2)")
    args = parser.parse_args()
    started = time.perf_counter()
    oracle = build_oracle()
    shares = [args.per_kind // args.workers] * args.workers
    shares[0] += args.per_kind - sum(shares)
    with ProcessPoolExecutor(args.workers) as pool:
        seeds = range(args.seed, args.seed + args.workers)
        runs = list(pool.map(_run, [oracle] * args.workers, shares, seeds))
    version, total = runs[0][0], Tally(runs[0][1].release)
    for _version, tally in runs:
        total.made.update(tally.made)
        total.equal.update(tally.equal)
        total.total.update(tally.total)
        total.unmade += tally.unmade
        total.mismatches += tally.mismatches
    elapsed = time.perf_counter() - started
    made = sum(total.made.values())
    print(
        f"oracle: Kubernetes {version} libraries; seeds {args.seed}..{args.seed + args.workers - 1}"
    )
    print(
        f"{made} random objects of {len(total.made)} group/version/kinds ({args.per_kind} each), "
        f"{total.compared} decodes (default view and --kube-version {total.release}): "
        f"{sum(total.equal.values())} equal, {total.compared - sum(total.equal.values())} differ, "
        f"{len(total.unmade)} not made; {elapsed:.0f} s"
    )
    print("equal per kind:")
    print(total.per_kind())
    for line in total.unmade[:10] + total.mismatches[:10]:
        print("  ", line[:2000])
    return 0 if total.all_equal else 1


if __name__ == "__main__":
    sys.exit(main())
