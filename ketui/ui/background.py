"""Helpers for work that must stay off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TypeVar

from ketui.core.source import WatchEvent

T = TypeVar("T")


async def in_thread_reading(fn: Callable[[], T], attempts: int = 3) -> T:
    """Run a read-only ``fn`` over structures the loop may mutate meanwhile (the key index).

    A concurrent mutation can make a dict iteration fail with RuntimeError; the read is retried
    and, as a last resort, done on the loop itself (correct, just not concurrent).
    """
    for _ in range(attempts):
        try:
            return await asyncio.to_thread(fn)
        except RuntimeError:
            continue
    return fn()


async def batched(
    events: AsyncIterator[WatchEvent], *, interval: float = 0.1, max_batch: int = 5000
) -> AsyncGenerator[list[WatchEvent], None]:
    """Group a stream of events into lists, one per ``interval`` (or per ``max_batch`` events).

    A reader task keeps pulling while the consumer handles a batch, so a slow UI does not stall
    the watch stream for short hiccups; but at most ``max_batch`` events wait here: when that many
    are pending the reader stops pulling (back-pressure: the source, and etcd behind it, hold the
    rest) until the consumer takes them. Nothing is dropped. Errors of the stream are raised after
    the events received before them. Closing the generator cancels and awaits the reader.
    """
    pending: list[WatchEvent] = []
    ready = asyncio.Event()  # a full batch is waiting, or the stream ended
    room = asyncio.Event()  # the reader may pull more
    room.set()

    async def pump() -> None:
        try:
            async for event in events:
                pending.append(event)
                if len(pending) >= max_batch:
                    room.clear()
                    ready.set()
                    await room.wait()
        finally:
            ready.set()

    reader = asyncio.ensure_future(pump())
    try:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(ready.wait(), interval)
            ready.clear()
            if pending:
                batch = pending[:]
                pending.clear()
                room.set()
                yield batch
            if reader.done() and not pending:
                reader.result()  # re-raise the stream's error, if any
                return
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
