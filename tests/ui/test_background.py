"""``batched()``: grouping watch events without losing any, bounded memory, clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from ketui.core.source import EventType, KeyValue, WatchEvent
from ketui.ui.background import batched


def put(revision: int) -> WatchEvent:
    kv = KeyValue(f"/k/{revision}".encode(), b"v", revision, revision, 1)
    return WatchEvent(EventType.PUT, kv)


class Endless:
    """An endless stream of events that counts how many were taken from it."""

    def __init__(self) -> None:
        self.pulled = 0

    async def events(self) -> AsyncIterator[WatchEvent]:
        while True:
            self.pulled += 1
            yield put(self.pulled)
            if self.pulled % 10 == 0:
                await asyncio.sleep(0)


async def test_a_stalled_consumer_stops_the_reader_and_no_event_is_lost() -> None:
    stream = Endless()
    seen: list[int] = []
    async with contextlib.aclosing(batched(stream.events(), max_batch=100)) as batches:
        first = await anext(batches)
        seen += [e.revision for e in first]
        await asyncio.sleep(0.3)  # the UI is busy: the reader must not run ahead unbounded
        assert stream.pulled <= len(seen) + 100 + 1
        for _ in range(5):
            seen += [e.revision for e in await anext(batches)]
    assert seen == list(range(1, len(seen) + 1))  # in order, no gap, no duplicate


async def test_closing_leaves_no_pending_task() -> None:
    """Without awaiting its helper tasks, every app exit printed "Task was destroyed but it is
    pending!"."""
    before = asyncio.all_tasks()
    stream = Endless()
    batches = batched(stream.events(), interval=0.05)
    assert await anext(batches)
    await batches.aclose()
    assert asyncio.all_tasks() == before


async def test_events_before_an_error_come_first() -> None:
    async def failing() -> AsyncIterator[WatchEvent]:
        yield put(1)
        yield put(2)
        raise RuntimeError("stream broke")

    got: list[int] = []
    try:
        async for batch in batched(failing(), interval=0.05):
            got += [e.revision for e in batch]
    except RuntimeError as exc:
        assert str(exc) == "stream broke"
    else:
        raise AssertionError("the stream's error was swallowed")
    assert got == [1, 2]
