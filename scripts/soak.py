#!/usr/bin/env python3
"""Long fault run of the live source against a real 3-member etcd on loopback (issue 5).

Usage (from the repository root)::

    .venv/bin/python scripts/soak.py                     # 10,000 keys, a member killed every 3 s
    .venv/bin/python scripts/soak.py --keys 50000 --rate 500 --kill-every 2 --partitions 3
    .venv/bin/python scripts/soak.py --json figures.json

What runs (scenarios in ``tests/reliability/faults_support.py``, the same code as the CI slice
in ``tests/reliability/test_faults.py``):

1. member kills: a writer puts, updates and deletes ``--keys`` keys while ``EtcdSource.watch``
   streams the prefix; every ``--kill-every`` seconds a member gets SIGKILL and is restarted,
   alternately the one the watch streams from and the leader;
2. ``--partitions`` times: the watched member is frozen with SIGSTOP, the source must leave it
   within keepalive_time + keepalive_timeout, then SIGCONT;
3. compaction past a paused watch: "compacted at N", then resync on the same source.

Every watched event is compared with etcd's own record (``etcdctl watch --rev``) and final state
(``etcdctl get``). Exit code 1 when an event was lost, duplicated, reordered or differs, a frozen
member was not left in time, or compaction was not reported and resynced.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.etcd_harness import ETCD, ETCDCTL, MISSING_REASON, EtcdCluster  # noqa: E402
from tests.reliability.faults_support import (  # noqa: E402
    run_compaction,
    run_member_kills,
    run_partition,
    source_config,
)

DETECTION_SLACK = 2.0
"""Seconds allowed beyond keepalive_time + keepalive_timeout for leaving a frozen member."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=10_000, help="keys to write (default 10000)")
    parser.add_argument("--rate", type=float, default=400, help="writes per second (default 400)")
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between kills")
    parser.add_argument("--down-for", type=float, default=1.0, help="seconds a member stays dead")
    parser.add_argument("--partitions", type=int, default=2, help="SIGSTOP rounds (default 2)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser.parse_args(argv)


async def soak(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    cluster = EtcdCluster(size=3).start()
    ok = True
    figures: dict[str, Any] = {}
    try:
        started = time.monotonic()
        kills = await run_member_kills(
            cluster,
            prefix=b"/registry/soak/kills/",
            keys=args.keys,
            rate=args.rate,
            kill_every=args.kill_every,
            down_for=args.down_for,
            catch_up=120,
        )
        print(kills.summary(), flush=True)
        ok &= kills.verdict.ok and kills.watch_error is None and kills.keys == args.keys
        figures["member_kills"] = {
            **dataclasses.asdict(kills),
            "max_stall": kills.max_stall,
            "max_stall_watched": kills.max_stall_watched,
        }
        figures["partitions"] = []
        for round_ in range(args.partitions):
            # the source starts on its first endpoint: rotate them so each round freezes another
            shift = round_ % len(cluster.endpoints)
            endpoints = cluster.endpoints[shift:] + cluster.endpoints[:shift]
            report = await run_partition(
                cluster,
                prefix=f"/registry/soak/partition-{round_}/".encode(),
                rate=150,
                config=source_config(cluster, endpoints=endpoints),
            )
            print(report.summary(), flush=True)
            detection = report.detection
            ok &= detection is not None and detection <= report.bound + DETECTION_SLACK
            ok &= report.verdict.ok and report.watch_error is None
            figures["partitions"].append(dataclasses.asdict(report))
        compaction = await run_compaction(cluster, prefix=b"/registry/soak/compaction/")
        print(compaction.summary(), flush=True)
        expected = f"compacted at {compaction.compacted_at}"
        ok &= compaction.error_behind == expected == compaction.error_old_start
        ok &= compaction.resync_matches and compaction.events_after_resync > 0
        figures["compaction"] = dataclasses.asdict(compaction)
        figures["seconds"] = round(time.monotonic() - started, 1)
    finally:
        cluster.cleanup()
    return ok, figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (ETCD and ETCDCTL):
        print(MISSING_REASON, file=sys.stderr)
        return 2
    ok, figures = asyncio.run(soak(args))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=repr) + "\n")
    print("soak: OK" if ok else "soak: FAILED", f"({figures.get('seconds', '?')}s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
