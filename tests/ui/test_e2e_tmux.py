"""End to end: the real `ketui` command in tmux against a real etcd, read back with capture-pane."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketui.core.k8s.protobuf.encode import encode_object
from tests.etcd_harness import EtcdServer
from tests.ui.conftest import pod
from tests.ui.test_live_etcd import event

pytestmark = [
    pytest.mark.etcd,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

KETUI = Path(sys.executable).with_name("ketui")


class Tmux:
    """One tmux server of our own (private socket), one session running a command."""

    def __init__(self, command: list[str], width: int = 160, height: int = 48) -> None:
        self.socket = f"ketui-e2e-{uuid.uuid4().hex[:8]}"
        # COLUMNS/LINES (set by some shells and CI) would override the window size in Textual.
        self._tmux(
            "new-session", "-d", "-s", "e2e", "-x", str(width), "-y", str(height),
            " ".join(["env", "-u", "COLUMNS", "-u", "LINES", *command]),
        )  # fmt: skip

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        return result.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "e2e")

    def capture(self, *, styles: bool = False) -> str:
        """The pane as text; ``styles``: with the SGR sequences of its colours (``-e``)."""
        return self._tmux("capture-pane", "-p", *(["-e"] if styles else []), "-t", "e2e")

    def pane_title(self) -> str:
        return self._tmux("display-message", "-p", "-t", "e2e", "#{pane_title}").strip()

    def keys(self, *keys: str) -> None:
        for key in keys:
            self._tmux("send-keys", "-t", "e2e", key)
            time.sleep(0.05)

    def wait_for(self, *texts: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{texts} not on the screen after {timeout}s:\n{screen}")

    def close(self) -> None:
        self._tmux("kill-server")


@pytest.fixture
def tmux_ketui(etcd: EtcdServer) -> Iterator[Tmux]:
    session = Tmux([str(KETUI), "--endpoints", etcd.endpoint, "--kube-version", "1.31"])
    try:
        yield session
    finally:
        session.close()


def test_pod_and_events_show_up_in_the_feed_and_yaml(etcd: EtcdServer, tmux_ketui: Tmux) -> None:
    tmux_ketui.wait_for("etcd", "READ-ONLY", "Watch")
    etcd.put("/registry/pods/default/www", encode_object(pod("www")))
    for i, reason in enumerate(("Scheduled", "Pulling", "Pulled")):
        etcd.put(f"/registry/events/default/www.{i}", encode_object(event(f"www.{i}", reason)))
    screen = tmux_ketui.wait_for("default/www.2")
    assert "CREATE" in screen and "pods" in screen and "default/www " in screen
    tmux_ketui.keys("/", "pods/default/www", "Enter")  # filter the tree down to the pod
    screen = tmux_ketui.wait_for("image: nginx:1.16-alpine", "phase: Pending")
    assert "kind: Pod" in screen
