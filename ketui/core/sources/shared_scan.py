"""One scan of a file in a worker thread, shared by everyone who needs its result.

An offline source (:mod:`~ketui.core.sources.snapshot.source`,
:mod:`~ketui.core.sources.dump.source`) owns a :class:`SharedScan` built around the blocking
function that reads its file(s). There is never more than one scan at a time:
:meth:`SharedScan.load` and :meth:`SharedScan.changes` wait for the one running. While it runs, the
scan thread hands :class:`~ketui.core.source.KeyChanges` batches to a ``scan_keys()`` consumer
through its :class:`Scan` (:meth:`Scan.emit`) and stops, at its next chunk (:meth:`Scan.check`),
once nobody needs it any more. How a chunk becomes a batch, and how a finished result is replayed as
batches, is the source's business.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from operator import attrgetter
from typing import Generic, TypeVar

from ketui.core.source import KeyChanges, SourceError

T = TypeVar("T")
_KEY_OF = attrgetter("key")


class ScanStopped(Exception):
    """Raised in the scan thread (by :meth:`Scan.check`) to end a scan nobody needs any more."""


class Scan(Generic[T]):
    """One run of the blocking scan in a worker thread; the scan function gets it to check
    whether it should stop and to hand batches over (both once per chunk, in the scan thread)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, listener: asyncio.Queue[KeyChanges | None] | None
    ) -> None:
        self.loop = loop  # the event loop that started the scan
        self.listener = listener  # scan_keys takes its batches from here; None: nobody listens
        self.needed = False  # a load() waits for the result: scan to the end even if nobody listens
        self.stop = False  # read by the scan thread after each chunk
        self.closed = False  # the source was closed meanwhile
        self.task: asyncio.Task[T] | None = None
        self._chunk_start = 0  # first entry of the next chunk

    @property
    def listening(self) -> bool:
        """Whether a ``scan_keys()`` consumer takes batches (if not, don't build them)."""
        return self.listener is not None

    def check(self) -> None:
        """In the scan thread, at each chunk: raise :class:`ScanStopped` if asked to stop."""
        if self.stop:
            raise ScanStopped

    def chunk(self, end: int) -> int:
        """In the scan thread, once per chunk that ends before entry ``end``: raise
        :class:`ScanStopped` if asked to stop, else return the chunk's first entry."""
        self.check()
        start, self._chunk_start = self._chunk_start, end
        return start

    def emit(self, changes: KeyChanges) -> None:
        """In the scan thread: hand a batch to the listener (queued on the event loop), its puts
        in key order (:meth:`KeyIndex.add_many <ketui.core.index.keyindex.KeyIndex.add_many>` is
        fastest that way)."""
        changes.puts.sort(key=_KEY_OF)
        self.loop.call_soon_threadsafe(self._deliver, changes)

    def _deliver(self, changes: KeyChanges) -> None:
        """On the event loop: hand a batch to the listener, if it is still there."""
        if self.listener is not None:
            self.listener.put_nowait(changes)


def _retrieve(task: asyncio.Task[object]) -> None:
    """Mark a scan's outcome as seen: nobody may be left to await it (asyncio would complain)."""
    if not task.cancelled():
        task.exception()


class SharedScan(Generic[T]):
    """The scan of a source's file(s) and its result, shared by all callers.

    ``scan(run)`` is the blocking scan, called in a worker thread with its :class:`Scan`;
    ``discard(result)`` frees a result that finished after :meth:`close`; ``name`` (the file)
    starts the error raised to whoever waited for a scan that :meth:`close` stopped.
    """

    def __init__(
        self, scan: Callable[[Scan[T]], T], discard: Callable[[T], None], name: str
    ) -> None:
        self._scan_fn = scan
        self._discard = discard
        self._name = name
        self.result: T | None = None  # the finished scan's result, until close()
        self._scan: Scan[T] | None = None  # the scan running, if any

    async def load(self) -> T:
        """The result, from the scan running or from a new one; raises what the scan raised."""
        while self.result is None:
            scan = self._scan if self._scan is not None else self._start(None)
            scan.needed = True
            scan.stop = False  # a scan_keys consumer that left asked it to stop: it is needed
            assert scan.task is not None
            try:
                return await asyncio.shield(scan.task)
            except ScanStopped:
                continue  # it stopped before it saw that it was needed: scan again
        return self.result

    async def changes(
        self, replay: Callable[[T], AsyncGenerator[KeyChanges, None]]
    ) -> AsyncIterator[KeyChanges]:
        """The batches of a new scan while it runs, then its error if any; when there is a
        result already, or a scan started by another caller runs, ``replay(result)`` once it is
        there. Leaving early stops the scan at its next chunk unless a :meth:`load` waits."""
        if self.result is None and self._scan is None:
            listener: asyncio.Queue[KeyChanges | None] = asyncio.Queue()
            scan = self._start(listener)
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
        result = await self.load()
        async with aclosing(replay(result)) as replayed:
            async for changes in replayed:
                yield changes

    async def close(self) -> T | None:
        """Stop a scan still running at its next chunk (waited for); hand back and forget the
        result, for the source to close."""
        scan, self._scan = self._scan, None
        if scan is not None and scan.task is not None:
            scan.closed = scan.stop = True
            await asyncio.wait([scan.task])  # its outcome is retrieved by _retrieve
        result, self.result = self.result, None
        return result

    def _start(self, listener: asyncio.Queue[KeyChanges | None] | None) -> Scan[T]:
        loop = asyncio.get_running_loop()
        scan: Scan[T] = Scan(loop, listener)
        scan.task = loop.create_task(self._run(scan))
        scan.task.add_done_callback(_retrieve)
        self._scan = scan
        return scan

    async def _run(self, scan: Scan[T]) -> T:
        try:
            result = await asyncio.to_thread(self._scan_fn, scan)
        except ScanStopped:
            if scan.closed:
                raise SourceError(f"{self._name}: closed while it was being read") from None
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
            self._discard(result)
            raise SourceError(f"{self._name}: closed while it was being read")
        self.result = result
        return result
