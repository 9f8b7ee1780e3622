"""Messages the ketui widgets post upwards (reactives go down, messages go up)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from ketui.core.source import SourceStatus, WatchEvent


@dataclass
class KeySelected(Message):
    """The user selected a key (in the tree, the feed or a list); show its value."""

    key: bytes
    revision: int | None = None


@dataclass
class OpenKey(Message):
    """Go to a key: reveal it in the tree and show it (an owner, a dependent, an event)."""

    key: bytes


@dataclass
class WatchBatch(Message):
    """Watch events gathered over a short window: one message per batch, never one per event."""

    events: list[WatchEvent]


@dataclass
class FeedEventSelected(Message):
    """The user picked a watch event; show the object at that revision and its diff."""

    event: WatchEvent


@dataclass
class StatusUpdated(Message):
    """A fresh source status, or the error that stopped us from getting one."""

    status: SourceStatus | None
    error: str | None = None

    def can_replace(self, message: Message) -> bool:
        """Only the newest status matters: drop older ones still waiting in the queue."""
        return isinstance(message, StatusUpdated)
