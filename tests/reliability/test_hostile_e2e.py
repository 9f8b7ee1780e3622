"""The real `ketui` in tmux over a hostile dump: what reaches the terminal is read back with
``tmux capture-pane -p -e`` (text and the terminal's own colour sequences), after showing every
hostile key (issue 9)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests import cluster_data
from tests.etcd_harness import EtcdServer
from tests.reliability import hostile
from tests.ui.test_e2e_tmux import KETUI, Tmux

pytestmark = [
    pytest.mark.etcd,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def test_every_hostile_key_on_a_real_terminal(etcd: EtcdServer, tmp_path: Path) -> None:
    entries = hostile.entries()
    for entry in entries:
        etcd.put(os.fsdecode(entry.key), entry.value)
    dump = cluster_data.dump(etcd, tmp_path / "evil.json")
    session = Tmux([str(KETUI), "open", str(dump)], width=150, height=45)
    try:
        session.wait_for("/registry", "READ-ONLY")
        session.keys("/", "evil", "Enter")  # the tree filtered to the hostile ConfigMaps
        session.wait_for("keys match")
        seen = 0
        for _ in range(len(hostile.SEQUENCES)):
            session.keys("Enter")
            screen = session.wait_for("ConfigMap")
            styled = session.capture(styles=True)
            assert hostile.unsafe_in(styled, terminal_styles=True) == [], styled
            assert "keys match" in screen and "READ-ONLY" in screen  # the screen is whole
            assert session.pane_title() != "PWNED"
            seen += 1
            session.keys("Down")
        session.keys("Escape", "Escape")
        screen = session.wait_for("/registry  ")  # the tree's root line, drawn again
        for path in ("raw", "example.com", "secrets", "events"):
            assert path in screen
        assert hostile.unsafe_in(session.capture(styles=True), terminal_styles=True) == []
        assert seen == len(hostile.SEQUENCES)
    finally:
        session.close()
