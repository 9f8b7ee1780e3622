"""KeyIndex benchmark: build time from sorted KeyInfo pages and children() latency.

Run: ``.venv/bin/python benchmarks/keyindex.py [N ...]`` (default 100000 and 1000000 keys). Keys are
shaped like a real cluster: ``/registry/<resource>/<namespace>/<name>`` over 40 resources and 100
namespaces, with a few cluster-scoped resources.
"""

from __future__ import annotations

import gc
import sys
import time

from ketui.core.index.keyindex import KeyIndex
from ketui.core.source import EventType, KeyInfo, KeyValue, WatchEvent

RESOURCES = [f"resource{i:02d}" for i in range(40)]
NAMESPACES = [f"namespace-{i:03d}" for i in range(100)]


def make_infos(n: int) -> list[KeyInfo]:
    """``n`` keys in key order, spread evenly over resources and namespaces."""
    per_leaf_dir = max(1, n // (len(RESOURCES) * len(NAMESPACES)))
    keys: list[bytes] = []
    for res in RESOURCES:
        for ns in NAMESPACES:
            for i in range(per_leaf_dir):
                keys.append(f"/registry/{res}/{ns}/object-{i:07d}-abcdef".encode())
    keys = keys[:n]
    keys.sort()
    return [KeyInfo(k, i + 1, i + 1, 1, 0, 2000 + i % 1000) for i, k in enumerate(keys)]


def bench(n: int) -> None:
    infos = make_infos(n)
    pages = [infos[i : i + 10_000] for i in range(0, len(infos), 10_000)]
    gc.collect()
    start = time.perf_counter()
    index = KeyIndex()
    for page in pages:
        index.add_many(page)
    build = time.perf_counter() - start
    assert len(index) == len(infos)
    # The build leaves a full (generation 2) garbage collection due; it would otherwise land on
    # the first query and be billed to it. Measured apart; an app can run it (or gc.freeze())
    # right after loading.
    t0 = time.perf_counter()
    gc.collect()
    full_gc = time.perf_counter() - t0

    timings = []
    for path in ("", "/registry", "/registry/resource07", "/registry/resource07/namespace-042"):
        t0 = time.perf_counter()
        nodes = index.children(path)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        index.children(path)
        again = time.perf_counter() - t0
        timings.append(
            f"{path or '<root>'}: {len(nodes)} children {first * 1e3:.2f} ms "
            f"(cached {again * 1e3:.2f} ms)"
        )

    value = b"x" * 2500
    events = [
        WatchEvent(EventType.PUT, KeyValue(info.key, value, 1, n + i, 2))
        for i, info in enumerate(infos[:: max(1, n // 10_000)])
    ]
    t0 = time.perf_counter()
    for event in events:
        index.apply(event)
    per_event = (time.perf_counter() - t0) / len(events)

    t0 = time.perf_counter()
    found = sum(1 for _ in index.find("object-0000042"))
    find = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.stats()
    stats = time.perf_counter() - t0

    print(
        f"{n:>9,} keys: build {build:.2f} s ({build / n * 1e6:.2f} us/key), "
        f"then one full gc {full_gc * 1e3:.0f} ms"
    )
    for line in timings:
        print(f"           children {line}")
    print(
        f"           apply {per_event * 1e6:.1f} us/event; find {find * 1e3:.0f} ms "
        f"({found} hits); stats {stats * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["100000", "1000000"]:
        bench(int(arg))
