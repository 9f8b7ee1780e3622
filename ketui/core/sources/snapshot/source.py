"""Offline source over etcd snapshots (``etcdctl snapshot save``) and members' ``member/snap/db``.

:class:`SnapshotSource` answers the :class:`~ketui.core.source.Source` calls from the file's index
(:mod:`ketui.core.sources.snapshot.index`), built once in a worker thread on first use. There is
never more than one scan of the file: whoever needs the index while it is being built waits for the
same scan (:mod:`ketui.core.sources.shared_scan`).

The UI stays live while a big file is read: :meth:`SnapshotSource.scan_keys` hands the keys over in
batches of :data:`CHANGES_CHUNK` revision entries while that scan runs (the first within about
0.1 s), built in the scan thread from the chunk callback (:class:`_RevisionChanges`), which also
stops a scan that nobody needs any more.
"""

from __future__ import annotations

import asyncio
import bisect
import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path

from ketui.core.source import (
    FILTER_CHUNK,
    CompactedError,
    EventType,
    History,
    KeyChanges,
    KeyInfo,
    KeyValue,
    LeaseInfo,
    ProgressCallback,
    Revision,
    SourceError,
    SourceStatus,
    ValueTest,
    WatchEvent,
)
from ketui.core.sources.shared_scan import Scan, SharedScan
from ketui.core.sources.snapshot.bbolt import BboltFile
from ketui.core.sources.snapshot.index import (
    Revisions,
    SnapshotIndex,
    resolve_db_path,
    scan_snapshot,
)
from ketui.core.sources.snapshot.records import key_infos

_BATCH = 1000  # events / key infos built per worker-thread call
CHANGES_CHUNK = 32768
"""Revision entries per :class:`KeyChanges` batch of :meth:`SnapshotSource.scan_keys` (the scan
also checks there whether it should stop); the first batch is an eighth of it, so the UI paints
sooner. A module constant so that tests can make it tiny."""


class _RevisionChanges:
    """The chunk callback of a shared scan: stops it when asked, and while someone listens,
    turns each chunk into a :class:`KeyChanges` batch (in the scan thread)."""

    def __init__(self, scan: Scan[SnapshotIndex]) -> None:
        self._scan = scan
        self._shown = bytearray()  # key number -> 1 while the listener holds the key
        self._done = 0

    def __call__(self, db: BboltFile, revs: Revisions, end: int, offset: int) -> None:
        scan = self._scan
        start = scan.chunk(end)
        if not scan.listening:
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
        infos = key_infos(db, revs.offsets, revs.sizes, revs.mains, puts, names)
        self._done = max(self._done, offset)  # leaf pages are mostly, not always, in file order
        scan.emit(KeyChanges(infos, deletes, self._done, db.size))


SCAN_CHUNK = 32_768
"""Records a content search tests per worker-thread step."""


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
        self._scan: SharedScan[SnapshotIndex] = SharedScan(
            self._scan_file, SnapshotIndex.close, str(self.path)
        )

    @property
    def live(self) -> bool:
        return False

    async def load(self) -> None:
        """Index the file once; raises :class:`SourceError` (``BboltError``) naming the problem."""
        await self._load()

    async def _load(self) -> SnapshotIndex:
        return await self._scan.load()

    def _scan_file(self, scan: Scan[SnapshotIndex]) -> SnapshotIndex:  # in the scan thread
        return scan_snapshot(
            self.path, self._progress(scan.loop), _RevisionChanges(scan), CHANGES_CHUNK
        )

    def scan_keys(self) -> AsyncIterator[KeyChanges]:
        """Every key, handed over in batches while the file is being scanned.

        Applying each batch in order to an empty :class:`~ketui.core.index.keyindex.KeyIndex`
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
        return self._scan.changes(self._replay)

    async def _replay(self, index: SnapshotIndex) -> AsyncGenerator[KeyChanges, None]:
        """The keys of a loaded index as :meth:`scan_keys` batches (puts only)."""
        size = index.db.size
        pos, hi = 0, len(index.sorted_keys)
        while True:
            puts, pos = await asyncio.to_thread(
                index.key_infos, pos, hi, index.revision, CHANGES_CHUNK
            )
            yield KeyChanges(puts, [], size, size)
            if pos >= hi:
                return

    def _progress(self, loop: asyncio.AbstractEventLoop) -> Callable[[int], None] | None:
        callback = self.on_progress
        if callback is None:
            return None
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

    async def current_revision(self) -> int:
        return (await self._load()).revision

    @property
    def warnings(self) -> tuple[str, ...]:
        return ()

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

    async def filter_values(
        self, prefix: bytes, keep: ValueTest, *, on_progress: ProgressCallback | None = None
    ) -> AsyncGenerator[list[KeyValue], None]:
        """Every record is tested where it lies in the memory-mapped file, in file order
        (:meth:`SnapshotIndex.kept_entries`); the ones that pass are then read in key order.
        Progress counts keys, estimated from the records read."""
        index = await self._load()
        lo, hi = index.span(prefix)
        mask = await asyncio.to_thread(index.alive_mask, lo, hi)
        keys, entries = mask.count(1), len(index.mains)
        kept: list[int] = []
        for first in range(0, entries, SCAN_CHUNK):
            last = min(entries, first + SCAN_CHUNK)
            kept += await asyncio.to_thread(index.kept_entries, first, last, mask, keep)
            if on_progress is not None:
                on_progress(keys * last // entries, keys)
        ordered = await asyncio.to_thread(index.in_key_order, kept)
        for start in range(0, len(ordered), FILTER_CHUNK):
            chunk = ordered[start : start + FILTER_CHUNK]
            yield await asyncio.to_thread(index.key_values, chunk)

    async def leases(self) -> list[LeaseInfo]:
        index = await self._load()
        return await asyncio.to_thread(index.leases)

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
        index = await self._scan.close()
        if index is not None:
            index.close()
