"""The main screen: key tree and value viewer side by side, the watch feed below, status on top."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from ketui.core.index.keyindex import OTHER, IndexNode, KeyIndex
from ketui.core.index.sourcediff import diff_listings
from ketui.core.k8s.keys import detect_prefix, parse_key, resolve_resource, storage_paths
from ketui.core.k8s.render import human_bytes
from ketui.core.search import Hit
from ketui.core.source import (
    CompactedError,
    EventType,
    KeyChanges,
    KeyInfo,
    ProgressCallback,
    ScansFiles,
    Source,
    SourceError,
    WatchEvent,
)
from ketui.core.sources.etcd.source import EtcdSource
from ketui.ui.background import batched, in_thread_reading
from ketui.ui.clipboard import copy_text, etcdctl_command
from ketui.ui.commands import KetuiCommands
from ketui.ui.context import ViewContext
from ketui.ui.messages import (
    FeedEventSelected,
    KeySelected,
    OpenKey,
    StatusUpdated,
    WatchBatch,
)
from ketui.ui.safe import safe_text
from ketui.ui.screens.cluster import ClusterScreen
from ketui.ui.screens.compare import CompareScreen
from ketui.ui.screens.leases import LeasesScreen
from ketui.ui.screens.search import SearchScreen
from ketui.ui.screens.stats import StatsScreen
from ketui.ui.widgets.key_tree import KeyTree
from ketui.ui.widgets.status_bar import StatusBar
from ketui.ui.widgets.value_view import ValueView
from ketui.ui.widgets.watch_feed import WatchFeed


@runtime_checkable
class KetuiAppLike(Protocol):
    """What :meth:`MainScreen.switch_context` needs of the app (it cannot import the app)."""

    switch_to: str | None


#: How often the tree re-reads the index while keys are loading or events arrive.
TREE_SYNC_INTERVAL = 0.15
#: Watch batches waiting for the UI at most; the watch stops reading while this many wait.
MAX_UNHANDLED_BATCHES = 4
#: Watch events applied per loop turn; the loop (drawing, keys, timers) runs between slices.
WATCH_SLICE = 250
#: Once a load is done, everything alive (the index, the app's own objects) is moved out of the
#: collector's reach (gc.freeze): otherwise each full collection walks it all (31-64 ms per
#: million keys, 50-120 ms for the app alone under a 10k events/s feed). While loading, this is
#: done after every page once the index has this many keys, and again each time the watch adds
#: this many: collections walking a growing million-key index froze the UI for 0.15-0.19 s.
GC_FREEZE_MIN_KEYS = 10_000
#: Keys per listed page: the tree's first level shows once the first page is in.
LIST_PAGE = 2_000
#: Keys added to the index per loop turn while loading (5-15 ms each at a million keys).
INDEX_SLICE = 5_000
#: Seconds between status polls; also how quickly a lost connection is noticed.
STATUS_INTERVAL = 2.0
#: Filter results shown at most (the rest is counted).
MAX_MATCHES = 1000


class MainScreen(Screen[None]):
    """Owns the key index, the background work that fills and updates it, and the actions on
    its widgets (the palette lists them: :mod:`ketui.ui.commands`)."""

    COMMANDS = {KetuiCommands}

    BINDINGS = [
        Binding(
            "slash", "filter_tree", "Filter", id="main.filter", tooltip="Filter keys as you type"
        ),
        Binding("colon", "command", "Jump", id="main.command", tooltip=":pods, :deploy, :q …"),
        Binding(
            "ctrl+f", "search", "Search", id="main.search", tooltip="Search the decoded values"
        ),
        Binding("tab", "app.focus_next", "Next pane", show=False, id="main.next"),
        Binding("escape", "close_inputs", "Back", show=False, id="main.back"),
        Binding("S", "stats", "Stats", id="main.stats", tooltip="Counts and bytes per resource"),
        Binding(
            "C", "cluster", "Cluster", id="main.cluster", tooltip="Members, health, consistency",
            show=False,
        ),  # fmt: skip
        Binding(
            "L", "leases", "Leases", id="main.leases", tooltip="Leases, TTLs, their keys",
            show=False,
        ),  # fmt: skip
        Binding("f", "toggle_feed", "Feed", id="main.feed", tooltip="Show/hide the watch feed"),
        Binding("M", "mark", "Mark", id="main.mark", tooltip="Remember the keys now"),
        Binding("D", "compare", "Compare", id="main.compare", tooltip="Changes since the mark"),
        Binding("ctrl+r", "refresh", "Refresh", id="main.refresh", tooltip="Re-read every key"),
        Binding("x", "reveal", "Reveal", show=False, id="main.reveal"),
        Binding("c", "copy_key", "Copy key", show=False, id="main.copy_key"),
        Binding("Y", "copy_yaml", "Copy YAML", show=False, id="main.copy_yaml"),
        Binding("E", "copy_etcdctl", "Copy etcdctl", show=False, id="main.copy_etcdctl"),
    ]

    DEFAULT_CSS = """
    MainScreen #panes { height: 1fr; }
    MainScreen #left { width: 40%; min-width: 30; border-right: solid $primary; }
    MainScreen #tree-info { height: 1; padding: 0 1; background: $boost; }
    MainScreen #tree-filter, MainScreen #command {
        display: none; height: 1; border: none; padding: 0 1;
    }
    MainScreen #tree-filter.-visible, MainScreen #command.-visible { display: block; }
    MainScreen WatchFeed.-hidden { display: none; }
    """

    keys_loading: reactive[bool] = reactive(True)

    def __init__(
        self,
        ctx: ViewContext,
        *,
        show_feed: bool | None = None,
        feed_max: int = 1000,
        feed_backlog: int = 0,
    ) -> None:
        super().__init__()
        self.feed_backlog = feed_backlog  # revisions replayed into the feed at start (the demo)
        self.ctx = ctx
        self.index = KeyIndex()
        self.show_feed = ctx.source.live if show_feed is None else show_feed
        self.feed_max = feed_max
        self.revision = 0
        self.marked: tuple[int, dict[bytes, KeyInfo]] | None = None
        self._last_sync = 0.0
        self._sync_pending = False
        self._load_failed = False
        self._status_started = False
        self._frozen_keys = 0  # index size at the last gc.freeze (0: nothing frozen)
        self._unhandled = 0  # WatchBatch messages posted and not handled yet
        self._batch_handled = asyncio.Event()

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="panes"):
            with Vertical(id="left"):
                yield Static("loading keys…", id="tree-info")
                yield Input(placeholder="filter keys (substring)", id="tree-filter")
                yield KeyTree(self.index, prefix=self.ctx.prefix, id="tree")
            yield ValueView(self.ctx, id="value")
        feed = WatchFeed(
            prefix=self.ctx.prefix, clock=self.ctx.clock, max_events=self.feed_max, id="feed"
        )
        feed.set_class(not self.show_feed, "-hidden")
        yield feed
        yield Input(placeholder=":pods  :deploy  :stats  :mark  :compare  :q", id="command")
        yield Footer()

    def on_mount(self) -> None:
        self.ctx.namespace_prefixes = self.namespace_prefixes
        self.query_one(KeyTree).focus()
        self._show_load_progress()
        # After the first frame: a file scan's thread would otherwise compete with building it.
        self.call_after_refresh(self.load_index)

    def _first_keys(self) -> None:
        """The first keys are indexed: show the tree's first level now, then the status."""
        self._sync_tree()
        self._start_status()

    def _start_status(self) -> None:
        """Poll the status from now on (once the first page is in: on etcd 3.4 the status's count
        of every key slows the first page of a big listing down by a third)."""
        if self._status_started:
            return
        self._status_started = True
        self.poll_status()
        if self.ctx.source.live:  # an offline source's status never changes
            self.set_interval(STATUS_INTERVAL, self.poll_status)

    def on_unmount(self) -> None:
        self._unfreeze()

    def _freeze(self) -> None:
        _gc_freeze()
        self._frozen_keys = len(self.index)

    def _unfreeze(self) -> None:
        _gc_unfreeze()
        self._frozen_keys = 0

    def _freeze_if_grown(self) -> None:
        """Freeze again once GC_FREEZE_MIN_KEYS keys were added since the last freeze."""
        if len(self.index) - self._frozen_keys >= GC_FREEZE_MIN_KEYS:
            self._freeze()

    # -- background work -------------------------------------------------------------------------

    @work(exclusive=True, group="index", exit_on_error=False, description="loading keys")
    async def load_index(self) -> None:
        """List every key once (pages, one revision), then follow changes with a watch.

        The listing starts at once: the tree shows its first level as soon as the first page is
        indexed and fills in as more pages arrive (see :meth:`schedule_tree_sync`). The status
        (a count of every key on etcd: seconds at a million keys) comes from :meth:`poll_status`.
        """
        source = self.ctx.source
        try:
            revision, compact = await self._listing_revision(source)
            self.keys_loading = True
            self._unfreeze()
            self.index.clear()
            async for changes in self._key_changes(source, revision):
                await self._index_changes(changes)
            if revision is None:  # offline: the source fixed the revision; it is loaded now
                status = await source.status()
                revision, compact = status.revision, status.compact_revision
        except SourceError as err:
            self._start_status()
            self._tree_info(f"error: {err}" + (" (retrying)" if source.live else ""))
            if not self._load_failed:  # say it once, not at every retry
                self.notify(str(err), severity="error", title="cannot list keys", timeout=30)
            self._load_failed = True
            if source.live:  # a live source may come back: try again
                self.set_timer(STATUS_INTERVAL, self.load_index)
            else:
                self.keys_loading = False
            return
        self._load_failed = False
        self._start_status()
        self._freeze()  # at any size: the app's own objects too (a 50-120 ms full collection)
        self.keys_loading = False
        self.revision = revision
        self.query_one(KeyTree).reload()
        self._tree_info(self._count_text())
        if source.live:
            start = revision + 1
            if self.feed_backlog:
                start = max((compact or 0) + 1, start - self.feed_backlog)
                self.feed_backlog = 0  # only once: a refresh does not replay again
            self.watch_changes(start)

    @staticmethod
    async def _key_changes(source: Source, revision: int | None) -> AsyncIterator[KeyChanges]:
        """The keys to index, as batches of changes.

        A file source that can (``scan_keys``: snapshots and dumps) hands over keys while it is
        still scanning the file, so the tree fills in from the first moments of a long scan;
        every other source lists its keys in pages.
        """
        if isinstance(source, ScansFiles) and revision is None:
            async for changes in source.scan_keys():
                yield changes
            return
        async for page in source.list_keys(b"", revision=revision, page_size=LIST_PAGE):
            yield KeyChanges(page, [], 0, 0)

    async def _index_changes(self, changes: KeyChanges) -> None:
        """Apply one batch to the index in slices (the UI runs between them), then show it."""
        had_keys = bool(len(self.index))
        puts = changes.puts
        if not had_keys and puts and not self.ctx.prefix_fixed:
            self._set_prefix(detect_prefix(info.key for info in puts[:INDEX_SLICE]))
        for start in range(0, len(puts), INDEX_SLICE):
            if start:
                await asyncio.sleep(0)
            self.index.add_many(puts[start : start + INDEX_SLICE])
            if not had_keys:  # the first level at once (the first paint), the rest after it
                had_keys = True
                self._first_keys()
        for key in changes.deletes:
            self.index.delete(key)
        if len(self.index) >= GC_FREEZE_MIN_KEYS:
            # Every batch: the collector's young generations then never walk the index (cheap:
            # gc.freeze only moves list heads).
            self._freeze()
        text = f"loading {len(self.index):,} keys…"
        if changes.total:
            text = f"reading file… {changes.done * 100 // changes.total}% · {text}"
        self._tree_info(text)
        self.schedule_tree_sync()  # at most every TREE_SYNC_INTERVAL
        await asyncio.sleep(0)  # a source may yield pages without waiting: let the UI in

    async def _listing_revision(self, source: Source) -> tuple[int | None, int | None]:
        """``(revision, compact revision)`` to list at; ``(None, None)``: the source picks it.

        A live source needs the revision before listing (the watch continues from it); replaying
        a backlog into the feed (the demo) needs the compaction floor too, from the status.
        """
        if not source.live:
            return None, None
        if not self.feed_backlog:
            return await source.current_revision(), None
        status = await source.status(count_keys=False)
        return status.revision, status.compact_revision

    def _show_load_progress(self) -> None:
        """Show how far a file source's scan is (it runs before the first page can be listed).

        Snapshot and dump sources call their ``on_progress`` attribute on the event loop when they
        load (on first use): chain ours to the one the source was built with.
        """
        source = self.ctx.source
        if not isinstance(source, ScansFiles):
            return
        previous: ProgressCallback | None = source.on_progress

        def report(done: int, total: int) -> None:
            if previous is not None:
                previous(done, total)
            if self.keys_loading and not len(self.index) and total:
                self._tree_info(
                    f"reading file… {human_bytes(done)} of {human_bytes(total)}"
                    f" ({done * 100 // total}%)"
                )

        source.on_progress = report

    @work(exclusive=True, group="watch", exit_on_error=False, description="watching")
    async def watch_changes(self, start_revision: int) -> None:
        """Follow every change, in batches; reconnect (from the last revision seen) on errors."""
        next_revision = start_revision
        while True:
            try:
                stream = self.ctx.source.watch(b"", start_revision=next_revision)
                async with contextlib.aclosing(batched(stream)) as batches:
                    async for batch in batches:
                        next_revision = batch[-1].revision + 1
                        await self._post_batch(batch)
                return  # the source ended the stream (offline sources do)
            except CompactedError as err:
                self.notify(
                    f"{err}: the watch fell behind (revision {next_revision} is gone); "
                    "keys re-listed, the feed continues from now",
                    severity="warning",
                    title="watch compacted",
                    timeout=15,
                )
                self._tree_info(f"{err}: re-listing…")
                self.query_one(WatchFeed).add_note(f"{err}: events before it were skipped")
                self.load_index()
                return
            except SourceError as err:
                self.query_one(StatusBar).error = str(err)
                await asyncio.sleep(STATUS_INTERVAL)

    async def _post_batch(self, batch: list[WatchEvent]) -> None:
        """Hand a batch to the UI; wait while it has MAX_UNHANDLED_BATCHES not yet handled.

        Waiting here stops :func:`batched` from taking more events (back-pressure), so memory
        stays bounded when the UI falls behind and no event is lost.
        """
        self._unhandled += 1
        self.post_message(WatchBatch(batch))
        while self._unhandled >= MAX_UNHANDLED_BATCHES:
            self._batch_handled.clear()
            await self._batch_handled.wait()

    @work(exclusive=True, group="status", exit_on_error=False)
    async def poll_status(self) -> None:
        try:
            # The index gives the key count (see _status): etcd need not walk every key again.
            status = await self.ctx.source.status(count_keys=False)
        except SourceError as err:
            self.post_message(StatusUpdated(None, str(err)))
            return
        self.post_message(StatusUpdated(status))

    # -- messages --------------------------------------------------------------------------------

    @on(StatusUpdated)
    def _status(self, message: StatusUpdated) -> None:
        bar = self.query_one(StatusBar)
        if message.status is not None:
            status = message.status
            if status.key_count is None and not self.keys_loading:
                from dataclasses import replace

                status = replace(status, key_count=len(self.index))
            bar.status = status
        bar.error = message.error
        bar.refresh()

    @on(WatchBatch)
    async def _watch_batch(self, message: WatchBatch) -> None:
        """Apply a batch in slices of WATCH_SLICE events, letting the loop run between them.

        A batch may hold thousands of events (the watch catching up); applied in one go it froze
        the UI for 0.1-0.2 s. The screen handles its messages one at a time, so the next batch
        waits until this one is done: events stay in order.
        """
        self._unhandled -= 1
        self._batch_handled.set()
        events = message.events
        for start in range(0, len(events), WATCH_SLICE):
            if start:
                await asyncio.sleep(0)
            self._apply_events(events[start : start + WATCH_SLICE])

    def _apply_events(self, events: list[WatchEvent]) -> None:
        for event in events:
            self.index.apply(event)
        self._freeze_if_grown()
        self.revision = max(self.revision, events[-1].revision)
        self.query_one(WatchFeed).add_events(events)
        self.schedule_tree_sync()
        self._tree_info(self._count_text())
        bar = self.query_one(StatusBar)
        if bar.status is not None and bar.status.revision < self.revision:
            from dataclasses import replace

            bar.status = replace(bar.status, revision=self.revision, key_count=len(self.index))
        bar.error = None
        view = self.query_one(ValueView)
        if view.key is not None and any(e.kv.key == view.key for e in events):
            if any(e.kv.key == view.key and e.type is EventType.PUT for e in events):
                view.load(view.key)

    @on(KeySelected)
    def _key_selected(self, message: KeySelected) -> None:
        self.query_one(ValueView).load(message.key, message.revision)

    @on(FeedEventSelected)
    def _feed_selected(self, message: FeedEventSelected) -> None:
        self.query_one(ValueView).show_event(message.event)

    @on(OpenKey)
    def _open(self, message: OpenKey) -> None:
        if not self.query_one(KeyTree).reveal_path(message.key.decode("utf-8", "surrogateescape")):
            self.query_one(ValueView).load(message.key)  # not in the tree: it says why

    # -- tree helpers ----------------------------------------------------------------------------

    def schedule_tree_sync(self) -> None:
        """Re-read the index into the tree at most every TREE_SYNC_INTERVAL seconds."""
        if self._sync_pending:
            return
        wait = self._last_sync + TREE_SYNC_INTERVAL - time.monotonic()
        self._sync_pending = True
        self.set_timer(max(0.01, wait), self._sync_tree)

    def _sync_tree(self) -> None:
        self._sync_pending = False
        self._last_sync = time.monotonic()
        if self.query_one("#tree-filter", Input).value:
            return
        tree = self.query_one(KeyTree)
        with self.app.batch_update():
            if not tree.root.children:
                tree.reload()
            else:
                tree.sync()

    def _set_prefix(self, prefix: str) -> None:
        self.ctx.prefix = prefix
        self.query_one(KeyTree).kube_prefix = prefix
        self.query_one(WatchFeed).prefix = prefix

    def _count_text(self) -> str:
        root = self.index.total()
        size = f"{root.bytes:,} bytes" if not root.unknown else "sizes not known (keys only)"
        return f"{root.count:,} keys · {size}"

    def _tree_info(self, text: str) -> None:
        # One fixed-height line: a layout pass of the whole screen per update cost 25-45 ms.
        self.query_one("#tree-info", Static).update(safe_text(text), layout=False)

    # -- filter and jump -------------------------------------------------------------------------

    def action_filter_tree(self) -> None:
        box = self.query_one("#tree-filter", Input)
        box.add_class("-visible")
        box.focus()

    @on(Input.Changed, "#tree-filter")
    def _tree_filter_changed(self, event: Input.Changed) -> None:
        self.filter_tree(event.value)

    @on(Input.Submitted, "#tree-filter")
    def _tree_filter_done(self) -> None:
        self.query_one(KeyTree).focus()

    @work(exclusive=True, group="filter", exit_on_error=False)
    async def filter_tree(self, text: str) -> None:
        tree = self.query_one(KeyTree)
        if not text:
            tree.reload()
            self._tree_info(self._count_text())
            return
        await asyncio.sleep(0.05)  # debounce: typing replaces this worker before it searches
        matches = await in_thread_reading(lambda: list(self.index.find(text, ignore_case=True)))
        tree.show_matches(matches[:MAX_MATCHES], len(matches))
        self._tree_info(f"{len(matches):,} keys match {text!r}")

    def action_command(self) -> None:
        box = self.query_one("#command", Input)
        box.value = ""
        box.add_class("-visible")
        box.focus()

    def action_close_inputs(self) -> None:
        for box in self.query(Input):
            if box.id == "tree-filter" and box.value:
                box.value = ""
            box.remove_class("-visible")
        self.query_one(KeyTree).focus()

    @on(Input.Submitted, "#command")
    def _command(self, event: Input.Submitted) -> None:
        box = self.query_one("#command", Input)
        box.remove_class("-visible")
        self.query_one(KeyTree).focus()
        self.run_command(event.value)

    def run_command(self, text: str) -> None:
        """k9s-style commands: a resource name jumps there; q, stats, mark, compare, feed …"""
        word = text.strip().lstrip(":").strip()
        if not word:
            return
        if word == "ctx" or word.startswith("ctx "):
            self.switch_context(word[3:].strip())
            return
        actions = {
            "q": "quit",
            "quit": "quit",
            "q!": "quit",
            "stats": "stats",
            "mark": "mark",
            "compare": "compare",
            "feed": "toggle_feed",
            "watch": "toggle_feed",
            "refresh": "refresh",
            "help": "help",
            "grep": "search",
            "search": "search",
            "cluster": "cluster",
            "leases": "leases",
        }
        if word in actions:
            action = actions[word]
            target = "app." if action in ("quit", "help") else ""
            self.call_later(self.run_action, target + action)
            return
        self.jump_to(word)

    def switch_context(self, name: str) -> None:
        """``:ctx NAME``: leave this source for a context of the config file (the app exits and
        the command opens that context); ``:ctx`` alone lists them."""
        contexts = self.ctx.contexts
        if not name or name not in contexts:
            known = ", ".join(contexts) or "none (no config file)"
            what = f"no context {name!r}; " if name else ""
            self.notify(f"{what}contexts: {known}", severity="warning" if name else "information")
            return
        assert isinstance(self.app, KetuiAppLike)
        self.app.switch_to = name
        self.app.exit()

    def jump_to(self, resource: str) -> bool:
        """Move the tree cursor to the branch of ``resource`` (kubectl names and short names)."""
        plural = resolve_resource(resource)
        tree = self.query_one(KeyTree)
        if self.query_one("#tree-filter", Input).value:
            self.query_one("#tree-filter", Input).value = ""
            tree.reload()
        candidates = storage_paths(resource, self.ctx.prefix) if plural else []
        # custom resources live under <prefix>/<group>/<plural>: find them in the index
        if plural:
            for child in self.index.children(self.ctx.prefix):
                if "." in child.name and self.index.node(f"{child.path}/{plural}"):
                    candidates.append(f"{child.path}/{plural}")
        for path in candidates:
            if tree.reveal_path(path, expand=True):
                tree.focus()
                return True
        self.notify(f"no keys for {resource!r}", severity="warning")
        return False

    # -- actions -------------------------------------------------------------------------------

    def action_toggle_feed(self) -> None:
        feed = self.query_one(WatchFeed)
        feed.toggle_class("-hidden")
        if not feed.has_class("-hidden") and not self.ctx.source.live:
            self.notify("this source is not live: no changes will arrive", severity="information")

    def action_pause_feed(self) -> None:
        self.query_one(WatchFeed).action_toggle_pause()

    def action_filter_feed(self) -> None:
        feed = self.query_one(WatchFeed)
        if feed.has_class("-hidden"):
            self.action_toggle_feed()
        feed.action_filter()

    def action_refresh(self) -> None:
        self.keys_loading = True
        self._tree_info("reloading…")
        self.load_index()

    def action_reveal(self) -> None:
        self.query_one(ValueView).action_reveal()

    @work(exclusive=True, group="stats", exit_on_error=False, description="stats")
    async def action_stats(self) -> None:
        index = self.index
        stats = await in_thread_reading(lambda: index.stats(kube_prefix=self.ctx.prefix))
        await self.app.push_screen(StatsScreen(stats), self._open_key)

    @work(exclusive=True, group="leases", exit_on_error=False, description="leases")
    async def action_leases(self) -> None:
        """The Leases screen, with the keys each lease holds (from the index, in a thread)."""
        index = self.index

        def by_lease() -> dict[int, list[bytes]]:
            keys: dict[int, list[bytes]] = {}
            for info in index.infos():
                if info.lease:
                    keys.setdefault(info.lease, []).append(info.key)
            return keys

        keys = await in_thread_reading(by_lease)
        await self.app.push_screen(LeasesScreen(self.ctx.source, keys), self._open_key)

    def action_cluster(self) -> None:
        """The Cluster screen: the members of the live cluster (not for files)."""
        if not isinstance(self.ctx.source, EtcdSource):
            self.notify("the Cluster screen asks the members of a live etcd", severity="warning")
            return
        self.app.push_screen(ClusterScreen(self.ctx.source))

    def action_search(self) -> None:
        """Search the values of the whole source, or of the subtree under the tree's cursor."""
        node = self.query_one(KeyTree).cursor_node
        data = node.data if node is not None else None
        prefix = ""
        if isinstance(data, IndexNode) and not data.is_leaf and data.path.count("/") > 1:
            prefix = data.path + "/"
        self.app.push_screen(SearchScreen(self.ctx, prefix=prefix), self._search_done)

    def _search_done(self, hit: Hit | None) -> None:
        if hit is None:
            return
        self.query_one(ValueView).show_hit(hit.key, hit.parts)
        self.query_one(KeyTree).reveal_path(hit.key.decode("utf-8", "surrogateescape"))

    def _open_key(self, key: bytes | None) -> None:
        if key is not None:
            tree = self.query_one(KeyTree)
            tree.reveal_path(key.decode("utf-8", "surrogateescape"))
            tree.focus()

    @work(exclusive=True, group="mark", exit_on_error=False, description="mark")
    async def action_mark(self) -> None:
        index = self.index
        infos = await in_thread_reading(lambda: {i.key: i for i in index.infos()})
        self.marked = (self.revision, infos)
        self.notify(f"marked {len(infos):,} keys at revision {self.revision}; D compares")

    @work(exclusive=True, group="mark", exit_on_error=False, description="compare")
    async def action_compare(self) -> None:
        if self.marked is None:
            self.notify("mark the state first (M)", severity="warning")
            return
        revision, before = self.marked
        index = self.index
        after = await in_thread_reading(lambda: {i.key: i for i in index.infos()})
        changes = diff_listings(before, after)
        revealed = self.query_one(ValueView).revealed
        await self.app.push_screen(CompareScreen(self.ctx, revision, changes, revealed))

    def _shown_key(self) -> bytes | None:
        key = self.query_one(ValueView).key
        if key is None:
            self.notify("select a key first", severity="warning")
        return key

    def action_copy_key(self) -> None:
        key = self._shown_key()
        if key is not None:
            self.notify(copy_text(self.app, key.decode(errors="replace")), title="key")

    def action_copy_yaml(self) -> None:
        if self._shown_key() is not None:
            yaml_text = self.query_one(ValueView).yaml_text()
            self.notify(copy_text(self.app, yaml_text), title="YAML")

    def action_copy_etcdctl(self) -> None:
        key = self._shown_key()
        if key is not None:
            command = etcdctl_command(
                key, endpoints=self.ctx.endpoints, extra=self.ctx.etcdctl_args
            )
            self.notify(copy_text(self.app, command), title="etcdctl command")

    def namespace_prefixes(self, namespace: str) -> list[bytes]:
        """``<prefix>/<resource>/<namespace>/`` of every resource that has keys in it."""
        index, found = self.index, []
        for child in index.children(self.ctx.prefix):
            # a group (widgets.example.com: its resources) or a resource, whose children may be
            # namespaces or one more level (services/specs, services/endpoints)
            for path in [child.path, *(g.path for g in index.children(child.path))]:
                if index.node(f"{path}/{namespace}") is not None:
                    found.append(f"{path}/{namespace}/".encode("utf-8", "surrogateescape"))
        return found

    def resources(self) -> list[str]:
        """Resources present in the index (``pods``, ``widgets.example.com`` …), sorted."""
        index = self.index
        found: set[str] = set()
        for child in index.children(self.ctx.prefix):
            if "." in child.name:
                found.update(f"{g.name}.{child.name}" for g in index.children(child.path))
            else:
                parts = parse_key(child.path + "/x", self.ctx.prefix)
                found.add(parts.qualified_resource or OTHER)
        found.discard(OTHER)
        return sorted(found)


def _gc_freeze() -> None:
    """Move every object alive now (the freshly loaded index) out of the collector's reach."""
    gc.freeze()


def _gc_unfreeze() -> None:
    """Undo :func:`_gc_freeze` before the index is replaced: the old one may then be collected."""
    gc.unfreeze()
