"""Small text helpers shared by the widgets (sizes, short revisions)."""

from __future__ import annotations


def human_bytes(size: int | None) -> str:
    """``1536`` -> ``"1.5 KiB"``; ``None`` -> ``"?"``."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def signed_bytes(delta: int) -> str:
    """A size change: ``+120 B``, ``-4.0 KiB``, ``±0``."""
    if delta == 0:
        return "±0"
    return ("+" if delta > 0 else "-") + human_bytes(abs(delta))
