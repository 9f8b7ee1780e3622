"""MemorySource: reads at revisions, history, compaction, replayed and live watches."""

from __future__ import annotations

import asyncio

import pytest

from ketui.core.source import CompactedError, EventType, Source, SourceError
from ketui.core.sources.memory import MemoryOp, MemorySource

OPS = [
    MemoryOp.put(b"/registry/pods/default/www", b"pending"),  # rev 2
    MemoryOp.put(b"/registry/events/default/www.1", b"scheduled", lease=42),  # rev 3
    MemoryOp.put(b"/registry/pods/default/www", b"running"),  # rev 4
    MemoryOp.put(b"/registry/configmaps/default/cm", b"a"),  # rev 5
    MemoryOp.delete(b"/registry/configmaps/default/cm"),  # rev 6
    MemoryOp.delete(b"/registry/configmaps/default/absent"),  # no write
]


async def collect(source: MemorySource, prefix: bytes = b"", **kw: int) -> list[tuple[str, int]]:
    return [(e.type.value, e.revision) async for e in source.watch(prefix, **kw)]


async def test_is_a_source_with_status() -> None:
    source = MemorySource(OPS, kind="demo", description="demo cluster")
    assert isinstance(source, Source)
    status = await source.status()
    assert (status.kind, status.description, status.revision, status.key_count) == (
        "demo",
        "demo cluster",
        6,
        2,
    )
    assert not source.live


async def test_list_count_and_get_at_revisions() -> None:
    source = MemorySource(OPS)
    pages = [page async for page in source.list_keys(b"/registry/", page_size=1)]
    assert [[i.key for i in page] for page in pages] == [
        [b"/registry/events/default/www.1"],
        [b"/registry/pods/default/www"],
    ]
    pod = pages[1][0]
    assert (pod.size, pod.create_revision, pod.mod_revision, pod.version) == (7, 2, 4, 2)
    assert pages[0][0].lease == 42
    assert await source.count(b"/registry/pods/") == 1
    at5 = [i.key async for page in source.list_keys(revision=5) for i in page]
    assert b"/registry/configmaps/default/cm" in at5
    old = await source.get(b"/registry/pods/default/www", revision=3)
    assert old is not None and old.value == b"pending"
    assert await source.get(b"/registry/configmaps/default/cm") is None
    assert await source.get(b"/registry/configmaps/default/cm", revision=5) is not None
    with pytest.raises(SourceError):
        await source.get(b"/registry/pods/default/www", revision=99)


async def test_history_and_compaction() -> None:
    source = MemorySource(OPS)
    history = await source.history(b"/registry/configmaps/default/cm")
    assert [(r.type, r.kv.mod_revision) for r in history.revisions] == [
        (EventType.PUT, 5),
        (EventType.DELETE, 6),
    ]
    source.compact(4)
    pod = await source.history(b"/registry/pods/default/www")
    assert [r.kv.value for r in pod.revisions] == [b"running"] and pod.compact_revision == 4
    with pytest.raises(CompactedError):
        await source.get(b"/registry/pods/default/www", revision=3)
    with pytest.raises(CompactedError):
        await collect(source, start_revision=2)
    assert await collect(source, start_revision=5) == [("put", 5), ("delete", 6)]


async def test_offline_watch_replays_and_ends() -> None:
    source = MemorySource(OPS)
    assert await collect(source, start_revision=1) == [
        ("put", 2),
        ("put", 3),
        ("put", 4),
        ("put", 5),
        ("delete", 6),
    ]
    assert await collect(source, b"/registry/pods/", start_revision=3) == [("put", 4)]
    assert await collect(source) == []  # from now: nothing
    events = [e async for e in source.watch(b"/registry/pods/", start_revision=4)]
    assert events[0].prev_kv is not None and events[0].prev_kv.value == b"pending"


async def test_live_watch_follows_new_writes() -> None:
    source = MemorySource(OPS, live=True)
    seen: list[tuple[str, bytes, int]] = []

    async def follow() -> None:
        async for event in source.watch(b"/registry/pods/", start_revision=4):
            seen.append((event.type.value, event.kv.key, event.revision))
            if len(seen) == 3:
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0)
    source.apply_put(b"/registry/leases/x/y", b"ignored by the prefix")
    source.apply_put(b"/registry/pods/default/new", b"v")
    assert source.apply_delete(b"/registry/pods/default/absent") is None
    source.apply_delete(b"/registry/pods/default/new")
    await asyncio.wait_for(task, 2)
    assert seen == [
        ("put", b"/registry/pods/default/www", 4),
        ("put", b"/registry/pods/default/new", 8),
        ("delete", b"/registry/pods/default/new", 9),
    ]


async def test_close_ends_live_watches() -> None:
    source = MemorySource(live=True)
    task = asyncio.create_task(collect(source))
    await asyncio.sleep(0)
    await source.close()
    assert await asyncio.wait_for(task, 2) == []


def test_revisions_must_not_go_back() -> None:
    with pytest.raises(ValueError):
        MemorySource([MemoryOp.put(b"a", b"1", revision=5), MemoryOp.put(b"b", b"2", revision=4)])
    same = MemorySource(
        [MemoryOp.put(b"a", b"1", revision=5), MemoryOp.put(b"b", b"2", revision=5)]
    )
    assert same.revision == 5
