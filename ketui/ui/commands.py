"""Command palette entries: one for every action, plus a jump to each resource in the data.

The provider belongs to the main screen (``MainScreen.COMMANDS``) and calls its actions; it knows
the screen only through the small :class:`PaletteTarget` protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ketui.core.safe_text import visible_line

#: (title, help, action name on the main screen; ``app.`` ones on the app)
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Show help for the focused pane", "keys and what they do", "app.help"),
    ("Stats", "count and bytes per resource and namespace, largest, leases", "stats"),
    ("Search values", "every decoded object for a text (ctrl+f, :grep)", "search"),
    ("Cluster", "members, leader, raft, db size, health; consistency check (C)", "cluster"),
    ("Leases", "every lease with its TTLs and the keys attached (L)", "leases"),
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
    ("Quit", "leave ketui", "app.quit"),
)


@runtime_checkable
class PaletteTarget(Protocol):
    """What the palette needs of the screen it was opened on."""

    async def run_action(self, action: str) -> bool: ...

    def resources(self) -> list[str]: ...

    def jump_to(self, resource: str) -> bool: ...


class KetuiCommands(Provider):
    """Every ketui action, and "Go to <resource>" for each resource in the key index."""

    def _entries(self) -> list[tuple[str, str, Callable[[], object]]]:
        screen = self.screen
        if not isinstance(screen, PaletteTarget):  # only the main screen lists these
            return []
        entries: list[tuple[str, str, Callable[[], object]]] = [
            (title, text, partial(screen.run_action, action)) for title, text, action in ACTIONS
        ]
        for resource in screen.resources():
            entries.append(
                (
                    f"Go to {visible_line(resource)}",
                    f"jump to the {visible_line(resource)} branch",
                    partial(screen.jump_to, resource),
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

