"""DumpSource over real ``etcdctl get "" --prefix -w json`` output: plain, gzip, several, broken."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketui.core.source import CompactedError, EventType, KeyInfo, SourceError
from ketui.core.sources.dump import DumpSource
from tests import cluster_data
from tests.cluster_data import Entry, Written
from tests.etcd_harness import EtcdServer

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
