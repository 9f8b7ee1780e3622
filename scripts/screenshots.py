"""Regenerate the README screenshots (screenshots/*.svg and *.png) from the demo cluster.

    .venv/bin/python scripts/screenshots.py [--out screenshots]

Each view is driven through the real app (``make_app`` over the demo source) at 120x36, with the
feed's clock frozen, then saved as SVG (``App.save_screenshot``) and converted to PNG (cairosvg).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import cairosvg
from textual.pilot import Pilot

from ketui.cli.tui_cmd import DEMO_FEED_BACKLOG
from ketui.core.k8s.encryption import Keyring
from ketui.demo import ENCRYPTION_CONFIG, DemoSource, demo_source
from ketui.ui.app import KetuiApp, make_app
from ketui.ui.screens.search import SearchScreen
from ketui.ui.widgets.key_tree import KeyTree
from ketui.ui.widgets.value_view import ValueView
from ketui.ui.widgets.watch_feed import WatchFeed

SIZE = (120, 36)
PNG_FONT = "DejaVu Sans Mono"
POD = "/registry/pods/default/www"
Scene = Callable[[KetuiApp, Pilot[int]], Awaitable[None]]


async def until(pilot: Pilot[int], condition: Callable[[], bool], timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise RuntimeError("the screen did not reach the expected state")
        await pilot.pause(0.05)


async def idle(app: KetuiApp, pilot: Pilot[int]) -> None:
    """Wait for the short-lived workers (never the watch) and for rendering."""
    await until(pilot, lambda: all(w.is_finished for w in app.workers if w.group != "watch"
                                   and w.group != "status"))  # fmt: skip
    await pilot.pause(0.2)
    await pilot.wait_for_scheduled_animations()  # e.g. the tab underline sliding


async def show_pod(app: KetuiApp, pilot: Pilot[int]) -> ValueView:
    await until(pilot, lambda: not app.main.keys_loading)
    app.main.query_one(KeyTree).reveal_path(POD)
    view = app.main.query_one(ValueView)
    await until(pilot, lambda: "nginx" in view.yaml_text())
    await idle(app, pilot)
    return view


async def tree_with_value(app: KetuiApp, pilot: Pilot[int]) -> None:
    await show_pod(app, pilot)
    app.main.query_one(KeyTree).focus()


async def watch_feed_diff(app: KetuiApp, pilot: Pilot[int]) -> None:
    await until(pilot, lambda: not app.main.keys_loading)
    feed = app.main.query_one(WatchFeed)
    await until(pilot, lambda: feed.table.row_count > 5)
    rows = [str(feed.table.get_row_at(r)[3]) for r in range(feed.table.row_count)]
    pod_row = max(i for i, name in enumerate(rows) if name == "default/www")
    feed.table.focus()
    feed.table.move_cursor(row=pod_row)
    await pilot.press("enter")
    view = app.main.query_one(ValueView)
    await until(pilot, lambda: "→" in view.query_one("#diff-text").text)  # type: ignore[attr-defined]
    await idle(app, pilot)


async def history_diff(app: KetuiApp, pilot: Pilot[int]) -> None:
    view = await show_pod(app, pilot)
    view.action_show_tab("history")
    await until(pilot, lambda: "→" in view.query_one("#history-diff").text)  # type: ignore[attr-defined]
    await idle(app, pilot)


async def events_tab(app: KetuiApp, pilot: Pilot[int]) -> None:
    view = await show_pod(app, pilot)
    await until(pilot, lambda: view.query_one("#events-table").row_count >= 5)  # type: ignore[attr-defined]
    view.action_show_tab("events")
    await idle(app, pilot)


async def search_results(app: KetuiApp, pilot: Pilot[int]) -> None:
    await until(pilot, lambda: not app.main.keys_loading)
    await pilot.press("ctrl+f")
    await until(pilot, lambda: isinstance(app.screen, SearchScreen))
    await pilot.press(*"nginx", "enter")
    status: Any = app.screen.query_one("#search-status")
    await until(pilot, lambda: "enter opens a hit" in str(status.content))
    app.screen.query_one("#search-results").focus()
    await idle(app, pilot)


async def stats(app: KetuiApp, pilot: Pilot[int]) -> None:
    await until(pilot, lambda: not app.main.keys_loading)
    await pilot.press("S")
    await until(pilot, lambda: app.screen is not app.main)
    await idle(app, pilot)


SCENES: dict[str, Scene] = {
    "tree-value": tree_with_value,
    "watch-feed-diff": watch_feed_diff,
    "history-diff": history_diff,
    "events": events_tab,
    "search": search_results,
    "stats": stats,
}


async def cluster_screen(out: Path) -> Path:
    """The Cluster screen needs members to ask: a real 3-member etcd (the tests' harness)."""
    from ketui.core.sources.etcd.config import EtcdConfig
    from ketui.core.sources.etcd.source import EtcdSource
    from ketui.ui.screens.cluster import ClusterScreen
    from tests.etcd_harness import EtcdCluster

    three = EtcdCluster(3).start()
    try:
        for name in ("coredns", "kube-proxy", "kubeadm-config"):
            three.etcdctl("put", f"/registry/configmaps/kube-system/{name}", "demo")
        source = EtcdSource(EtcdConfig(endpoints=three.endpoints[:1]))
        app = make_app(source, clock=lambda: datetime(2026, 11, 24, 9, 41, 0), show_feed=False)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: not app.main.keys_loading)
            await pilot.press("C")
            await until(pilot, lambda: isinstance(app.screen, ClusterScreen))
            table: Any = app.screen.query_one("#members")
            await until(pilot, lambda: table.row_count == 3)
            await pilot.press("c")
            check: Any = app.screen.query_one("#cluster-check")
            await until(pilot, lambda: "consistent" in str(check.content))
            await pilot.pause(0.3)
            return save(app, "cluster", out)
    finally:
        three.cleanup()


def save(app: KetuiApp, name: str, out: Path) -> Path:
    svg = out / f"{name}.svg"
    app.save_screenshot(svg.name, path=str(out))
    png = svg.with_suffix(".png")
    # cairosvg cannot load the SVG's web font (Fira Code) and falls back to a proportional font,
    # which misaligns columns: name an installed monospace font for the PNG only.
    text = svg.read_text().replace("Fira Code", PNG_FONT)
    cairosvg.svg2png(bytestring=text.encode(), write_to=str(png))
    return png


def demo_app() -> KetuiApp:
    source: DemoSource = demo_source(live=True)
    source.interval = 3600  # a still picture: no simulated activity while shooting
    return make_app(
        source,
        kube_version=source.kube_version,
        keyring=Keyring.from_config_file(ENCRYPTION_CONFIG),
        feed_backlog=DEMO_FEED_BACKLOG,
        clock=lambda: datetime(2026, 11, 24, 9, 41, 0),
    )


async def shoot(name: str, scene: Scene, out: Path) -> Path:
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await scene(app, pilot)
        return save(app, name, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, scene in SCENES.items():
        print(asyncio.run(shoot(name, scene, args.out)))
    print(asyncio.run(cluster_screen(args.out)))


if __name__ == "__main__":
    main()
