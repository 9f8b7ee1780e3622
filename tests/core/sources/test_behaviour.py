"""One behavioural suite for the three sources built from the same data.

The data is written to a real etcd, then saved with ``etcdctl get "" --prefix -w json`` (dump) and
``etcdctl snapshot save`` (snapshot); the live etcd itself is the third source. Nothing is written
after that, so all three must answer alike. The oracle is the dump read with the json module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ketui.core.source import KeyInfo, Source
from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.open import open_paths
from tests import cluster_data
from tests.cluster_data import Entry
from tests.etcd_harness import EtcdServer

pytestmark = pytest.mark.etcd

PREFIXES = [b"", b"/registry/", b"/registry/configmaps/", b"/registry/configmaps/default/",
            b"/other/", b"/registry/pods", b"/nothing/"]  # fmt: skip


@dataclass
class Saved:
    server: EtcdServer
    dump: Path
    snapshot: Path
    revision: int
    entries: list[Entry]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Saved]:
    server = EtcdServer().start()
    try:
        root = tmp_path_factory.mktemp("saved")
        cluster_data.populate(server)
        dump = cluster_data.dump(server, root / "dump.json")
        snapshot = cluster_data.snapshot(server, root / "snapshot.db")
        revision, entries = cluster_data.entries_of_dump(dump)
        yield Saved(server, dump, snapshot, revision, entries)
    finally:
        server.cleanup()


@pytest.fixture(params=["live", "dump", "snapshot"])
async def source(request: pytest.FixtureRequest, saved: Saved) -> AsyncIterator[Source]:
    if request.param == "live":
        from ketui.core.sources.etcd.source import EtcdSource

        opened: Source = EtcdSource(EtcdConfig(endpoints=[saved.server.endpoint]))
    else:
        opened = open_paths([saved.dump if request.param == "dump" else saved.snapshot])
    try:
        yield opened
    finally:
        await opened.close()


def expected_under(saved: Saved, prefix: bytes) -> list[Entry]:
    return [e for e in saved.entries if e.key.startswith(prefix)]


async def listing(source: Source, prefix: bytes, page_size: int = 10_000) -> list[KeyInfo]:
    return [i async for page in source.list_keys(prefix, page_size=page_size) for i in page]


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_list_keys(source: Source, saved: Saved, prefix: bytes) -> None:
    infos = await listing(source, prefix)
    expected = expected_under(saved, prefix)
    assert [(i.key, i.create_revision, i.mod_revision, i.version, i.lease) for i in infos] == [
        (e.key, e.create_revision, e.mod_revision, e.version, e.lease) for e in expected
    ]
    # Sizes are known offline; keys-only listings of live etcd may leave them out.
    for info, entry in zip(infos, expected, strict=True):
        assert info.size is None or info.size == len(entry.value)


async def test_paging_gives_the_same_keys(source: Source, saved: Saved) -> None:
    pages = [page async for page in source.list_keys(b"/registry/", page_size=4)]
    assert [len(p) for p in pages] == [4, 2]
    assert [i.key for p in pages for i in p] == [
        i.key for i in await listing(source, b"/registry/")
    ]


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_count(source: Source, saved: Saved, prefix: bytes) -> None:
    assert await source.count(prefix) == len(expected_under(saved, prefix))


async def test_get(source: Source, saved: Saved) -> None:
    for entry in saved.entries:
        kv = await source.get(entry.key)
        assert kv is not None, entry.key
        assert (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease) == (
            entry.key,
            entry.value,
            entry.create_revision,
            entry.mod_revision,
            entry.version,
            entry.lease,
        )
    assert await source.get(b"/registry/configmaps/default/gone") is None
    assert await source.get(b"/registry/configmaps/default") is None


async def test_get_at_the_current_revision(source: Source, saved: Saved) -> None:
    kv = await source.get(b"/registry/configmaps/default/cm1", revision=saved.revision)
    assert kv is not None and kv.value == cluster_data.CM1_V3


async def test_status(source: Source, saved: Saved) -> None:
    status = await source.status()
    assert status.key_count == len(saved.entries)
    assert status.revision == saved.revision
    assert status.kind in {"etcd", "dump", "snapshot"}
    assert status.read_only is True


async def test_history(source: Source, saved: Saved) -> None:
    """Live etcd and a snapshot hold every revision; a dump holds the last one only."""
    status = await source.status()
    history = await source.history(b"/registry/configmaps/default/cm1")
    values = [r.kv.value for r in history.revisions]
    versions = [r.kv.version for r in history.revisions]
    if status.kind == "dump":
        assert values == [cluster_data.CM1_V3] and versions == [3]
    else:
        assert values == [cluster_data.CM1_V1, cluster_data.CM1_V2, cluster_data.CM1_V3]
        assert versions == [1, 2, 3]
        gone = await source.history(b"/registry/configmaps/default/gone")
        assert [r.type.value for r in gone.revisions] == ["put", "delete"]
        assert gone.revisions[-1].kv.mod_revision == saved.revision
        assert history.compact_revision == 0


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_filter_values_tests_every_current_value_once(
    source: Source, saved: Saved, prefix: bytes
) -> None:
    """Each key's current value is tested once (updated keys: the last value; deleted keys:
    never), the kept ones come back in key order, and progress ends at the key count."""
    expected = expected_under(saved, prefix)
    tested: list[bytes] = []
    reports: list[tuple[int, int]] = []

    def holds_data(buf: object, start: int, end: int) -> bool:
        value = bytes(buf[start:end])  # type: ignore[index]
        tested.append(value)
        return b"data" in value

    kept = [
        kv
        async for page in source.filter_values(
            prefix, holds_data, on_progress=lambda done, total: reports.append((done, total))
        )
        for kv in page
    ]
    want = [e for e in expected if b"data" in e.value]
    assert [(kv.key, kv.value, kv.mod_revision, kv.version) for kv in kept] == [
        (e.key, e.value, e.mod_revision, e.version) for e in want
    ]
    assert len(tested) == len(expected)
    assert all(any(e.value in v for v in tested) for e in expected)  # (a record: more)
    if expected:
        assert reports[-1] == (len(expected), len(expected))
