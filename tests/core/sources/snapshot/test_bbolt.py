"""The bbolt reader against real etcd snapshots, intact and damaged in many ways.

One module-wide etcd is filled with a few thousand keys and some 100 KB values, so the snapshot has
branch pages, overflow pages and inline buckets; damaged copies of it must give a ``BboltError``
that names the problem, never another exception and never a hang.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from etcd3.etcdrpc import kv_pb2, rpc_pb2, rpc_pb2_grpc
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketui.core import bulk
from ketui.core.pbwire import encode_varint
from ketui.core.source import KeyInfo, SourceError
from ketui.core.sources.snapshot import index as snapshot_index
from ketui.core.sources.snapshot import records as snapshot_records
from ketui.core.sources.snapshot.bbolt import (
    BRANCH_ELEMENT,
    HEADER_SIZE,
    META,
    BboltError,
    BboltFile,
    NotBboltError,
    fnv64a,
)
from ketui.core.sources.snapshot.index import scan_snapshot
from ketui.core.sources.snapshot.records import key_infos
from tests.etcd_harness import EtcdServer, etcd_version

pytestmark = pytest.mark.etcd

SMALL_KEYS = 3000
BIG_VALUES = {f"/big/{i}".encode(): bytes([65 + i]) * (100_000 + i) for i in range(5)}


def _txn_puts(kv: rpc_pb2_grpc.KVStub, items: list[tuple[bytes, bytes]]) -> None:
    for start in range(0, len(items), 100):
        ops = [
            rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=k, value=v))
            for k, v in items[start : start + 100]
        ]
        kv.Txn(rpc_pb2.TxnRequest(success=ops))


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """{"big": snapshot with branch/overflow pages, "small": a tiny one} from real etcd."""
    out = tmp_path_factory.mktemp("snapshots")
    server = EtcdServer().start()
    try:
        server.put("/small/a", "1")
        server.put("/small/b", "2")
        server.etcdctl("del", "/small/a")
        server.etcdctl("snapshot", "save", str(out / "small.db"))
        channel = grpc.insecure_channel(server.endpoint.removeprefix("http://"))
        kv = rpc_pb2_grpc.KVStub(channel)
        _txn_puts(kv, [(f"/keys/{i:05d}".encode(), b"v" * 300) for i in range(SMALL_KEYS)])
        for key, value in BIG_VALUES.items():
            kv.Put(rpc_pb2.PutRequest(key=key, value=value))
        channel.close()
        server.etcdctl("snapshot", "save", str(out / "big.db"))
    finally:
        server.cleanup()
    yield {"big": out / "big.db", "small": out / "small.db"}


def _damaged(
    tmp_path: Path, source: Path, edit: dict[int, bytes] | None = None, size: int | None = None
) -> Path:
    data = bytearray(source.read_bytes())
    for offset, replacement in (edit or {}).items():
        data[offset : offset + len(replacement)] = replacement
    path = tmp_path / "damaged.db"
    path.write_bytes(bytes(data if size is None else data[:size]))
    return path


def _scan_error(path: Path) -> str:
    with pytest.raises(BboltError) as caught:
        scan_snapshot(path).close()
    return str(caught.value)


def test_meta_page_is_the_valid_one_with_the_higher_txid(snapshots: dict[str, Path]) -> None:
    data = snapshots["big"].read_bytes()
    txids = [META.unpack_from(data, page * 4096 + HEADER_SIZE)[8] for page in (0, 1)]
    with BboltFile(snapshots["big"]) as db:
        assert db.page_size == 4096
        assert db.meta.txid == max(txids)
        assert db.meta.page_id == txids.index(max(txids))
        assert db.free_pages() is None  # etcd does not sync its freelist
        names = set(db.root().bucket_names())
    assert {b"key", b"meta", b"members", b"cluster"} <= names


def test_big_snapshot_has_branch_and_overflow_pages_and_reads_them(
    snapshots: dict[str, Path],
) -> None:
    with BboltFile(snapshots["big"]) as db:
        bucket = db.bucket(b"key")
        assert bucket is not None and bucket.inline is None
        pages = list(bucket.pages())
        assert any(p.kind == "branch" for p in pages)
        assert any(p.kind == "leaf" and p.overflow > 0 for p in pages)
        records = [kv_pb2.KeyValue.FromString(v) for _k, v in bucket.items()]
        revision_keys = [k for k, _v in bucket.items()]
    assert revision_keys == sorted(revision_keys)
    by_key = {r.key: r.value for r in records}
    assert len(records) == SMALL_KEYS + len(BIG_VALUES) + 3
    for key, value in BIG_VALUES.items():
        assert by_key[key] == value
    assert by_key[b"/keys/02999"] == b"v" * 300


def test_inline_bucket_lookup(snapshots: dict[str, Path]) -> None:
    with BboltFile(snapshots["small"]) as db:
        meta = db.bucket(b"meta")
        assert meta is not None and meta.inline is not None  # small buckets live inside a value
        raw = meta.get(b"consistent_index")
        assert raw is not None and struct.unpack(">Q", raw)[0] > 0
        assert meta.get(b"no such key") is None
        assert db.bucket(b"no such bucket") is None
        cluster = db.bucket(b"cluster")
        major_minor = ".".join(etcd_version().split(".")[:2])
        assert cluster is not None and cluster.get(b"clusterVersion") == f"{major_minor}.0".encode()


def test_lookup_through_branch_pages(snapshots: dict[str, Path]) -> None:
    with BboltFile(snapshots["big"]) as db:
        bucket = db.bucket(b"key")
        assert bucket is not None
        items = list(bucket.items())
        for revision_key, value in items[:: len(items) // 50]:
            assert bucket.get(revision_key) == value
        assert bucket.get(b"\xff" * 17) is None


def test_fnv64a_matches_the_meta_checksum(snapshots: dict[str, Path]) -> None:
    data = snapshots["small"].read_bytes()
    assert fnv64a(data[HEADER_SIZE : HEADER_SIZE + 56]) == META.unpack_from(data, HEADER_SIZE)[9]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    with pytest.raises(NotBboltError, match="empty file"):
        BboltFile(path)
    assert "not an etcd snapshot" in _scan_error(path)


def test_garbage_is_not_a_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(bytes(range(256)) * 64)
    assert _scan_error(path) == f"not an etcd snapshot: {path} (bad magic at page 0)"


def test_missing_file() -> None:
    with pytest.raises(SourceError, match="no such file"):
        scan_snapshot("/nonexistent/snapshot.db")


@pytest.mark.parametrize("cut", [100, 4096 + 50, 3 * 4096, 0.5, -4096 - 32, -33])
def test_truncated_file_names_the_page(
    snapshots: dict[str, Path], tmp_path: Path, cut: float
) -> None:
    full = snapshots["big"].stat().st_size
    size = int(full * cut) if isinstance(cut, float) else (cut if cut > 0 else full + cut)
    message = _scan_error(_damaged(tmp_path, snapshots["big"], size=size))
    assert "truncated" in message and "page" in message


def test_sha256_trailer_is_optional(snapshots: dict[str, Path], tmp_path: Path) -> None:
    """etcdctl appends a 32-byte hash; the db without it (a member's db) reads the same."""
    full = snapshots["small"].stat().st_size
    index = scan_snapshot(_damaged(tmp_path, snapshots["small"], size=full - 32))
    assert index.key_count == 1
    index.close()


def test_one_bad_meta_falls_back_to_the_other(snapshots: dict[str, Path], tmp_path: Path) -> None:
    with BboltFile(snapshots["small"]) as db:
        current, txid = db.meta.page_id, db.meta.txid
    flip = current * 4096 + HEADER_SIZE + 40  # inside the high-water field: checksum breaks
    original = snapshots["small"].read_bytes()[flip]
    path = _damaged(tmp_path, snapshots["small"], {flip: bytes([original ^ 0x01])})
    with BboltFile(path) as db:
        assert db.meta.page_id == 1 - current
        assert db.meta.txid == txid - 1


def test_both_metas_bit_flipped(snapshots: dict[str, Path], tmp_path: Path) -> None:
    data = snapshots["small"].read_bytes()
    edits = {o: bytes([data[o] ^ 0x10]) for o in (HEADER_SIZE + 48, 4096 + HEADER_SIZE + 48)}
    message = _scan_error(_damaged(tmp_path, snapshots["small"], edits))
    assert message.endswith("meta pages 0 and 1 both invalid: checksum mismatch")


def _rewrite_meta(data: bytearray, page: int, **fields: int) -> None:
    """Change meta fields and fix the checksum (a corrupt file that still validates)."""
    names = [
        "magic",
        "version",
        "page_size",
        "flags",
        "root",
        "sequence",
        "freelist",
        "high_water",
        "txid",
        "checksum",
    ]
    offset = page * 4096 + HEADER_SIZE
    values = dict(zip(names, META.unpack_from(data, offset), strict=True))
    values.update(fields)
    META.pack_into(data, offset, *(values[n] for n in names))
    values["checksum"] = fnv64a(bytes(data[offset : offset + 56]))
    META.pack_into(data, offset, *(values[n] for n in names))


@pytest.mark.parametrize("free", [[7, 8, 9], list(range(100, 100 + 70_000))])
def test_synced_freelist(snapshots: dict[str, Path], tmp_path: Path, free: list[int]) -> None:
    """etcd leaves the freelist unsynced; other bbolt writers store it in a page (a u64 count
    first when it exceeds 0xFFFF). Add one to a real snapshot to read it back."""
    data = bytearray(snapshots["small"].read_bytes())
    high_water = META.unpack_from(data, HEADER_SIZE)[7]
    del data[high_water * 4096 :]
    ids = struct.pack(f"<{len(free)}Q", *free)
    if len(free) < 0xFFFF:
        body = ids
        count = len(free)
    else:
        body = struct.pack("<Q", len(free)) + ids
        count = 0xFFFF
    overflow = (HEADER_SIZE + len(body) - 1) // 4096
    page = struct.pack("<QHHI", high_water, 0x10, count, overflow) + body
    data += page.ljust((overflow + 1) * 4096, b"\0")
    for meta in (0, 1):
        _rewrite_meta(data, meta, freelist=high_water, high_water=high_water + overflow + 1)
    path = tmp_path / "freelist.db"
    path.write_bytes(bytes(data))
    with BboltFile(path) as db:
        assert list(db.free_pages() or []) == free
    # a freelist whose ids run past its page
    count_at = high_water * 4096 + 10
    data[count_at : count_at + 2] = struct.pack("<H", 0xFFFE) if count != 0xFFFF else b"\xff\xff"
    if count == 0xFFFF:
        data[high_water * 4096 + 16 : high_water * 4096 + 24] = struct.pack("<Q", 10**6)
    path.write_bytes(bytes(data))
    with BboltFile(path) as db, pytest.raises(BboltError, match="free page ids do not fit"):
        db.free_pages()


def _branch_page(path: Path) -> tuple[int, list[int]]:
    with BboltFile(path) as db:
        bucket = db.bucket(b"key")
        assert bucket is not None
        branch = next(p for p in bucket.pages() if p.kind == "branch")
        offset = branch.pgid * 4096 + HEADER_SIZE
        children = [
            BRANCH_ELEMENT.unpack_from(db.buffer, offset + 16 * i)[2]
            for i in range(branch.elements)
        ]
        return branch.pgid, children


def test_page_cycle_is_detected(snapshots: dict[str, Path], tmp_path: Path) -> None:
    pgid, _children = _branch_page(snapshots["big"])
    # the branch's last child now points back at the branch itself
    last = pgid * 4096 + HEADER_SIZE + 16 * (len(_children) - 1) + 8
    path = _damaged(tmp_path, snapshots["big"], {last: struct.pack("<Q", pgid)})
    assert f"page {pgid}: reached twice in one tree (page cycle" in _scan_error(path)
    # a point lookup that descends through the cycle stops too
    first = pgid * 4096 + HEADER_SIZE + 8
    path = _damaged(tmp_path, snapshots["big"], {first: struct.pack("<Q", pgid)})
    with BboltFile(path) as db:
        bucket = db.bucket(b"key")
        assert bucket is not None
        with pytest.raises(BboltError, match="deeper than 64 levels"):
            bucket.get(b"\x00" * 17)


def test_child_beyond_high_water_and_meta_child(snapshots: dict[str, Path], tmp_path: Path) -> None:
    pgid, _children = _branch_page(snapshots["big"])
    slot = pgid * 4096 + HEADER_SIZE + 8
    path = _damaged(tmp_path, snapshots["big"], {slot: struct.pack("<Q", 10**9)})
    assert "page 1000000000: beyond the high-water mark" in _scan_error(path)
    path = _damaged(tmp_path, snapshots["big"], {slot: struct.pack("<Q", 1)})
    assert "page 1: a tree points at a meta page" in _scan_error(path)


def test_page_header_damage(snapshots: dict[str, Path], tmp_path: Path) -> None:
    with BboltFile(snapshots["big"]) as db:
        bucket = db.bucket(b"key")
        assert bucket is not None
        leaf = next(p.pgid for p in bucket.pages() if p.kind == "leaf" and p.overflow == 0)
    header = leaf * 4096
    path = _damaged(tmp_path, snapshots["big"], {header: struct.pack("<Q", 7)})
    assert f"page {leaf}: header says page 7" in _scan_error(path)
    path = _damaged(tmp_path, snapshots["big"], {header + 8: struct.pack("<H", 0x40)})
    assert f"page {leaf}: unexpected page type 0x40" in _scan_error(path)
    path = _damaged(tmp_path, snapshots["big"], {header + 10: struct.pack("<H", 0xFFF0)})
    assert f"page {leaf}: 65520 elements do not fit" in _scan_error(path)
    path = _damaged(tmp_path, snapshots["big"], {header + 12: struct.pack("<I", 10**6)})
    assert f"page {leaf}: 1000000 overflow pages run beyond end of file" in _scan_error(path)
    # an element whose value lies outside its page
    element = header + HEADER_SIZE
    path = _damaged(tmp_path, snapshots["big"], {element + 12: struct.pack("<I", 10**7)})
    assert f"page {leaf}: element data beyond the end of the page" in _scan_error(path)


def test_meta_pointing_past_the_file(snapshots: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(snapshots["small"].read_bytes())
    for page in (0, 1):
        _rewrite_meta(data, page, high_water=10**6)
    path = tmp_path / "past.db"
    path.write_bytes(bytes(data))
    assert "offset beyond end of file (file is truncated?" in _scan_error(path)


def test_bad_revision_key(snapshots: dict[str, Path], tmp_path: Path) -> None:
    with BboltFile(snapshots["small"]) as db:
        bucket = db.bucket(b"key")
        assert bucket is not None
        _flags, key, _ksize, _value, _vsize, _where = next(bucket.elements())
    path = _damaged(tmp_path, snapshots["small"], {key + 8: b"-"})
    assert "malformed revision key" in _scan_error(path)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_fuzzed_snapshots_never_escape(
    snapshots: dict[str, Path], tmp_path: Path, data: st.DataObject
) -> None:
    """Any mutation either still reads or raises BboltError; reading never raises anything else."""
    original = snapshots["small"].read_bytes()
    mutated = bytearray(original)
    pages = len(mutated) // 4096
    for _ in range(data.draw(st.integers(1, 8))):
        # mostly near page starts, where headers, elements and small buckets are
        page = data.draw(st.integers(0, pages - 1))
        offset = page * 4096 + data.draw(st.integers(0, 4095) | st.integers(0, 300))
        mutated[offset] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
    path = tmp_path / "fuzz.db"
    path.write_bytes(bytes(mutated))
    try:
        index = scan_snapshot(path)
    except BboltError:
        return
    try:
        infos, _next = index.key_infos(0, len(index.sorted_keys), index.revision, 1000)
        events, _next = index.events(0, b"", 1000)
        assert len(events) <= len(index.mains)
        assert len(infos) <= len(index.sorted_keys)
    except BboltError:
        pass
    finally:
        index.close()


def test_chunks_split_pages_exactly(snapshots: dict[str, Path]) -> None:
    """The chunk callback comes after ``chunk_size // 8`` entries (a quick first batch), then
    every ``chunk_size`` entries, across page edges, then at the end."""
    seen: list[tuple[int, int]] = []
    index = scan_snapshot(
        snapshots["big"],
        on_chunk=lambda _db, revs, entries, offset: seen.append((entries, len(revs.mains))),
        chunk_size=16,
    )
    try:
        total = len(index.mains)
        size = index.db.size
    finally:
        index.close()
    assert total > 1000  # many leaf pages: chunks end inside pages and at their edges
    assert [entries for entries, _ in seen] == [*range(2, total + 1, 16), total]
    assert all(entries == scanned for entries, scanned in seen)  # called right at the chunk end
    offsets: list[int] = []
    scan_snapshot(
        snapshots["big"],
        on_chunk=lambda _db, _revs, _entries, offset: offsets.append(offset),
        chunk_size=total // 3,
    ).close()
    assert len(offsets) == 4 and offsets[-1] == size and max(offsets[:-1]) < size


def test_key_order_built_in_small_steps_is_the_plain_sort(
    snapshots: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sort and gathers done in bounded steps give what one big sort gives."""
    for name, value in (("_SORT_RUN", 7), ("_MERGE_FAN_IN", 3), ("_MERGE_STEP", 5)):
        monkeypatch.setattr(bulk, name, value)
    monkeypatch.setattr(snapshot_index, "_GATHER", 4)
    index = scan_snapshot(snapshots["big"])
    try:
        keys, latest, tombstones = index.keys, index.latest, index.tombstones
        order = sorted(range(len(keys)), key=keys.__getitem__)
        assert len(keys) > 3000
        assert index.sorted_keys == [keys[kid] for kid in order]
        assert list(index.sorted_ids) == order
        assert list(index.alive) == [1 - tombstones[latest[kid]] for kid in order]
    finally:
        index.close()
    small = scan_snapshot(snapshots["small"])  # /small/a deleted, /small/b alive
    try:
        assert small.sorted_keys == [b"/small/a", b"/small/b"] and list(small.alive) == [0, 1]
    finally:
        small.close()


# -- key metadata read straight from KeyValue records ------------------------------------------


def _field(number: int, value: int | bytes) -> bytes:
    """One protobuf field: a varint (int, int64 wrapped like Go) or length-delimited (bytes)."""
    if isinstance(value, bytes):
        return encode_varint(number << 3 | 2) + encode_varint(len(value)) + value
    return encode_varint(number << 3) + encode_varint(value)


def _canonical(
    key: bytes, create: int, mod: int, version: int, value: bytes = b"", lease: int = 0
) -> bytes:
    """A record as etcd writes it: fields in number order, zero values left out."""
    fields = [(1, key), (2, create), (3, mod), (4, version), (5, value), (6, lease)]
    return b"".join(_field(number, v) for number, v in fields if v)


# (record, read without protobuf?)
_RECORDS: list[tuple[bytes, bool]] = [
    (_canonical(b"/registry/pods/ns/a", 5, 7, 2, b"v" * 200), True),
    (_canonical(b"/registry/leases/ns/b", 9, 9, 1, b"", 0x1234567890), True),  # empty value
    (_canonical(b"/k/127", 1, 2, 1, b"x" * 127), True),
    (_canonical(b"/k/128", 1, 2, 1, b"x" * 128), True),  # 2-byte length
    (_canonical(b"/k/16383", 3, 4, 1, b"x" * 16383), True),
    (_canonical(b"/k/16384", 3, 4, 1, b"x" * 16384, 7), True),  # 3-byte length
    (_canonical(b"/k/big", 3, 4, 1, b"y" * 300_000), True),
    (_canonical(b"/k/revs", 2**21 - 1, 2**21, 300, b"z"), True),  # 3-, 4- and 2-byte varints
    (_canonical(b"/k/large", 2**28, 2**34, 2**14, b"z", 2**62), True),  # 18 bytes after the key
    (_canonical(b"/k/huge", 2**35, 2**62, 2**40, b"z", 2**62), False),  # 26: protobuf reads it
    (_canonical(b"/k/" + b"l" * 125, 1, 1, 1, b"v"), True),  # 128-byte key: 2-byte length
    (_canonical(b"/k/" + b"l" * 300, 1, 1, 1, b"v"), True),
    (_canonical(b"/k/zeros", 0, 5, 0, b"v"), True),  # create and version left out
    (b"\x0a\x03/k1\x10\x85\x00\x18\x05\x20\x01", True),  # a non-minimal varint still reads
    (_field(1, b"/k/order") + _field(4, 1) + _field(2, 3) + _field(3, 3), False),
    (_canonical(b"/k/unknown", 1, 1, 1, b"v") + _field(7, 1), False),
    (_field(1, b"/k/mid") + _field(2, 1) + _field(9, b"??") + _field(3, 1), False),
    (_field(2, 5) + _field(1, b"/k/second") + _field(3, 5), False),  # key not first
    (_canonical(b"/k/neg", -1, 5, 1, b"v"), False),  # int64 -1: ten bytes
    (_canonical(b"/k/neglease", 1, 5, 1, b"v", -5), False),
    (_canonical(b"/k/" + b"L" * 20_000, 1, 1, 1, b"v"), False),  # 3-byte key length
    (_field(1, b"/k/dup") + _field(2, 1) + _field(2, 2) + _field(3, 2), False),  # last one wins
    (b"\x0a\x02/e\x10\x01", False),  # the last bytes of the file: 20 bytes run past the mapping
]


def _with_records(tmp_path: Path, base: Path, records: list[bytes]) -> tuple[Path, array[int]]:
    """A copy of ``base`` with ``records`` appended (a valid bbolt file: it ends at its
    high-water mark); their offsets."""
    data = bytearray(base.read_bytes())
    offsets = array("q")
    for record in records:
        offsets.append(len(data))
        data += record
    path = tmp_path / "records.db"
    path.write_bytes(bytes(data))
    return path, offsets


def _protobuf_info(record: bytes) -> KeyInfo:
    kv = kv_pb2.KeyValue.FromString(record)
    return KeyInfo(kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.lease, len(kv.value))


def test_key_infos_read_records_as_protobuf_does(
    snapshots: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [record for record, _fast in _RECORDS]
    path, offsets = _with_records(tmp_path, snapshots["small"], records)
    sizes = array("I", map(len, records))
    mains = array("Q", range(1, len(records) + 1))
    slow: list[int] = []
    original = snapshot_records._key_info_from_protobuf

    def counted(db: BboltFile, o: array[int], s: array[int], m: array[int], e: int) -> KeyInfo:
        slow.append(e)
        return original(db, o, s, m, e)

    monkeypatch.setattr(snapshot_records, "_key_info_from_protobuf", counted)
    want = [_protobuf_info(record) for record in records]
    with BboltFile(path) as db:
        entries = range(len(records))
        got = key_infos(db, offsets, sizes, mains, entries, [info.key for info in want])
    assert got == want
    assert slow == [e for e, (_record, fast) in enumerate(_RECORDS) if not fast]


def test_key_infos_refuse_what_protobuf_refuses(snapshots: dict[str, Path], tmp_path: Path) -> None:
    overlong = b"\x0a\x02/k\x10" + b"\x80" * 10 + b"\x01"  # an 11-byte varint
    truncated = b"\x0a\x02/k\x10\x05\x18\x05\x2a\x10abc"  # value longer than the record
    for record in (overlong, truncated):
        path, offsets = _with_records(tmp_path, snapshots["small"], [record])
        with BboltFile(path) as db, pytest.raises(BboltError, match="revision 42: not a mvcc"):
            key_infos(db, offsets, array("I", [len(record)]), array("Q", [42]), [0], [b"/k"])


_INT64 = st.integers(-(2**63), 2**63 - 1)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_key_infos_match_protobuf_on_any_layout(
    snapshots: dict[str, Path], tmp_path: Path, data: st.DataObject
) -> None:
    """Random field values, orders, omissions and unknown fields: always what protobuf reads."""
    fields: list[tuple[int, int | bytes]] = [
        (1, data.draw(st.binary(min_size=1, max_size=300))),
        (2, data.draw(_INT64 | st.integers(0, 2**22))),
        (3, data.draw(_INT64 | st.integers(1, 2**22))),
        (4, data.draw(st.integers(0, 2**20))),
        (5, b"v" * data.draw(st.sampled_from([0, 1, 127, 128, 16383, 16384, 70_000]))),
        (6, data.draw(st.just(0) | _INT64)),
    ]
    fields = [(n, v) for n, v in fields if v or data.draw(st.booleans())]  # zeros mostly left out
    if data.draw(st.booleans()):
        fields = data.draw(st.permutations(fields))
    if data.draw(st.booleans()):
        unknown = (data.draw(st.integers(7, 100)), data.draw(st.integers(0, 2**64) | st.binary()))
        fields.insert(data.draw(st.integers(0, len(fields))), unknown)
    record = b"".join(_field(n, v) for n, v in fields)
    try:
        want = _protobuf_info(record)
    except DecodeError:
        return  # e.g. a key left out and no other field: nothing to compare
    path, offsets = _with_records(tmp_path, snapshots["small"], [record])
    with BboltFile(path) as db:
        got = key_infos(db, offsets, array("I", [len(record)]), array("Q", [1]), [0], [want.key])
    assert got == [want]
