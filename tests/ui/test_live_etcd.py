"""The TUI against a real etcd: writes made while the app runs reach the feed, tree and viewer."""

from __future__ import annotations

from typing import Any

import pytest

from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.etcd.source import EtcdSource
from ketui.ui.app import KetuiApp, make_app
from ketui.ui.widgets.key_tree import KeyTree
from ketui.ui.widgets.status_bar import StatusBar
from ketui.ui.widgets.value_view import ValueView
from ketui.ui.widgets.watch_feed import WatchFeed
from tests.etcd_harness import EtcdServer
from tests.ui.conftest import frozen_clock, pod, wait_until

pytestmark = pytest.mark.etcd

KEY = "/registry/pods/default/www"


def pod_bytes(phase: str) -> bytes:
    """The pod as kube-apiserver stores it (protobuf envelope), not JSON."""
    value = encode_object(pod("www", phase=phase))
    assert value.startswith(b"k8s\x00")
    return value


def event(name: str, reason: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "www"},
        "reason": reason,
        "message": f"{reason} www",
        "type": "Normal",
    }


async def start(app: KetuiApp, pilot) -> WatchFeed:
    await wait_until(pilot, lambda: not app.main.keys_loading, timeout=15)
    await wait_until(pilot, lambda: any(w.group == "watch" for w in app.main.workers))
    return app.main.query_one(WatchFeed)


async def test_feed_tree_and_viewer_follow_etcd_writes(etcd: EtcdServer) -> None:
    etcd.put(
        "/registry/namespaces/default",
        encode_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
    )
    source = EtcdSource(EtcdConfig(endpoints=[etcd.endpoint]))
    app = make_app(source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        feed = await start(app, pilot)
        tree = app.main.query_one(KeyTree)
        assert str(tree.root.children[0].label).startswith("/registry  1 ")

        etcd.put(KEY, pod_bytes("Pending"))
        for i, reason in enumerate(("Scheduled", "Pulling", "Pulled", "Created", "Started")):
            etcd.put(f"/registry/events/default/www.{i}", encode_object(event(f"www.{i}", reason)))
        await wait_until(pilot, lambda: feed.table.row_count == 6, timeout=10)
        resources = [str(feed.table.get_row_at(r)[2]) for r in range(6)]
        assert resources == ["pods"] + ["events"] * 5
        await wait_until(
            pilot, lambda: str(tree.root.children[0].label).startswith("/registry  7 ")
        )

        assert tree.reveal_path(KEY)
        view = app.main.query_one(ValueView)
        await wait_until(pilot, lambda: "image: nginx:1.16-alpine" in view.yaml_text())
        assert "phase: Pending" in view.yaml_text()

        etcd.put(KEY, pod_bytes("Running"))
        await wait_until(pilot, lambda: feed.table.row_count == 7, timeout=10)
        # the viewer follows the shown key
        await wait_until(pilot, lambda: "phase: Running" in view.yaml_text())
        feed.table.focus()
        feed.table.move_cursor(row=6)
        await pilot.press("enter")
        diff = view.query_one("#diff-text")
        await wait_until(pilot, lambda: "status.phase: Pending → Running" in diff.text)


async def test_connection_loss_is_shown_and_recovered(etcd: EtcdServer) -> None:
    source = EtcdSource(
        EtcdConfig(endpoints=[etcd.endpoint], dial_timeout=0.5, command_timeout=1.0)
    )
    app = make_app(source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        feed = await start(app, pilot)
        bar = app.main.query_one(StatusBar)
        await wait_until(pilot, lambda: bar.status is not None)
        etcd.stop()
        await wait_until(pilot, lambda: bar.error is not None, timeout=15)
        assert "retrying" in str(bar.render())
        etcd.start()
        await wait_until(pilot, lambda: bar.error is None, timeout=20)
        etcd.put("/registry/configmaps/default/after", b"{}")
        await wait_until(pilot, lambda: feed.table.row_count == 1, timeout=20)


async def test_starts_without_etcd_and_loads_when_it_comes_up(etcd: EtcdServer) -> None:
    etcd.stop()
    source = EtcdSource(
        EtcdConfig(endpoints=[etcd.endpoint], dial_timeout=0.5, command_timeout=1.0)
    )
    app = make_app(source, clock=frozen_clock)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        info = app.main.query_one("#tree-info")
        await wait_until(pilot, lambda: "retrying" in str(info.content), timeout=15)
        # notify() posts a message: the notification follows the info line within a loop turn
        await wait_until(
            pilot, lambda: any("cannot list keys" in (n.title or "") for n in app._notifications)
        )
        etcd.start()
        etcd.put("/registry/configmaps/default/late", b"{}")
        await start(app, pilot)
        tree = app.main.query_one(KeyTree)
        await wait_until(
            pilot, lambda: str(tree.root.children[0].label).startswith("/registry  1 ")
        )
