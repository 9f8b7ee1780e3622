"""Content search speed: ``ketui grep`` (``ketui.core.search``) side by side with
``etcdctl get --prefix --print-value-only | grep -c`` in the same run, on live etcd and a snapshot.

Fills a real etcd (tests/etcd_harness.py, 8 GiB quota) with ``--keys`` realistic Pods (the
decode benchmark's: managedFields, probes, volumes, status; ~2.3 KB stored) under
``/registry/pods/ns-N/``; one in a thousand runs the image ``registry.example.com/rare/needle``.
The two Pods are encoded once and every key gets its own same-length name stamped into the bytes
(encoding a million Pods would take minutes). Then, ketui and the pipeline alternating, ``--runs``
times each (median, best), through the API (no process start for ketui):

* a literal that hits 0.1 % of the Pods (``needle``), over live etcd;
* the same literal with ``--field spec.containers[*].image``, and with ``--field metadata``
  (which it never hits);
* the same over the ``etcdctl snapshot save`` file, after the snapshot is loaded (the load is
  timed on its own: it is what opening the file costs, search or not).

Run from the repository root:  .venv/bin/python -m benchmarks.search [--keys 100000 1000000]
The etcd server is the tests' (``KETUI_TEST_ETCD`` picks another). Writing is done by this
benchmark only, never by ketui.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks.decode import make_pod
from benchmarks.sources import put_all
from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.k8s.shown import Decoder
from ketui.core.search import Query, SearchStats, parse_field_path, search
from ketui.core.source import Source
from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.etcd.source import EtcdSource
from ketui.core.sources.snapshot.source import SnapshotSource
from tests.etcd_harness import ETCDCTL, EtcdServer, etcd_version

NEEDLE = "needle"
RARE_IMAGE = "registry.example.com/rare/needle:v9.9.9"
EVERY = 1000  # one Pod in EVERY holds the needle
STAMP = "zzzzzzz"  # the name part replaced by each Pod's number (7 hex digits)
QUOTA = 8 << 30
NAMESPACES = 40


def templates() -> tuple[bytes, bytes]:
    """(common Pod, rare Pod) as stored, with the placeholder STAMP in the name and uid."""
    pods = []
    for image in (None, RARE_IMAGE):
        pod = make_pod(0)
        pod["metadata"]["name"] = f"web-7db6d8ff4d-{STAMP}"
        pod["metadata"]["uid"] = f"6c8e3e5a-2b4e-4b6f-9a1d-{STAMP}00000"
        if image is not None:
            pod["spec"]["containers"][0]["image"] = image
        pods.append(encode_object(pod))
    assert NEEDLE.encode() not in pods[0] and pods[1].count(NEEDLE.encode()) == 1
    return pods[0], pods[1]


async def fill(endpoint: str, keys: int) -> int:
    """Write ``keys`` Pods; returns how many hold the needle."""
    common, rare = templates()

    def item(i: int) -> tuple[bytes, bytes]:
        value = (rare if i % EVERY == EVERY - 1 else common).replace(
            STAMP.encode(), f"{i:07x}".encode()
        )
        return f"/registry/pods/ns-{i % NAMESPACES}/web-7db6d8ff4d-{i:07x}".encode(), value

    await put_all(endpoint, keys, item)
    return keys // EVERY


async def ketui_hits(source: Source, query: Query) -> int:
    stats = SearchStats()
    async for _ in search(source, query, Decoder(), prefix=b"/registry/", stats=stats):
        pass
    return stats.hits


def pipeline(server: EtcdServer, *, per_namespace: bool) -> tuple[float, int]:
    """Seconds and count of ``etcdctl get --prefix --print-value-only | grep -c needle``; with
    ``per_namespace`` one etcdctl per namespace, for where one etcdctl cannot list them all (its
    one Range reply would be the whole store)."""
    assert ETCDCTL, "etcdctl is not installed"
    get = f"'{ETCDCTL}' --command-timeout=600s get --prefix --print-value-only"
    listing = (
        f"for n in $(seq 0 {NAMESPACES - 1}); do {get} /registry/pods/ns-$n/ || exit 1; done"
        if per_namespace else f"{get} /registry/"
    )  # fmt: skip
    start = time.perf_counter()
    out = subprocess.run(
        ["bash", "-c", f"set -o pipefail; ({listing}) | grep -c -a {NEEDLE}"],
        env=server.etcdctl_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if out.returncode not in (0, 1) or (out.returncode == 1 and out.stderr.strip()):
        raise RuntimeError(f"etcdctl failed: {out.stderr.strip()[-300:]}")
    return seconds, int(out.stdout.strip() or 0)


async def timed(run: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    start = time.perf_counter()
    hits = await run()
    return time.perf_counter() - start, hits


def _stat(times: list[float]) -> str:
    return f"{statistics.median(times):7.3f}s ({min(times):.3f})"


async def measure(keys: int, runs: int) -> None:
    server = EtcdServer(extra_args=["--quota-backend-bytes", str(QUOTA)]).start()
    try:
        started = time.perf_counter()
        rare = await fill(server.endpoint, keys)
        took = time.perf_counter() - started
        print(f"\n{keys:,} Pods ({rare} with the needle) written in {took:.1f} s")
        literal = Query(NEEDLE)
        image = Query(NEEDLE, field=parse_field_path("spec.containers[*].image"))
        metadata = Query(NEEDLE, field=parse_field_path("metadata"))
        live = EtcdSource(EtcdConfig(endpoints=[server.endpoint], command_timeout=120.0))
        rows: dict[str, list[float]] = {}
        per_namespace = False
        try:
            pipeline(server, per_namespace=False)
        except RuntimeError as error:
            per_namespace = True
            print(f"  one etcdctl get cannot list them ({str(error)[-200:]}): one per namespace")
        try:
            for _ in range(runs + 1):  # the first round warms up and is not counted
                seconds, count = pipeline(server, per_namespace=per_namespace)
                assert count == rare, (count, rare)
                rows.setdefault("etcdctl | grep -c (live)", []).append(seconds)
                for label, query, want in (
                    ("ketui literal (live)", literal, rare),
                    ("ketui --field spec.containers[*].image (live)", image, rare),
                    ("ketui --field metadata (live)", metadata, 0),
                ):
                    seconds, hits = await timed(lambda q=query: ketui_hits(live, q))
                    assert hits == want, (label, hits, want)
                    rows.setdefault(label, []).append(seconds)
        finally:
            await live.close()
        with tempfile.TemporaryDirectory(prefix="ketui-search-bench-") as tmp:
            path = Path(tmp) / "snap.db"
            subprocess.run(
                [ETCDCTL or "etcdctl", "snapshot", "save", str(path)], env=server.etcdctl_env(),
                check=True, capture_output=True,
            )  # fmt: skip
            size = path.stat().st_size
            for _ in range(runs):
                snapshot = SnapshotSource(path)
                try:
                    start = time.perf_counter()
                    await snapshot.load()
                    rows.setdefault("snapshot load (scan + index)", []).append(
                        time.perf_counter() - start
                    )
                    for label, query, want in (
                        ("ketui literal (snapshot, loaded)", literal, rare),
                        ("ketui --field spec.containers[*].image (snapshot)", image, rare),
                    ):
                        seconds, hits = await timed(
                            lambda q=query, s=snapshot: ketui_hits(s, q)  # type: ignore[misc]
                        )
                        assert hits == want, (label, hits, want)
                        rows.setdefault(label, []).append(seconds)
                finally:
                    await snapshot.close()
        for label, times in rows.items():
            counted = times[1:] if "(live)" in label else times
            print(f"  {label:<52} {_stat(counted)}")
        base = statistics.median(rows["etcdctl | grep -c (live)"][1:])
        lit = statistics.median(rows["ketui literal (live)"][1:])
        field = statistics.median(rows["ketui --field spec.containers[*].image (live)"][1:])
        snap = statistics.median(rows["ketui literal (snapshot, loaded)"])
        snap_field = statistics.median(rows["ketui --field spec.containers[*].image (snapshot)"])
        print(f"  live literal / etcdctl pipeline: {lit / base:.2f}x (target <= 1.0x)")
        print(f"  live field / literal: {field / lit:.2f}x; snapshot field / literal: "
              f"{snap_field / snap:.2f}x (target <= 3x)")  # fmt: skip
        print(f"  snapshot ({size / 1e6:.0f} MB) literal: {snap:.3f} s (target <= 2 s at 1M keys)")
    finally:
        server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--keys", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    print(f"etcd {etcd_version()}, etcdctl {ETCDCTL}")
    for keys in args.keys:
        asyncio.run(measure(keys, args.runs))


if __name__ == "__main__":
    main()
