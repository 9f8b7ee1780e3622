"""Bulk work on a million keys without freezing the UI: short GIL steps, no collector runs.

**GIL steps.** A worker thread (``asyncio.to_thread``) keeps the UI responsive only while it lets
the UI's event loop thread have the GIL. CPython switches threads between bytecodes, but a single C
call holds the GIL from its start to its end: one ``sorted()`` of a million keys holds it for about
a quarter of a second, freeing a list of a million objects for 30-40 ms, and the event loop (screen
updates, keys pressed) is frozen all that time. The helpers here do the same work in many bounded C
calls (sorting runs of :data:`_SORT_RUN` keys takes 5-10 ms each, no call is over about 15 ms) and
hand the GIL over between them (:func:`yield_gil`): the same total time, and no visible freeze.

**Collector paused.** Listing 100k keys creates 100k :class:`~ketui.core.source.KeyInfo` objects
that all stay alive in the index. Every 700 new container objects the collector runs, and its older
generations are collected again and again as the heap grows: measured, that was a third to a half of
the time spent turning a listing into an index. Nothing in these loops creates reference cycles, so
the collector has nothing to find there; pausing it costs nothing and it catches up once afterwards.
"""

from __future__ import annotations

import bisect
import gc
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

_SORT_RUN = 1 << 15  # keys per list.sort() call when sorting the key set (5-10 ms each)
_MERGE_FAN_IN = 32  # sorted runs merged together
_MERGE_STEP = 1 << 16  # keys merged per list.sort() call


def yield_gil() -> None:
    """Let a waiting thread (the UI's event loop) run now, not at the next forced switch.

    CPython hands the GIL over only every ``sys.getswitchinterval()`` (5 ms) to a thread that
    asks for it; sleeping releases it at once. Called between steps.
    """
    time.sleep(0)


DICT_SHARDS = 64
"""Dicts a mapping of up to millions of keys is spread over (``hash(key) & (DICT_SHARDS - 1)``):
one dict that size resizes in a single C call, which froze the UI for about 0.1 s at 700k keys;
each shard resizes at 1/64 of the size."""


def sharded_dicts() -> list[dict[Any, Any]]:
    """:data:`DICT_SHARDS` empty dicts (see there)."""
    return [{} for _ in range(DICT_SHARDS)]


def free_dicts(shards: list[dict[Any, Any]]) -> None:
    """Empty sharded dicts one at a time (a million entries freed at once: ~40 ms in one call)."""
    for shard in shards:
        shard.clear()
        yield_gil()


def free_in_steps(items: list[Any], step: int) -> None:
    """Empty a big list ``step`` items at a time: freeing a million objects at once is one C call
    (30-40 ms) during which no other thread runs."""
    while items:
        del items[-step:]


def sort_in_steps(items: Sequence[int], key: Callable[[int], bytes]) -> list[int]:
    """``sorted(items, key=key)``, never holding the GIL long; not stable: items of equal keys
    come out in no particular order.

    One ``sorted()`` of a million keys is a single C call of about 0.25 s during which no other
    thread runs (the UI would freeze). Here runs of :data:`_SORT_RUN` are sorted, then merged
    :data:`_MERGE_FAN_IN` at a time in steps of at most :data:`_MERGE_STEP` items: same total
    time, no call over about 15 ms.
    """
    runs = []
    for i in range(0, len(items), _SORT_RUN):
        runs.append(sorted(items[i : i + _SORT_RUN], key=key))
        yield_gil()
    while len(runs) > 1:
        runs = [
            _merge(runs[i : i + _MERGE_FAN_IN], key) for i in range(0, len(runs), _MERGE_FAN_IN)
        ]
    return runs[0] if runs else []


def _merge(runs: list[list[int]], key: Callable[[int], bytes]) -> list[int]:
    """Merge runs sorted by ``key``, at most :data:`_MERGE_STEP` items per C call.

    Each step takes up to ``step`` items from every run, cut at the smallest of their last
    keys (nothing left behind is smaller; equal keys may still follow), and sorts them:
    list.sort() merges sorted runs laid end to end in linear time.
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
        yield_gil()
    return merged


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for a synchronous block; never hold it across an ``await``.

    A collector that was already disabled (by the application) stays disabled.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
