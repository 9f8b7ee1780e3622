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

    class Gated(module._ChangesBuilder):  # type: ignore[name-defined,misc]
        def __call__(self, *args: Any) -> None:
            calls.append(None)
            if len(calls) == 2:
                assert gate.wait(30)
            try:
                super().__call__(*args)
            except shared_scan.ScanStopped:
                chunks.append("stopped")
                raise
            chunks.append("chunk")

    monkeypatch.setattr(module, "_ChangesBuilder", Gated)
    return gate, chunks
