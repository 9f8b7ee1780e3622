"""Keys added, removed and written again between two listings of one store (the TUI's compare)."""

from __future__ import annotations

from ketui.core.index.sourcediff import diff_listings
from ketui.core.source import KeyInfo


def info(key: bytes, mod: int) -> KeyInfo:
    return KeyInfo(key, 1, mod, 1)


def test_diff_listings() -> None:
    before = {k: info(k, 2) for k in (b"a", b"b", b"c")}
    after = {b"a": info(b"a", 2), b"c": info(b"c", 5), b"d": info(b"d", 6), b"0": info(b"0", 6)}
    result = diff_listings(before, after)
    assert result.added == [b"0", b"d"]
    assert result.removed == [b"b"]
    assert result.changed == [b"c"]
