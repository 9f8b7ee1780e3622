"""DumpSource over real ``etcdctl get "" --prefix -w json`` output: plain, gzip, several, broken."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ketui.core import bulk
from ketui.core.index.keyindex import KeyIndex
from ketui.core.source import CompactedError, EventType, KeyChanges, KeyInfo, SourceError
from ketui.core.sources.dump import scanner
from ketui.core.sources.dump import source as dump_module
from ketui.core.sources.dump.scanner import DumpFormatError
from ketui.core.sources.dump.source import DumpSource
from tests import cluster_data
from tests.cluster_data import Entry, Written
from tests.etcd_harness import EtcdServer
from tests.scan_gates import gate_chunks

pytestmark = pytest.mark.etcd


class Dumps:
    """Dumps of one populated etcd: ``full`` at the end, ``early`` after the first batch."""

    def __init__(self, root: Path, server: EtcdServer, written: Written) -> None:
        self.root = root
        self.written = written
        self.full = cluster_data.dump(server, root / "full.json")
        self.revision, self.entries = cluster_data.entries_of_dump(self.full)


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dumps]:
    server = EtcdServer().start()
    try:
        root = tmp_path_factory.mktemp("dumps")
        # An early dump, then more writes (an update, a new key, a delete), then the full dump.
        server.put("/registry/configmaps/default/cm1", cluster_data.CM1_V1)
        server.put("/registry/configmaps/default/gone", b"soon deleted")
        cluster_data.dump(server, root / "early.json")
        server.etcdctl("del", "/registry/configmaps/default/gone")
        written = cluster_data.populate(server)
        yield Dumps(root, server, written)
    finally:
        server.cleanup()


async def all_infos(
    source: DumpSource, prefix: bytes = b"", page_size: int = 10_000
) -> list[KeyInfo]:
    return [info async for page in source.list_keys(prefix, page_size=page_size) for info in page]


async def assert_matches(source: DumpSource, revision: int, entries: list[Entry]) -> None:
    """Every key, its metadata, size and value as the json module reads the dump."""
    infos = await all_infos(source)
    assert [i.key for i in infos] == [e.key for e in entries]
    for info, entry in zip(infos, entries, strict=True):
        assert (info.create_revision, info.mod_revision, info.version, info.lease, info.size) == (
            entry.create_revision,
            entry.mod_revision,
            entry.version,
            entry.lease,
            len(entry.value),
        )
        kv = await source.get(entry.key)
        assert kv is not None
        assert kv.value == entry.value
        assert (kv.create_revision, kv.mod_revision, kv.version, kv.lease) == (
            entry.create_revision,
            entry.mod_revision,
            entry.version,
            entry.lease,
        )
    status = await source.status()
    assert status.kind == "dump"
    assert status.revision == revision
    assert status.key_count == len(entries)


async def test_plain_dump_matches_etcdctl(dumps: Dumps) -> None:
    source = DumpSource([dumps.full])
    try:
        await assert_matches(source, dumps.revision, dumps.entries)
        assert any(e.lease for e in dumps.entries) and any(not e.value for e in dumps.entries)
        assert await source.get(b"/registry/configmaps/default/gone") is None
        assert await source.count(b"/registry/configmaps/") == 2
        assert await source.count(b"/registry/") == 6
        assert await source.count(b"") == len(dumps.entries)
        assert await source.count(b"/nothing") == 0
        paged = [len(page) async for page in source.list_keys(b"/registry/", page_size=4)]
        assert paged == [4, 2]
    finally:
        await source.close()


async def test_gzip_dump_and_progress(dumps: Dumps, tmp_path: Path) -> None:
    packed = tmp_path / "full.json.gz"
    packed.write_bytes(gzip.compress(dumps.full.read_bytes()))
    seen: list[tuple[int, int]] = []
    threads: set[str] = set()

    def on_progress(done: int, total: int) -> None:
        seen.append((done, total))
        threads.add(threading.current_thread().name)

    source = DumpSource([packed], on_progress=on_progress)
    try:
        await source.load()
        await assert_matches(source, dumps.revision, dumps.entries)
    finally:
        await source.close()
    size = packed.stat().st_size
    assert seen and seen[-1] == (size, size)
    assert all(total == size and 0 <= done <= size for done, total in seen)
    assert threads == {threading.main_thread().name}  # delivered on the event loop


def synthetic_dump(path: Path, keys: int, value_size: int) -> Path:
    value = base64.b64encode(bytes(range(256)) * (value_size // 256)).decode()
    kvs = ",".join(
        f'{{"key":"{base64.b64encode(f"/registry/configmaps/ns/cm-{i:06d}".encode()).decode()}",'
        f'"create_revision":{i + 2},"mod_revision":{i + 2},"version":1,"value":"{value}"}}'
        for i in range(keys)
    )
    path.write_text(f'{{"header":{{"revision":{keys + 1}}},"kvs":[{kvs}],"count":{keys}}}')
    return path


async def test_loading_runs_beside_the_event_loop(tmp_path: Path) -> None:
    """Parsing happens in a thread: the loop keeps ticking while a 40 MB dump loads."""
    path = synthetic_dump(tmp_path / "big.json", 15_000, 2048)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    source = DumpSource([path])
    try:
        await source.load()
        assert ticks >= 3
        assert await source.count(b"/registry/configmaps/ns/") == 15_000
        kv = await source.get(b"/registry/configmaps/ns/cm-014999")
        assert kv is not None and kv.size == 2048 and kv.value[:3] == bytes([0, 1, 2])
    finally:
        task.cancel()
        await source.close()


async def test_reformatted_dump(dumps: Dumps, tmp_path: Path) -> None:
    """jq-style pretty printing and reordered members take the member-by-member path."""
    doc = json.loads(dumps.full.read_bytes())
    doc["kvs"] = [dict(reversed(list(kv.items()))) for kv in doc["kvs"]]
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps({"count": doc["count"], **doc}, indent=2))
    source = DumpSource([pretty])
    try:
        await assert_matches(source, dumps.revision, dumps.entries)
    finally:
        await source.close()


async def test_several_files_merge(dumps: Dumps) -> None:
    """The highest mod_revision wins whatever the file order; a deleted key stays (dumps cannot
    record deletes); the revision is the highest header revision."""
    early_revision, early = cluster_data.entries_of_dump(dumps.root / "early.json")
    source = DumpSource([dumps.full, dumps.root / "early.json"])
    try:
        expected = {e.key: e for e in early}
        expected.update({e.key: e for e in dumps.entries})
        merged = [expected[key] for key in sorted(expected)]
        assert early_revision < dumps.revision
        await assert_matches(source, dumps.revision, merged)
        cm1 = await source.get(b"/registry/configmaps/default/cm1")
        assert cm1 is not None and cm1.value == cluster_data.CM1_V3
        gone = await source.get(b"/registry/configmaps/default/gone")
        assert gone is not None and gone.value == b"soon deleted"
        assert (await source.status()).extra["files"] == "2"
    finally:
        await source.close()


async def test_single_revision_semantics(dumps: Dumps) -> None:
    source = DumpSource([dumps.full])
    try:
        cm1 = await source.get(b"/registry/configmaps/default/cm1")
        assert cm1 is not None
        # Unchanged since its mod_revision: readable at any revision from there on.
        again = await source.get(cm1.key, revision=cm1.mod_revision)
        assert again == cm1
        with pytest.raises(CompactedError):
            await source.get(cm1.key, revision=cm1.mod_revision - 1)
        with pytest.raises(CompactedError):
            await all_infos_at(source, dumps.written.first_revision)
        history = await source.history(cm1.key)
        assert [r.type for r in history.revisions] == [EventType.PUT]
        assert history.revisions[0].kv == cm1
        assert history.compact_revision == cm1.mod_revision
        assert [e async for e in source.watch(b"", start_revision=1)] == []
        assert source.live is False
    finally:
        await source.close()


async def all_infos_at(source: DumpSource, revision: int) -> list[KeyInfo]:
    return [i async for page in source.list_keys(b"", revision=revision) for i in page]


def broken_variants(full: bytes) -> dict[str, tuple[bytes, str]]:
    """name -> (file content, text the error must contain)."""
    cut = full.index(b'"kvs"') + 200
    in_value = full.index(b'"value":"') + 20
    return {
        "truncated": (full[:cut], "(truncated?)"),
        "cut-in-value": (full[:in_value], "file ends inside a key/value entry (truncated?)"),
        "first-brace": (b"{", "file ends inside the dump document (truncated?)"),
        "cut-in-name": (b'{"hea', "file ends inside the dump document (truncated?)"),
        "bad-name": (b'{"hea} ', "expected a member name"),
        "not-json": (b"hello world\n", "expected '{'"),
        "array": (b"[1, 2, 3]", "expected '{'"),
        "no-header": (b'{"kvs": []}', "no 'header'"),
        "bad-kv": (full.replace(b'"key":', b'"key":7,"x":', 1), "'key' must be a base64 string"),
        "whitespace": (b"  \n", "only whitespace"),
        "garbage-after": (full + b"xyz", "expected '{'"),
    }


@pytest.mark.parametrize(
    "variant", ["truncated", "cut-in-value", "first-brace", "cut-in-name", "bad-name", "not-json",
                "array", "no-header", "bad-kv", "whitespace", "garbage-after"],
)  # fmt: skip
async def test_broken_files_name_file_and_offset(
    dumps: Dumps, tmp_path: Path, variant: str
) -> None:
    content, expected = broken_variants(dumps.full.read_bytes())[variant]
    path = tmp_path / "dump.json"  # (a name without the words the message is checked for)
    path.write_bytes(content)
    source = DumpSource([path])
    with pytest.raises(SourceError) as info:
        await source.load()
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "byte " in message


async def test_corrupt_value_names_the_key(dumps: Dumps, tmp_path: Path) -> None:
    """A value that is not base64 in an otherwise good dump: the dump still loads, reading that
    value names the key and offset (and does not call the file "not a dump")."""
    full = dumps.full.read_bytes()
    at = full.index(b'"value":"') + len(b'"value":"')
    path = tmp_path / "dump.json"
    path.write_bytes(full[:at] + b"A" + full[full.index(b'"', at) :])  # 1 base64 character
    key = base64.b64decode(full[full.rindex(b'"key":"', 0, at) + 7 :].split(b'"', 1)[0])
    source = DumpSource([path])
    try:
        assert len(await all_infos(source)) == len(dumps.entries)
        with pytest.raises(SourceError) as info:
            await source.get(key)
    finally:
        await source.close()
    assert str(info.value).startswith(
        f"{path}: corrupt value of {key.decode()} at byte {at}: bad base64 ("
    )


@pytest.mark.parametrize("variant", ["empty", "truncated-gzip", "missing", "directory"])
async def test_unreadable_files(dumps: Dumps, tmp_path: Path, variant: str) -> None:
    path = tmp_path / variant
    expected = {
        "empty": "empty file",
        "truncated-gzip": "corrupt or truncated gzip",
        "missing": "cannot open",
        "directory": "is a directory",
    }[variant]
    if variant == "empty":
        path.write_bytes(b"")
    elif variant == "truncated-gzip":
        path.write_bytes(gzip.compress(dumps.full.read_bytes())[:300])
    elif variant == "directory":
        path.mkdir()
    with pytest.raises(SourceError, match=expected):
        await DumpSource([path]).load()


async def test_empty_etcd_dump(tmp_path: Path, etcd: EtcdServer) -> None:
    """etcdctl leaves out "kvs" when nothing matches: a valid dump with no keys."""
    path = cluster_data.dump(etcd, tmp_path / "empty.json")
    assert b'"kvs"' not in path.read_bytes()
    source = DumpSource([path])
    try:
        assert await all_infos(source) == []
        status = await source.status()
        assert status.key_count == 0 and status.revision == 1
    finally:
        await source.close()


async def test_limit_dump_is_flagged(dumps: Dumps, tmp_path: Path, etcd: EtcdServer) -> None:
    etcd.put("/a", "1")
    etcd.put("/b", "2")
    path = tmp_path / "limited.json"
    path.write_bytes(etcd.etcdctl("get", "", "--prefix", "--limit", "1", "-w", "json").stdout)
    source = DumpSource([path])
    try:
        assert [i.key for i in await all_infos(source)] == [b"/a"]
        assert "incomplete dump" in (await source.status()).extra["warnings"]
    finally:
        await source.close()


# -- scan_keys: keys handed over while the files are scanned -----------------------------------


async def replay(source: DumpSource) -> tuple[KeyIndex, list[KeyChanges]]:
    """Apply every batch as the TUI does."""
    index = KeyIndex()
    batches: list[KeyChanges] = []
    async for changes in source.scan_keys():
        batches.append(changes)
        index.add_many(changes.puts)
        for key in changes.deletes:
            index.delete(key)
    return index, batches


def check_batches(batches: list[KeyChanges], total: int) -> None:
    """Distinct keys in key order, no deletes, on-disk bytes that only grow up to the total."""
    for changes in batches:
        keys = [info.key for info in changes.puts]
        assert keys == sorted(set(keys)) and not changes.deletes
    assert all(b.total == total for b in batches) and batches[-1].done == total
    assert [b.done for b in batches] == sorted(b.done for b in batches)


async def replay_matches_listing(source: DumpSource) -> tuple[list[KeyInfo], list[KeyChanges]]:
    try:
        index, batches = await replay(source)
        listed = await all_infos(source)
    finally:
        await source.close()
    assert index.infos() == listed
    return listed, batches


@pytest.mark.parametrize("chunk", [1, 3, 10_000])
async def test_scan_keys_replays_to_the_listing(
    dumps: Dumps, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(dump_module, "CHANGES_CHUNK", chunk)
    listed, batches = await replay_matches_listing(DumpSource([dumps.full]))
    assert [i.key for i in listed] == [e.key for e in dumps.entries]
    check_batches(batches, dumps.full.stat().st_size)
    # the first batch holds an eighth of a chunk, later ones a chunk; one more ends the file
    first = max(1, chunk // 8)
    sizes = [len(b.puts) for b in batches]
    expected = [first, *[chunk] * ((len(listed) - first) // chunk)] if first < len(listed) else []
    expected.append(len(listed) - sum(expected))
    assert sizes == expected


async def test_scan_keys_gzip(
    dumps: Dumps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dump_module, "CHANGES_CHUNK", 2)
    packed = tmp_path / "full.json.gz"
    packed.write_bytes(gzip.compress(dumps.full.read_bytes()))
    listed, batches = await replay_matches_listing(DumpSource([packed]))
    assert [i.key for i in listed] == [e.key for e in dumps.entries]
    size = packed.stat().st_size
    check_batches(batches, size)
    # decompressed first (half of the file's share), then scanned: the rest
    assert len(batches) > 3 and all(size // 2 <= b.done for b in batches)
    assert batches[-2].done < size


@pytest.mark.parametrize("chunk", [1, 3, 10_000])
@pytest.mark.parametrize("older_last", [True, False])
async def test_scan_keys_merges_several_files(
    dumps: Dumps, monkeypatch: pytest.MonkeyPatch, chunk: int, older_last: bool
) -> None:
    """The older version of cm1 in the later file (it must never replace the newer one already
    handed over) or in the earlier one (the newer one replaces it)."""
    monkeypatch.setattr(dump_module, "CHANGES_CHUNK", chunk)
    early = dumps.root / "early.json"
    paths = [dumps.full, early] if older_last else [early, dumps.full]
    listed, batches = await replay_matches_listing(DumpSource(paths))
    _, early_entries = cluster_data.entries_of_dump(early)
    expected = {e.key: e for e in early_entries}
    expected.update({e.key: e for e in dumps.entries})
    assert [(i.key, i.mod_revision) for i in listed] == [
        (key, expected[key].mod_revision) for key in sorted(expected)
    ]
    check_batches(batches, sum(p.stat().st_size for p in paths))
    cm1 = b"/registry/configmaps/default/cm1"
    cm1_puts = [i.mod_revision for b in batches for i in b.puts if i.key == cm1]
    if older_last:  # only the winner, once
        assert cm1_puts == [expected[cm1].mod_revision]
    else:  # the older one first, then the winner
        assert len(cm1_puts) == 2 and cm1_puts[-1] == expected[cm1].mod_revision


def kv_json(key: str, mod: int, value: bytes) -> dict[str, Any]:
    return {
        "key": base64.b64encode(key.encode()).decode(),
        "create_revision": 2,
        "mod_revision": mod,
        "version": 1,
        "value": base64.b64encode(value).decode(),
    }


def documents(*kvs_lists: list[dict[str, Any]]) -> str:
    """Several etcdctl documents appended to one file (``>>``), in etcdctl's compact form."""
    return "\n".join(
        json.dumps({"header": {"revision": 50}, "kvs": kvs, "count": len(kvs)},
                   separators=(",", ":"))
        for kvs in kvs_lists
    )  # fmt: skip


@pytest.mark.parametrize("chunk", [1, 2, 10_000])
async def test_scan_keys_ties_and_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """The merge rule inside one file of several documents and across files: the highest
    mod_revision wins, the later document or file on a tie (seen here in the value size)."""
    monkeypatch.setattr(dump_module, "CHANGES_CHUNK", chunk)
    first = tmp_path / "first.json"
    first.write_text(
        documents(
            [kv_json("/a", 5, b"x"), kv_json("/b", 7, b"x"), kv_json("/d", 9, b"x")],
            [kv_json("/a", 5, b"xx"), kv_json("/b", 6, b"xxx"), kv_json("/c", 3, b"x")],
        )
    )
    second = tmp_path / "second.json"
    second.write_text(documents([kv_json("/b", 7, b"xxxx"), kv_json("/d", 8, b"xxxxx")]))
    listed, batches = await replay_matches_listing(DumpSource([first, second]))
    assert [(i.key, i.mod_revision, i.size) for i in listed] == [
        (b"/a", 5, 2),  # a tie: the later document
        (b"/b", 7, 4),  # a tie: the later file (the older version in between lost)
        (b"/c", 3, 1),
        (b"/d", 9, 1),  # the later file's version is older
    ]
    check_batches(batches, first.stat().st_size + second.stat().st_size)
    puts = [(i.key, i.mod_revision, i.size) for b in batches for i in b.puts]
    assert (b"/b", 6, 3) not in puts and (b"/d", 8, 5) not in puts


def _count_scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    scans: list[int] = []
    original = DumpSource._load_sync

    def counted(self: DumpSource, *args: Any) -> Any:
        scans.append(1)
        return original(self, *args)

    monkeypatch.setattr(DumpSource, "_load_sync", counted)
    return scans


async def test_leaving_early_stops_the_scan(dumps: Dumps, monkeypatch: pytest.MonkeyPatch) -> None:
    """A consumer that stops after the first batch stops the scan at its next chunk; the source
    stays loadable: the next load() scans again."""
    gate, chunks = gate_chunks(monkeypatch, dump_module)
    scans = _count_scans(monkeypatch)
    progress: list[tuple[int, int]] = []
    source = DumpSource([dumps.full], on_progress=lambda *done: progress.append(done))
    size = dumps.full.stat().st_size
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
        await assert_matches(source, dumps.revision, dumps.entries)
    finally:
        await source.close()
    assert len(scans) == 2 and progress[-1] == (size, size)


async def test_one_scan_serves_scan_keys_and_load(
    dumps: Dumps, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load(), status(), get() and a second scan_keys while batches arrive wait for the same
    scan (the second one then gets the keys from the table); leaving while load() waits lets
    the scan finish."""
    gate, chunks = gate_chunks(monkeypatch, dump_module)
    scans = _count_scans(monkeypatch)
    source = DumpSource([dumps.full])
    try:
        batches = source.scan_keys()
        first = await anext(batches)
        key = first.puts[0].key
        waiting = asyncio.gather(source.load(), source.status(), source.get(key))
        other = asyncio.ensure_future(replay(source))
        await asyncio.sleep(0.05)
        assert not waiting.done() and not other.done()  # the scan is held at its second chunk
        await batches.aclose()  # load() still waits: the scan goes on to the end
        gate.set()
        _loaded, status, value = await waiting
        other_index, other_batches = await other
        listed = await all_infos(source)
    finally:
        await source.close()
    assert len(scans) == 1 and "stopped" not in chunks and len(chunks) > 5
    assert status.key_count == len(listed) == len(dumps.entries)
    assert other_index.infos() == listed
    assert value is not None and value.key == key


async def test_scan_keys_after_load(dumps: Dumps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dump_module, "CHANGES_CHUNK", 3)
    source = DumpSource([dumps.full])
    try:
        await source.load()
        batches = [changes async for changes in source.scan_keys()]
        listed = await all_infos(source)
    finally:
        await source.close()
    size = dumps.full.stat().st_size
    assert [info for b in batches for info in b.puts] == listed
    assert all(len(b.puts) <= 3 and not b.deletes and b.done == b.total == size for b in batches)
    assert len(batches) == -(-len(listed) // 3)


async def test_scan_keys_raises_what_load_raises(
    dumps: Dumps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Damage near the end of the file: batches come first, then the scan's error."""
    monkeypatch.setattr(dump_module, "CHANGES_CHUNK", 1)
    full = dumps.full.read_bytes()
    at = full.rindex(b'"key":')
    damaged = tmp_path / "damaged.json"
    damaged.write_bytes(full[:at] + b'"key":7,' + full[at + 6 :])
    source = DumpSource([damaged])
    batches: list[KeyChanges] = []
    with pytest.raises(DumpFormatError) as caught:
        async for changes in source.scan_keys():
            batches.append(changes)
    assert len(batches) >= 3  # the keys before the damage were handed over
    assert "'key' must be a base64 string" in str(caught.value)
    with pytest.raises(DumpFormatError) as again:
        await source.load()
    assert str(again.value) == str(caught.value)


async def test_close_while_scanning(dumps: Dumps, monkeypatch: pytest.MonkeyPatch) -> None:
    gate, chunks = gate_chunks(monkeypatch, dump_module)
    source = DumpSource([dumps.full])
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
    assert (await source.status()).revision == dumps.revision  # a closed source opens again
    await source.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_merge_of_many_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Random documents of a few keys each, in three files: the table and the replayed batches
    both hold, per key, the row with the highest mod_revision, the latest one on a tie. The
    sort runs in steps of a few keys, so the stepwise merge meets equal keys across steps; the
    table is copied in steps of a few rows."""
    monkeypatch.setattr(dump_module, "CHANGES_CHUNK", 7)
    monkeypatch.setattr(scanner, "TAKE_STEP", 5)
    monkeypatch.setattr(bulk, "DICT_SHARDS", 4)  # keys share shards
    monkeypatch.setattr(bulk, "_SORT_RUN", 4)
    monkeypatch.setattr(bulk, "_MERGE_FAN_IN", 3)
    monkeypatch.setattr(bulk, "_MERGE_STEP", 6)
    rng = random.Random(seed)
    best: dict[str, tuple[int, int, int]] = {}  # key -> (mod, row, size) of the winner so far
    row = 0
    paths = []
    for number in range(3):
        docs = []
        for _ in range(rng.randint(1, 4)):
            kvs = []
            for key in sorted(rng.sample([f"/k{i:02d}" for i in range(30)], rng.randint(0, 12))):
                mod, size = rng.randint(1, 6), rng.randint(0, 9)
                kvs.append(kv_json(key, mod, b"v" * size))
                if key not in best or mod >= best[key][0]:
                    best[key] = (mod, row, size)
                row += 1
            docs.append(kvs)
        path = tmp_path / f"part{number}.json"
        path.write_text(documents(*docs))
        paths.append(path)
    listed, batches = await replay_matches_listing(DumpSource(paths))
    assert [(i.key.decode(), i.mod_revision, i.size) for i in listed] == [
        (key, mod, size) for key, (mod, _row, size) in sorted(best.items())
    ]
    check_batches(batches, sum(p.stat().st_size for p in paths))
