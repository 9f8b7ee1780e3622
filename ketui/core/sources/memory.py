"""A :class:`Source` over an in-memory keyspace with its full history (the demo, UI tests).

Built from a list of :class:`MemoryOp` (puts and deletes, each at a revision), it behaves like a
small etcd: reads at any revision back to the compaction floor, per-key history, and watches that
replay the log from a start revision. With ``live=True`` a watch does not end after the replay: it
waits for writes made with :meth:`MemorySource.apply_put` / :meth:`MemorySource.apply_delete`
(the demo's simulated activity), which must be called on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass

from ketui.core.source import (
    FILTER_CHUNK,
    CompactedError,
    EventType,
    History,
    KeyInfo,
    KeyValue,
    ProgressCallback,
    Revision,
    SourceError,
    SourceStatus,
    ValueTest,
    WatchEvent,
)


@dataclass(frozen=True, slots=True)
class MemoryOp:
    """One write. ``revision=None``: the next revision; equal revisions make one transaction."""

    type: EventType
    key: bytes
    value: bytes = b""
    lease: int = 0
    revision: int | None = None

    @classmethod
    def put(
        cls, key: bytes, value: bytes, *, lease: int = 0, revision: int | None = None
    ) -> MemoryOp:
        return cls(EventType.PUT, key, value, lease, revision)

    @classmethod
    def delete(cls, key: bytes, *, revision: int | None = None) -> MemoryOp:
        return cls(EventType.DELETE, key, revision=revision)


class MemorySource:
    """An in-memory etcd keyspace implementing the :class:`~ketui.core.source.Source` protocol.

    The store starts at revision 1 (empty, as etcd does), so the first write gets revision 2.
    """

    def __init__(
        self,
        ops: Iterable[MemoryOp] = (),
        *,
        kind: str = "memory",
        description: str = "in-memory keyspace",
        live: bool = False,
        version: str | None = None,
    ) -> None:
        self._kind = kind
        self._description = description
        self._live = live
        self._version = version
        self._revision = 1
        self._compact_revision = 0
        self._current: dict[bytes, KeyValue] = {}
        self._sorted_keys: list[bytes] = []
        self._history: dict[bytes, list[Revision]] = {}
        self._log: list[WatchEvent] = []
        self._log_revisions: list[int] = []  # parallel to _log, for bisect
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False
        for op in ops:
            self._write(op)

    # ----------------------------------------------------------------- writing

    def _write(self, op: MemoryOp) -> WatchEvent | None:
        revision = self._revision + 1 if op.revision is None else op.revision
        if revision < self._revision or revision < 2:
            raise ValueError(f"revision {revision} goes back (store is at {self._revision})")
        prev = self._current.get(op.key)
        if op.type is EventType.PUT:
            kv = KeyValue(
                op.key,
                op.value,
                prev.create_revision if prev else revision,
                revision,
                prev.version + 1 if prev else 1,
                op.lease,
            )
            if prev is None:
                bisect.insort(self._sorted_keys, op.key)
            self._current[op.key] = kv
        else:
            if prev is None:
                return None  # etcd does not write anything for deleting an absent key
            kv = KeyValue(op.key, b"", 0, revision, 0)
            del self._current[op.key]
            del self._sorted_keys[bisect.bisect_left(self._sorted_keys, op.key)]
        self._revision = revision
        self._history.setdefault(op.key, []).append(Revision(op.type, kv))
        event = WatchEvent(op.type, kv, prev)
        self._log.append(event)
        self._log_revisions.append(revision)
        return event

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _wait_for_write(self) -> None:
        # A future per wait (not one asyncio.Event) so the source works from any event loop.
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def apply_put(self, key: bytes, value: bytes, *, lease: int = 0) -> WatchEvent:
        """Write a key at the next revision and wake the watchers."""
        event = self._write(MemoryOp.put(key, value, lease=lease))
        assert event is not None  # a put always writes
        self._notify()
        return event

    def apply_delete(self, key: bytes) -> WatchEvent | None:
        """Delete a key at the next revision (``None``, and no revision used, if it is absent)."""
        event = self._write(MemoryOp.delete(key))
        if event is not None:
            self._notify()
        return event

    def compact(self, revision: int) -> None:
        """Forget history older than ``revision``, as ``etcdctl compact`` does."""
        if revision > self._revision:
            raise ValueError(f"cannot compact at {revision}: store is at {self._revision}")
        if revision <= self._compact_revision:
            return
        self._compact_revision = revision
        for key, revisions in list(self._history.items()):
            # Keep what is newer than the floor, plus the value current at the floor (if a put).
            cut = bisect.bisect_right([r.kv.mod_revision for r in revisions], revision)
            kept = revisions[cut:]
            if cut and revisions[cut - 1].type is EventType.PUT:
                kept.insert(0, revisions[cut - 1])
            if kept:
                self._history[key] = kept
            else:
                del self._history[key]
        start = bisect.bisect_left(self._log_revisions, revision)
        del self._log[:start]
        del self._log_revisions[:start]

    # ----------------------------------------------------------------- Source protocol

    @property
    def live(self) -> bool:
        return self._live

    @property
    def revision(self) -> int:
        return self._revision

    async def status(self, *, count_keys: bool = True) -> SourceStatus:  # counting is cheap
        return SourceStatus(
            kind=self._kind,
            description=self._description,
            revision=self._revision,
            compact_revision=self._compact_revision,
            db_size=sum(len(k) + kv.size for k, kv in self._current.items()),
            version=self._version,
            key_count=len(self._current),
            read_only=True,
        )

    def _check_revision(self, revision: int) -> None:
        if revision < self._compact_revision:
            raise CompactedError(self._compact_revision, revision)
        if revision > self._revision:
            raise SourceError(f"revision {revision} is in the future (store at {self._revision})")

    def _at(self, key: bytes, revision: int) -> KeyValue | None:
        """The key's value at ``revision`` (after the compaction check)."""
        revisions = self._history.get(key, [])
        i = bisect.bisect_right([r.kv.mod_revision for r in revisions], revision)
        if i == 0 or revisions[i - 1].type is EventType.DELETE:
            return None
        return revisions[i - 1].kv

    def _state(self, prefix: bytes, revision: int | None) -> list[KeyValue]:
        if revision is None or revision == self._revision:
            start = bisect.bisect_left(self._sorted_keys, prefix)
            out = []
            for key in self._sorted_keys[start:]:
                if not key.startswith(prefix):
                    break
                out.append(self._current[key])
            return out
        self._check_revision(revision)
        found = (self._at(key, revision) for key in sorted(self._history) if key.startswith(prefix))
        return [kv for kv in found if kv is not None]

    async def current_revision(self) -> int:
        return self._revision

    @property
    def warnings(self) -> tuple[str, ...]:
        return ()

    async def list_keys(
        self, prefix: bytes = b"", *, revision: int | None = None, page_size: int = 10_000
    ) -> AsyncIterator[list[KeyInfo]]:
        rows = [
            KeyInfo(kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.lease, kv.size)
            for kv in self._state(prefix, revision)
        ]
        for start in range(0, len(rows), max(1, page_size)):
            yield rows[start : start + page_size]

    async def count(self, prefix: bytes = b"") -> int:
        return len(self._state(prefix, None))

    async def filter_values(
        self, prefix: bytes, keep: ValueTest, *, on_progress: ProgressCallback | None = None
    ) -> AsyncGenerator[list[KeyValue], None]:
        values = self._state(prefix, None)
        for start in range(0, len(values), FILTER_CHUNK):
            chunk = values[start : start + FILTER_CHUNK]
            kept = [kv for kv in chunk if keep(kv.value, 0, len(kv.value))]
            if on_progress is not None:
                on_progress(start + len(chunk), len(values))
            if kept:
                yield kept
            await asyncio.sleep(0)

    async def get(self, key: bytes, *, revision: int | None = None) -> KeyValue | None:
        if revision is None:
            return self._current.get(key)
        self._check_revision(revision)
        return self._at(key, revision)

    async def history(self, key: bytes) -> History:
        return History(key, list(self._history.get(key, [])), self._compact_revision)

    async def watch(
        self, prefix: bytes = b"", *, start_revision: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        if start_revision is not None and start_revision < self._compact_revision:
            raise CompactedError(self._compact_revision, start_revision)
        next_revision = self._revision + 1 if start_revision is None else start_revision
        while not self._closed:
            if next_revision < self._compact_revision:
                raise CompactedError(self._compact_revision, next_revision)
            # Positions shift when compact() trims the log: find ours again by revision.
            position = bisect.bisect_left(self._log_revisions, next_revision)
            pending = self._log[position:]
            for event in pending:
                if event.kv.key.startswith(prefix):
                    yield event
            if pending:
                next_revision = pending[-1].revision + 1
            if not self._live:
                return
            if self._revision < next_revision and not self._closed:
                await self._wait_for_write()

    async def close(self) -> None:
        self._closed = True
        self._notify()
