"""Offline source over etcd snapshots (``etcdctl snapshot save``) and members' ``member/snap/db``.

Both are bbolt databases (read by :mod:`ketui.core.bbolt`). Bucket ``key`` maps revision keys
(8-byte big-endian main revision, ``_``, 8-byte sub revision, and an 18th byte ``t`` on a
tombstone) to ``mvccpb.KeyValue`` protobufs, so a snapshot holds every revision back to the last
compaction; bucket ``meta`` holds ``consistent_index``, ``scheduledCompactRev`` and
``finishedCompactRev``.

Memory stays bounded: one pass over the ``key`` bucket (in a worker thread) records, per revision,
only the main revision, the offset and size of the protobuf inside the mapping, the key's number and
a link to the key's previous revision, in flat arrays; values are parsed when asked for.

The UI stays live while a big file is read: :meth:`SnapshotSource.scan_keys` hands the keys over in
batches while that pass runs (the first within about 0.1 s), and after it the key order is built
in steps that never hold the GIL for more than a few milliseconds (one ``sorted()`` of a million
keys would hold it for a quarter of a second). Key metadata is read straight from the records'
bytes (:func:`_key_infos`).

A running etcd member holds an exclusive ``flock`` on its ``member/snap/db``. ketui never takes that
lock nor waits on it: a non-blocking probe tells whether the file is in use; if so, the file is
copied to a temporary file and the copy is kept only when the meta pages of the original did not
change while copying (no commit happened, so the pages reachable from the copied meta are intact).
Otherwise the user is told to use ``etcdctl snapshot save``.
"""

from __future__ import annotations

import asyncio
import bisect
import fcntl
import mmap
import os
import shutil
import struct
import tempfile
import time
from array import array
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from etcd3.etcdrpc import kv_pb2
from google.protobuf.message import DecodeError

from ketui.core.bbolt import (
    BUCKET_LEAF_FLAG,
    HEADER_SIZE,
    LEAF_ELEMENT,
    BboltError,
    BboltFile,
    Bucket,
    NotBboltError,
)
from ketui.core.gcpause import gc_paused
from ketui.core.pbwire import WireError, read_varint
from ketui.core.source import (
    CompactedError,
    EventType,
    History,
    KeyChanges,
    KeyInfo,
    KeyValue,
    ProgressCallback,
    Revision,
    SourceError,
    SourceStatus,
    WatchEvent,
)

REVISION_KEY_SIZE = 17  # main (8) + "_" + sub (8)
TOMBSTONE_KEY_SIZE = 18  # ... + "t"
_MAIN = struct.Struct(">Q")
_COPY_ATTEMPTS = 3
_BATCH = 1000  # events / key infos built per worker-thread call
_PROGRESS_PAGES = 2048  # report progress every this many leaf pages
CHANGES_CHUNK = 32768
"""Revision entries per :class:`KeyChanges` batch of :meth:`SnapshotSource.scan_keys` (the scan
also checks there whether it should stop); the first batch is an eighth of it, so the UI paints
sooner. A module constant so that tests can make it tiny."""
_SORT_RUN = 1 << 15  # keys per list.sort() call when sorting the key set (5-10 ms each)
_MERGE_FAN_IN = 32  # sorted runs merged together
_MERGE_STEP = 1 << 16  # keys merged per list.sort() call
_ID_SHARDS = 64  # dicts the key numbers are spread over while scanning (a power of two)
_GATHER = 8192  # items per C-level gather (map) call while building the index
_KEY_OF = attrgetter("key")


def _prefix_end(prefix: bytes) -> bytes | None:
    """First key after every key starting with ``prefix`` (None: to the end of the keyspace)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


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


_HEAD = struct.Struct("<20B")
"""The bytes after a record's key: create_revision, mod_revision, version and the value's length
with their tags, 4-18 bytes in practice (see :func:`_key_infos`)."""


class _NotCanonical(Exception):
    """A record not laid out as etcd writes it: protobuf reads it."""


def _key_info_from_protobuf(
    db: BboltFile, offsets: array[int], sizes: array[int], mains: array[int], entry: int
) -> KeyInfo:
    """The slow path of :func:`_key_infos`: any record protobuf can parse."""
    offset = offsets[entry]
    try:
        kv = kv_pb2.KeyValue.FromString(db.buffer[offset : offset + sizes[entry]])
    except DecodeError as exc:
        raise db.error(
            f"revision {mains[entry]}", f"not a mvccpb.KeyValue record ({exc})"
        ) from None
    return KeyInfo(kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.lease, len(kv.value))


def _key_infos(
    db: BboltFile,
    offsets: array[int],
    sizes: array[int],
    mains: array[int],
    entries: Iterable[int],
    keys: Iterable[bytes],
) -> list[KeyInfo]:
    """The :class:`KeyInfo` of each PUT entry in ``entries``, whose keys are ``keys``.

    Read straight from the record, without a message object or a copy of the value: etcd (gogo
    protobuf) writes a KeyValue's fields in number order and leaves zero values out (1 key,
    2 create_revision, 3 mod_revision, 4 version, 5 value, 6 lease), so after the key one struct
    call gives every byte up to the value. A record in any other layout (fields out of order or
    unknown, a key of 16 KiB, a record that does not end after its lease) goes through protobuf.
    """
    with gc_paused():  # a million KeyInfo objects that stay: nothing for the collector to find
        return _read_key_infos(db, offsets, sizes, mains, entries, keys)


def _read_key_infos(
    db: BboltFile,
    offsets: array[int],
    sizes: array[int],
    mains: array[int],
    entries: Iterable[int],
    keys: Iterable[bytes],
) -> list[KeyInfo]:
    """:func:`_key_infos` without the collector pause. The fields are unrolled: measured on a
    million keys, this is 10-15% faster than ``FromString`` and attribute reads, while a call per
    varint costs 10-40% (:func:`~ketui.core.pbwire.read_varint`: 40%, so only the rare lease
    uses it)."""
    buf = db.buffer
    head = _HEAD.unpack_from
    infos: list[KeyInfo] = []
    append = infos.append
    for entry, key in zip(entries, keys, strict=True):
        start = offsets[entry]
        end = start + sizes[entry]
        klen = len(key)
        try:
            if buf[start] != 0x0A:
                raise _NotCanonical
            if klen < 0x80:
                if buf[start + 1] != klen:
                    raise _NotCanonical
                pos = start + 2 + klen
            elif buf[start + 1] == klen & 0x7F | 0x80 and buf[start + 2] == klen >> 7:
                pos = start + 3 + klen
            else:
                raise _NotCanonical
            h = head(buf, pos)  # may run past the record: ``pos == end`` below catches that
            # Each field: its tag, then a varint; 1-byte varints without a loop.
            i = 0
            create = mod = version = size = 0
            if h[0] == 0x10:
                create = h[1]
                i = 2
                if create > 0x7F:
                    create &= 0x7F
                    shift = 7
                    while (byte := h[i]) > 0x7F and shift < 63:
                        create |= (byte & 0x7F) << shift
                        shift += 7
                        i += 1
                    create |= byte << shift
                    i += 1
            if h[i] == 0x18:
                mod = h[i + 1]
                i += 2
                if mod > 0x7F:
                    mod &= 0x7F
                    shift = 7
                    while (byte := h[i]) > 0x7F and shift < 63:
                        mod |= (byte & 0x7F) << shift
                        shift += 7
                        i += 1
                    mod |= byte << shift
                    i += 1
            if h[i] == 0x20:
                version = h[i + 1]
                i += 2
                if version > 0x7F:
                    version &= 0x7F
                    shift = 7
                    while (byte := h[i]) > 0x7F and shift < 63:
                        version |= (byte & 0x7F) << shift
                        shift += 7
                        i += 1
                    version |= byte << shift
                    i += 1
            if h[i] == 0x2A:
                size = h[i + 1]
                i += 2
                if size > 0x7F:
                    size &= 0x7F
                    shift = 7
                    while (byte := h[i]) > 0x7F and shift < 63:
                        size |= (byte & 0x7F) << shift
                        shift += 7
                        i += 1
                    size |= byte << shift
                    i += 1
            pos += i + size
            lease = 0
            if pos < end and buf[pos] == 0x30:
                lease, pos = read_varint(buf, pos + 1, end)  # type: ignore[arg-type]  # mmap
            if pos == end and not (create | mod | version | lease) >> 63:  # else: int64 < 0
                append(KeyInfo(key, create, mod, version, lease, size))
                continue
        except (_NotCanonical, IndexError, struct.error, WireError):
            pass  # another layout, past the end of the mapping or of the 20 bytes, a bad varint
        append(_key_info_from_protobuf(db, offsets, sizes, mains, entry))
    return infos


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
        end = _prefix_end(prefix)
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
        return _key_infos(self.db, self.offsets, self.sizes, self.mains, entries, keys), pos

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


class _Revisions(NamedTuple):
    """What one pass over bucket ``key`` collects (see :class:`SnapshotIndex`)."""

    mains: array[int]
    offsets: array[int]
    sizes: array[int]
    kids: array[int]
    prev: array[int]
    tombstones: bytearray
    keys: list[bytes]
    latest: array[int]


ChunkCallback = Callable[[BboltFile, _Revisions, int, int], None]
"""``(db, revisions so far, entries scanned, file offset reached)``, called in the scan thread
after every ``chunk_size`` entries and once at the end (offset = file size); raising stops it."""

_NEVER = 1 << 62  # entries until the next chunk callback when there is none


def _scan_revisions(
    db: BboltFile,
    bucket: Bucket,
    progress: Callable[[int], None] | None,
    on_chunk: ChunkCallback | None = None,
    chunk_size: int = CHANGES_CHUNK,
) -> _Revisions:
    """One pass over bucket ``key``: the hot loop of a snapshot scan.

    Works on offsets into the mapping with ``struct`` and slicing only; the user key is read
    straight from the protobuf (field 1 comes first in etcd's encoding) without parsing it.
    A page's elements are taken in runs that end where a chunk ends, so ``on_chunk`` costs the
    loop nothing per element (and nothing at all without it).
    """
    buf = db.buffer
    unpack_main = _MAIN.unpack_from
    iter_elements = LEAF_ELEMENT.iter_unpack
    # key -> key number, in _ID_SHARDS dicts: one dict of a million keys resizes in a single C
    # call that held the GIL (froze the UI) for 0.1 s; each shard's resizes take 1/64 of that.
    shards: list[dict[bytes, int]] = [{} for _ in range(_ID_SHARDS)]
    mask = _ID_SHARDS - 1
    keys: list[bytes] = []
    latest: array[int] = array("q")
    mains: array[int] = array("Q")
    offsets: array[int] = array("q")
    sizes: array[int] = array("I")
    kids: array[int] = array("I")
    prev: array[int] = array("q")
    tombstones = bytearray()
    revs = _Revisions(mains, offsets, sizes, kids, prev, tombstones, keys, latest)
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
                _yield_gil()
                due = chunk_size
        pages += 1
        if progress is not None and pages % _PROGRESS_PAGES == 0:
            progress(leaf.offset)
    for i in range(len(shards)):  # one dict at a time (dropping all at once: 40 ms in one call)
        shards[i] = {}
    if on_chunk is not None:
        on_chunk(db, revs, entry, db.size)
    if progress is not None:
        progress(db.size)
    return revs


def _yield_gil() -> None:
    """Let a waiting thread (the UI's event loop) run now, not at the next forced switch.

    CPython hands the GIL over only every ``sys.getswitchinterval()`` (5 ms) to a thread that
    asks for it; sleeping releases it at once. Called between the scan's steps.
    """
    time.sleep(0)


def _free_in_steps(items: list[Any]) -> None:
    """Empty a big list a slice at a time: freeing a million objects at once is one C call
    (30-40 ms) during which no other thread runs."""
    while items:
        del items[-_GATHER:]


def _sort_in_steps(items: Sequence[int], key: Callable[[int], bytes]) -> list[int]:
    """``sorted(items, key=key)`` for items of distinct keys, never holding the GIL long.

    One ``sorted()`` of a million keys is a single C call of about 0.25 s during which no other
    thread runs (the UI would freeze). Here runs of :data:`_SORT_RUN` are sorted, then merged
    :data:`_MERGE_FAN_IN` at a time in steps of at most :data:`_MERGE_STEP` items: same total
    time, no call over about 15 ms.
    """
    runs = []
    for i in range(0, len(items), _SORT_RUN):
        runs.append(sorted(items[i : i + _SORT_RUN], key=key))
        _yield_gil()
    while len(runs) > 1:
        runs = [
            _merge(runs[i : i + _MERGE_FAN_IN], key) for i in range(0, len(runs), _MERGE_FAN_IN)
        ]
    return runs[0] if runs else []


def _merge(runs: list[list[int]], key: Callable[[int], bytes]) -> list[int]:
    """Merge runs sorted by ``key`` (distinct keys), at most :data:`_MERGE_STEP` items per C call.

    Each step takes up to ``step`` items from every run, cut at the smallest of their last
    keys (everything up to it is final), and sorts them: list.sort() merges sorted runs laid
    end to end in linear time.
    """
    if len(runs) == 1:
        return runs[0]
    step = max(1, _MERGE_STEP // len(runs))
    merged: list[int] = []
    starts = [0] * len(runs)
    live = list(range(len(runs)))
    while live:
        cut = min(key(runs[r][min(starts[r] + step, len(runs[r])) - 1]) for r in live)
        part: list[int] = []
        for r in live:
            run, start = runs[r], starts[r]
            stop = bisect.bisect_right(run, cut, start, min(start + step, len(run)), key=key)
            part += run[start:stop]
            starts[r] = stop
        live = [r for r in live if starts[r] < len(runs[r])]
        part.sort(key=key)
        merged += part
        _yield_gil()
    return merged


_FLIP = bytes.maketrans(b"\x00\x01", b"\x01\x00")


def _key_order(revs: _Revisions) -> tuple[list[bytes], array[int], bytearray]:
    """``(sorted_keys, sorted_ids, alive)`` of :class:`SnapshotIndex`, in bounded C calls."""
    keys, latest, tombstones = revs.keys, revs.latest, revs.tombstones
    order = _sort_in_steps(range(len(keys)), keys.__getitem__)
    sorted_ids: array[int] = array("I")
    for i in range(0, len(order), _GATHER):  # array("I", order) is one C call: 50-90 ms at 1M
        sorted_ids.extend(order[i : i + _GATHER])
    _free_in_steps(order)
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
    chunk_size: int = CHANGES_CHUNK,
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


class _ScanStopped(Exception):
    """Raised in the scan thread to end a scan nobody needs any more."""


class _Scan:
    """One scan of the file in a worker thread, shared by everyone waiting for its index."""

    def __init__(self, listener: asyncio.Queue[KeyChanges | None] | None) -> None:
        self.listener = listener  # scan_keys takes its batches from here; None: nobody listens
        self.needed = False  # a load() waits for the index: scan to the end even if nobody listens
        self.stop = False  # read by the scan thread after each chunk
        self.closed = False  # the source was closed meanwhile
        self.task: asyncio.Task[SnapshotIndex] | None = None


class _ChangesBuilder:
    """The chunk callback of a shared scan: stops it when asked, and while someone listens,
    turns each chunk into a :class:`KeyChanges` batch (in the scan thread)."""

    def __init__(self, scan: _Scan, emit: Callable[[KeyChanges], None]) -> None:
        self._scan = scan
        self._emit = emit
        self._start = 0  # first entry of the next chunk
        self._shown = bytearray()  # key number -> 1 while the listener holds the key
        self._done = 0

    def __call__(self, db: BboltFile, revs: _Revisions, end: int, offset: int) -> None:
        scan = self._scan
        if scan.stop:
            raise _ScanStopped
        start, self._start = self._start, end
        if scan.listener is None:
            return
        kids, latest, tombstones, keys = revs.kids, revs.latest, revs.tombstones, revs.keys
        shown = self._shown
        shown += bytes(len(keys) - len(shown))
        puts: list[int] = []
        deletes: list[bytes] = []
        # A key touched in this chunk has its latest entry so far in it: that entry decides.
        for entry in range(start, end):
            kid = kids[entry]
            if latest[kid] != entry:
                continue
            if not tombstones[entry]:
                shown[kid] = 1
                puts.append(entry)
            elif shown[kid]:  # a delete only matters to a key the listener has
                shown[kid] = 0
                deletes.append(keys[kid])
        names = map(keys.__getitem__, map(kids.__getitem__, puts))
        infos = _key_infos(db, revs.offsets, revs.sizes, revs.mains, puts, names)
        infos.sort(key=_KEY_OF)  # KeyIndex.add_many is fastest in key order
        self._done = max(self._done, offset)  # leaf pages are mostly, not always, in file order
        self._emit(KeyChanges(infos, deletes, self._done, db.size))


def _deliver(scan: _Scan, changes: KeyChanges) -> None:
    """On the event loop: hand a batch to the listener, if it is still there."""
    if scan.listener is not None:
        scan.listener.put_nowait(changes)


def _retrieve(task: asyncio.Task[SnapshotIndex]) -> None:
    """Mark a scan's outcome as seen: nobody may be left to await it (asyncio would complain)."""
    if not task.cancelled():
        task.exception()


class SnapshotSource:
    """:class:`~ketui.core.source.Source` over a snapshot file, a member db or an etcd data dir.

    The file is indexed on first use (or by :meth:`load`) in a worker thread; ``on_progress(done,
    total)`` is called on the event loop with bytes scanned. :meth:`scan_keys` hands over the keys
    while that scan runs. There is never more than one scan: every caller waits for the same one.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, on_progress: ProgressCallback | None = None
    ) -> None:
        self.path = Path(path)
        self.on_progress = on_progress
        self._index: SnapshotIndex | None = None
        self._scan: _Scan | None = None

    @property
    def live(self) -> bool:
        return False

    async def load(self) -> None:
        """Index the file once; raises :class:`SourceError` (``BboltError``) naming the problem."""
        await self._load()

    async def _load(self) -> SnapshotIndex:
        while self._index is None:
            scan = self._scan if self._scan is not None else self._start_scan(None)
            scan.needed = True
            scan.stop = False  # a scan_keys consumer that left asked it to stop: it is needed
            assert scan.task is not None
            try:
                return await asyncio.shield(scan.task)
            except _ScanStopped:
                continue  # it stopped before it saw that it was needed: scan again
        return self._index

    def _start_scan(self, listener: asyncio.Queue[KeyChanges | None] | None) -> _Scan:
        scan = _Scan(listener)
        loop = asyncio.get_running_loop()

        def emit(changes: KeyChanges) -> None:  # in the scan thread
            loop.call_soon_threadsafe(_deliver, scan, changes)

        scan.task = loop.create_task(self._run_scan(scan, _ChangesBuilder(scan, emit)))
        scan.task.add_done_callback(_retrieve)
        self._scan = scan
        return scan

    async def _run_scan(self, scan: _Scan, on_chunk: _ChangesBuilder) -> SnapshotIndex:
        try:
            index = await asyncio.to_thread(
                scan_snapshot, self.path, self._progress(), on_chunk, CHANGES_CHUNK
            )
        except _ScanStopped:
            if scan.closed:
                raise SourceError(f"{self.path}: closed while it was being read") from None
            raise
        except asyncio.CancelledError:
            scan.stop = True  # the thread ends at its next chunk
            raise
        finally:
            if self._scan is scan:
                self._scan = None
            if scan.listener is not None:  # the end, queued after every batch of the thread
                scan.listener.put_nowait(None)
        if scan.closed:
            index.close()
            raise SourceError(f"{self.path}: closed while it was being read")
        self._index = index
        return index

    async def scan_keys(self) -> AsyncIterator[KeyChanges]:
        """Every key, handed over in batches while the file is being scanned.

        Applying each batch in order to an empty :class:`~ketui.core.keyindex.KeyIndex`
        (``add_many(puts)``, then ``delete(key)`` for each of ``deletes``) leaves exactly the keys
        and :class:`KeyInfo` values of ``list_keys(b"")``. A batch covers :data:`CHANGES_CHUNK`
        revision entries: the first comes within about 0.1 s whatever the file's size. Its puts
        are in key order; its deletes only name keys an earlier batch put. The iterator ends once
        the index is complete (``get``, ``history`` etc. then answer at once).

        When the index is already loaded, or a scan started by another caller is running, the
        batches come from the index once it is there (puts only). Errors are those of
        :meth:`load`. Leaving early stops the scan at its next chunk unless a :meth:`load` waits
        for it; a later call then scans again.
        """
        if self._index is None and self._scan is None:
            listener: asyncio.Queue[KeyChanges | None] = asyncio.Queue()
            scan = self._start_scan(listener)
            assert scan.task is not None
            try:
                while (changes := await listener.get()) is not None:
                    yield changes
                await asyncio.shield(scan.task)  # raises what the scan raised
                return
            finally:
                scan.listener = None
                if not scan.needed:
                    scan.stop = True
        index = await self._load()
        size = index.db.size
        pos, hi = 0, len(index.sorted_keys)
        while True:
            puts, pos = await asyncio.to_thread(
                index.key_infos, pos, hi, index.revision, CHANGES_CHUNK
            )
            yield KeyChanges(puts, [], size, size)
            if pos >= hi:
                return

    def _progress(self) -> Callable[[int], None] | None:
        callback = self.on_progress
        if callback is None:
            return None
        loop = asyncio.get_running_loop()
        try:
            total = resolve_db_path(self.path).stat().st_size
        except OSError:
            total = 0

        def report(done: int) -> None:
            loop.call_soon_threadsafe(callback, done, total)

        return report

    def _check_revision(self, index: SnapshotIndex, revision: int) -> None:
        if revision < index.compact_revision:
            raise CompactedError(index.compact_revision, revision)
        if revision > index.revision:
            raise SourceError(
                f"revision {revision} is in the future: the snapshot ends at {index.revision}"
            )

    async def status(self, *, count_keys: bool = True) -> SourceStatus:  # counting is cheap
        index = await self._load()
        meta = index.db.meta
        extra = {
            "revisions": str(len(index.mains)),
            "bbolt_txid": str(meta.txid),
            "page_size": str(meta.page_size),
        }
        if index.consistent_index is not None:
            extra["consistent_index"] = str(index.consistent_index)
        if index.copied:
            extra["note"] = "read from a consistent copy: a running etcd member holds this file"
        return SourceStatus(
            kind="snapshot",
            description=index.db.label,
            revision=index.revision,
            compact_revision=index.compact_revision,
            db_size=index.db.size,
            key_count=index.key_count,
            read_only=True,
            extra=extra,
        )

    async def list_keys(
        self, prefix: bytes = b"", *, revision: int | None = None, page_size: int = 10_000
    ) -> AsyncIterator[list[KeyInfo]]:
        index = await self._load()
        rev = revision if revision and revision > 0 else index.revision  # 0: now, as in etcd
        self._check_revision(index, rev)
        pos, hi = index.span(prefix)
        while pos < hi:
            page, pos = await asyncio.to_thread(index.key_infos, pos, hi, rev, max(1, page_size))
            if page:
                yield page

    async def count(self, prefix: bytes = b"") -> int:
        index = await self._load()
        lo, hi = index.span(prefix)
        return index.alive[lo:hi].count(1)

    async def get(self, key: bytes, *, revision: int | None = None) -> KeyValue | None:
        index = await self._load()
        rev = revision if revision and revision > 0 else index.revision  # 0: now, as in etcd
        self._check_revision(index, rev)
        kid = index.key_number(key)
        if kid is None:
            return None
        entry = index.entry_at(kid, rev)
        if entry < 0 or index.tombstones[entry]:
            return None
        return index.key_value(entry)

    async def history(self, key: bytes) -> History:
        """Every revision of ``key`` in the file, deletes included, oldest first."""
        index = await self._load()
        revisions: list[Revision] = []
        kid = index.key_number(key)
        entry = -1 if kid is None else index.latest[kid]
        while entry >= 0:
            kind = EventType.DELETE if index.tombstones[entry] else EventType.PUT
            revisions.append(Revision(kind, index.key_value(entry)))
            entry = index.prev[entry]
        revisions.reverse()
        return History(key=key, revisions=revisions, compact_revision=index.compact_revision)

    async def watch(
        self, prefix: bytes = b"", *, start_revision: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        """Replays the file's history from ``start_revision`` in revision order, then ends.

        Without ``start_revision`` (or with 0, etcd's "now") there is nothing newer: ends at once.
        """
        index = await self._load()
        if not start_revision:
            return
        if start_revision < index.compact_revision:
            raise CompactedError(index.compact_revision, start_revision)
        entry = bisect.bisect_left(index.mains, start_revision)
        while entry < len(index.mains):
            events, entry = await asyncio.to_thread(index.events, entry, prefix, _BATCH)
            for event in events:
                yield event

    async def close(self) -> None:
        """Close the file; a scan still running stops at its next chunk (waited for)."""
        scan, self._scan = self._scan, None
        if scan is not None and scan.task is not None:
            scan.closed = scan.stop = True
            await asyncio.wait([scan.task])  # its outcome is retrieved by _retrieve
        index, self._index = self._index, None
        if index is not None:
            index.close()
