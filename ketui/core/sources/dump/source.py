"""Offline source over files written by ``etcdctl get "" --prefix -w json`` (plain or gzip).

Such a dump is one JSON document ``{"header": {..., "revision": N}, "kvs": [{"key": b64,
"create_revision": .., "mod_revision": .., "version": .., "value": b64, "lease": ..}, ...],
"count": N}`` on a single line; ``value`` and ``lease`` are left out when empty/zero and ``kvs``
when there are no keys. Several documents in one file (``>>`` appends) are accepted.

Streaming: the file is memory-mapped and scanned by :mod:`.scanner`, which keeps only the keys,
their metadata and the *position* of each base64 value; a value is decoded when
:meth:`DumpSource.get` asks for it. A gzip file is decompressed once, streaming, into an anonymous
temporary file (already unlinked, so nothing is left behind; it needs free space in ``$TMPDIR`` for
the uncompressed size). Scanning runs in a worker thread; progress goes to
``on_progress(bytes_done, bytes_total)`` on the event loop, counted in on-disk bytes of all files.

The UI does not wait for the whole scan: :meth:`DumpSource.scan_keys` hands the keys over in
batches of :data:`CHANGES_CHUNK` while the scan runs (the first after an eighth of that), built in
the scan thread by :class:`_RowChanges`, which also stops a scan nobody needs any more. There
is never more than one scan: ``load()`` and every other call wait for the same one
(:mod:`ketui.core.sources.shared_scan`).

Several files are merged: for a key present in more than one, the highest ``mod_revision`` wins
(the later file on a tie); the source's revision is the highest header revision. A dump cannot
record deletions, so a key deleted between two dumps stays visible from the older one.

A dump holds a single revision of each key: ``history`` has one entry, ``watch`` ends at once, and
reading at an older revision works only where the key's ``mod_revision`` proves the value was
already current then (otherwise :class:`CompactedError`).
"""

from __future__ import annotations

import asyncio
import binascii
import bisect
import os
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from operator import lt
from pathlib import Path

from ketui.core.bulk import (
    free_dicts,
    free_in_steps,
    gc_paused,
    sharded_dicts,
    sort_in_steps,
)
from ketui.core.source import (
    FILTER_CHUNK,
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
    ValueTest,
    WatchEvent,
)
from ketui.core.sources.dump.scanner import (
    TAKE_STEP,
    DumpFile,
    Progress,
    Rows,
    Scanner,
    open_mapped,
)
from ketui.core.sources.ranges import prefix_end
from ketui.core.sources.shared_scan import Scan, SharedScan

CHANGES_CHUNK = 32768
"""Keys per :class:`KeyChanges` batch of :meth:`DumpSource.scan_keys` (the scan also checks there
whether it should stop); the first batch is an eighth of it, so the UI paints sooner. A module
constant so that tests can make it tiny."""
class _RowChanges:
    """The chunk callback of a shared scan, called by the scanner every :data:`CHANGES_CHUNK`
    rows and at the end of each file: stops the scan when asked, and while someone listens turns
    the new rows into a :class:`KeyChanges` batch (in the scan thread).

    It also follows how far the rows are in strictly increasing key order (``ordered``): a single
    etcdctl dump is, so its rows go over as they are and the merge has nothing to do. Past that
    point a key may come again (another file, another document), and a row is handed over only
    if it wins the merge against every earlier row of its key (a higher ``mod_revision``, or an
    equal one: it comes later), which is what the listener then holds for it.
    """

    def __init__(self, scan: Scan[_Loaded], total: int) -> None:
        self._scan = scan
        self._total = total
        self.next_at = max(1, CHANGES_CHUNK // 8)  # row count at which the scanner calls again
        self.ordered = 0  # rows[:ordered] have strictly increasing keys
        self._shown: list[dict[bytes, int]] = sharded_dicts()  # key -> mod shown

    def __call__(self, rows: Rows, done: int) -> None:
        scan = self._scan
        keys = rows.keys
        end = len(keys)
        start = scan.chunk(end)
        self.next_at = end + CHANGES_CHUNK
        if self.ordered == start and start < end:
            self._extend_ordered(keys, start, end)
        if not scan.listening:
            return
        if self.ordered >= end:
            puts = rows.infos(start, end)  # already in key order, distinct
        else:
            puts = self._winners(rows, start, end)
        scan.emit(KeyChanges(puts, [], done, self._total))

    def release(self) -> None:
        """Forget what was shown, without holding the GIL long."""
        free_dicts(self._shown)

    def _extend_ordered(self, keys: list[bytes], start: int, end: int) -> None:
        lo = max(0, start - 1)
        if all(map(lt, keys[lo : end - 1], keys[lo + 1 : end])):  # a few ms for a chunk
            self.ordered = end
            return
        index = max(1, start)
        while index < end and keys[index - 1] < keys[index]:
            index += 1
        self.ordered = index

    def _winners(self, rows: Rows, start: int, end: int) -> list[KeyInfo]:
        """Rows ``start`` to ``end`` that win against what was handed over, in key order."""
        keys, mods, ordered = rows.keys, rows.mod, self.ordered
        shown = self._shown
        chosen = {keys[i]: i for i in range(start, min(end, ordered))}  # key -> row, this batch
        for index in range(max(start, ordered), end):
            key = keys[index]
            mod = mods[index]
            shard = shown[hash(key) & (len(shown) - 1)]  # DICT_SHARDS: a power of two
            before = shard.get(key)
            if before is None:  # not seen past the ordered rows: maybe among them
                at = bisect.bisect_left(keys, key, 0, ordered)
                if at < ordered and keys[at] == key:
                    before = mods[at]
            if before is None or mod >= before:  # a tie goes to the later row
                shard[key] = mod
                chosen[key] = index
        with gc_paused():
            puts = [rows.info(i) for i in chosen.values()]
        return puts


def _merge(rows: Rows, ordered: int) -> Rows:
    """Sort by key and keep one row per key: highest mod_revision, the later row on a tie (the
    later file; in a file, the later document). ``rows[:ordered]`` are known to be in strictly
    increasing key order. Done in steps that never hold the GIL long."""
    keys = rows.keys
    if ordered >= len(keys):
        return rows  # the usual single etcdctl dump: already sorted, no duplicates
    order = sort_in_steps(range(len(keys)), keys.__getitem__)  # equal keys: in any order
    mods = rows.mod
    chosen: list[int] = []
    for index in order:
        if chosen and keys[chosen[-1]] == keys[index]:
            last = chosen[-1]
            if (mods[index], index) > (mods[last], last):
                chosen[-1] = index
        else:
            chosen.append(index)
    free_in_steps(order, TAKE_STEP)
    merged = rows.take(chosen)
    free_in_steps(chosen, TAKE_STEP)
    return merged


@dataclass
class _Loaded:
    """What a finished scan hands to the source."""

    files: list[DumpFile]
    rows: Rows
    revision: int
    warnings: list[str]

    def close(self) -> None:
        for dump in self.files:
            dump.close()


class DumpSource:
    """:class:`~ketui.core.source.Source` over one or several etcdctl JSON dumps (``live=False``).

    Loading happens on first use (or an explicit ``await load()``) in a worker thread;
    :meth:`scan_keys` hands over the keys while it runs. There is never more than one scan: every
    caller waits for the same one.
    """

    def __init__(
        self, paths: Sequence[str | os.PathLike[str]], on_progress: ProgressCallback | None = None
    ) -> None:
        if not paths:
            raise SourceError("no dump file given")
        self.paths = [Path(p) for p in paths]
        self.on_progress = on_progress
        self._scan: SharedScan[_Loaded] = SharedScan(
            self._load_sync, _Loaded.close, str(self.paths[0])
        )

    @property
    def live(self) -> bool:
        return False

    @property
    def _files(self) -> list[DumpFile]:
        loaded = self._scan.result
        return [] if loaded is None else loaded.files

    @property
    def _revision(self) -> int:
        loaded = self._scan.result
        return 0 if loaded is None else loaded.revision

    @property
    def _warnings(self) -> list[str]:
        loaded = self._scan.result
        return [] if loaded is None else loaded.warnings

    @property
    def warnings(self) -> list[str]:
        """Things the user should know about the files (incomplete dumps, mixed clusters...)."""
        return list(self._warnings)

    async def load(self) -> None:
        """Scan every file (once); raises :class:`SourceError` naming the file and byte offset."""
        await self._table()

    async def _table(self) -> Rows:
        return (await self._scan.load()).rows

    def _load_sync(self, scan: Scan[_Loaded]) -> _Loaded:  # in the scan thread
        total = 0
        for path in self.paths:
            try:
                total += path.stat().st_size
            except OSError as exc:
                raise SourceError(f"{path}: cannot open: {exc.strerror or exc}") from exc
        progress = Progress(self.on_progress, scan.loop, total)
        on_chunk = _RowChanges(scan, total)
        rows = Rows()
        files: list[DumpFile] = []
        try:
            for index, path in enumerate(self.paths):
                base = progress.base
                dump = open_mapped(path, progress)
                files.append(dump)
                Scanner(dump, index, rows, progress, on_chunk).run()
                progress.advance(base + dump.disk_size - progress.base)
                on_chunk(rows, progress.base)  # the rest of the file's rows
                progress.report(0, force=True)
            merged = _merge(rows, on_chunk.ordered)
        except BaseException:
            for dump in files:
                dump.close()
            raise
        finally:
            on_chunk.release()
        if merged is not rows:
            free_in_steps(rows.keys, TAKE_STEP)
        warnings = [w for dump in files for w in dump.warnings]
        clusters = {cid for dump in files for cid in dump.cluster_ids}
        if len(clusters) > 1:
            warnings.append(
                "the dumps come from different clusters: "
                + ", ".join(f"{cid:x}" for cid in sorted(clusters))
            )
        return _Loaded(files, merged, max(dump.revision for dump in files), warnings)

    def scan_keys(self) -> AsyncIterator[KeyChanges]:
        """Every key, handed over in batches while the files are being scanned.

        Applying each batch in order to an empty :class:`~ketui.core.index.keyindex.KeyIndex`
        (``add_many(puts)``; a dump records no deletes, so ``deletes`` stays empty) leaves exactly
        the keys and :class:`KeyInfo` values of ``list_keys(b"")``, the merge of several files
        included: a key's version is put only when it wins against those put before, so a losing
        version never replaces a winning one. A batch covers :data:`CHANGES_CHUNK` keys of the
        files (the first an eighth of it) and one ends each file; its puts are distinct and in
        key order; ``done``/``total`` are on-disk bytes of all files. The iterator ends once the
        table is complete (``get``, ``count`` etc. then answer at once).

        When the table is already loaded, or a scan started by another caller is running, the
        batches come from the table once it is there. Errors are those of :meth:`load`. Leaving
        early stops the scan at its next batch unless a :meth:`load` waits for it; a later call
        then scans again.
        """
        return self._scan.changes(self._replay)

    async def _replay(self, loaded: _Loaded) -> AsyncGenerator[KeyChanges, None]:
        """The keys of a loaded table as :meth:`scan_keys` batches."""
        rows = loaded.rows
        size = sum(dump.disk_size for dump in loaded.files)
        step = max(1, CHANGES_CHUNK)
        for start in range(0, len(rows.keys), step):
            puts = await asyncio.to_thread(rows.infos, start, start + step)
            yield KeyChanges(puts, [], size, size)

    def _span(self, rows: Rows, prefix: bytes) -> tuple[int, int]:
        lo = bisect.bisect_left(rows.keys, prefix)
        end = prefix_end(prefix)
        hi = len(rows.keys) if end is None else bisect.bisect_left(rows.keys, end, lo)
        return lo, hi

    def _check_revision(self, rows: Rows, index: int | None, revision: int | None) -> None:
        """Refuse a past revision unless the key's value provably was current then."""
        if revision is None or revision >= self._revision:
            return
        if index is not None and rows.mod[index] <= revision:
            return
        raise CompactedError(self._revision, revision)

    def _value(self, rows: Rows, index: int) -> bytes:
        offset = rows.offset[index]
        if offset < 0:
            return b""
        dump = self._files[rows.file[index]]
        encoded = dump.buf[offset : offset + rows.length[index]]
        try:
            return binascii.a2b_base64(encoded.replace(b"\\", b""))
        except binascii.Error as exc:
            key = rows.keys[index].decode("utf-8", "backslashreplace")
            raise SourceError(
                f"{dump.name}: corrupt value of {key} at byte {offset}: bad base64 ({exc})"
            ) from None

    async def status(self, *, count_keys: bool = True) -> SourceStatus:  # counting is cheap
        rows = await self._table()
        extra = {"files": str(len(self._files))}
        if self._warnings:
            extra["warnings"] = "; ".join(self._warnings)
        return SourceStatus(
            kind="dump",
            description=", ".join(str(p) for p in self.paths),
            revision=self._revision,
            compact_revision=None,
            db_size=sum(dump.disk_size for dump in self._files),
            key_count=len(rows.keys),
            read_only=True,
            extra=extra,
        )

    async def current_revision(self) -> int:
        await self._table()
        return self._revision

    async def list_keys(
        self, prefix: bytes = b"", *, revision: int | None = None, page_size: int = 10_000
    ) -> AsyncIterator[list[KeyInfo]]:
        rows = await self._table()
        lo, hi = self._span(rows, prefix)
        if revision is not None and revision < self._revision:
            if any(rows.mod[i] > revision for i in range(lo, hi)):
                raise CompactedError(self._revision, revision)
        page_size = max(1, page_size)
        for start in range(lo, hi, page_size):
            yield [rows.info(i) for i in range(start, min(hi, start + page_size))]
            await asyncio.sleep(0)  # let the UI breathe between pages

    async def filter_values(
        self, prefix: bytes, keep: ValueTest, *, on_progress: ProgressCallback | None = None
    ) -> AsyncGenerator[list[KeyValue], None]:
        """Values are decoded from their base64 in the mapped file and tested, in a thread."""
        rows = await self._table()
        lo, hi = self._span(rows, prefix)
        for pos in range(lo, hi, FILTER_CHUNK):
            end = min(hi, pos + FILTER_CHUNK)
            kept = await asyncio.to_thread(self._kept_values, rows, pos, end, keep)
            if on_progress is not None:
                on_progress(end - lo, hi - lo)
            if kept:
                yield kept

    def _kept_values(self, rows: Rows, pos: int, end: int, keep: ValueTest) -> list[KeyValue]:
        kept = []
        for index in range(pos, end):
            value = self._value(rows, index)
            if keep(value, 0, len(value)):
                kept.append(
                    KeyValue(rows.keys[index], value, rows.create[index], rows.mod[index],
                             rows.version[index], rows.lease[index])  # fmt: skip
                )
        return kept

    async def count(self, prefix: bytes = b"") -> int:
        rows = await self._table()
        lo, hi = self._span(rows, prefix)
        return hi - lo

    def _find(self, rows: Rows, key: bytes) -> int | None:
        index = bisect.bisect_left(rows.keys, key)
        if index < len(rows.keys) and rows.keys[index] == key:
            return index
        return None

    async def get(self, key: bytes, *, revision: int | None = None) -> KeyValue | None:
        rows = await self._table()
        index = self._find(rows, key)
        self._check_revision(rows, index, revision)
        if index is None:
            return None
        return KeyValue(
            key=key,
            value=self._value(rows, index),
            create_revision=rows.create[index],
            mod_revision=rows.mod[index],
            version=rows.version[index],
            lease=rows.lease[index],
        )

    async def history(self, key: bytes) -> History:
        """The one revision the dump holds; the floor is that revision (nothing older is known)."""
        kv = await self.get(key)
        if kv is None:
            return History(key=key, revisions=[], compact_revision=self._revision)
        return History(
            key=key,
            revisions=[Revision(type=EventType.PUT, kv=kv)],
            compact_revision=kv.mod_revision,
        )

    async def watch(
        self, prefix: bytes = b"", *, start_revision: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        """A dump is frozen and holds no change events: ends immediately."""
        await self.load()
        return
        yield  # pragma: no cover - makes this an async generator

    async def close(self) -> None:
        """Close the files; a scan still running stops at its next batch (waited for)."""
        loaded = await self._scan.close()
        if loaded is not None:
            loaded.close()
