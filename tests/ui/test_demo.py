"""The TUI on the built-in demo cluster, and the `ketui`/`ketui open`/`ketui demo` entry points."""

from __future__ import annotations

import pytest

from ketui.cli import tui_cmd
from ketui.cli.main import build_parser, main
from ketui.core.k8s.encryption import Keyring
from ketui.demo import ENCRYPTION_CONFIG, demo_source
from ketui.ui.app import KetuiApp, make_app
from ketui.ui.widgets.key_tree import KeyTree
from ketui.ui.widgets.value_view import ValueView
from ketui.ui.widgets.watch_feed import WatchFeed
from tests.ui.conftest import frozen_clock, value_settled, wait_until


def demo_app(*, keyring: bool = True) -> KetuiApp:
    source = demo_source(live=True)
    source.interval = 3600  # no timer ticks during a test: the test calls step()
    return make_app(
        source,
        kube_version=source.kube_version,
        keyring=Keyring.from_config_file(ENCRYPTION_CONFIG) if keyring else None,
        clock=frozen_clock,
        feed_backlog=tui_cmd.DEMO_FEED_BACKLOG,
    )


async def show(app: KetuiApp, pilot, path: str) -> ValueView:
    await wait_until(pilot, lambda: not app.main.keys_loading)
    assert app.main.query_one(KeyTree).reveal_path(path)
    view = app.main.query_one(ValueView)
    await wait_until(pilot, lambda: view.kv is not None and view.kv.key == path.encode())
    await wait_until(pilot, lambda: value_settled(app))
    return view


async def test_demo_pod_feed_backlog_and_simulation() -> None:
    app = demo_app()
    async with app.run_test(size=(120, 36)) as pilot:
        view = await show(app, pilot, "/registry/pods/default/www")
        assert "image: nginx:1.16-alpine" in view.yaml_text()
        feed = app.main.query_one(WatchFeed)
        await wait_until(pilot, lambda: feed.table.row_count >= 20)
        names = {str(feed.table.get_row_at(r)[3]) for r in range(feed.table.row_count)}
        assert "default/www" in names
        before = feed.total
        source = app.ctx.source
        for _ in range(3):
            source.step()  # type: ignore[attr-defined]
        await wait_until(pilot, lambda: feed.total >= before + 4)


async def test_demo_encrypted_secret_is_decrypted_and_masked() -> None:
    app = demo_app()
    async with app.run_test(size=(120, 36)) as pilot:
        view = await show(app, pilot, "/registry/secrets/shop/db-credentials")
        assert "kind: Secret" in view.yaml_text() and "<masked:" in view.yaml_text()
        view.action_show_tab("meta")
        meta = str(view.query_one("#meta").content)
        assert "aescbc" in meta and "decrypted" in meta


async def test_demo_encrypted_secret_without_keyring() -> None:
    app = demo_app(keyring=False)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await show(app, pilot, "/registry/secrets/shop/db-credentials")
        assert "# encrypted with aescbc" in view.yaml_text()


def test_cli_entry_points() -> None:
    parser = build_parser()
    assert parser.parse_args([]).func is tui_cmd.run_live
    assert parser.parse_args(["open", "a.json", "b.db"]).files == ["a.json", "b.db"]
    assert parser.parse_args(["demo"]).func is tui_cmd.run_demo


def test_open_missing_file_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["open", "/nonexistent/dump.json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ketui: ") and err.count("\n") == 1 and "Traceback" not in err


def test_bad_kube_version_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--kube-version", "banana"]) == 1
    assert "invalid Kubernetes version" in capsys.readouterr().err
