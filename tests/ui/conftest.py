"""Fixtures for the TUI tests: a small in-memory cluster and helpers to wait on the running app."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import pytest
from textual.app import App
from textual.pilot import Pilot

from ketui.core.sources.memory import MemoryOp, MemorySource

FROZEN = datetime(2026, 11, 24, 12, 0, 0)
S = TypeVar("S")


def frozen_clock() -> datetime:
    return FROZEN


def obj_value(obj: dict[str, Any]) -> bytes:
    """A stored value in the JSON encoding (as custom resources are stored)."""
    return json.dumps(obj).encode()


def pod(name: str, namespace: str = "default", phase: str = "Pending") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.16-alpine"}]},
        "status": {"phase": phase},
    }


def secret(name: str = "db-pass", namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"password": "aHVudGVyMg=="},  # hunter2
        "type": "Opaque",
    }


def small_cluster_ops() -> list[MemoryOp]:
    """A few namespaces, pods (one with a Pending → Running history), a secret and a lease."""
    ops = [
        MemoryOp.put(
            f"/registry/namespaces/{ns}".encode(),
            obj_value({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        for ns in ("default", "kube-system")
    ]
    for name in ("coredns-1", "coredns-2", "etcd-cp1"):
        ops.append(
            MemoryOp.put(
                f"/registry/pods/kube-system/{name}".encode(),
                obj_value(pod(name, "kube-system", "Running")),
            )
        )
    ops.append(MemoryOp.put(b"/registry/pods/default/www", obj_value(pod("www"))))
    ops.append(MemoryOp.put(b"/registry/pods/default/www", obj_value(pod("www", phase="Running"))))
    ops.append(MemoryOp.put(b"/registry/secrets/default/db-pass", obj_value(secret())))
    ops.append(
        MemoryOp.put(
            b"/registry/minions/cp1",
            obj_value({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp1"}}),
        )
    )
    ops.append(
        MemoryOp.put(b"/registry/leases/kube-node-lease/cp1", b'{"kind":"Lease"}', lease=0x1234)
    )
    return ops


@pytest.fixture
def memory_source() -> MemorySource:
    """A frozen (not live) source."""
    return MemorySource(small_cluster_ops(), kind="memory", description="test cluster")


@pytest.fixture
def live_source() -> MemorySource:
    """A live source: writes made with apply_put reach the app's watch."""
    return MemorySource(small_cluster_ops(), kind="memory", description="test cluster", live=True)


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 5.0
) -> None:
    """Let the app run until ``condition()`` holds; fail with a clear message after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.05)


async def open_screen(app: Any, pilot: Pilot[Any], key: str, screen_type: type[S]) -> S:
    """Once the keys are loaded, press ``key`` on the main screen and wait for ``screen_type``."""
    await wait_until(pilot, lambda: not app.main.keys_loading)
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, screen_type))
    screen = app.screen
    assert isinstance(screen, screen_type)
    return screen


def value_settled(app: App[object]) -> bool:
    """The value viewer has loaded and rendered what it was asked to show."""
    return all(w.is_finished for w in app.workers if w.group in ("value", "render"))
