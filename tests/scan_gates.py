"""Holding a file source's scan thread mid-way, for tests of scans shared by several callers.

The test files are tiny: without a gate a scan is over before the test could act.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

import pytest

from ketui.core.sources import shared_scan


def gate_chunks(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType
) -> tuple[threading.Event, list[str]]:
    """Hold the scan thread of ``module``'s source (dump or snapshot) at its second chunk until
    the gate opens; log each chunk's outcome ("chunk" or "stopped")."""
    monkeypatch.setattr(module, "CHANGES_CHUNK", 1)
    gate = threading.Event()
    calls: list[None] = []
    chunks: list[str] = []

    chunk = shared_scan.Scan.chunk

    def gated(scan: shared_scan.Scan[Any], end: int) -> int:
        calls.append(None)
        if len(calls) == 2:
            assert gate.wait(30)
        try:
            start = chunk(scan, end)
        except shared_scan.ScanStopped:
            chunks.append("stopped")
            raise
        chunks.append("chunk")
        return start

    monkeypatch.setattr(shared_scan.Scan, "chunk", gated)
    return gate, chunks
