"""The watch feed: live events, follow mode, pause, filters, bounded memory, event diffs."""

from __future__ import annotations

from textual.widgets import Static

from ketui.core.sources.memory import MemorySource
from ketui.ui.app import KetuiApp, make_app
from ketui.ui.widgets.key_tree import KeyTree
from ketui.ui.widgets.text_view import TextView
from ketui.ui.widgets.value_view import ValueView
from ketui.ui.widgets.watch_feed import FeedFilter, WatchFeed
from tests.ui.conftest import frozen_clock, obj_value, pod, wait_until


async def started(app: KetuiApp, pilot) -> WatchFeed:
    await wait_until(pilot, lambda: not app.main.keys_loading)
    await wait_until(pilot, lambda: any(w.group == "watch" for w in app.main.workers))
    return app.main.query_one(WatchFeed)


def put_pod(source: MemorySource, name: str, ns: str = "default", phase: str = "Pending") -> None:
    source.apply_put(f"/registry/pods/{ns}/{name}".encode(), obj_value(pod(name, ns, phase)))


def cells(feed: WatchFeed, row: int) -> list[str]:
    return [str(cell) for cell in feed.table.get_row_at(row)]


async def test_feed_hidden_for_frozen_sources(memory_source: MemorySource) -> None:
    app = make_app(memory_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: not app.main.keys_loading)
        feed = app.main.query_one(WatchFeed)
        assert not feed.display or feed.has_class("-hidden")
        await pilot.press("f")
        assert not feed.has_class("-hidden")


async def test_events_appear_and_tree_follows(live_source: MemorySource) -> None:
    app = make_app(live_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        feed = await started(app, pilot)
        assert not feed.has_class("-hidden")
        put_pod(live_source, "web-1")
        await wait_until(pilot, lambda: feed.table.row_count == 1)
        assert cells(feed, 0) == [
            "12:00:00",
            "CREATE",
            "pods",
            "default/web-1",
            str(live_source.revision),
            f"+{len(obj_value(pod('web-1')))} B",
        ]
        tree = app.main.query_one(KeyTree)
        await wait_until(
            pilot, lambda: str(tree.root.children[0].label).startswith("/registry  10 ")
        )
        live_source.apply_delete(b"/registry/pods/default/web-1")
        await wait_until(pilot, lambda: feed.table.row_count == 2)
        assert cells(feed, 1)[1] == "DELETE"
        await wait_until(
            pilot, lambda: str(tree.root.children[0].label).startswith("/registry  9 ")
        )


async def test_follow_stops_on_scroll_up_and_resumes_at_end(live_source: MemorySource) -> None:
    app = make_app(live_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        feed = await started(app, pilot)
        for i in range(5):
            put_pod(live_source, f"p{i}")
        await wait_until(pilot, lambda: feed.table.row_count == 5)
        assert feed.follow and feed.table.cursor_row == 4
        feed.table.focus()
        await pilot.press("up", "up")
        assert not feed.follow and feed.table.cursor_row == 2
        put_pod(live_source, "p5")
        await wait_until(pilot, lambda: feed.table.row_count == 6)
        assert feed.table.cursor_row == 2  # not yanked to the end
        await pilot.press("G")
        assert feed.follow and feed.table.cursor_row == 5
        put_pod(live_source, "p6")
        await wait_until(pilot, lambda: feed.table.row_count == 7)
        assert feed.table.cursor_row == 6


async def test_pause_keeps_events_until_resumed(live_source: MemorySource) -> None:
    app = make_app(live_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        feed = await started(app, pilot)
        feed.table.focus()
        await pilot.press("p")
        assert feed.paused
        put_pod(live_source, "a")
        put_pod(live_source, "b")
        await wait_until(pilot, lambda: len(feed.waiting) == 2)
        assert feed.table.row_count == 0
        await pilot.press("p")
        assert feed.table.row_count == 2 and not feed.waiting


async def test_feed_is_bounded_and_counts_the_rest(live_source: MemorySource) -> None:
    app = make_app(live_source, clock=frozen_clock, feed_max=5)
    async with app.run_test(size=(120, 36)) as pilot:
        feed = await started(app, pilot)
        for i in range(8):
            put_pod(live_source, f"p{i}")
        await wait_until(pilot, lambda: feed.total == 8)
        assert feed.table.row_count == 5 and feed.dropped == 3
        assert cells(feed, 0)[3] == "default/p3"
        assert "+3 more" in str(feed.query_one("#feed-info", Static).content)


async def test_filter_by_namespace_resource_op_and_prefix(live_source: MemorySource) -> None:
    app = make_app(live_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        feed = await started(app, pilot)
        put_pod(live_source, "a")
        put_pod(live_source, "b", ns="kube-system")
        live_source.apply_put(b"/registry/configmaps/default/cfg", b"{}")
        live_source.apply_delete(b"/registry/pods/default/a")
        await wait_until(pilot, lambda: feed.total == 4)
        feed.table.focus()
        await pilot.press("slash", *"ns:kube-system")
        await pilot.pause()
        assert feed.table.row_count == 1 and cells(feed, 0)[3] == "kube-system/b"
        feed.set_filter("res:cm")  # kubectl short names work
        assert feed.table.row_count == 1 and cells(feed, 0)[2] == "configmaps"
        feed.set_filter("op:put")
        assert feed.table.row_count == 3
        feed.set_filter("op:delete")
        assert [cells(feed, 0)[1]] == ["DELETE"] and feed.table.row_count == 1
        feed.set_filter("/registry/pods/default/")
        assert feed.table.row_count == 2
        feed.set_filter("")
        assert feed.table.row_count == 4


def test_filter_parsing() -> None:
    parsed = FeedFilter.parse("/registry/pods/ ns:default res:pods op:put www")
    assert parsed == FeedFilter(("/registry/pods/",), ("pods",), ("default",), ("PUT",), ("www",))


async def test_selecting_an_event_shows_the_diff(live_source: MemorySource) -> None:
    app = make_app(live_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        feed = await started(app, pilot)
        put_pod(live_source, "www", phase="Succeeded")
        await wait_until(pilot, lambda: feed.table.row_count == 1)
        feed.table.focus()
        await pilot.press("enter")
        view = app.main.query_one(ValueView)
        await wait_until(
            pilot, lambda: "Running → Succeeded" in view.query_one("#diff-text", TextView).text
        )
        assert "status.phase: Running → Succeeded" in view.query_one("#diff-text", TextView).text
        assert "phase: Succeeded" in view.yaml_text()


async def test_following_keeps_the_newest_event_in_view(live_source: MemorySource) -> None:
    app = make_app(live_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        feed = await started(app, pilot)
        for i in range(40):
            put_pod(live_source, f"p{i}")
        await wait_until(pilot, lambda: feed.table.row_count == 40)
        await wait_until(pilot, lambda: feed.table.scroll_y == feed.table.max_scroll_y > 0)
        assert feed.table.cursor_row == 39


async def test_a_big_batch_is_applied_in_order_in_slices(
    live_source: MemorySource, monkeypatch
) -> None:
    """One batch larger than WATCH_SLICE is applied slice by slice, the loop running in between,
    and the events still reach the index and the feed in their order."""
    import asyncio

    from ketui.ui.screens import main as main_screen

    monkeypatch.setattr(main_screen, "WATCH_SLICE", 3)
    app = make_app(live_source, clock=frozen_clock)
    async with app.run_test(size=(120, 36)) as pilot:
        feed = await started(app, pilot)
        turns = 0  # loop turns seen by another task

        async def count_turns() -> None:
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        calls: list[tuple[int, int]] = []  # (events in the call, turns when it was made)
        add_events = feed.add_events

        def recording(batch):
            batch = list(batch)
            calls.append((len(batch), turns))
            add_events(batch)

        monkeypatch.setattr(feed, "add_events", recording)
        counter = asyncio.create_task(count_turns())
        try:
            # Written at once: the watch hands them over as one batch of 10.
            for i in range(4):
                put_pod(live_source, f"web-{i}")
            live_source.apply_delete(b"/registry/pods/default/web-0")
            live_source.apply_delete(b"/registry/pods/default/web-1")
            put_pod(live_source, "web-0", phase="Running")
            for i in range(4, 7):
                put_pod(live_source, f"web-{i}")
            await wait_until(pilot, lambda: feed.total == 10)
        finally:
            counter.cancel()
        assert [size for size, _ in calls] == [3, 3, 3, 1]
        assert len({seen for _, seen in calls}) == len(calls)  # the loop ran between slices
        ops = [(e.op, e.name) for e in feed.entries]
        assert ops == [
            ("CREATE", "web-0"),
            ("CREATE", "web-1"),
            ("CREATE", "web-2"),
            ("CREATE", "web-3"),
            ("DELETE", "web-0"),
            ("DELETE", "web-1"),
            ("CREATE", "web-0"),
            ("CREATE", "web-4"),
            ("CREATE", "web-5"),
            ("CREATE", "web-6"),
        ]
        revisions = [e.event.revision for e in feed.entries]
        assert revisions == sorted(revisions)
        index = app.main.index
        assert index.node("/registry/pods/default/web-0") is not None  # deleted, then re-created
        assert index.node("/registry/pods/default/web-1") is None
