"""Which keys differ between two sources (or one source at two revisions).

``changed`` means the value bytes differ. Values are only fetched where the metadata leaves doubt:
two entries with equal ``create_revision``, ``mod_revision``, ``version`` (and size, when both
know it) are the same etcd write, so their values are equal; ``exact=True`` compares every value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from ketui.core.source import KeyInfo, Source

_FETCH_CONCURRENCY = 16


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a source, read at ``revision`` (``None``: its latest)."""

    source: Source
    revision: int | None = None


@dataclass
class KeyDiff:
    """Sorted key lists."""

    added: list[bytes] = field(default_factory=list)
    removed: list[bytes] = field(default_factory=list)
    changed: list[bytes] = field(default_factory=list)


async def list_infos(side: Side, prefix: bytes) -> dict[bytes, KeyInfo]:
    """Every key under ``prefix`` on one side, read at one revision."""
    infos: dict[bytes, KeyInfo] = {}
    async for page in side.source.list_keys(prefix, revision=side.revision):
        for info in page:
            infos[info.key] = info
    return infos


def diff_listings(before: Mapping[bytes, KeyInfo], after: Mapping[bytes, KeyInfo]) -> KeyDiff:
    """Keys added, removed and written again (another ``mod_revision``) between two listings of
    one store, taken at two moments (the TUI's mark and now)."""
    return KeyDiff(
        added=sorted(after.keys() - before.keys()),
        removed=sorted(before.keys() - after.keys()),
        changed=sorted(
            key
            for key in before.keys() & after.keys()
            if before[key].mod_revision != after[key].mod_revision
        ),
    )


def _same_write(a: KeyInfo, b: KeyInfo) -> bool:
    if (a.create_revision, a.mod_revision, a.version) != (
        b.create_revision,
        b.mod_revision,
        b.version,
    ):
        return False
    return a.size is None or b.size is None or a.size == b.size


async def diff_sources(
    old: Side, new: Side, prefix: bytes = b"", *, exact: bool = False
) -> KeyDiff:
    """Keys added, removed and changed from ``old`` to ``new`` under ``prefix``."""
    old_infos, new_infos = await asyncio.gather(list_infos(old, prefix), list_infos(new, prefix))
    result = KeyDiff(
        added=sorted(new_infos.keys() - old_infos.keys()),
        removed=sorted(old_infos.keys() - new_infos.keys()),
    )
    doubtful: list[bytes] = []
    for key in sorted(old_infos.keys() & new_infos.keys()):
        a, b = old_infos[key], new_infos[key]
        if a.size is not None and b.size is not None and a.size != b.size:
            result.changed.append(key)
        elif exact or not _same_write(a, b):
            doubtful.append(key)
    limit = asyncio.Semaphore(_FETCH_CONCURRENCY)

    async def differs(key: bytes) -> bool:
        async with limit:
            a, b = await asyncio.gather(
                old.source.get(key, revision=old.revision),
                new.source.get(key, revision=new.revision),
            )
        return (a.value if a else None) != (b.value if b else None)

    flags = await asyncio.gather(*(differs(key) for key in doubtful))
    result.changed.extend(key for key, flag in zip(doubtful, flags, strict=True) if flag)
    result.changed.sort()
    return result
