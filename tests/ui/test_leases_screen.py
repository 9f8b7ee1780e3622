"""The Leases screen (L): every lease with its TTLs and the keys attached, over live etcd (every
lease, keys or not), an etcdctl snapshot of it (the lease bucket) and an in-memory source (leases
known from keys only); enter on a key opens it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.etcd.source import EtcdSource
from ketui.core.sources.memory import MemorySource
from ketui.core.sources.snapshot.source import SnapshotSource
from ketui.ui.app import KetuiApp, make_app
from ketui.ui.screens.leases import LeasesScreen
from ketui.ui.widgets.value_view import ValueView
from tests import cluster_data
from tests.etcd_harness import EtcdServer
from tests.ui.conftest import frozen_clock, open_screen, small_cluster_ops, wait_until


def rows(screen: LeasesScreen, table_id: str) -> list[list[str]]:
    table: DataTable[Any] = screen.query_one(f"#{table_id}", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def open_leases(app: KetuiApp, pilot: Any) -> LeasesScreen:
    screen = await open_screen(app, pilot, "L", LeasesScreen)
    await wait_until(pilot, lambda: "leases," in str(screen.query_one("#leases-summary",
                                                                     Static).content))  # fmt: skip
    return screen


Leased = tuple[EtcdServer, list[str], Path]


@pytest.fixture(scope="module")
def leased(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Leased]:
    server = EtcdServer().start()
    try:
        ids = []
        for ttl in (600, 3600, 900):
            out = server.etcdctl("lease", "grant", str(ttl)).stdout.decode()
            match = re.search(r"lease ([0-9a-f]+) granted", out)
            assert match is not None
            ids.append(f"{int(match.group(1), 16):x}")  # etcdctl 3.4 pads it to 16 digits
        for key, lease in (("/registry/events/default/e1", ids[0]),
                           ("/registry/events/default/e2", ids[0]),
                           ("/registry/masterleases/10.0.0.1", ids[1])):  # fmt: skip
            server.etcdctl("put", key, "v", "--lease", lease)
        server.etcdctl("put", "/registry/configmaps/default/plain", "v")
        snapshot = cluster_data.snapshot(server, tmp_path_factory.mktemp("leases") / "s.db")
        yield server, ids, snapshot
    finally:
        server.cleanup()


@pytest.mark.etcd
async def test_live_leases_with_ttls_and_keys(leased: Leased) -> None:
    server, ids, _snapshot = leased
    app = make_app(EtcdSource(EtcdConfig(endpoints=[server.endpoint])), clock=frozen_clock,
                   show_feed=False)  # fmt: skip
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_leases(app, pilot)
        leases = rows(screen, "leases")
        assert [(r[0], r[1], r[3]) for r in leases] == [
            (ids[0], "600 s", "2"), (ids[1], "3600 s", "1"), (ids[2], "900 s", "0")
        ]
        assert all(0 < int(r[2].split()[0]) <= int(r[1].split()[0]) for r in leases)
        assert rows(screen, "lease-keys") == [["/registry/events/default/e1"],
                                              ["/registry/events/default/e2"]]  # fmt: skip
        screen.query_one("#leases", DataTable).move_cursor(row=1)
        await wait_until(pilot, lambda: rows(screen, "lease-keys")
                         == [["/registry/masterleases/10.0.0.1"]])  # fmt: skip
        screen.query_one("#lease-keys", DataTable).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.main)
        view = app.main.query_one(ValueView)
        await wait_until(pilot, lambda: view.kv is not None
                         and view.kv.key == b"/registry/masterleases/10.0.0.1")  # fmt: skip


@pytest.mark.etcd
async def test_snapshot_leases_from_its_lease_bucket(leased: Leased) -> None:
    _server, ids, snapshot = leased
    app = make_app(SnapshotSource(snapshot), clock=frozen_clock, show_feed=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_leases(app, pilot)
        assert [r[:4] for r in rows(screen, "leases")] == [
            [ids[0], "600 s", "?", "2"], [ids[1], "3600 s", "?", "1"], [ids[2], "900 s", "?", "0"]
        ]


async def test_sources_without_ttls_show_leases_from_keys() -> None:
    app = make_app(MemorySource(small_cluster_ops()), clock=frozen_clock, show_feed=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_leases(app, pilot)
        node_lease = "/registry/leases/kube-node-lease/cp1"
        assert rows(screen, "leases") == [["1234", "?", "?", "1", node_lease]]
        summary = str(screen.query_one("#leases-summary", Static).content)
        assert "records no TTLs" in summary
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.main)
