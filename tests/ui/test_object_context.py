"""An object in context in the value viewer: its Events tab, its owners and dependents (enter
goes to one), and managedFields hidden until F, as kubectl hides them. Over the demo and over a
real etcd holding objects stored by ketui's encoder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from textual.widgets import DataTable, Static, TabbedContent

from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.etcd.source import EtcdSource
from ketui.demo import demo_source
from ketui.ui.app import KetuiApp, make_app
from ketui.ui.widgets.value_view import ValueView
from tests.etcd_harness import EtcdServer
from tests.ui.conftest import frozen_clock, wait_until
from tests.ui.test_value_view import open_key

WWW = "/registry/pods/default/www"
COREDNS_POD = "/registry/pods/kube-system/coredns-7c65d6cfc9-4x8tq"
COREDNS_RS = "/registry/replicasets/kube-system/coredns-7c65d6cfc9"


def rows(view: ValueView, table_id: str) -> list[list[str]]:
    table: DataTable[Any] = view.query_one(f"#{table_id}", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def context_loaded(app: KetuiApp, pilot: Any, view: ValueView) -> None:
    """The viewer loaded its key (the value worker) and then the object's context."""
    def busy() -> bool:
        return any(w.group in ("value", "context") and w.is_running for w in app.workers)

    await wait_until(pilot, lambda: not busy())
    await pilot.pause()
    await wait_until(pilot, lambda: not busy())


async def test_events_of_a_pod_newest_first() -> None:
    """The seed scenario: pod www and its Scheduled/Pulling/Pulled/Created/Started events."""
    app = make_app(demo_source(live=False), clock=frozen_clock, show_feed=False)
    async with app.run_test(size=(140, 40)) as pilot:
        view = await open_key(app, pilot, WWW)
        await context_loaded(app, pilot, view)
        events = rows(view, "events-table")
        reasons = [row[2] for row in events]
        assert reasons == ["Started", "Created", "Pulled", "Pulling", "Scheduled"]
        assert events[-1][4] == "default-scheduler" and events[0][4] == "kubelet"
        assert events[2][5].startswith('Successfully pulled image "nginx:1.16-alpine"')
        assert str(view.query_one(TabbedContent).get_tab("events").label) == "Events (5)"
        await pilot.press("tab", "e")
        assert view.query_one(TabbedContent).active == "events"


async def test_owners_and_dependents_and_going_to_them() -> None:
    app = make_app(demo_source(live=False), clock=frozen_clock, show_feed=False)
    async with app.run_test(size=(140, 40)) as pilot:
        view = await open_key(app, pilot, COREDNS_POD)
        await context_loaded(app, pilot, view)
        assert rows(view, "relations-table") == [
            ["controller", "ReplicaSet", "kube-system/coredns-7c65d6cfc9", COREDNS_RS]
        ]
        view.action_show_tab("meta")
        table = view.query_one("#relations-table", DataTable)
        table.focus()
        await pilot.press("enter")  # goes to the owner
        await wait_until(pilot, lambda: view.kv is not None and view.kv.key == COREDNS_RS.encode())
        await context_loaded(app, pilot, view)
        relations = rows(view, "relations-table")
        assert relations[0][:2] == ["controller", "Deployment"]
        pod = ["dependent", "Pod", "kube-system/coredns-7c65d6cfc9-4x8tq", COREDNS_POD]
        assert pod in relations


async def test_managed_fields_hidden_until_f() -> None:
    app = make_app(demo_source(live=False), clock=frozen_clock, show_feed=False)
    async with app.run_test(size=(140, 40)) as pilot:
        view = await open_key(app, pilot, WWW)
        assert "managedFields" not in view.yaml_text()
        title = str(view.query_one("#value-title", Static).content)
        assert "managedFields hidden: F shows" in title
        await pilot.press("tab", "F")
        await wait_until(pilot, lambda: "managedFields:" in view.yaml_text())
        assert "managedFields hidden" not in str(view.query_one("#value-title", Static).content)
        await pilot.press("F")
        await wait_until(pilot, lambda: "managedFields" not in view.yaml_text())


def _obj(kind: str, name: str, uid: str, **extra: Any) -> dict[str, Any]:
    api = "apps/v1" if kind in ("ReplicaSet", "Deployment") else "v1"
    metadata = {"name": name, "namespace": "shop", "uid": uid, **extra.pop("metadata", {})}
    return {"apiVersion": api, "kind": kind, "metadata": metadata, **extra}


def _event(name: str, reason: str, when: str, about: dict[str, Any], **extra: Any) -> bytes:
    return encode_object({
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "shop"},
        "involvedObject": about, "reason": reason, "message": f"{reason} \x1b[31mhere",
        "source": {"component": "kubelet"}, "firstTimestamp": when, "lastTimestamp": when,
        "type": "Normal", **extra,
    })  # fmt: skip


@pytest.fixture(scope="module")
def shop() -> Iterator[EtcdServer]:
    """A real etcd: a ReplicaSet, its Pod, Events about the Pod (one about a namesake Pod that
    was deleted and re-created: another uid) and one about the ReplicaSet."""
    server = EtcdServer().start()
    try:
        owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-5d4f",
                  "uid": "uid-rs", "controller": True}]  # fmt: skip
        pod = _obj("Pod", "api-5d4f-x", "uid-pod", metadata={"ownerReferences": owner})
        about = {"kind": "Pod", "namespace": "shop", "name": "api-5d4f-x", "uid": "uid-pod"}
        rs = {"kind": "ReplicaSet", "namespace": "shop", "name": "api-5d4f", "uid": "uid-rs"}
        at, later = "2026-11-24T11:00:00Z", "2026-11-24T11:58:00Z"
        for key, value in {
            "replicasets/shop/api-5d4f": encode_object(_obj("ReplicaSet", "api-5d4f", "uid-rs")),
            "pods/shop/api-5d4f-x": encode_object(pod),
            "events/shop/e1": _event("e1", "Scheduled", at, about),
            "events/shop/e2": _event("e2", "BackOff", later, about, count=7, type="Warning"),
            "events/shop/e3": _event("e3", "Killing", later, {**about, "uid": "uid-old-pod"}),
            "events/shop/e4": _event("e4", "SuccessfulCreate", at, rs),
        }.items():
            server.put(f"/registry/{key}", value)
        yield server
    finally:
        server.cleanup()


@pytest.mark.etcd
async def test_events_and_relations_over_live_etcd(shop: EtcdServer) -> None:
    source = EtcdSource(EtcdConfig(endpoints=[shop.endpoint], command_timeout=5.0))
    app = make_app(source, clock=frozen_clock, show_feed=False)
    async with app.run_test(size=(140, 40)) as pilot:
        view = await open_key(app, pilot, "/registry/pods/shop/api-5d4f-x")
        await context_loaded(app, pilot, view)
        events = rows(view, "events-table")
        assert [(row[0], row[1], row[2], row[3]) for row in events] == [
            ("2m", "Warning", "BackOff", "7"), ("60m", "Normal", "Scheduled", "1")
        ]
        assert events[0][5] == "BackOff \\x1b[31mhere"  # shown escaped, never as a sequence
        assert rows(view, "relations-table") == [
            ["controller", "ReplicaSet", "shop/api-5d4f", "/registry/replicasets/shop/api-5d4f"]
        ]
        view.load(b"/registry/replicasets/shop/api-5d4f")
        await wait_until(pilot, lambda: view.kv is not None and view.kv.key.endswith(b"api-5d4f"))
        await context_loaded(app, pilot, view)
        assert rows(view, "relations-table") == [
            ["dependent", "Pod", "shop/api-5d4f-x", "/registry/pods/shop/api-5d4f-x"]
        ]
        assert [row[2] for row in rows(view, "events-table")] == ["SuccessfulCreate"]


async def test_context_is_looked_up_only_where_the_cursor_rests() -> None:
    """Passing over keys reads nothing for them: only the key the cursor stops on has its Events
    and dependents looked up (each lookup reads values of a whole namespace)."""
    from ketui.core.sources.memory import MemorySource
    from tests.ui.conftest import small_cluster_ops

    scanned: list[bytes] = []

    class Counting(MemorySource):
        def filter_values(self, prefix: bytes, keep: Any, **options: Any) -> Any:
            scanned.append(prefix)
            return super().filter_values(prefix, keep, **options)

    app = make_app(Counting(small_cluster_ops()), clock=frozen_clock, show_feed=False)
    async with app.run_test(size=(140, 40)) as pilot:
        view = await open_key(app, pilot, "/registry/pods/kube-system/coredns-1")
        await context_loaded(app, pilot, view)
        scanned.clear()
        for name in ("coredns-2", "etcd-cp1", "coredns-1"):
            view.load(f"/registry/pods/kube-system/{name}".encode())
            await pilot.pause()
        view.load(WWW.encode())
        await wait_until(pilot, lambda: view.kv is not None and view.kv.key == WWW.encode())
        await context_loaded(app, pilot, view)
        assert scanned and all(b"/default/" in prefix for prefix in scanned), scanned
