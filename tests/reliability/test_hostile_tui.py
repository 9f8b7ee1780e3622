"""The TUI over the hostile corpus: no rendered screen holds a character that can drive the
terminal, and the screen stays whole after showing every hostile key (issue 9).

Screens are read back as Textual renders them (``export_screenshot``: every segment's text, as it
would be written to the terminal; a widget that let an ESC through leaves it there).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.etcd.source import EtcdSource
from ketui.core.sources.memory import MemoryOp, MemorySource
from ketui.ui.app import KetuiApp, make_app
from ketui.ui.screens.compare import CompareScreen
from ketui.ui.screens.stats import StatsScreen
from ketui.ui.widgets.key_tree import KeyTree
from ketui.ui.widgets.value_view import ValueView
from ketui.ui.widgets.watch_feed import WatchFeed
from tests.etcd_harness import EtcdServer
from tests.reliability import hostile
from tests.ui.conftest import frozen_clock, value_settled, wait_until

TABS = ("yaml", "json", "raw", "meta", "history", "diff")
SCREENS_READ: list[str] = []


def clean_screen(app: KetuiApp, where: str) -> str:
    svg = app.export_screenshot()
    SCREENS_READ.append(where)
    assert hostile.unsafe_in(svg) == [], where
    return svg


def tree_intact(app: KetuiApp) -> None:
    tree = app.main.query_one(KeyTree)
    first = tree.root.children[0] if tree.root.children else None
    assert first is not None and str(first.label).startswith("/registry")


async def test_every_hostile_key_in_every_tab(tmp_path: Path) -> None:
    config = tmp_path / "enc.yaml"
    config.write_text(yaml.safe_dump(hostile.encryption_config()))
    from ketui.core.k8s.encryption import Keyring

    source = MemorySource([MemoryOp.put(e.key, e.value) for e in hostile.entries()], live=True)
    app = make_app(source, clock=frozen_clock, keyring=Keyring.from_config_file(str(config)))
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await wait_until(pilot, lambda: not app.main.keys_loading)
        clean_screen(app, "start")
        view = app.main.query_one(ValueView)
        for entry in hostile.entries():
            assert app.main.query_one(KeyTree).reveal_path(os.fsdecode(entry.key))
            await wait_until(pilot, lambda e=entry: view.kv is not None and view.kv.key == e.key)
            await wait_until(pilot, lambda: value_settled(app))
            view.action_reveal()  # secrets shown too: decrypted text must be as safe
            for tab in TABS:
                view.action_show_tab(tab)
                await pilot.pause()
                clean_screen(app, f"{entry.key!r} {tab}")
            tree_intact(app)
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen))
        clean_screen(app, "stats")
        await pilot.press("escape")
        await pilot.press("M")
        await wait_until(pilot, lambda: app.main.marked is not None)
        for entry in hostile.entries()[:3]:
            source.apply_put(entry.key, entry.value + b" ")
        source.apply_put(b"/registry/configmaps/default/new" + hostile.NOT_UTF8, b"{}")
        await wait_until(pilot, lambda: app.main.revision == source.revision)
        clean_screen(app, "feed")
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
        await pilot.pause()
        clean_screen(app, "compare")
        await pilot.press("escape")
        sequences = hostile.SEQUENCES
        app.notify(sequences["title"] + " in a notification", title=sequences["rlo"])
        await pilot.pause()
        clean_screen(app, "notification")
        await pilot.press("ctrl+p")
        await pilot.press(*"go")
        await pilot.pause(0.3)
        clean_screen(app, "palette")
    print(f"\nhostile TUI: {len(SCREENS_READ)} screens read, none with an unsafe character")


@pytest.mark.etcd
async def test_hostile_watch_events_in_the_feed(etcd: EtcdServer) -> None:
    """Hostile keys and values arriving as watch events: feed lines, the event's object and
    its diff are as safe."""
    app = make_app(EtcdSource(EtcdConfig(endpoints=[etcd.endpoint])), clock=frozen_clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: not app.main.keys_loading, timeout=15)
        entries = hostile.entries()
        for entry in entries:
            etcd.put(os.fsdecode(entry.key), entry.value)
        etcd.put(os.fsdecode(entries[0].key), entries[1].value)
        feed = app.main.query_one(WatchFeed)
        await wait_until(pilot, lambda: feed.table.row_count == len(entries) + 1, timeout=20)
        clean_screen(app, "live feed")
        feed.table.focus()
        await pilot.press("enter")  # the last event: the object and its diff
        view = app.main.query_one(ValueView)
        await wait_until(pilot, lambda: view.kv is not None and value_settled(app))
        clean_screen(app, "live event diff")
        tree_intact(app)


def test_only_the_copy_action_writes_the_clipboard() -> None:
    """OSC 52 is written by Textual's copy_to_clipboard (base64 of what the user chose to copy),
    and ketui calls it in one place: the copy action's helper."""
    from tests.paths import REPO

    callers = [
        path.relative_to(REPO).as_posix()
        for path in (REPO / "ketui").rglob("*.py")
        if "copy_to_clipboard" in path.read_text() or "\\x1b]52" in path.read_text()
    ]
    assert callers == ["ketui/ui/clipboard.py"]
