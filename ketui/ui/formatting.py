"""Small text helpers shared by the widgets."""

from __future__ import annotations

from ketui.core.k8s.render import human_bytes


def signed_bytes(delta: int) -> str:
    """A size change: ``+120 B``, ``-4.0 KiB``, ``±0``."""
    if delta == 0:
        return "±0"
    return ("+" if delta > 0 else "-") + human_bytes(abs(delta))
