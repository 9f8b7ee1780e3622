"""SnapshotSource against real etcd: what etcd answers live is what the snapshot answers offline.

A module-wide etcd takes writes, overwrites, deletes, a lease, a two-put transaction and a
compaction (all with etcdctl, recording the revision etcd gave each change), then
``etcdctl snapshot save``. The live server stays up so the snapshot can be checked against
``etcdctl get --rev N`` and so a running member's own ``member/snap/db`` can be opened.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ketui.core.index.keyindex import KeyIndex
from ketui.core.source import (
    CompactedError,
    EventType,
    KeyChanges,
    KeyValue,
    Source,
    SourceError,
)
from ketui.core.sources.snapshot import source as snapshot_module
from ketui.core.sources.snapshot.bbolt import BboltError, BboltFile
from ketui.core.sources.snapshot.index import SnapshotIndex, is_locked
from ketui.core.sources.snapshot.source import SnapshotSource
from tests.etcd_harness import EtcdServer
from tests.scan_gates import gate_chunks

pytestmark = pytest.mark.etcd


@dataclass(frozen=True)
class Op:
    """One change as etcd acknowledged it."""

    op: str  # "put" | "delete"
    key: bytes
    value: bytes
    revision: int


@dataclass
class Scenario:
    server: EtcdServer
    snapshot: Path
    ops: list[Op]
    compact: int
    revision: int
    lease: int


def _put(server: EtcdServer, key: str, value: bytes, *extra: str) -> Op:
    out = json.loads(server.etcdctl("put", key, *extra, "-w", "json", input=value).stdout)
    return Op("put", key.encode(), value, out["header"]["revision"])


def _delete(server: EtcdServer, key: str) -> Op:
    out = json.loads(server.etcdctl("del", key, "-w", "json").stdout)
    assert out["deleted"] == 1
    return Op("delete", key.encode(), b"", out["header"]["revision"])


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    server = EtcdServer().start()
    try:
        ops = [
            _put(server, "/registry/pods/default/a", b"a1"),
            _put(server, "/registry/pods/default/b", b"b1"),
            _put(server, "/registry/pods/default/a", b"a2"),
            _put(server, "/registry/configmaps/kube-system/c", b"c1"),
            _delete(server, "/registry/pods/default/b"),
            _put(server, "/registry/pods/default/d", b"d1"),
        ]
        compact = ops[-1].revision
        ops += [
            _put(server, "/registry/pods/default/a", b"a3"),
            _put(server, "/registry/pods/default/b", b"b2"),  # recreated after its delete
            _put(server, "/other/binary", b"\x00\xff" * 40),
            _put(server, "/registry/long/" + "x" * 300, b"a key over 127 bytes"),
            _delete(server, "/registry/pods/default/d"),
        ]
        lease = json.loads(server.etcdctl("lease", "grant", "600", "-w", "json").stdout)["ID"]
        ops.append(_put(server, "/registry/events/default/e", b"e1", f"--lease={lease:x}"))
        txn = json.loads(
            server.etcdctl(
                "txn", "-w", "json", input=b"\nput /registry/txn/x 1\nput /registry/txn/y 2\n\n\n"
            ).stdout
        )
        ops += [
            Op("put", b"/registry/txn/x", b"1", txn["header"]["revision"]),
            Op("put", b"/registry/txn/y", b"2", txn["header"]["revision"]),
        ]
        server.etcdctl("compact", str(compact), "--physical")
        snapshot = tmp_path_factory.mktemp("snapshot") / "etcd.db"
        server.etcdctl("snapshot", "save", str(snapshot))
        yield Scenario(server, snapshot, ops, compact, ops[-1].revision, lease)
    finally:
        server.cleanup()


@pytest.fixture
async def source(scenario: Scenario) -> AsyncIterator[SnapshotSource]:
    snapshot = SnapshotSource(scenario.snapshot)
    yield snapshot
    await snapshot.close()


def _etcd_listing(server: EtcdServer, revision: int | None = None) -> list[dict[str, object]]:
    args = ["get", "", "--prefix", "-w", "json"] + ([f"--rev={revision}"] if revision else [])
    kvs = json.loads(server.etcdctl(*args).stdout).get("kvs", [])
    return [
        {
            "key": base64.b64decode(kv["key"]),
            "value": base64.b64decode(kv.get("value", "")),
            "create_revision": kv["create_revision"],
            "mod_revision": kv["mod_revision"],
            "version": kv["version"],
            "lease": kv.get("lease", 0),
        }
        for kv in kvs
    ]


def _as_dict(kv: KeyValue) -> dict[str, object]:
    return {
        "key": kv.key,
        "value": kv.value,
        "create_revision": kv.create_revision,
        "mod_revision": kv.mod_revision,
        "version": kv.version,
        "lease": kv.lease,
    }


async def test_is_a_source(source: SnapshotSource) -> None:
    assert isinstance(source, Source)
    assert source.live is False


async def test_status(scenario: Scenario, source: SnapshotSource) -> None:
    status = await source.status()
    live = _etcd_listing(scenario.server)
    assert status.kind == "snapshot"
    assert status.description == str(scenario.snapshot)
    assert status.revision == scenario.revision
    assert status.compact_revision == scenario.compact
    assert status.db_size == scenario.snapshot.stat().st_size
    assert status.key_count == len(live)
    assert int(status.extra["revisions"]) > len(live)


async def test_list_and_get_match_etcd_at_every_revision(
    scenario: Scenario, source: SnapshotSource
) -> None:
    for revision in [None, *range(scenario.compact, scenario.revision + 1)]:
        expected = _etcd_listing(scenario.server, revision)
        pages = [page async for page in source.list_keys(revision=revision, page_size=3)]
        assert all(len(page) <= 3 for page in pages)
        listed = [info for page in pages for info in page]
        assert [i.key for i in listed] == [e["key"] for e in expected]
        for info, want in zip(listed, expected, strict=True):
            assert (info.create_revision, info.mod_revision, info.version, info.lease) == (
                want["create_revision"],
                want["mod_revision"],
                want["version"],
                want["lease"],
            )
            assert info.size == len(want["value"])  # type: ignore[arg-type]
            got = await source.get(info.key, revision=revision)
            assert got is not None and _as_dict(got) == want


async def test_progress_is_reported(scenario: Scenario) -> None:
    seen: list[tuple[int, int]] = []
    source = SnapshotSource(scenario.snapshot, on_progress=lambda *args: seen.append(args))
    try:
        await source.load()
        await asyncio.sleep(0)  # progress arrives through the event loop
    finally:
        await source.close()
    size = scenario.snapshot.stat().st_size
    assert seen and seen[-1] == (size, size)


async def test_lease_and_binary_values(scenario: Scenario, source: SnapshotSource) -> None:
    event = await source.get(b"/registry/events/default/e")
    assert event is not None and event.lease == scenario.lease
    binary = await source.get(b"/other/binary")
    assert binary is not None and binary.value == b"\x00\xff" * 40
    long = await source.get(b"/registry/long/" + b"x" * 300)
    assert long is not None and long.value == b"a key over 127 bytes"


async def test_deleted_keys_are_gone_now_but_visible_before(
    scenario: Scenario, source: SnapshotSource
) -> None:
    deleted = next(o for o in scenario.ops if o.op == "delete" and o.revision > scenario.compact)
    assert await source.get(deleted.key) is None
    before = await source.get(deleted.key, revision=deleted.revision - 1)
    assert before is not None and before.value == b"d1"
    assert await source.get(b"/no/such/key") is None


async def test_count(scenario: Scenario, source: SnapshotSource) -> None:
    for prefix in ("", "/registry/", "/registry/pods/", "/registry/pods/default/b", "/zzz"):
        out = json.loads(
            scenario.server.etcdctl("get", prefix, "--prefix", "--keys-only", "-w", "json").stdout
        )
        assert await source.count(prefix.encode()) == out.get("count", 0), prefix


async def test_compacted_revisions_are_refused(scenario: Scenario, source: SnapshotSource) -> None:
    below = scenario.compact - 1
    assert scenario.server.etcdctl("get", "x", f"--rev={below}", check=False).returncode != 0
    with pytest.raises(CompactedError) as caught:
        await source.get(b"/registry/pods/default/a", revision=below)
    assert caught.value.compact_revision == scenario.compact
    with pytest.raises(CompactedError):
        _ = [page async for page in source.list_keys(revision=below)]
    with pytest.raises(CompactedError):
        _ = [event async for event in source.watch(start_revision=below)]
    with pytest.raises(SourceError, match="future"):
        await source.get(b"/registry/pods/default/a", revision=scenario.revision + 1)


def _expected_history(scenario: Scenario, key: bytes) -> list[Op]:
    """What survives compaction: everything after it, and the last put at or before it."""
    ops = [op for op in scenario.ops if op.key == key]
    kept = [op for op in ops if op.revision > scenario.compact]
    older = [op for op in ops if op.revision <= scenario.compact]
    if older and older[-1].op == "put":
        kept.insert(0, older[-1])
    return kept


async def test_history(scenario: Scenario, source: SnapshotSource) -> None:
    for key in {op.key for op in scenario.ops}:
        history = await source.history(key)
        assert history.compact_revision == scenario.compact
        got = [(r.type.value, r.kv.value, r.kv.mod_revision) for r in history.revisions]
        want = [(op.op, op.value, op.revision) for op in _expected_history(scenario, key)]
        assert got == want, key
    # a key deleted and recreated after the compaction shows its delete
    history = await source.history(b"/registry/pods/default/d")
    assert [r.type for r in history.revisions] == [EventType.PUT, EventType.DELETE]
    assert (await source.history(b"/nope")).revisions == []


async def test_watch_replays_history_with_prev_kv(
    scenario: Scenario, source: SnapshotSource
) -> None:
    start = scenario.compact
    events = [e async for e in source.watch(b"/registry/", start_revision=start)]
    want = [op for op in scenario.ops if op.revision >= start and op.key.startswith(b"/registry/")]
    assert [(e.type.value, e.kv.key, e.kv.value, e.revision) for e in events] == [
        (op.op, op.key, op.value, op.revision) for op in want
    ]
    for event, op in zip(events, want, strict=True):
        before = [o for o in scenario.ops if o.key == op.key and o.revision < op.revision]
        expected_prev = before[-1].value if before and before[-1].op == "put" else None
        assert (event.prev_kv.value if event.prev_kv else None) == expected_prev
    tail = [e async for e in source.watch(start_revision=scenario.revision)]
    assert [e.kv.key for e in tail] == [b"/registry/txn/x", b"/registry/txn/y"]
    assert [e async for e in source.watch()] == []  # "from now": nothing newer in a file


async def test_running_member_db_is_read_from_a_copy(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data_dir = scenario.server.data_dir / "data"
    db = data_dir / "member" / "snap" / "db"
    assert is_locked(db)  # etcd holds bbolt's flock
    source = SnapshotSource(data_dir)
    try:
        status = await asyncio.wait_for(source.status(), timeout=30)
        assert "consistent copy" in status.extra["note"]
        assert status.revision == scenario.revision
        listed = [i.key async for page in source.list_keys() for i in page]
        assert listed == [e["key"] for e in _etcd_listing(scenario.server)]
        assert list(tmp_path.iterdir()) == []  # the copy is unlinked once mapped
    finally:
        await source.close()
    assert is_locked(db)
    scenario.server.etcdctl("endpoint", "health")  # the member was never disturbed


_BUSY_WRITER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
n = 0
while True:
    os.pwrite(fd, n.to_bytes(8, "little"), 16 + 48)  # meta page 0's txid, as a commit would
    if n == 0:
        print("ready", flush=True)
    n += 1
"""


async def test_member_db_that_keeps_changing_is_refused(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer holding bbolt's lock and committing all the time: no consistent copy, a clear
    refusal pointing at `etcdctl snapshot save`, no waiting on the lock, no copies left over."""
    copies = tmp_path / "tmp"
    copies.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(copies))
    db = tmp_path / "member" / "snap" / "db"
    db.parent.mkdir(parents=True)
    db.write_bytes(scenario.snapshot.read_bytes().ljust(48 << 20, b"\0"))
    writer = subprocess.Popen([sys.executable, "-c", _BUSY_WRITER, str(db)], stdout=subprocess.PIPE)
    try:
        assert writer.stdout is not None and writer.stdout.readline() == b"ready\n"
        assert is_locked(db)
        with pytest.raises(SourceError) as caught:
            await asyncio.wait_for(SnapshotSource(tmp_path).load(), timeout=60)
        assert "kept changing while being copied" in str(caught.value)
        assert "etcdctl snapshot save" in str(caught.value)
    finally:
        writer.kill()
        writer.wait()
    assert list(copies.iterdir()) == []


async def test_stopped_member_db_and_paths(etcd: EtcdServer, tmp_path: Path) -> None:
    etcd.put("/registry/pods/x/y", "z")
    etcd.stop()
    db = etcd.data_dir / "data" / "member" / "snap" / "db"
    assert not is_locked(db)
    for path in (db, etcd.data_dir / "data", etcd.data_dir / "data" / "member"):
        source = SnapshotSource(path)
        try:
            status = await source.status()
            assert "note" not in status.extra
            assert status.key_count == 1
            value = await source.get(b"/registry/pods/x/y")
            assert value is not None and value.value == b"z"
        finally:
            await source.close()


async def test_not_a_snapshot(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not bbolt\n" * 300)
    with pytest.raises(BboltError) as caught:
        await SnapshotSource(text).load()
    assert str(caught.value) == f"not an etcd snapshot: {text} (bad magic at page 0)"
    with pytest.raises(SourceError, match="no member/snap/db"):
        await SnapshotSource(tmp_path).load()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(SourceError, match="not a regular file"):
        await asyncio.wait_for(SnapshotSource(fifo).load(), timeout=10)


# -- scan_keys: keys handed over while the file is scanned -------------------------------------


async def _replay(source: SnapshotSource) -> tuple[KeyIndex, list[KeyChanges]]:
    """Apply every batch as the TUI does; check on the way that deletes name indexed keys."""
    index = KeyIndex()
    batches: list[KeyChanges] = []
    async for changes in source.scan_keys():
        batches.append(changes)
        index.add_many(changes.puts)
        for key in changes.deletes:
            assert index.delete(key), key  # only keys an earlier batch put
    return index, batches


@pytest.mark.parametrize("chunk", [1, 3, 10_000])
async def test_scan_keys_replays_to_the_listing(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(snapshot_module, "CHANGES_CHUNK", chunk)
    source = SnapshotSource(scenario.snapshot)
    try:
        index, batches = await _replay(source)
        listed = [info async for page in source.list_keys() for info in page]
        entries = int((await source.status()).extra["revisions"])
    finally:
        await source.close()
    assert index.infos() == listed
    assert [info.key for info in listed] == [e["key"] for e in _etcd_listing(scenario.server)]
    # one per chunk (the first is an eighth of a chunk), and one at the end of the file
    assert len(batches) == len(range(max(1, chunk // 8), entries + 1, chunk)) + 1
    size = scenario.snapshot.stat().st_size
    assert all(b.total == size for b in batches) and batches[-1].done == size
    assert [b.done for b in batches] == sorted(b.done for b in batches)
    for changes in batches:
        keys = [info.key for info in changes.puts]
        assert keys == sorted(set(keys))  # distinct, in key order
        assert not set(keys) & set(changes.deletes)
    if chunk == 1:  # every revision entry in a batch of its own
        a, d = b"/registry/pods/default/a", b"/registry/pods/default/d"
        a_puts = [(i.mod_revision, i.version) for b in batches for i in b.puts if i.key == a]
        a_ops = [op.revision for op in scenario.ops if op.key == a]
        assert a_puts == [(a_ops[1], 2), (a_ops[2], 3)]  # a1 compacted away; a3 replaces a2
        put_at = next(n for n, b in enumerate(batches) if any(i.key == d for i in b.puts))
        deleted_at = next(n for n, b in enumerate(batches) if d in b.deletes)
        assert put_at < deleted_at


async def test_scan_keys_after_load_lists_the_index(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot_module, "CHANGES_CHUNK", 3)
    source = SnapshotSource(scenario.snapshot)
    try:
        await source.load()
        batches = [changes async for changes in source.scan_keys()]
        listed = [info async for page in source.list_keys() for info in page]
    finally:
        await source.close()
    size = scenario.snapshot.stat().st_size
    assert [info for b in batches for info in b.puts] == listed
    assert all(len(b.puts) <= 3 and not b.deletes and b.done == b.total == size for b in batches)
    assert len(batches) == -(-len(listed) // 3)


def _count_scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every scan of a file (scan_snapshot still does the work)."""
    scans: list[str] = []
    original = snapshot_module.scan_snapshot

    def counted(path: str | os.PathLike[str], *args: Any) -> SnapshotIndex:
        scans.append(str(path))
        return original(path, *args)

    monkeypatch.setattr(snapshot_module, "scan_snapshot", counted)
    return scans


async def test_one_scan_serves_scan_keys_and_load(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load(), status(), get() and a second scan_keys while batches arrive wait for the same
    scan (the second one then gets the keys from the index)."""
    gate, _chunks = gate_chunks(monkeypatch, snapshot_module)
    scans = _count_scans(monkeypatch)
    source = SnapshotSource(scenario.snapshot)
    try:
        batches = source.scan_keys()
        first = await anext(batches)
        key = first.puts[0].key
        waiting = asyncio.gather(source.load(), source.status(), source.get(key))
        other = asyncio.ensure_future(_replay(source))
        await asyncio.sleep(0.05)
        assert not waiting.done() and not other.done()  # the scan is held at its second chunk
        gate.set()
        index = KeyIndex(first.puts)
        async for changes in batches:
            index.add_many(changes.puts)
            for deleted in changes.deletes:
                index.delete(deleted)
        _loaded, status, value = await waiting
        other_index, other_batches = await other
        listed = [info async for page in source.list_keys() for info in page]
    finally:
        await source.close()
    assert len(scans) == 1
    assert index.infos() == other_index.infos() == listed and status.key_count == len(listed)
    assert all(not b.deletes for b in other_batches)
    assert value is not None and value.key == key


async def test_leaving_early_stops_the_scan(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consumer that stops after the first batch stops the scan at its next chunk; nothing is
    left half-indexed: the next load() scans the whole file."""
    gate, chunks = gate_chunks(monkeypatch, snapshot_module)
    scans = _count_scans(monkeypatch)
    progress: list[tuple[int, int]] = []
    source = SnapshotSource(scenario.snapshot, on_progress=lambda *done: progress.append(done))
    size = scenario.snapshot.stat().st_size
    try:
        batches = source.scan_keys()
        first = await anext(batches)
        await batches.aclose()
        gate.set()
        for _ in range(1000):  # the scan thread notices at its next chunk
            if chunks[-1:] == ["stopped"]:
                break
            await asyncio.sleep(0.01)
        assert chunks == ["chunk", "stopped"]
        assert first.puts and (size, size) not in progress  # it never reached the end
        await source.load()
        listed = [i.key async for page in source.list_keys() for i in page]
    finally:
        await source.close()
    assert len(scans) == 2 and progress[-1] == (size, size)
    assert listed == [e["key"] for e in _etcd_listing(scenario.server)]


async def test_leaving_early_while_load_waits(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate, chunks = gate_chunks(monkeypatch, snapshot_module)
    scans = _count_scans(monkeypatch)
    source = SnapshotSource(scenario.snapshot)
    try:
        batches = source.scan_keys()
        await anext(batches)
        loading = asyncio.ensure_future(source.load())
        await asyncio.sleep(0.01)
        await batches.aclose()
        gate.set()
        await loading
        assert (await source.status()).revision == scenario.revision
    finally:
        await source.close()
    assert len(scans) == 1 and "stopped" not in chunks and len(chunks) > 5


async def test_scan_keys_raises_what_load_raises(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Damage near the end of bucket 'key': batches come first, then the scan's error."""
    monkeypatch.setattr(snapshot_module, "CHANGES_CHUNK", 1)
    with BboltFile(scenario.snapshot) as db:
        bucket = db.bucket(b"key")
        assert bucket is not None
        *_, (_flags, key, _ksize, _value, _vsize, _where) = bucket.elements()
    data = bytearray(scenario.snapshot.read_bytes())
    data[key + 8] = ord("-")  # the last revision key's "_" separator
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(bytes(data))
    source = SnapshotSource(damaged)
    batches: list[KeyChanges] = []
    with pytest.raises(BboltError) as caught:
        async for changes in source.scan_keys():
            batches.append(changes)
    assert len(batches) > 5  # the keys before the damage were handed over
    assert "malformed revision key" in str(caught.value)
    with pytest.raises(BboltError) as again:
        await source.load()
    assert str(again.value) == str(caught.value)
    text = tmp_path / "notes.txt"
    text.write_text("not bbolt\n" * 500)
    with pytest.raises(BboltError, match="not an etcd snapshot"):
        _ = [changes async for changes in SnapshotSource(text).scan_keys()]


async def test_close_while_scanning(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    gate, chunks = gate_chunks(monkeypatch, snapshot_module)
    source = SnapshotSource(scenario.snapshot)
    batches = source.scan_keys()
    await anext(batches)
    closing = asyncio.ensure_future(source.close())
    await asyncio.sleep(0.01)  # close() has asked the scan to stop and waits for it
    assert not closing.done()
    gate.set()
    await closing
    assert chunks == ["chunk", "stopped"]
    with pytest.raises(SourceError, match="closed while it was being read"):
        _ = [changes async for changes in batches]
    assert (await source.status()).revision == scenario.revision  # a closed source opens again
    await source.close()
