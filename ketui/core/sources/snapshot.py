"""Offline source over etcd snapshots (``etcdctl snapshot save``) and members' ``member/snap/db``.

Both are bbolt databases (read by :mod:`ketui.core.bbolt`). Bucket ``key`` maps revision keys
(8-byte big-endian main revision, ``_``, 8-byte sub revision, and an 18th byte ``t`` on a
tombstone) to ``mvccpb.KeyValue`` protobufs, so a snapshot holds every revision back to the last
compaction; bucket ``meta`` holds ``consistent_index``, ``scheduledCompactRev`` and
``finishedCompactRev``.

Memory stays bounded: one pass over the ``key`` bucket (in a worker thread) records, per revision,
only the main revision, the offset and size of the protobuf inside the mapping, the key's number and
a link to the key's previous revision, in flat arrays; values are parsed when asked for.

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
from array import array
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

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
from ketui.core.source import (
    CompactedError,
    EventType,
    History,
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
        infos: list[KeyInfo] = []
        current = revision >= self.revision
        while pos < hi and len(infos) < limit:
            if current and not self.alive[pos]:
                pos += 1
                continue
            entry = self.entry_at(self.sorted_ids[pos], revision)
            pos += 1
            if entry < 0 or self.tombstones[entry]:
                continue
            kv = self.record(entry)
            infos.append(
                KeyInfo(
                    kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.lease, len(kv.value)
                )
            )
        return infos, pos

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


def _scan_revisions(
    db: BboltFile, bucket: Bucket, progress: Callable[[int], None] | None
) -> _Revisions:
    """One pass over bucket ``key``: the hot loop of a snapshot scan.

    Works on offsets into the mapping with ``struct`` and slicing only; the user key is read
    straight from the protobuf (field 1 comes first in etcd's encoding) without parsing it.
    """
    buf = db.buffer
    unpack_main = _MAIN.unpack_from
    iter_elements = LEAF_ELEMENT.iter_unpack
    ids: dict[bytes, int] = {}
    keys: list[bytes] = []
    latest: array[int] = array("q")
    mains: array[int] = array("Q")
    offsets: array[int] = array("q")
    sizes: array[int] = array("I")
    kids: array[int] = array("I")
    prev: array[int] = array("q")
    tombstones = bytearray()
    last_main = -1
    entry = 0
    pages = 0
    for leaf in bucket.leaf_pages():
        start = leaf.offset + HEADER_SIZE
        element = start
        end = leaf.end
        for flags, pos, ksize, vsize in iter_elements(buf[start : start + 16 * leaf.elements]):
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
                raise db.error(leaf.where, f"revision {main} after {last_main}: keys out of order")
            last_main = main
            klen = buf[value + 1]
            if buf[value] == 0x0A and klen < 0x80 and value + 2 + klen <= vend:
                user_key = buf[value + 2 : value + 2 + klen]
            else:
                user_key = _user_key(db, leaf.where, buf[value:vend], main)
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
        pages += 1
        if progress is not None and pages % _PROGRESS_PAGES == 0:
            progress(leaf.offset)
    if progress is not None:
        progress(db.size)
    return _Revisions(mains, offsets, sizes, kids, prev, tombstones, keys, latest)


def _meta_revision(db: BboltFile, meta: Bucket | None, name: bytes) -> int:
    raw = meta.get(name) if meta is not None else None
    if raw is None:
        return 0
    if len(raw) < 8:
        raise db.error(f"bucket 'meta' key {name.decode()}", f"value of {len(raw)} bytes")
    return int(_MAIN.unpack_from(raw)[0])


def scan_snapshot(
    path: str | os.PathLike[str], progress: Callable[[int], None] | None = None
) -> SnapshotIndex:
    """Open and index a snapshot (blocking; the benchmark times this). Caller closes the index.

    ``progress(offset)`` is called now and then with the file offset reached.
    """
    db, copied = open_db(path)
    try:
        bucket = db.bucket(b"key")
        if bucket is None:
            raise BboltError(f"not an etcd snapshot: {db.label} (no bucket 'key')")
        meta = db.bucket(b"meta")
        revs = _scan_revisions(db, bucket, progress)
        scheduled = _meta_revision(db, meta, b"scheduledCompactRev")
        finished = _meta_revision(db, meta, b"finishedCompactRev")
        raw_index = meta.get(b"consistent_index") if meta is not None else None
        consistent_index = (
            int(_MAIN.unpack_from(raw_index)[0]) if raw_index and len(raw_index) >= 8 else None
        )
    except BaseException:
        db.close()
        raise
    keys, latest, tombstones = revs.keys, revs.latest, revs.tombstones
    order = sorted(range(len(keys)), key=keys.__getitem__)
    compact = max(scheduled, finished)
    return SnapshotIndex(
        db=db,
        mains=revs.mains,
        offsets=revs.offsets,
        sizes=revs.sizes,
        kids=revs.kids,
        prev=revs.prev,
        tombstones=tombstones,
        keys=keys,
        latest=latest,
        sorted_keys=[keys[kid] for kid in order],
        sorted_ids=array("I", order),
        alive=bytearray(1 - tombstones[latest[kid]] for kid in order),
        revision=max(revs.mains[-1] if revs.mains else 0, compact),
        compact_revision=compact,
        consistent_index=consistent_index,
        copied=copied,
    )


class SnapshotSource:
    """:class:`~ketui.core.source.Source` over a snapshot file, a member db or an etcd data dir.

    The file is indexed on first use (or by :meth:`load`) in a worker thread; ``on_progress(done,
    total)`` is called on the event loop with bytes scanned.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, on_progress: ProgressCallback | None = None
    ) -> None:
        self.path = Path(path)
        self.on_progress = on_progress
        self._index: SnapshotIndex | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def live(self) -> bool:
        return False

    async def load(self) -> None:
        """Index the file once; raises :class:`SourceError` (``BboltError``) naming the problem."""
        await self._load()

    async def _load(self) -> SnapshotIndex:
        if self._index is not None:
            return self._index
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._index is None:
                self._index = await asyncio.to_thread(scan_snapshot, self.path, self._progress())
        return self._index

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

    async def status(self) -> SourceStatus:
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
        index, self._index = self._index, None
        if index is not None:
            index.close()
