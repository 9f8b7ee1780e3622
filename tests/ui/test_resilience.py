"""The TUI when things go wrong (issue 5): compaction while the feed is behind, broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketui.cli.main import main
from ketui.core.sources.dump.source import DumpSource
from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.etcd.source import EtcdSource
from ketui.core.sources.snapshot.source import SnapshotSource
from ketui.ui.app import KetuiApp, make_app
from ketui.ui.screens.help import HelpScreen
from ketui.ui.widgets.key_tree import KeyTree
from ketui.ui.widgets.watch_feed import WatchFeed
from tests.etcd_harness import EtcdServer
from tests.ui.conftest import frozen_clock, wait_until

pytestmark = pytest.mark.etcd


def first_label(app: KetuiApp) -> str:
    tree = app.main.query_one(KeyTree)
    return str(tree.root.children[0].label) if tree.root.children else ""


def tree_info(app: KetuiApp) -> str:
    return str(app.main.query_one("#tree-info").render())


def watching(app: KetuiApp) -> bool:
    return any(w.group == "watch" and not w.is_finished for w in app.main.workers)


async def test_compaction_while_the_feed_is_behind_resyncs(etcd: EtcdServer) -> None:
    etcd.put("/registry/pods/default/a", b"{}")
    app = make_app(EtcdSource(EtcdConfig(endpoints=[etcd.endpoint])), clock=frozen_clock)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_until(pilot, lambda: not app.main.keys_loading and watching(app), timeout=15)
        behind = app.main.revision + 1
        # The feed falls behind (its watch is gone for a while) and etcd compacts meanwhile.
        for worker in app.main.workers:
            if worker.group == "watch":
                worker.cancel()
        etcd.put("/registry/pods/default/b", b"{}")
        etcd.put("/registry/pods/default/c", b"{}")
        etcd.etcdctl("compact", str(behind + 1))
        app.main.watch_changes(behind)  # resumes where it was: revision `behind` is gone

        await wait_until(pilot, lambda: first_label(app).startswith("/registry  3 "), timeout=10)
        await wait_until(
            pilot, lambda: any("compacted at" in n.message for n in app._notifications)
        )
        told = [n.message for n in app._notifications if "compacted at" in n.message]
        assert told[0].startswith(f"compacted at {behind + 1}")
        feed = app.main.query_one(WatchFeed)
        assert feed.note.startswith(f"compacted at {behind + 1}")
        await wait_until(pilot, lambda: watching(app) and not app.main.keys_loading)
        etcd.put("/registry/pods/default/d", b"{}")  # the feed continues from the new revision
        await wait_until(pilot, lambda: feed.table.row_count == 1, timeout=10)
        assert str(feed.table.get_row_at(0)[3]).endswith("/d")
        await wait_until(pilot, lambda: first_label(app).startswith("/registry  4 "))


async def assert_usable_with_error(app: KetuiApp, expected: str) -> None:
    """The app shows the problem (notification and tree line) and keeps answering keys."""
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_until(pilot, lambda: not app.main.keys_loading, timeout=15)

        def told() -> list[str]:
            return [n.message for n in app._notifications if n.title == "cannot list keys"]

        # notify() posts a message: the app may not have handled it yet under load
        await wait_until(pilot, lambda: bool(told()))
        messages = told()
        assert len(messages) == 1 and expected in messages[0], messages
        assert "\n" not in messages[0]
        assert tree_info(app).startswith("error: ")
        assert "retrying" not in tree_info(app)  # a file does not get better by retrying
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.main)
        await pilot.press("q")
    assert app.return_code == 0


async def test_truncated_snapshot_is_reported_and_the_app_stays_usable(
    etcd: EtcdServer, tmp_path: Path
) -> None:
    for i in range(20):
        etcd.put(f"/registry/configmaps/default/c{i}", b"x" * 2000)
    whole = tmp_path / "whole.db"
    etcd.etcdctl("snapshot", "save", str(whole))
    cut = tmp_path / "cut.db"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    await assert_usable_with_error(make_app(SnapshotSource(cut)), "cut.db")


async def test_garbage_dump_is_reported_and_the_app_stays_usable(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b'{"header": {"revision": 7}, "kvs": [{"key": \x00\xff\xfe not json')
    await assert_usable_with_error(make_app(DumpSource([garbage])), "garbage.json")


def test_cli_refuses_a_file_that_is_neither_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "random.bin"
    garbage.write_bytes(bytes(range(256)) * 10)
    assert main(["open", str(garbage)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"ketui: {garbage}: not an etcdctl JSON dump")
