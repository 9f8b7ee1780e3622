"""The Cluster screen (C, :cluster) over real etcd: a 3-member cluster whose members all answer
and hold the same data, a member killed, and two separate clusters given together, which the
consistency check reports as differing, naming both."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable, Static

from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.etcd.source import EtcdSource
from ketui.ui.app import KetuiApp, make_app
from ketui.ui.screens.cluster import ClusterScreen
from tests.etcd_harness import EtcdCluster, EtcdServer
from tests.ui.conftest import frozen_clock, open_screen, small_cluster_ops, wait_until

pytestmark = pytest.mark.etcd


def text(screen: ClusterScreen, widget_id: str) -> str:
    return str(screen.query_one(f"#{widget_id}", Static).content)


async def open_cluster(app: KetuiApp, pilot: Any) -> ClusterScreen:
    return await open_screen(app, pilot, "C", ClusterScreen)


def app_for(*endpoints: str) -> KetuiApp:
    config = EtcdConfig(endpoints=list(endpoints), command_timeout=2.0)
    return make_app(EtcdSource(config), clock=frozen_clock, show_feed=False)


async def test_members_health_and_consistency() -> None:
    three = EtcdCluster(3).start()
    try:
        three.etcdctl("put", "/registry/configmaps/default/a", "1")
        app = app_for(three.endpoints[0])
        async with app.run_test(size=(160, 40)) as pilot:
            screen = await open_cluster(app, pilot)
            table = screen.query_one("#members", DataTable)
            await wait_until(pilot, lambda: table.row_count == 3)
            rows = [[str(c) for c in table.get_row_at(i)] for i in range(3)]
            assert [row[0] for row in rows] == ["m0", "m1", "m2"]
            assert [row[3] for row in rows] == [m.peer_url for m in three.members]
            assert sorted(row[4] for row in rows) == ["follower", "follower", "leader"]
            assert text(screen, "cluster-summary").startswith("3 of 3 members answer · leader m")
            await pilot.press("c")
            await wait_until(pilot, lambda: text(screen, "cluster-check").startswith("consistent"))
            assert "consistent: 3 members hold the same data" in text(screen, "cluster-check")
            three.kill(2)  # the screen refreshes by itself and shows the error, and the others
            summary = "cluster-summary"
            await wait_until(pilot, lambda: "2 of 3 members" in text(screen, summary), timeout=15)
            rows = [[str(c) for c in table.get_row_at(i)] for i in range(3)]
            assert rows[2][0] == "m2" and rows[2][12] and not rows[0][12] and not rows[1][12]
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.main)
    finally:
        three.cleanup()


async def test_two_clusters_differ() -> None:
    east, west = EtcdServer(name="east").start(), EtcdServer(name="west").start()
    try:
        east.put("/registry/configmaps/default/a", b"one")
        west.put("/registry/configmaps/default/a", b"two")
        app = app_for(east.endpoint, west.endpoint)
        async with app.run_test(size=(160, 40)) as pilot:
            screen = await open_cluster(app, pilot)
            summary = "cluster-summary"
            await wait_until(pilot, lambda: "2 different clusters" in text(screen, summary))
            await pilot.press("c")
            await wait_until(pilot, lambda: "INCONSISTENT" in text(screen, "cluster-check"))
            check = text(screen, "cluster-check")
            assert f"east ({east.endpoint})" in check and f"west ({west.endpoint})" in check
    finally:
        east.cleanup()
        west.cleanup()


async def test_files_have_no_cluster_screen() -> None:
    from ketui.core.sources.memory import MemorySource

    app = make_app(MemorySource(small_cluster_ops()), clock=frozen_clock, show_feed=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: not app.main.keys_loading)
        await pilot.press("C")
        await pilot.pause()
        assert app.screen is app.main
