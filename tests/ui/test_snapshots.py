"""Snapshots of the main views at a fixed size (regenerate: pytest --snapshot-update tests/ui)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from ketui.ui.app import KetuiApp, make_app
from ketui.ui.widgets.key_tree import KeyTree
from ketui.ui.widgets.value_view import ValueView
from ketui.ui.widgets.watch_feed import WatchFeed
from tests.ui.conftest import frozen_clock, wait_until
from tests.ui.snapshot_data import snapshot_source, write_activity

SIZE = (120, 36)


def app_for_snapshot(live: bool = True) -> KetuiApp:
    return make_app(snapshot_source(live=live), clock=frozen_clock)


async def settle(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, KetuiApp)
    groups = ("value", "render", "history-diff", "filter", "stats", "mark")
    # Never wait for every worker: the watch worker runs until the app exits.
    await wait_until(pilot, lambda: all(w.is_finished for w in app.workers if w.group in groups))
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


async def open_www(pilot: Pilot[Any]) -> ValueView:
    app = pilot.app
    assert isinstance(app, KetuiApp)
    await wait_until(pilot, lambda: not app.main.keys_loading)
    app.main.query_one(KeyTree).reveal_path("/registry/pods/default/www")
    view = app.main.query_one(ValueView)
    await wait_until(pilot, lambda: "podIP" in view.yaml_text())
    await settle(pilot)
    return view


def test_tree_with_value(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_www(pilot)

    assert snap_compare(app_for_snapshot(live=False), run_before=run_before, terminal_size=SIZE)


def test_history_diff(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        view = await open_www(pilot)
        view.action_show_tab("history")
        await wait_until(pilot, lambda: "Pending → Running" in view.query_one("#history-diff").text)
        await settle(pilot)

    assert snap_compare(app_for_snapshot(live=False), run_before=run_before, terminal_size=SIZE)


def test_watch_feed_with_diff(snap_compare: Any) -> None:
    app = app_for_snapshot()

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: not app.main.keys_loading)
        await wait_until(pilot, lambda: any(w.group == "watch" for w in app.main.workers))
        write_activity(app.ctx.source)  # type: ignore[arg-type]
        feed = app.main.query_one(WatchFeed)
        await wait_until(pilot, lambda: feed.table.row_count == 6)
        feed.table.focus()
        feed.table.move_cursor(row=0)
        await pilot.press("enter")
        view = app.main.query_one(ValueView)
        await wait_until(pilot, lambda: "Running → Succeeded" in view.query_one("#diff-text").text)
        await settle(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_stats(snap_compare: Any) -> None:
    app = app_for_snapshot(live=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: not app.main.keys_loading)
        await pilot.press("S")
        await wait_until(pilot, lambda: app.screen is not app.main)
        await settle(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)
