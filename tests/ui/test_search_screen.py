"""The search screen (ctrl+f, :grep): hits listed as found, enter opens the value with the hit's
field highlighted, escape stops a running search, bad input is said on the status line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static, TabbedContent

from ketui.core.source import KeyValue, ProgressCallback, ValueTest
from ketui.core.sources.memory import MemorySource
from ketui.demo import demo_source
from ketui.ui.app import KetuiApp, make_app
from ketui.ui.screens.search import SearchScreen
from ketui.ui.widgets.text_view import TextView
from ketui.ui.widgets.value_view import ValueView
from tests.ui.conftest import frozen_clock, open_screen, small_cluster_ops, wait_until


def status(screen: SearchScreen) -> str:
    return str(screen.query_one("#search-status", Static).content)


async def open_search(app: KetuiApp, pilot: Any) -> SearchScreen:
    return await open_screen(app, pilot, "ctrl+f", SearchScreen)


async def test_hits_then_enter_opens_the_field() -> None:
    app = make_app(demo_source(live=False), clock=frozen_clock, show_feed=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_search(app, pilot)
        await pilot.press(*"nginx", "enter")
        await wait_until(pilot, lambda: "enter opens a hit" in status(screen))
        table = screen.query_one("#search-results", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [row[:2] for row in rows] == [
            ["/registry/events/default/www.17d58a1c5b0a7c22", "message"],
            ["/registry/events/default/www.17d58a1d0f3e4a63", "message"],
            ["/registry/pods/default/www", "spec.containers[0].image"],
            ["/registry/pods/default/www", "status.containerStatuses[0].image"],
            ["/registry/pods/default/www", "status.containerStatuses[0].imageID"],
        ]
        assert status(screen).startswith("5 hits in 156 keys")
        assert "1 encrypted values not searched" in status(screen)
        table.focus()
        table.move_cursor(row=3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.main)
        view = app.main.query_one(ValueView)
        yaml_view = view.query_one("#yaml-text", TextView)
        await wait_until(pilot, lambda: yaml_view.marked is not None)
        marked = yaml_view.prepared.lines[yaml_view.marked or 0]
        assert marked.strip() == "image: docker.io/library/nginx:1.16-alpine"
        assert view.query_one(TabbedContent).active == "yaml"
        assert view.kv is not None and view.kv.key == b"/registry/pods/default/www"


async def test_grep_command_field_paths_and_bad_input() -> None:
    app = make_app(demo_source(live=False), clock=frozen_clock, show_feed=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: not app.main.keys_loading)
        app.main.run_command(":grep")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        screen.query_one("#search-field", Input).value = "spec.containers[*].image"
        screen.query_one("#search-pattern", Input).value = "nginx"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "enter opens a hit" in status(screen))
        assert screen.query_one("#search-results", DataTable).row_count == 1
        for field, pattern, message in [
            ("spec.[", "x", "bad field path"), ("", "", "type a text to find"),
        ]:
            screen.query_one("#search-field", Input).value = field
            screen.query_one("#search-pattern", Input).value = pattern
            screen.query_one("#search-pattern", Input).focus()
            await pilot.press("enter")
            await wait_until(pilot, lambda m=message: m in status(screen))  # type: ignore[misc]
        screen.query_one("#search-regex").value = True  # type: ignore[attr-defined]
        screen.query_one("#search-pattern", Input).value = "nginx("
        await pilot.press("enter")
        await wait_until(pilot, lambda: "missing ), unterminated subpattern" in status(screen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.main)


class GatedSource(MemorySource):
    """A source whose value scan waits for a gate: a search that can be caught running."""

    gate: asyncio.Event

    async def filter_values(
        self, prefix: bytes, keep: ValueTest, *, on_progress: ProgressCallback | None = None
    ) -> AsyncGenerator[list[KeyValue], None]:
        if on_progress is not None:
            on_progress(1, 10)
        await self.gate.wait()
        async for page in super().filter_values(prefix, keep, on_progress=on_progress):
            yield page


async def test_escape_stops_a_running_search_then_closes() -> None:
    source = GatedSource(small_cluster_ops())
    source.gate = asyncio.Event()
    app = make_app(source, clock=frozen_clock, show_feed=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_search(app, pilot)
        await pilot.press(*"nginx", "enter")
        await wait_until(pilot, lambda: "searched 1 of 10 keys" in status(screen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: status(screen).startswith("stopped:"))
        assert app.screen is screen  # still open: the first escape only stopped the search
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.main)


@pytest.mark.etcd
async def test_search_over_live_etcd_and_a_subtree() -> None:
    """Over a real etcd holding the grep tests' values (protobuf, JSON, an encrypted Secret):
    the whole store, then the subtree under the tree's cursor."""
    from ketui.core.sources.etcd.config import EtcdConfig
    from ketui.core.sources.etcd.source import EtcdSource
    from ketui.ui.widgets.key_tree import KeyTree
    from tests.cli.test_grep import VALUES, WWW
    from tests.etcd_harness import EtcdServer

    server = EtcdServer().start()
    try:
        for key, value in VALUES.items():
            server.put(key, value)
        source = EtcdSource(EtcdConfig(endpoints=[server.endpoint]))
        app = make_app(source, clock=frozen_clock, show_feed=False)
        async with app.run_test(size=(140, 40)) as pilot:
            screen = await open_search(app, pilot)
            await pilot.press(*"a<b", "enter")  # in the custom resource's JSON as a\u003cb
            await wait_until(pilot, lambda: "enter opens a hit" in status(screen))
            table = screen.query_one("#search-results", DataTable)
            assert [str(c) for c in table.get_row_at(0)][:2] == [
                "/registry/example.com/widgets/default/w1", "spec.note"
            ]
            assert status(screen).startswith("1 hit in 7 keys")
            assert "1 encrypted values not searched" in status(screen)
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.main)
            assert app.main.query_one(KeyTree).reveal_path("/registry/pods")
            await pilot.pause(0.2)
            screen = await open_search(app, pilot)
            assert screen.query_one("#search-prefix", Input).value == "/registry/pods/"
            await pilot.press(*"nginx", "enter")
            await wait_until(pilot, lambda: "enter opens a hit" in status(screen))
            table = screen.query_one("#search-results", DataTable)
            keys = {str(table.get_row_at(i)[0]) for i in range(table.row_count)}
            assert keys == {WWW, "/registry/pods/default/api"}
    finally:
        server.cleanup()
