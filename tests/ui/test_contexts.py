"""Switching contexts in the TUI (:ctx NAME): the screen asks only for contexts the config file
has, and the real ketui command in tmux opens the other context when asked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ketui.core.sources.memory import MemorySource
from ketui.ui.app import make_app
from tests import cluster_data
from tests.etcd_harness import EtcdServer
from tests.ui.conftest import frozen_clock, small_cluster_ops, wait_until
from tests.ui.test_e2e_tmux import KETUI, Tmux


async def test_ctx_asks_for_a_known_context_only() -> None:
    app = make_app(MemorySource(small_cluster_ops()), clock=frozen_clock, show_feed=False,
                   contexts=("prod", "backup"))  # fmt: skip
    said: list[str] = []
    app.notify = lambda message, **_options: said.append(message)  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: not app.main.keys_loading)
        app.main.run_command(":ctx")
        app.main.run_command(":ctx staging")
        await pilot.pause()
        assert app.switch_to is None and app.screen is app.main
        assert said[-2:] == [
            "contexts: prod, backup", "no context 'staging'; contexts: prod, backup"
        ]
        app.main.run_command(":ctx backup")
        await pilot.pause()
    assert app.switch_to == "backup" and app.return_code in (0, None)


@pytest.mark.etcd
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_real_command_opens_the_other_context(tmp_path: Path) -> None:
    server = EtcdServer().start()
    try:
        server.put("/registry/configmaps/default/first-only", b"1")
        first = cluster_data.dump(server, tmp_path / "first.json")
        server.put("/registry/secrets/default/second-only", b"2")
        second = cluster_data.dump(server, tmp_path / "second.json")
    finally:
        server.cleanup()
    config = tmp_path / "config.toml"
    config.write_text(f'[contexts.first]\nsource = ["{first}"]\n'
                      f'[contexts.second]\nsource = ["{second}"]\n')  # fmt: skip
    session = Tmux(["env", f"KETUI_CONFIG={config}", str(KETUI), "--context", "first"])
    try:
        session.wait_for("configmaps", "1 keys")
        assert "secrets" not in session.screen()
        session.keys(":", "ctx second", "Enter")
        session.wait_for("configmaps", "secrets", "2 keys")
        session.keys("q")
    finally:
        session.close()
