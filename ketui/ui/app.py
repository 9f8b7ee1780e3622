"""The ketui Textual application and :func:`make_app` (used by the CLI, tests and screenshots).

The app owns the session (the source) and the main screen; the main screen owns the widgets and
the actions on them (:mod:`ketui.ui.screens.main`). What stays here works on any screen: quitting,
help, and turning failed workers into notifications.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from datetime import datetime

from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from ketui.core.k8s.encryption import Keyring
from ketui.core.k8s.shown import Decoder
from ketui.core.safe_text import visible, visible_line
from ketui.core.source import Source
from ketui.ui.context import ViewContext
from ketui.ui.screens.cluster import ClusterScreen
from ketui.ui.screens.help import HelpScreen, help_markdown
from ketui.ui.screens.leases import LeasesScreen
from ketui.ui.screens.main import MainScreen
from ketui.ui.screens.search import SearchScreen
from ketui.ui.screens.stats import StatsScreen
from ketui.ui.widgets.feed_log import FeedLog
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

    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave ketui"),
        Binding(
            "question_mark,f1", "help", "Help", id="app.help", tooltip="Keys of the focused pane"
        ),
    ]

    def __init__(self, main: MainScreen, keymap: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.ctx = main.ctx
        self.main = main
        self.switch_to: str | None = None  # a context :ctx asked for; the CLI opens it next
        if keymap:
            self.set_keymap(dict(keymap))

    def get_default_screen(self) -> MainScreen:
        return self.main

    async def on_unmount(self) -> None:
        await self.ctx.source.close()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification goes through here: keys, file names and error texts in it are
        shown escaped (:mod:`ketui.core.safe_text`) and never read as markup (``markup`` is
        accepted for Textual's signature and ignored)."""
        super().notify(
            visible(message), title=visible_line(title), severity=severity, timeout=timeout,
            markup=False,
        )  # fmt: skip

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where failed workers become notifications instead of crashes."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(
                f"{type(error).__name__}: {error}",
                severity="error",
                title=event.worker.description or event.worker.name or "error",
            )

    def action_help(self) -> None:
        """The keys and help of the focused widget, its containers, the screen and the app."""
        bindings = list(Binding.make_bindings(self.BINDINGS))
        markdown = help_markdown(self.focused or self.screen, bindings, APP_HELP)
        self.push_screen(HelpScreen(markdown))


def make_app(
    source: Source,
    *,
    kube_version: str | None = None,
    keyring: Keyring | None = None,
    prefix: str | None = None,
    show_feed: bool | None = None,
    feed_max: int = 1000,
    feed_backlog: int = 0,
    clock: Callable[[], datetime] = datetime.now,
    endpoints: tuple[str, ...] = (),
    etcdctl_args: tuple[str, ...] = (),
    keymap: Mapping[str, str] | None = None,
    contexts: tuple[str, ...] = (),
) -> KetuiApp:
    """Build the app over ``source`` (not started). The CLI, the tests and scripts all use this.

    ``prefix=None`` detects the Kubernetes key prefix from the keys; ``feed_backlog`` replays that
    many past revisions into the watch feed at start (the demo's history); ``clock`` gives the
    feed's arrival times (tests freeze it). ``keymap`` rebinds actions by binding id (the config
    file's ``[keymap]``); an unknown id raises ``ValueError``.
    """
    unknown = sorted(set(keymap or {}) - binding_ids())
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(binding_ids()), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"keymap: no binding has the id {unknown[0]!r}{hint}")
    ctx = ViewContext(
        source=source,
        decoder=Decoder(kube_version, keyring),
        prefix=prefix or "/registry",
        prefix_fixed=prefix is not None,
        clock=clock,
        endpoints=endpoints,
        etcdctl_args=etcdctl_args,
        contexts=contexts,
    )
    return KetuiApp(
        MainScreen(ctx, show_feed=show_feed, feed_max=feed_max, feed_backlog=feed_backlog),
        keymap,
    )


def binding_ids() -> set[str]:
    """The ids of every binding of the app, its screens and widgets (what a keymap may name)."""
    holders = (KetuiApp, MainScreen, ValueView, KeyTree, WatchFeed, FeedLog, StatsScreen,
               SearchScreen, ClusterScreen, LeasesScreen)  # fmt: skip
    return {
        binding.id
        for holder in holders
        for binding in Binding.make_bindings(holder.BINDINGS)
        if binding.id is not None
    }
