"""Command palette entries: one for every action, plus a jump to each resource in the data."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from ketui.ui.app import KetuiApp

#: (title, help, action name on the app)
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Show help for the focused pane", "keys and what they do", "help"),
    ("Stats", "count and bytes per resource and namespace, largest, leases", "stats"),
    ("Mark state", "remember the keys now, to compare later", "mark"),
    ("Compare with mark", "added, removed and changed keys since the mark", "compare"),
    ("Toggle watch feed", "show or hide the live feed", "toggle_feed"),
    ("Pause/resume watch feed", "stop showing new events for a while", "pause_feed"),
    ("Refresh keys", "re-read every key from the source", "refresh"),
    ("Reveal/mask secret", "show the secret data of the shown object", "reveal"),
    ("Copy key", "the etcd key of the shown value", "copy_key"),
    ("Copy YAML", "the shown value as YAML", "copy_yaml"),
    ("Copy etcdctl command", "the etcdctl get command line for the shown key", "copy_etcdctl"),
    ("Filter keys", "filter the key tree as you type", "filter_tree"),
    ("Filter watch feed", "by prefix, res:, ns:, op:", "filter_feed"),
    ("Quit", "leave ketui", "quit"),
)


class KetuiCommands(Provider):
    """Every ketui action, and "Go to <resource>" for each resource in the key index."""

    @property
    def ketui(self) -> KetuiApp:
        from ketui.ui.app import KetuiApp

        assert isinstance(self.app, KetuiApp)
        return self.app

    def _entries(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.ketui
        entries: list[tuple[str, str, Callable[[], object]]] = [
            (title, text, partial(app.run_action, action)) for title, text, action in ACTIONS
        ]
        for resource in app.resources():
            entries.append(
                (
                    f"Go to {resource}",
                    f"jump to the {resource} branch",
                    partial(app.jump_to, resource),
                )
            )
        return entries

    async def discover(self) -> Hits:
        for title, text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, text, callback in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=text)
