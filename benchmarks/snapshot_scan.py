"""Snapshot scan speed: ketui's bbolt index build vs ``etcdctl snapshot status`` on the same file.

Fills a real etcd (tests/etcd_harness.py) with Kubernetes-shaped keys and ~2 KB values until the
snapshot is about ``--mb`` megabytes (bbolt leaves pages about half full, so values are half of it;
some keys are overwritten and deleted, so there is history), saves a snapshot with ``etcdctl
snapshot save`` and times a full scan (:func:`ketui.core.sources.snapshot.index.scan_snapshot`),
best of ``--runs`` with a warm page cache; then the progressive load the TUI uses
(:meth:`~ketui.core.sources.snapshot.source.SnapshotSource.scan_keys`): when the first and the last
batch of keys arrive, when the index is complete, and the longest the event loop was kept waiting.

Run from the repository root:  .venv/bin/python -m benchmarks.snapshot_scan [--mb 150]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import grpc
from etcd3.etcdrpc import rpc_pb2, rpc_pb2_grpc

from ketui.core.sources.snapshot.index import scan_snapshot
from ketui.core.sources.snapshot.source import SnapshotSource
from tests.etcd_harness import ETCDCTL, EtcdServer

RESOURCES = ("pods", "configmaps", "secrets", "deployments", "services/specs", "events")
BATCH = 100  # puts per Txn (etcd's default --max-txn-ops is 128)


def fill(endpoint: str, target_bytes: int, value_size: int = 2048) -> int:
    """Write keys until about ``target_bytes`` of values are stored; returns the key count."""
    channel = grpc.insecure_channel(endpoint.removeprefix("http://"))
    kv = rpc_pb2_grpc.KVStub(channel)
    rng = random.Random(7)
    written, keys = 0, 0
    names: list[bytes] = []
    while written < target_bytes:
        ops = []
        for _ in range(BATCH):
            resource = RESOURCES[keys % len(RESOURCES)]
            key = f"/registry/{resource}/ns-{keys % 50}/object-{keys:07d}".encode()
            names.append(key)
            value = b"k8s\x00" + rng.randbytes(value_size // 2).hex().encode()[: value_size - 4]
            ops.append(rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value)))
            keys += 1
            written += len(value)
        kv.Txn(rpc_pb2.TxnRequest(success=ops))
    # some history: overwrite and delete a few percent of the keys
    for key in rng.sample(names, len(names) // 20):
        kv.Put(rpc_pb2.PutRequest(key=key, value=b"k8s\x00overwritten"))
    for key in rng.sample(names, len(names) // 50):
        kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=key))
    channel.close()
    return keys


def time_scan(path: Path, runs: int) -> tuple[float, int, int]:
    """Best wall time of a full scan, with the number of revisions and live keys found."""
    best = float("inf")
    revisions = live = 0
    for _ in range(runs):
        start = time.perf_counter()
        index = scan_snapshot(path)
        best = min(best, time.perf_counter() - start)
        revisions, live = len(index.mains), index.key_count
        index.close()
    return best, revisions, live


async def _scan_keys(path: Path) -> tuple[float, float, float, float]:
    """(first batch, last batch, index complete) in seconds, and the event loop's longest lag."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:  # what a UI would feel: how late a 5 ms timer fires
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - before - 0.005)

    ticker = asyncio.create_task(tick())
    source = SnapshotSource(path)
    start = time.perf_counter()
    first = last = 0.0
    async for _changes in source.scan_keys():
        last = time.perf_counter() - start
        first = first or last
    end = time.perf_counter() - start
    done.set()
    await ticker
    await source.close()
    return first, last, end, max(lags)


def time_scan_keys(path: Path, runs: int) -> tuple[float, float, float, float]:
    """Best of ``runs`` for each figure of :func:`_scan_keys`."""
    results = [asyncio.run(_scan_keys(path)) for _ in range(runs)]
    first, last, end, lag = (min(values) for values in zip(*results, strict=True))
    return first, last, end, lag


def time_etcdctl_status(path: Path, runs: int) -> float:
    assert ETCDCTL, "etcdctl is not installed"
    best = float("inf")
    env = dict(os.environ, ETCDCTL_API="3")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [ETCDCTL, "snapshot", "status", str(path), "-w", "json"],
            env=env,
            check=True,
            capture_output=True,
        )
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=150, help="approximate snapshot size in MB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--snapshot", type=Path, help="scan this existing snapshot instead")
    parser.add_argument("--keep", type=Path, help="save the generated snapshot here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ketui-bench-") as tmp:
        path = args.snapshot
        if path is None:
            server = EtcdServer(extra_args=["--quota-backend-bytes", str(8 << 30)]).start()
            try:
                keys = fill(server.endpoint, args.mb << 19)
                path = Path(tmp) / "snapshot.db"
                server.etcdctl("snapshot", "save", str(path))
                if args.keep:
                    shutil.copyfile(path, args.keep)
            finally:
                server.cleanup()
            print(f"wrote {keys} keys")
        size = path.stat().st_size
        scan_time, revisions, live = time_scan(path, args.runs)
        etcdctl_time = time_etcdctl_status(path, args.runs)
        print(f"snapshot: {size / 1e6:.1f} MB, {revisions} revisions, {live} live keys")
        timings = (("ketui scan", scan_time), ("etcdctl snapshot status", etcdctl_time))
        for label, seconds in timings:
            print(f"{label + ':':<25}{seconds:.3f} s  {size / seconds / 1e6:.0f} MB/s")
        first, last, end, lag = time_scan_keys(path, args.runs)
        print(
            f"scan_keys: first batch {first:.3f} s, last batch {last:.3f} s, index complete "
            f"{end:.3f} s, event loop at most {lag * 1000:.0f} ms late"
        )


if __name__ == "__main__":
    main()
