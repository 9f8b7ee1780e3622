"""Live-source speed: ketui's EtcdSource side by side with etcdctl, in the same run, as ratios.

Fills a real etcd (tests/etcd_harness.py) with ``--keys`` keys shaped
``/registry/<resource>/<ns>/<name>`` and ~2 KB values (Txn batches over gRPC, several in flight:
the fastest load path; writing is done by this benchmark only, never by ketui), then measures,
ketui and etcdctl alternating, ``--runs`` times each after one warm-up run of each:

* listing keys-only into ketui's KeyIndex  vs  ``etcdctl get /registry/ --prefix --keys-only``
* fetching every value                       vs  ``etcdctl get /registry/ --prefix -w json``
* replaying ``--events`` watch events        vs  ``etcdctl watch --rev R --prefix /registry/``
* scanning ``etcdctl snapshot save`` output with SnapshotSource's scanner, in MB/s
  (vs ``etcdctl snapshot status`` reading the same file)

Ratios are ketui time / etcdctl time: below 1.0 means ketui is faster. etcdctl's times include
its process start and printing, which is what a user compares against. Reported: the median and
best time of each side, and the median of the per-run ratios (each ketui run against the etcdctl
run right after it, so both saw the same machine load).

Run from the repository root:  .venv/bin/python -m benchmarks.sources [--keys 100000]
The etcd server is the tests' (tests/etcd_harness.py: the etcd 3.5 that scripts/install.sh
unpacked, else the one on PATH); ``KETUI_TEST_ETCD=/usr/bin/etcd`` (and ``KETUI_TEST_ETCDCTL``)
runs against another, etcdctl included. The first line printed names the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc.aio
from etcd3.etcdrpc import rpc_pb2, rpc_pb2_grpc

from ketui.core.index.keyindex import KeyIndex
from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.etcd.source import EtcdSource
from ketui.core.sources.snapshot.index import scan_snapshot
from tests.etcd_harness import ETCD, ETCDCTL, EtcdServer, etcd_version

RESOURCES = ("pods", "configmaps", "secrets", "deployments", "replicasets", "events", "leases")
BATCH = 100  # puts per Txn (etcd's default --max-txn-ops is 128)
IN_FLIGHT = 8
MEASURES = ("list", "values", "watch", "snapshot")


def _value(rng: random.Random, size: int) -> bytes:
    return b"k8s\x00" + rng.randbytes(size // 2).hex().encode()[: size - 4]


async def put_all(endpoint: str, count: int, item: Callable[[int], tuple[bytes, bytes]]) -> None:
    """Write ``item(i)`` (key, value) for i below ``count``: Txn batches over gRPC, several in
    flight (the fastest load path; benchmarks write, ketui never does)."""
    async with grpc.aio.insecure_channel(endpoint.removeprefix("http://")) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        queue = list(range(0, count, BATCH))

        async def worker() -> None:
            while queue:
                first = queue.pop()
                ops = []
                for i in range(first, min(first + BATCH, count)):
                    key, value = item(i)
                    put = rpc_pb2.PutRequest(key=key, value=value)
                    ops.append(rpc_pb2.RequestOp(request_put=put))
                await kv.Txn(rpc_pb2.TxnRequest(success=ops))

        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))


async def fill(endpoint: str, keys: int, value_size: int, name: str = "obj") -> None:
    """Write ``keys`` Kubernetes-shaped keys with ``value_size``-byte values."""
    rng = random.Random(len(name))

    def item(i: int) -> tuple[bytes, bytes]:
        resource = RESOURCES[i % len(RESOURCES)]
        return f"/registry/{resource}/ns-{i % 40}/{name}-{i:07d}".encode(), _value(rng, value_size)

    await put_all(endpoint, keys, item)


def etcdctl(server: EtcdServer, *args: str) -> float:
    """Seconds for one etcdctl run, output read and discarded."""
    assert ETCDCTL, "etcdctl is not installed"
    start = time.perf_counter()
    subprocess.run(
        [ETCDCTL, *args], env=server.etcdctl_env(), check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def etcdctl_watch(server: EtcdServer, start_revision: int, events: int) -> float:
    """Seconds until ``etcdctl watch --rev`` has printed ``events`` events (3 lines each)."""
    assert ETCDCTL, "etcdctl is not installed"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [ETCDCTL, "watch", "--prefix", "/registry/", "--rev", str(start_revision)],
        env=server.etcdctl_env(),
        stdout=subprocess.PIPE,
    )
    assert proc.stdout
    lines = 0
    while lines < 3 * events:
        chunk = os.read(proc.stdout.fileno(), 1 << 20)
        if not chunk:
            raise RuntimeError("etcdctl watch ended early")
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    proc.kill()
    proc.wait()
    return elapsed


@dataclass
class Row:
    """Times of one measure: ketui's and etcdctl's runs, in the order they alternated."""

    label: str
    command: str
    ketui: list[float]
    etcdctl: list[float]

    @property
    def ratio(self) -> float:
        """Median of the per-run ratios."""
        return statistics.median(k / c for k, c in zip(self.ketui, self.etcdctl, strict=True))


async def compare(
    runs: int,
    label: str,
    command: str,
    ketui: Callable[[], Awaitable[object]],
    etcdctl: Callable[[], float],
) -> Row:
    """Alternate ketui and etcdctl ``runs`` times after one unmeasured warm-up of each."""
    row = Row(label, command, [], [])
    for run in range(runs + 1):
        start = time.perf_counter()
        await ketui()
        ketui_s = time.perf_counter() - start
        etcdctl_s = await asyncio.to_thread(etcdctl)
        if run:
            row.ketui.append(ketui_s)
            row.etcdctl.append(etcdctl_s)
    return row


async def run(args: argparse.Namespace) -> None:
    print(f"etcd {etcd_version()} ({ETCD}), etcdctl {ETCDCTL}")
    server = EtcdServer(extra_args=["--quota-backend-bytes", str(8 << 30)]).start()
    try:
        started = time.perf_counter()
        await fill(server.endpoint, args.keys, args.value_size)
        load_s = time.perf_counter() - started
        print(f"loaded {args.keys} keys of {args.value_size} B in {load_s:.1f} s")
        source = EtcdSource(EtcdConfig(endpoints=[server.endpoint], command_timeout=60))
        watch_from = await source.current_revision() + 1
        await fill(server.endpoint, args.events, args.value_size, name="event")

        rows: list[Row] = []
        keys = args.keys + args.events

        async def list_into_index() -> None:
            index = KeyIndex()
            async for page in source.list_keys(b"/registry/", page_size=args.page_size):
                index.add_many(page)
            assert len(index) == keys

        measures = args.measures
        if "list" in measures:
            rows.append(
                await compare(
                    args.runs,
                    "list keys-only into KeyIndex",
                    "etcdctl get --keys-only",
                    list_into_index,
                    lambda: etcdctl(server, "get", "/registry/", "--prefix", "--keys-only"),
                )
            )

        async def fetch_values() -> None:
            total = 0
            async for page in source.list_values(b"/registry/", page_size=args.page_size):
                total += len(page)
            assert total == keys

        if "values" in measures:
            rows.append(
                await compare(
                    args.runs,
                    "fetch all values",
                    "etcdctl get -w json",
                    fetch_values,
                    lambda: etcdctl(server, "get", "/registry/", "--prefix", "-w", "json"),
                )
            )

        async def replay() -> None:
            seen = 0
            async for _event in source.watch(b"/registry/", start_revision=watch_from):
                seen += 1
                if seen == args.events:
                    return

        if "watch" in measures:
            rows.append(
                await compare(
                    args.runs,
                    f"replay {args.events} watch events",
                    "etcdctl watch --rev",
                    replay,
                    lambda: etcdctl_watch(server, watch_from, args.events),
                )
            )
        await source.close()

        size = 0
        if "snapshot" in measures:
            with tempfile.TemporaryDirectory(prefix="ketui-bench-") as tmp:
                path = Path(tmp) / "snapshot.db"
                server.etcdctl("snapshot", "save", str(path))
                size = path.stat().st_size

                async def scan() -> None:
                    await asyncio.to_thread(lambda: scan_snapshot(path).close())

                rows.append(
                    await compare(
                        args.runs,
                        "snapshot scan",
                        "etcdctl snapshot status",
                        scan,
                        lambda: etcdctl(server, "snapshot", "status", str(path), "-w", "json"),
                    )
                )
    finally:
        server.cleanup()

    print(f"\n{'measure':<34}{'ketui median (best)':>21}{'etcdctl median (best)':>23}{'ratio':>7}")
    for row in rows:
        ketui = f"{statistics.median(row.ketui):.3f}s ({min(row.ketui):.3f})"
        etcdctl_ = f"{statistics.median(row.etcdctl):.3f}s ({min(row.etcdctl):.3f})"
        print(f"{row.label:<34}{ketui:>21}{etcdctl_:>23}{row.ratio:>6.2f}x  {row.command}")
    if "snapshot" in args.measures:
        median_s, best_s = statistics.median(rows[-1].ketui), min(rows[-1].ketui)
        print(
            f"\nsnapshot: {size / 1e6:.1f} MB scanned at {size / median_s / 1e6:.0f} MB/s"
            f" (median; best {size / best_s / 1e6:.0f} MB/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--value-size", type=int, default=2048)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--measures",
        type=lambda text: text.split(","),
        default=list(MEASURES),
        help=f"comma-separated subset of {','.join(MEASURES)} (default: all)",
    )
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
