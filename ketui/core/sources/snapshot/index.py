"""The index of an etcd snapshot (``etcdctl snapshot save``) or of a member's ``member/snap/db``.

Both are bbolt databases (read by :mod:`ketui.core.sources.snapshot.bbolt`). Bucket ``key`` maps
revision keys (8-byte big-endian main revision, ``_``, 8-byte sub revision, and an 18th byte ``t``
on a tombstone) to ``mvccpb.KeyValue`` protobufs, so a snapshot holds every revision back to the
last compaction; bucket ``meta`` holds ``consistent_index``, ``scheduledCompactRev`` and
``finishedCompactRev``.

Memory stays bounded: one pass over the ``key`` bucket (:func:`scan_snapshot`, in a worker thread)
records, per revision, only the main revision, the offset and size of the protobuf inside the
mapping, the key's number and a link to the key's previous revision, in flat arrays
(:class:`SnapshotIndex`); values are parsed when asked for, key metadata is read straight from the
records' bytes (:mod:`ketui.core.sources.snapshot.records`).

The UI stays live while a big file is read: the pass calls back after every chunk of entries
(:data:`ChunkCallback`: :class:`~ketui.core.sources.snapshot.source.SnapshotSource` hands keys over
from there, and stops a scan nobody needs), and after it the key order is built in steps that never
hold the GIL for more than a few milliseconds (:mod:`ketui.core.bulk`; one ``sorted()`` of a
million keys would hold it for a quarter of a second).

A running etcd member holds an exclusive ``flock`` on its ``member/snap/db``. ketui never takes that
lock nor waits on it: a non-blocking probe tells whether the file is in use; if so, the file is
copied to a temporary file and the copy is kept only when the meta pages of the original did not
change while copying (no commit happened, so the pages reachable from the copied meta are intact).
Otherwise the user is told to use ``etcdctl snapshot save``.
"""

from __future__ import annotations

import bisect
import fcntl
import mmap
import os
import shutil
import struct
import tempfile
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from etcd3.etcdrpc import kv_pb2
from google.protobuf.message import DecodeError

from ketui.core.bulk import (
    DICT_SHARDS,
    free_dicts,
    free_in_steps,
    sharded_dicts,
    sort_in_steps,
    yield_gil,
)
from ketui.core.pbwire import WireError, iter_fields
from ketui.core.source import (
    EventType,
    KeyInfo,
    KeyValue,
    LeaseInfo,
    SourceError,
    ValueTest,
    WatchEvent,
)
from ketui.core.sources.ranges import prefix_end
from ketui.core.sources.snapshot import records as snapshot_records
from ketui.core.sources.snapshot.bbolt import (
    BUCKET_LEAF_FLAG,
    HEADER_SIZE,
    LEAF_ELEMENT,
    BboltError,
    BboltFile,
    Bucket,
    NotBboltError,
)

REVISION_KEY_SIZE = 17  # main (8) + "_" + sub (8)
TOMBSTONE_KEY_SIZE = 18  # ... + "t"
_MAIN = struct.Struct(">Q")
_COPY_ATTEMPTS = 3
_PROGRESS_PAGES = 2048  # report progress every this many leaf pages
_CHUNK = 32768  # entries between on_chunk calls unless told (SnapshotSource passes CHANGES_CHUNK)
_GATHER = 8192  # items per C-level gather (map) call while building the index


def resolve_db_path(path: str | os.PathLike[str]) -> Path:
    """The bbolt file for ``path``: the file itself, or ``member/snap/db`` inside a data dir."""
    given = Path(path)
    if given.is_dir():
        for candidate in (given / "member" / "snap" / "db", given / "snap" / "db", given / "db"):
            if candidate.is_file():
                return candidate
        raise SourceError(f"{given}: a directory without an etcd database (no member/snap/db)")
    if not given.exists():
        raise SourceError(f"{given}: no such file")
    if not given.is_file():  # a FIFO or device would block or mislead the reader
        raise SourceError(f"{given}: not a regular file")
    return given


def is_locked(path: Path) -> bool:
    """True when another process (a running etcd) holds bbolt's exclusive flock on ``path``.

    Probes with a non-blocking shared lock that is released at once: never waits.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise SourceError(f"{path}: cannot open: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False  # file system without flock: nobody can hold it either
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _meta_pages(path: Path) -> bytes:
    """The raw bytes of both meta pages (page size taken from meta page 0, else 4096..64K)."""
    with open(path, "rb") as file:
        head = file.read(HEADER_SIZE + 12)
        page_size = struct.unpack_from("<I", head, HEADER_SIZE + 8)[0] if len(head) == 28 else 0
        if page_size < 512 or page_size > 1 << 16 or page_size & (page_size - 1):
            page_size = 1 << 16
        file.seek(0)
        return file.read(2 * page_size)


def _consistent_copy(path: Path) -> Path:
    """Copy a db that a running member holds open; keep it only if no commit happened meanwhile."""
    size = path.stat().st_size
    tmpdir = tempfile.gettempdir()
    if shutil.disk_usage(tmpdir).free < size + (64 << 20):
        raise SourceError(
            f"{path} is in use by a running etcd member and there is no room in {tmpdir} to "
            "copy it; save a snapshot with `etcdctl snapshot save FILE` and open that"
        )
    for _attempt in range(_COPY_ATTEMPTS):
        before = _meta_pages(path)
        fd, name = tempfile.mkstemp(prefix="ketui-snapshot-", suffix=".db", dir=tmpdir)
        try:
            with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(src, dst, 8 << 20)
            if _meta_pages(path) == before:
                return Path(name)
        except BaseException:
            os.unlink(name)
            raise
        os.unlink(name)
    raise SourceError(
        f"{path} is in use by a running etcd member and kept changing while being copied; "
        "save a consistent snapshot with `etcdctl snapshot save FILE` and open that"
    )


def open_db(path: str | os.PathLike[str]) -> tuple[BboltFile, bool]:
    """Open the snapshot or member db at ``path`` read-only; (db, read from a copy)."""
    db_path = resolve_db_path(path)
    label = str(path) if Path(path) == db_path else f"{path} ({db_path})"
    copied = is_locked(db_path)
    try:
        source = _consistent_copy(db_path) if copied else db_path
    except OSError as exc:
        raise SourceError(
            f"{db_path} is in use by a running etcd member and copying it failed: "
            f"{exc.strerror or exc}; save a snapshot with `etcdctl snapshot save FILE`"
        ) from None
    try:
        db = BboltFile(source, label=label)
    except NotBboltError as exc:
        raise BboltError(f"not an etcd snapshot: {label} ({exc.reason})") from None
    finally:
        if copied:
            os.unlink(source)  # the mapping keeps the data; nothing is left behind
    return db, copied


def _bad_revision_element(
    db: BboltFile,
    where: str,
    buf: mmap.mmap,
    flags: int,
    key: int,
    ksize: int,
    vsize: int,
    end: int,
) -> BboltError:
    """The precise complaint about a ``key`` bucket element that failed the fast checks."""
    if key + ksize + vsize > end:
        return db.error(where, "element data beyond the end of the page (file is corrupt)")
    if flags & BUCKET_LEAF_FLAG:
        return db.error(where, "unexpected nested bucket inside bucket 'key'")
    if flags:
        return db.error(where, f"unknown element flags 0x{flags:x} (file is corrupt)")
    if ksize not in (REVISION_KEY_SIZE, TOMBSTONE_KEY_SIZE):
        return db.error(where, f"revision key of {ksize} bytes (expected 17 or 18)")
    if buf[key + 8] != 0x5F or (ksize == TOMBSTONE_KEY_SIZE and buf[key + 17] != 0x74):
        return db.error(where, f"malformed revision key {bytes(buf[key : key + ksize]).hex()}")
    return db.error(where, f"KeyValue record of {vsize} bytes is too short for a key")


def _user_key(db: BboltFile, where: str, record: bytes, main: int) -> bytes:
    """The key of a KeyValue record outside the fast path (a key of 128 bytes or more...)."""
    if record[:1] == b"\x0a":  # field 1, length-delimited: decode the varint length
        length, shift, pos = 0, 0, 1
        while pos < len(record) and pos <= 10:
            byte = record[pos]
            length |= (byte & 0x7F) << shift
            pos += 1
            if byte < 0x80:
                if 0 < length <= len(record) - pos:
                    return record[pos : pos + length]
                break
            shift += 7
    try:  # fields in another order: let protobuf find the key
        key = bytes(kv_pb2.KeyValue.FromString(record).key)
    except DecodeError as exc:
        raise db.error(where, f"revision {main}: not a mvccpb.KeyValue record ({exc})") from None
    if not key:
        raise db.error(where, f"revision {main}: KeyValue record without a key")
    return key


@dataclass(slots=True)
class SnapshotIndex:
    """Every revision in a snapshot, as flat arrays in revision order (index ``e`` = one entry)."""

    db: BboltFile
    mains: array[int]  # main revision of entry e (non-decreasing)
    offsets: array[int]  # offset of entry e's KeyValue protobuf in db.buffer
    sizes: array[int]  # its size
    kids: array[int]  # key number of entry e
    prev: array[int]  # previous entry of the same key, -1 when none
    tombstones: bytearray  # 1 when entry e is a delete
    keys: list[bytes]  # key number -> key
    latest: array[int]  # key number -> its last entry
    sorted_keys: list[bytes]
    sorted_ids: array[int]  # position in sorted_keys -> key number
    alive: bytearray  # position in sorted_keys -> 1 when the key exists at ``revision``
    revision: int
    compact_revision: int
    consistent_index: int | None
    copied: bool

    @property
    def key_count(self) -> int:
        return self.alive.count(1)

    def span(self, prefix: bytes) -> tuple[int, int]:
        lo = bisect.bisect_left(self.sorted_keys, prefix)
        end = prefix_end(prefix)
        hi = len(self.sorted_keys) if end is None else bisect.bisect_left(self.sorted_keys, end, lo)
        return lo, hi

    def key_number(self, key: bytes) -> int | None:
        pos = bisect.bisect_left(self.sorted_keys, key)
        if pos < len(self.sorted_keys) and self.sorted_keys[pos] == key:
            return self.sorted_ids[pos]
        return None

    def entry_at(self, kid: int, revision: int) -> int:
        """The key's last entry at or before ``revision`` (-1 when none)."""
        entry = self.latest[kid]
        while entry >= 0 and self.mains[entry] > revision:
            entry = self.prev[entry]
        return entry

    def record(self, entry: int) -> kv_pb2.KeyValue:
        offset = self.offsets[entry]
        raw = self.db.buffer[offset : offset + self.sizes[entry]]
        try:
            return kv_pb2.KeyValue.FromString(raw)
        except DecodeError as exc:
            raise self.db.error(
                f"revision {self.mains[entry]}", f"not a mvccpb.KeyValue record ({exc})"
            ) from None

    def key_value(self, entry: int) -> KeyValue:
        """The PUT at ``entry``; a tombstone gives the DELETE's bare key and revision."""
        if self.tombstones[entry]:
            return KeyValue(self.keys[self.kids[entry]], b"", 0, self.mains[entry], 0)
        kv = self.record(entry)
        return KeyValue(kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)

    def key_infos(self, pos: int, hi: int, revision: int, limit: int) -> tuple[list[KeyInfo], int]:
        """Up to ``limit`` keys alive at ``revision`` from sorted position ``pos``; next pos."""
        entries: list[int] = []
        keys: list[bytes] = []
        sorted_keys, sorted_ids, tombstones = self.sorted_keys, self.sorted_ids, self.tombstones
        if revision >= self.revision:
            alive, latest = self.alive, self.latest
            while pos < hi and len(entries) < limit:
                if alive[pos]:
                    entries.append(latest[sorted_ids[pos]])
                    keys.append(sorted_keys[pos])
                pos += 1
        else:
            while pos < hi and len(entries) < limit:
                entry = self.entry_at(sorted_ids[pos], revision)
                if entry >= 0 and not tombstones[entry]:
                    entries.append(entry)
                    keys.append(sorted_keys[pos])
                pos += 1
        return snapshot_records.key_infos(
            self.db, self.offsets, self.sizes, self.mains, entries, keys
        ), pos

    def alive_mask(self, lo: int, hi: int) -> bytearray:
        """By key number: 1 for the keys at sorted positions ``lo`` to ``hi`` that exist now."""
        mask = bytearray(len(self.keys))
        alive, sorted_ids = self.alive, self.sorted_ids
        for at in range(lo, hi):
            if alive[at]:
                mask[sorted_ids[at]] = 1
        return mask

    def kept_entries(self, first: int, last: int, mask: bytearray, keep: ValueTest) -> list[int]:
        """The entries from ``first`` to ``last`` that hold the current value of a key in
        ``mask`` and pass ``keep``, tested where they lie in the file.

        Entries are in revision order, which is about the order of the file (etcd appends
        revisions to its key bucket), so the file is read front to back; in key order the reads
        jump around it (measured: 1.4 s against 2.3 s for a million 2 KB values). The record is
        tested from just after the key (etcd writes the fields in number order: key, the three
        revisions, value, lease; the value then starts within VALUE_SLACK bytes) to its end.
        """
        buffer, offsets, sizes = self.db.buffer, self.offsets, self.sizes
        kids, latest, keys = self.kids, self.latest, self.keys
        kept = []
        for entry in range(first, last):
            kid = kids[entry]
            if mask[kid] and latest[kid] == entry:
                offset = offsets[entry]
                if keep(buffer, offset + 1 + len(keys[kid]), offset + sizes[entry]):
                    kept.append(entry)
        return kept

    def leases(self) -> list[LeaseInfo]:
        """The leases etcd persisted in its ``lease`` bucket (id -> leasepb.Lease: ID 1, TTL 2,
        RemainingTTL 3, the last set only for checkpointed leases)."""
        bucket = self.db.bucket(b"lease")
        leases = []
        for key, value in bucket.items() if bucket is not None else ():
            try:
                fields = {number: v for number, _wire, v in iter_fields(value)}
            except WireError as error:
                raise self.db.error(f"bucket 'lease' key {key.hex()}", str(error)) from None
            lease_id = fields.get(1)
            if not isinstance(lease_id, int) and len(key) == 8:
                lease_id = int.from_bytes(key, "big")
            ttl, remaining = fields.get(2), fields.get(3)
            if isinstance(lease_id, int):
                leases.append(LeaseInfo(
                    _signed(lease_id), ttl if isinstance(ttl, int) else None,
                    remaining if isinstance(remaining, int) and remaining > 0 else None,
                ))  # fmt: skip
        return sorted(leases, key=lambda lease: lease.id)

    def key_values(self, entries: list[int]) -> list[KeyValue]:
        return [self.key_value(entry) for entry in entries]

    def in_key_order(self, entries: list[int]) -> list[int]:
        """``entries`` (one per key) sorted by their keys."""
        keys, kids = self.keys, self.kids
        return sorted(entries, key=lambda entry: keys[kids[entry]])

    def events(self, entry: int, prefix: bytes, limit: int) -> tuple[list[WatchEvent], int]:
        """Up to ``limit`` events under ``prefix`` from ``entry`` in revision order; next entry."""
        events: list[WatchEvent] = []
        count = len(self.mains)
        while entry < count and len(events) < limit:
            if self.keys[self.kids[entry]].startswith(prefix):
                before = self.prev[entry]
                prev_kv = None
                if before >= 0 and not self.tombstones[before]:
                    prev_kv = self.key_value(before)
                kind = EventType.DELETE if self.tombstones[entry] else EventType.PUT
                events.append(WatchEvent(kind, self.key_value(entry), prev_kv))
            entry += 1
        return events, entry

    def close(self) -> None:
        self.db.close()


class Revisions(NamedTuple):
    """What one pass over bucket ``key`` collects (see :class:`SnapshotIndex`)."""

    mains: array[int]
    offsets: array[int]
    sizes: array[int]
    kids: array[int]
    prev: array[int]
    tombstones: bytearray
    keys: list[bytes]
    latest: array[int]


ChunkCallback = Callable[[BboltFile, Revisions, int, int], None]
"""``(db, revisions so far, entries scanned, file offset reached)``, called in the scan thread
after every ``chunk_size`` entries and once at the end (offset = file size); raising stops it."""

_NEVER = 1 << 62  # entries until the next chunk callback when there is none


def _scan_revisions(
    db: BboltFile,
    bucket: Bucket,
    progress: Callable[[int], None] | None,
    on_chunk: ChunkCallback | None = None,
    chunk_size: int = _CHUNK,
) -> Revisions:
    """One pass over bucket ``key``: the hot loop of a snapshot scan.

    Works on offsets into the mapping with ``struct`` and slicing only; the user key is read
    straight from the protobuf (field 1 comes first in etcd's encoding) without parsing it.
    A page's elements are taken in runs that end where a chunk ends, so ``on_chunk`` costs the
    loop nothing per element (and nothing at all without it).
    """
    buf = db.buffer
    unpack_main = _MAIN.unpack_from
    iter_elements = LEAF_ELEMENT.iter_unpack
    shards: list[dict[bytes, int]] = sharded_dicts()  # key -> key number (see DICT_SHARDS)
    mask = DICT_SHARDS - 1
    keys: list[bytes] = []
    latest: array[int] = array("q")
    mains: array[int] = array("Q")
    offsets: array[int] = array("q")
    sizes: array[int] = array("I")
    kids: array[int] = array("I")
    prev: array[int] = array("q")
    tombstones = bytearray()
    revs = Revisions(mains, offsets, sizes, kids, prev, tombstones, keys, latest)
    chunk_size = max(1, chunk_size) if on_chunk is not None else _NEVER
    due = max(1, chunk_size // 8)  # entries until the next on_chunk call: a small first batch
    # (the UI's first paint) then full ones
    last_main = -1
    entry = 0
    pages = 0
    for leaf in bucket.leaf_pages():
        element = leaf.offset + HEADER_SIZE
        end = leaf.end
        left = leaf.elements
        while left:
            run = left if left <= due else due
            for flags, pos, ksize, vsize in iter_elements(buf[element : element + 16 * run]):
                key = element + pos
                element += 16
                value = key + ksize
                vend = value + vsize
                # Order matters: the size checks make the byte reads after them safe.
                if (
                    vend > end
                    or flags
                    or vsize < 2
                    or (ksize != REVISION_KEY_SIZE and ksize != TOMBSTONE_KEY_SIZE)
                    or buf[key + 8] != 0x5F
                    or (ksize == TOMBSTONE_KEY_SIZE and buf[key + 17] != 0x74)
                ):
                    raise _bad_revision_element(db, leaf.where, buf, flags, key, ksize, vsize, end)
                main = unpack_main(buf, key)[0]
                if main < last_main:
                    raise db.error(
                        leaf.where, f"revision {main} after {last_main}: keys out of order"
                    )
                last_main = main
                klen = buf[value + 1]
                if buf[value] == 0x0A and klen < 0x80 and value + 2 + klen <= vend:
                    user_key = buf[value + 2 : value + 2 + klen]
                else:
                    user_key = _user_key(db, leaf.where, buf[value:vend], main)
                ids = shards[hash(user_key) & mask]
                kid = ids.get(user_key)
                if kid is None:
                    kid = ids[user_key] = len(keys)
                    keys.append(user_key)
                    latest.append(-1)
                prev.append(latest[kid])
                latest[kid] = entry
                entry += 1
                mains.append(main)
                offsets.append(value)
                sizes.append(vsize)
                kids.append(kid)
                tombstones.append(ksize - REVISION_KEY_SIZE)
            left -= run
            due -= run
            if not due:
                assert on_chunk is not None  # else ``due`` never gets to 0
                on_chunk(db, revs, entry, leaf.offset)
                yield_gil()
                due = chunk_size
        pages += 1
        if progress is not None and pages % _PROGRESS_PAGES == 0:
            progress(leaf.offset)
    free_dicts(shards)
    if on_chunk is not None:
        on_chunk(db, revs, entry, db.size)
    if progress is not None:
        progress(db.size)
    return revs


_FLIP = bytes.maketrans(b"\x00\x01", b"\x01\x00")


def _key_order(revs: Revisions) -> tuple[list[bytes], array[int], bytearray]:
    """``(sorted_keys, sorted_ids, alive)`` of :class:`SnapshotIndex`, in bounded C calls."""
    keys, latest, tombstones = revs.keys, revs.latest, revs.tombstones
    order = sort_in_steps(range(len(keys)), keys.__getitem__)
    sorted_ids: array[int] = array("I")
    for i in range(0, len(order), _GATHER):  # array("I", order) is one C call: 50-90 ms at 1M
        sorted_ids.extend(order[i : i + _GATHER])
    free_in_steps(order, _GATHER)
    live_by_id = bytearray()  # key number -> 1 when its last entry is a PUT
    for i in range(0, len(latest), _GATHER):
        live_by_id += bytes(map(tombstones.__getitem__, latest[i : i + _GATHER]))
    live_by_id = live_by_id.translate(_FLIP)
    sorted_keys: list[bytes] = []
    alive = bytearray()
    for i in range(0, len(sorted_ids), _GATHER):
        chunk = sorted_ids[i : i + _GATHER]
        sorted_keys += map(keys.__getitem__, chunk)
        alive += bytes(map(live_by_id.__getitem__, chunk))
    return sorted_keys, sorted_ids, alive


def _signed(value: int) -> int:
    """A protobuf int64 read as an unsigned varint, as the signed number it is."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _meta_revision(db: BboltFile, meta: Bucket | None, name: bytes) -> int:
    raw = meta.get(name) if meta is not None else None
    if raw is None:
        return 0
    if len(raw) < 8:
        raise db.error(f"bucket 'meta' key {name.decode()}", f"value of {len(raw)} bytes")
    return int(_MAIN.unpack_from(raw)[0])


def scan_snapshot(
    path: str | os.PathLike[str],
    progress: Callable[[int], None] | None = None,
    on_chunk: ChunkCallback | None = None,
    chunk_size: int = _CHUNK,
) -> SnapshotIndex:
    """Open and index a snapshot (blocking; the benchmark times this). Caller closes the index.

    ``progress(offset)`` is called now and then with the file offset reached; ``on_chunk`` after
    every ``chunk_size`` revision entries (see :data:`ChunkCallback`). After the scan, every step
    holds the GIL for a few milliseconds at most, so a UI thread keeps running.
    """
    db, copied = open_db(path)
    try:
        bucket = db.bucket(b"key")
        if bucket is None:
            raise BboltError(f"not an etcd snapshot: {db.label} (no bucket 'key')")
        meta = db.bucket(b"meta")
        revs = _scan_revisions(db, bucket, progress, on_chunk, chunk_size)
        scheduled = _meta_revision(db, meta, b"scheduledCompactRev")
        finished = _meta_revision(db, meta, b"finishedCompactRev")
        raw_index = meta.get(b"consistent_index") if meta is not None else None
        consistent_index = (
            int(_MAIN.unpack_from(raw_index)[0]) if raw_index and len(raw_index) >= 8 else None
        )
        sorted_keys, sorted_ids, alive = _key_order(revs)
    except BaseException:
        db.close()
        raise
    compact = max(scheduled, finished)
    return SnapshotIndex(
        db=db,
        mains=revs.mains,
        offsets=revs.offsets,
        sizes=revs.sizes,
        kids=revs.kids,
        prev=revs.prev,
        tombstones=revs.tombstones,
        keys=revs.keys,
        latest=revs.latest,
        sorted_keys=sorted_keys,
        sorted_ids=sorted_ids,
        alive=alive,
        revision=max(revs.mains[-1] if revs.mains else 0, compact),
        compact_revision=compact,
        consistent_index=consistent_index,
        copied=copied,
    )
