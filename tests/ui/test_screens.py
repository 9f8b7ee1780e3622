"""Stats, compare, copy, command palette, help and the status bar, against a memory source."""

from __future__ import annotations

from textual.widgets import DataTable, Markdown

from ketui.core.sources.memory import MemorySource
from ketui.ui.app import KetuiApp, make_app
from ketui.ui.clipboard import etcdctl_command
from ketui.ui.screens.compare import CompareScreen
from ketui.ui.screens.help import HelpScreen
from ketui.ui.screens.stats import StatsScreen
from ketui.ui.widgets.key_tree import KeyTree
from ketui.ui.widgets.status_bar import StatusBar
from ketui.ui.widgets.text_view import TextView
from ketui.ui.widgets.value_view import ValueView
from tests.ui.conftest import frozen_clock, obj_value, pod, wait_until


async def loaded(app: KetuiApp, pilot) -> None:
    await wait_until(pilot, lambda: not app.main.keys_loading)


def column(table: DataTable, index: int) -> list[str]:
    return [str(table.get_row_at(row)[index]) for row in range(table.row_count)]


async def test_stats_screen(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(app, pilot)
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen))
        by_resource = app.screen.query_one("#by-resource", DataTable)
        assert column(by_resource, 2)[0] == "pods"
        assert column(by_resource, 0)[0] == "4"
        assert "nodes" in column(by_resource, 2)  # minions are nodes
        by_ns = app.screen.query_one("#by-namespace", DataTable)
        assert {"default", "kube-system", "(cluster)"} <= set(column(by_ns, 2))
        leases = app.screen.query_one("#leases", DataTable)
        assert column(leases, 2) == ["1234"]
        largest = app.screen.query_one("#largest", DataTable)
        assert largest.row_count == 9
        infos = [info async for page in memory_source.list_keys() for info in page]
        biggest = max(infos, key=lambda info: info.size or 0).key.decode()
        assert column(largest, 1)[0] == biggest
        largest.focus()
        await pilot.press("enter")  # opens the key on the main screen
        assert app.screen is app.main
        view = app.main.query_one(ValueView)
        await wait_until(pilot, lambda: view.kv is not None and view.kv.key.decode() == biggest)


async def test_mark_then_compare(live_source: MemorySource) -> None:
    app = make_app(live_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(app, pilot)
        await pilot.press("M")
        await wait_until(pilot, lambda: app.main.marked is not None)
        live_source.apply_put(b"/registry/pods/default/new", obj_value(pod("new")))
        live_source.apply_put(
            b"/registry/pods/default/www", obj_value(pod("www", phase="Succeeded"))
        )
        live_source.apply_delete(b"/registry/minions/cp1")
        await wait_until(pilot, lambda: app.main.revision == live_source.revision)
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
        table = app.screen.query_one("#changes", DataTable)
        assert column(table, 0) == ["-", "+", "~"]
        assert column(table, 1) == [
            "/registry/minions/cp1",
            "/registry/pods/default/new",
            "/registry/pods/default/www",
        ]
        table.move_cursor(row=2)
        diff = app.screen.query_one(TextView)
        await wait_until(pilot, lambda: "status.phase" in diff.text)
        assert "status.phase: Running → Succeeded" in diff.text


async def test_compare_without_mark_warns(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await loaded(app, pilot)
        await pilot.press("D")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        await wait_until(
            pilot, lambda: any("mark the state first" in n.message for n in app._notifications)
        )


async def test_copy_key_yaml_and_etcdctl(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock, endpoints=("http://10.0.0.1:2379",))
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(app, pilot)
        app.main.query_one(KeyTree).reveal_path("/registry/secrets/default/db-pass")
        view = app.main.query_one(ValueView)
        await wait_until(pilot, lambda: "kind: Secret" in view.yaml_text())
        await pilot.press("c")
        assert app.clipboard == "/registry/secrets/default/db-pass"
        await pilot.press("Y")
        assert "kind: Secret" in app.clipboard and "aHVudGVyMg==" not in app.clipboard
        await pilot.press("E")
        assert app.clipboard == (
            "ETCDCTL_API=3 etcdctl --endpoints=http://10.0.0.1:2379 get "
            "/registry/secrets/default/db-pass --print-value-only"
        )


def test_etcdctl_command_quotes_keys() -> None:
    line = etcdctl_command(b"/registry/x/a b", extra=("--cacert=/etc/ca.crt",), revision=7)
    assert line == (
        "ETCDCTL_API=3 etcdctl --cacert=/etc/ca.crt get '/registry/x/a b' --rev=7 "
        "--print-value-only"
    )


async def test_command_palette_lists_actions_and_resources(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(app, pilot)
        assert app.main.resources() == ["leases", "namespaces", "nodes", "pods", "secrets"]
        await pilot.press("ctrl+p")
        await pilot.press(*"stats")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen))
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.press(*"go to nodes")
        await pilot.pause(0.3)
        await pilot.press("enter")
        tree = app.main.query_one(KeyTree)
        await wait_until(
            pilot,
            lambda: (
                tree.cursor_node is not None
                and getattr(tree.cursor_node.data, "path", "") == "/registry/minions"
            ),
        )


async def test_help_shows_keys_of_the_focused_widget(live_source: MemorySource) -> None:
    app = make_app(live_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.markdown
        assert "## Key tree" in text and "Watch feed" not in text
        await pilot.press("escape")
        app.main.query_one("#feed-table").focus()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "## Watch feed" in app.screen.markdown and "| `p` | Pause" in app.screen.markdown
        assert "| `ctrl+f` | Search — Search the decoded values | `main.search` |" in (
            app.screen.markdown
        )  # the id the config file's [keymap] rebinds
        assert app.screen.query_one(Markdown)


async def test_status_bar_shows_the_source(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(app, pilot)
        bar = app.main.query_one(StatusBar)
        await wait_until(pilot, lambda: bar.status is not None)
        text = str(bar.render())
        assert "memory" in text and "test cluster" in text
        assert f"rev {memory_source.revision}" in text and "9 keys" in text
        assert "READ-ONLY" in text
