"""Helpers for work that must stay off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
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
) -> AsyncIterator[list[WatchEvent]]:
    """Group a stream of events into lists, one per ``interval`` (or per ``max_batch`` events).

    The reader task keeps pulling while the consumer handles a batch, so a slow UI never stalls
    the watch stream itself. Errors of the stream are raised after the events received before them.
    """
    pending: list[WatchEvent] = []
    ready = asyncio.Event()

    async def pump() -> None:
        async for event in events:
            pending.append(event)
            if len(pending) >= max_batch:
                ready.set()
                await asyncio.sleep(0)

    reader = asyncio.ensure_future(pump())
    try:
        while True:
            waiter = asyncio.ensure_future(ready.wait())
            done, _ = await asyncio.wait({reader, waiter}, timeout=interval)
            waiter.cancel()
            ready.clear()
            if pending:
                batch = pending[:]
                pending.clear()
                yield batch
            if reader in done:
                reader.result()  # re-raise the stream's error, if any
                return
    finally:
        reader.cancel()
