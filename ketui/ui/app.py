"""The ketui Textual application and :func:`make_app` (used by the CLI, tests and screenshots)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from ketui.core.index.keyindex import OTHER
from ketui.core.k8s.keys import parse_key
from ketui.core.source import Source
from ketui.ui.background import in_thread_reading
from ketui.ui.clipboard import copy_text, etcdctl_command
from ketui.ui.commands import KetuiCommands
from ketui.ui.context import ViewContext
from ketui.ui.screens.compare import CompareScreen, changes_between
from ketui.ui.screens.help import HelpScreen, help_markdown
from ketui.ui.screens.main import MainScreen
from ketui.ui.screens.stats import StatsScreen
from ketui.ui.widgets.key_tree import KeyTree
from ketui.ui.widgets.value_view import ValueView
from ketui.ui.widgets.watch_feed import WatchFeed

APP_HELP = """\
## Everywhere
ketui shows the etcd keyspace of a Kubernetes cluster: the key tree on the left, the decoded value
on the right, live changes below. `ctrl+p` opens the command palette with every action.
"""


class KetuiApp(App[int]):
    """The application: one main screen over one :class:`Source`; stats, compare and help on top."""

    TITLE = "ketui"
    COMMANDS = App.COMMANDS | {KetuiCommands}

    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave ketui"),
        Binding(
            "question_mark,f1", "help", "Help", id="app.help", tooltip="Keys of the focused pane"
        ),
        Binding("S", "stats", "Stats", id="app.stats", tooltip="Counts and bytes per resource"),
        Binding("f", "toggle_feed", "Feed", id="app.feed", tooltip="Show/hide the watch feed"),
        Binding("M", "mark", "Mark", id="app.mark", tooltip="Remember the keys now"),
        Binding("D", "compare", "Compare", id="app.compare", tooltip="Changes since the mark"),
        Binding("ctrl+r", "refresh", "Refresh", id="app.refresh", tooltip="Re-read every key"),
        Binding("x", "reveal", "Reveal", show=False, id="app.reveal"),
        Binding("c", "copy_key", "Copy key", show=False, id="app.copy_key"),
        Binding("Y", "copy_yaml", "Copy YAML", show=False, id="app.copy_yaml"),
        Binding("E", "copy_etcdctl", "Copy etcdctl", show=False, id="app.copy_etcdctl"),
    ]

    def __init__(
        self,
        ctx: ViewContext,
        *,
        show_feed: bool | None = None,
        feed_max: int = 1000,
        feed_backlog: int = 0,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.main = MainScreen(
            ctx, show_feed=show_feed, feed_max=feed_max, feed_backlog=feed_backlog
        )

    def get_default_screen(self) -> MainScreen:
        return self.main

    async def on_unmount(self) -> None:
        await self.ctx.source.close()

    # -- errors ----------------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where failed workers become notifications instead of crashes."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(
                f"{type(error).__name__}: {error}",
                severity="error",
                title=event.worker.description or event.worker.name or "error",
            )

    # -- actions ---------------------------------------------------------------------------------

    def action_help(self) -> None:
        markdown = help_markdown(self.focused, list(self.BINDINGS_AS_LIST), APP_HELP)
        self.push_screen(HelpScreen(markdown))

    @property
    def BINDINGS_AS_LIST(self) -> list[Binding]:  # noqa: N802 - mirrors BINDINGS
        return list(Binding.make_bindings(self.BINDINGS))

    @work(exclusive=True, group="stats", exit_on_error=False, description="stats")
    async def action_stats(self) -> None:
        index = self.main.index
        stats = await in_thread_reading(lambda: index.stats(kube_prefix=self.ctx.prefix))
        await self.push_screen(StatsScreen(stats), self._open_key)

    def _open_key(self, key: bytes | None) -> None:
        if key is not None:
            tree = self.main.query_one(KeyTree)
            tree.reveal_path(key.decode("utf-8", "surrogateescape"))
            tree.focus()

    @work(exclusive=True, group="mark", exit_on_error=False, description="mark")
    async def action_mark(self) -> None:
        index = self.main.index
        infos = await in_thread_reading(lambda: {i.key: i for i in index.infos()})
        self.main.marked = (self.main.revision, infos)
        self.notify(f"marked {len(infos):,} keys at revision {self.main.revision}; D compares")

    @work(exclusive=True, group="mark", exit_on_error=False, description="compare")
    async def action_compare(self) -> None:
        if self.main.marked is None:
            self.notify("mark the state first (M)", severity="warning")
            return
        revision, before = self.main.marked
        index = self.main.index
        after = await in_thread_reading(lambda: {i.key: i for i in index.infos()})
        changes = changes_between(before, after)
        revealed = self.main.query_one(ValueView).revealed
        await self.push_screen(CompareScreen(self.ctx, revision, changes, revealed))

    def action_toggle_feed(self) -> None:
        self.main.toggle_feed()

    def action_pause_feed(self) -> None:
        self.main.query_one(WatchFeed).action_toggle_pause()

    def action_filter_feed(self) -> None:
        feed = self.main.query_one(WatchFeed)
        if feed.has_class("-hidden"):
            self.main.toggle_feed()
        feed.action_filter()

    def action_filter_tree(self) -> None:
        self.main.action_filter_tree()

    def action_refresh(self) -> None:
        self.main.refresh_keys()

    def action_reveal(self) -> None:
        self.main.query_one(ValueView).action_reveal()

    def _shown_key(self) -> bytes | None:
        key = self.main.query_one(ValueView).key
        if key is None:
            self.notify("select a key first", severity="warning")
        return key

    def action_copy_key(self) -> None:
        key = self._shown_key()
        if key is not None:
            self.notify(copy_text(self, key.decode(errors="replace")), title="key")

    def action_copy_yaml(self) -> None:
        if self._shown_key() is not None:
            self.notify(copy_text(self, self.main.query_one(ValueView).yaml_text()), title="YAML")

    def action_copy_etcdctl(self) -> None:
        key = self._shown_key()
        if key is not None:
            command = etcdctl_command(
                key, endpoints=self.ctx.endpoints, extra=self.ctx.etcdctl_args
            )
            self.notify(copy_text(self, command), title="etcdctl command")

    # -- used by the command palette -------------------------------------------------------------

    def resources(self) -> list[str]:
        """Resources present in the index (``pods``, ``widgets.example.com`` …), sorted."""
        index = self.main.index
        found: set[str] = set()
        for child in index.children(self.ctx.prefix):
            if "." in child.name:
                found.update(f"{g.name}.{child.name}" for g in index.children(child.path))
            else:
                parts = parse_key(child.path + "/x", self.ctx.prefix)
                found.add(parts.qualified_resource or OTHER)
        found.discard(OTHER)
        return sorted(found)

    def jump_to(self, resource: str) -> None:
        self.main.jump_to(resource)


def make_app(
    source: Source,
    *,
    kube_version: str | None = None,
    keyring: object | None = None,
    prefix: str | None = None,
    show_feed: bool | None = None,
    feed_max: int = 1000,
    feed_backlog: int = 0,
    clock: Callable[[], datetime] = datetime.now,
    endpoints: tuple[str, ...] = (),
    etcdctl_args: tuple[str, ...] = (),
) -> KetuiApp:
    """Build the app over ``source`` (not started). The CLI, the tests and scripts all use this.

    ``prefix=None`` detects the Kubernetes key prefix from the keys; ``feed_backlog`` replays that
    many past revisions into the watch feed at start (the demo's history); ``clock`` gives the
    feed's arrival times (tests freeze it).
    """
    ctx = ViewContext(
        source=source,
        kube_version=kube_version,
        keyring=keyring,  # type: ignore[arg-type]
        prefix=prefix or "/registry",
        prefix_fixed=prefix is not None,
        clock=clock,
        endpoints=endpoints,
        etcdctl_args=etcdctl_args,
    )
    return KetuiApp(ctx, show_feed=show_feed, feed_max=feed_max, feed_backlog=feed_backlog)
