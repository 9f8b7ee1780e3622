"""The value viewer: YAML/JSON/Raw/Meta tabs, history diff, secret masking with reveal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static, TabbedContent

from ketui.core.sources.memory import MemoryOp, MemorySource
from ketui.core.sources.open import open_paths
from ketui.ui.app import KetuiApp, make_app
from ketui.ui.widgets.key_tree import KeyTree
from ketui.ui.widgets.text_view import TextView
from ketui.ui.widgets.value_view import ValueView
from tests import cluster_data
from tests.etcd_harness import EtcdServer
from tests.ui.conftest import frozen_clock, value_settled, wait_until


async def open_key(app: KetuiApp, pilot, path: str) -> ValueView:
    await wait_until(pilot, lambda: not app.main.keys_loading)
    tree = app.main.query_one(KeyTree)
    assert tree.reveal_path(path)
    view = app.main.query_one(ValueView)
    await wait_until(pilot, lambda: view.kv is not None and view.kv.key == path.encode())
    await wait_until(pilot, lambda: value_settled(app))
    await pilot.pause()
    return view


def code(view: ValueView, widget_id: str) -> str:
    widget = view.query_one(f"#{widget_id}")
    assert isinstance(widget, TextView)
    return widget.text


async def test_yaml_json_raw_meta(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await open_key(app, pilot, "/registry/pods/default/www")
        yaml_text = view.yaml_text()
        assert "kind: Pod" in yaml_text and "phase: Running" in yaml_text
        assert '"phase": "Running"' in code(view, "json-text")
        await pilot.press("tab")  # focus leaves the tree for the value viewer
        view.action_show_tab("meta")
        await pilot.pause()
        meta = str(view.query_one("#meta", Static).content)
        assert "mod revision" in meta and "json" in meta
        assert view.query_one(TabbedContent).active == "meta-tab"


async def test_history_lists_revisions_and_diffs_the_last_two(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await open_key(app, pilot, "/registry/pods/default/www")
        table = view.query_one("#history-table", DataTable)
        assert table.row_count == 2
        await wait_until(pilot, lambda: "status.phase" in code(view, "history-diff"))
        assert "status.phase: Pending → Running" in code(view, "history-diff")
        assert "status.phase: Pending → Running" in code(view, "diff-text")
        # unmark the newest revision: a single mark shows the hint instead of a diff
        view.action_show_tab("history")
        table.focus()
        table.move_cursor(row=1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "mark two" in code(view, "history-diff"))


async def test_secret_is_masked_until_revealed(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await open_key(app, pilot, "/registry/secrets/default/db-pass")
        assert "aHVudGVyMg==" not in view.yaml_text()
        assert "<masked: 7 bytes>" in view.yaml_text()
        assert "aHVudGVyMg==" not in code(view, "json-text")
        await pilot.press("x")
        await pilot.pause()
        assert "aHVudGVyMg==" in view.yaml_text()
        # x again masks it again
        await pilot.press("x")
        await pilot.pause()
        assert "aHVudGVyMg==" not in view.yaml_text()


async def test_lease_is_shown_in_meta(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await open_key(app, pilot, "/registry/leases/kube-node-lease/cp1")
        meta = str(view.query_one("#meta", Static).content)
        assert "1234" in meta
        assert "lease TTL" in meta  # a memory source cannot tell the TTL: "unknown"


@pytest.mark.etcd
async def test_the_yaml_tab_shows_what_get_prints(etcd: EtcdServer, tmp_path: Path) -> None:
    """One presentation path: the viewer's YAML and JSON are byte for byte what `ketui get`
    prints for the same key (resourceVersion included, as kubectl shows it)."""
    cluster_data.populate(etcd)
    dump = cluster_data.dump(etcd, tmp_path / "dump.json")
    key = "/registry/pods/default/pod-a"
    printed = {
        fmt: subprocess.run(
            [sys.executable, "-m", "ketui", "get", key, "-s", str(dump), "-o", fmt],
            capture_output=True, check=True, text=True,
        ).stdout
        for fmt in ("yaml", "json")
    }  # fmt: skip
    assert "resourceVersion:" in printed["yaml"]
    app = make_app(open_paths([dump]), clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await open_key(app, pilot, key)
        assert view.yaml_text() == printed["yaml"]
        assert code(view, "json-text") + "\n" == printed["json"]


async def test_fields_the_release_drops_are_named_not_hidden() -> None:
    """An object written by an old release (auger's 2017 Pod): the YAML is the newest release's,
    a line under the title names what it drops, the Meta tab lists it with its value."""
    sample = Path(__file__).parents[1] / "core" / "k8s" / "auger" / "pod.bin"
    key = b"/registry/pods/default/pi-dqtsw"
    source = MemorySource([MemoryOp.put(key, sample.read_bytes().removesuffix(b"\n"))])
    app = make_app(source, clock=frozen_clock)
    async with app.run_test(size=(140, 36)) as pilot:
        view = await open_key(app, pilot, key.decode())
        assert "clusterName" not in view.yaml_text()
        note = str(view.query_one("#value-note", Static).render())
        assert "1 stored field that 1.36 drops: metadata.clusterName (known to 1.17-1.24)" in note
        meta = str(view.query_one("#meta", Static).render())
        assert 'metadata.clusterName = "" (known to 1.17-1.24)' in meta
        assert "Kubernetes 1.36" in meta
