"""The live watch feed: bounded, filterable, with follow mode and pause."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input, Static

from ketui.core.k8s.keys import KeyParts, parse_key, resolve_resource
from ketui.core.source import EventType, WatchEvent
from ketui.ui.formatting import signed_bytes
from ketui.ui.messages import FeedEventSelected
from ketui.ui.safe import safe_text
from ketui.ui.widgets.feed_log import FeedLog


@dataclass(slots=True)
class FeedEntry:
    """One received event with the wall-clock time it arrived; its key is parsed when first needed.

    Parsing every key up front cost about a third of a batch's time at 10,000 events/s, while only
    the rows on screen (and, with a filter, the filtered ones) ever need the parts.
    """

    seq: int
    received: datetime
    event: WatchEvent
    prefix: str
    _parts: KeyParts | None = field(default=None, repr=False, compare=False)

    @property
    def parts(self) -> KeyParts:
        if self._parts is None:
            self._parts = parse_key(self.event.kv.key, self.prefix)
        return self._parts

    @property
    def resource(self) -> str:
        return self.parts.resource or ""

    @property
    def namespace(self) -> str:
        return self.parts.namespace or ""

    @property
    def name(self) -> str:
        return self.parts.name or ""

    @property
    def op(self) -> str:
        if self.event.type is EventType.DELETE:
            return "DELETE"
        return "CREATE" if self.event.kv.version == 1 else "UPDATE"

    @property
    def size_change(self) -> int:
        before = self.event.prev_kv.size if self.event.prev_kv is not None else 0
        after = self.event.kv.size if self.event.type is EventType.PUT else 0
        return after - before


@dataclass(frozen=True)
class FeedFilter:
    """Parsed filter text: ``/prefix``, ``res:pods`` (kubectl names: ``res:po``), ``ns:default``,
    ``op:delete`` (or create, update, put) or a substring of the key.

    All terms must match (AND). An empty filter matches everything.
    """

    prefixes: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    ops: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> FeedFilter:
        prefixes, resources, namespaces, ops, words = [], [], [], [], []
        for term in text.split():
            kind, _, value = term.partition(":")
            if term.startswith("/"):
                prefixes.append(term)
            elif value and kind in ("res", "resource", "r"):
                resources.append(resolve_resource(value) or value.lower())
            elif value and kind in ("ns", "namespace", "n"):
                namespaces.append(value)
            elif value and kind == "op":
                ops.append(value.upper())
            else:
                words.append(term)
        return cls(tuple(prefixes), tuple(resources), tuple(namespaces), tuple(ops), tuple(words))

    def matches(self, entry: FeedEntry) -> bool:
        key = entry.event.kv.key.decode(errors="replace")
        if self.prefixes and not any(key.startswith(p) for p in self.prefixes):
            return False
        if self.resources and not any(
            entry.resource.lower() == r or entry.resource.lower().startswith(r + ".")
            for r in self.resources
        ):
            return False
        if self.namespaces and entry.namespace not in self.namespaces:
            return False
        if self.ops and not any(_op_matches(entry.op, op) for op in self.ops):
            return False
        return all(word in key for word in self.words)


def _op_matches(op: str, wanted: str) -> bool:
    """``PUT`` covers CREATE and UPDATE (etcd's names); otherwise prefixes: ``del`` = DELETE."""
    return op != "DELETE" if wanted == "PUT" else op.startswith(wanted)


COLUMNS = (
    ("time", 8),
    ("op", 6),
    ("resource", 22),
    ("namespace/name", 0),
    ("rev", 9),
    ("size", 9),
)

OP_STYLES = {"CREATE": "green", "UPDATE": "yellow", "DELETE": "red"}


class WatchFeed(Vertical):
    """Shows watch events as they arrive; keeps the newest ``max_events``, counts the rest."""

    HELP = """\
## Watch feed
Events as etcd reports them: time, operation, resource, namespace/name, revision, size change.
**enter** shows the object at that revision and its diff against the previous value.
Moving up stops following new events; `G`/`end` resumes. `p` pauses (events are kept, not shown),
`/` filters: `/registry/pods/` (prefix), `res:pods`, `ns:default`, `op:delete`, or any text.
"""

    BINDINGS = [
        Binding("p", "toggle_pause", "Pause", id="feed.pause", tooltip="Pause/resume the feed"),
        Binding("G,end", "follow", "Follow", id="feed.follow", tooltip="Jump to the newest event"),
        Binding("slash", "filter", "Filter", id="feed.filter", tooltip="Filter the feed"),
        Binding("c", "clear", "Clear", id="feed.clear", tooltip="Clear the feed", show=False),
        Binding("escape", "close_filter", "Close filter", show=False, id="feed.close_filter"),
    ]

    DEFAULT_CSS = """
    WatchFeed { height: 12; border-top: solid $primary; }
    WatchFeed #feed-info { height: 1; padding: 0 1; background: $boost; }
    WatchFeed #feed-filter { display: none; height: 1; border: none; padding: 0 1; }
    WatchFeed #feed-filter.-visible { display: block; }
    WatchFeed FeedLog { height: 1fr; }
    """

    follow: reactive[bool] = reactive(True)
    paused: reactive[bool] = reactive(False)

    def __init__(
        self,
        *,
        prefix: str = "/registry",
        clock: Callable[[], datetime] = datetime.now,
        max_events: int = 1000,
        id: str | None = None,  # noqa: A002
    ) -> None:
        super().__init__(id=id)
        self.prefix = prefix
        self.clock = clock
        self.max_events = max_events
        self.entries: deque[FeedEntry] = deque(maxlen=max_events)
        self.dropped = 0  # events no longer kept (beyond max_events)
        self.waiting: deque[FeedEntry] = deque(maxlen=max_events)  # received while paused
        self.total = 0
        self.filter = FeedFilter()
        self.note = ""  # shown in the info line, e.g. "compacted at 1234: …"

    def compose(self) -> ComposeResult:
        yield Static("", id="feed-info")
        yield Input(
            placeholder="filter: /prefix res:pods ns:default op:delete text", id="feed-filter"
        )
        yield FeedLog(COLUMNS, self._cells, max_rows=self.max_events, id="feed-table")

    def on_mount(self) -> None:
        self._update_info()

    @property
    def table(self) -> FeedLog[FeedEntry]:
        return self.query_one("#feed-table", FeedLog)

    # -- receiving -------------------------------------------------------------------------------

    def add_events(self, batch: Iterable[WatchEvent]) -> None:
        """Add events in arrival order (rows are added in one go)."""
        now = self.clock()
        events = list(batch)
        # Only the newest max_events can be kept: count the rest without building entries.
        skipped = max(0, len(events) - self.max_events)
        self.total += skipped
        self.dropped += skipped
        new: list[FeedEntry] = []
        for event in events[skipped:]:
            self.total += 1
            new.append(FeedEntry(self.total, now, event, self.prefix))
        if self.paused:
            overflow = max(0, len(self.waiting) + len(new) - self.max_events)
            self.dropped += overflow
            self.waiting.extend(new)
        else:
            self._append(new)
        self._update_info()

    def _append(self, new: list[FeedEntry]) -> None:
        self.dropped += max(0, len(self.entries) + len(new) - self.max_events)
        self.entries.extend(new)
        with self.app.batch_update():
            self._add_rows([e for e in new if self.filter.matches(e)])

    def _add_rows(self, rows: list[FeedEntry]) -> None:
        table = self.table
        table.extend(rows)
        if self.follow and table.row_count:
            table.move_cursor(row=table.row_count - 1)

    def _cells(self, entry: FeedEntry) -> tuple[Text, ...]:
        where = f"{entry.namespace}/{entry.name}" if entry.namespace else entry.name
        if not entry.resource:
            where = entry.event.kv.key.decode("utf-8", "surrogateescape")
        return (
            Text(entry.received.strftime("%H:%M:%S"), style="dim"),
            Text(entry.op, style=OP_STYLES[entry.op]),
            safe_text(entry.resource),
            safe_text(where),
            Text(str(entry.event.revision), justify="right"),
            Text(signed_bytes(entry.size_change), justify="right"),
        )

    def add_note(self, text: str) -> None:
        """Tell the user something about the stream itself (a gap after compaction)."""
        self.note = text
        self._update_info()

    def _rebuild(self) -> None:
        self.table.clear()
        self._add_rows([e for e in self.entries if self.filter.matches(e)])

    def _update_info(self) -> None:
        info = Text()
        info.append("Watch ", style="bold")
        info.append(f"{self.table.row_count} shown")
        if self.dropped:
            info.append(f"  +{self.dropped} more", style="bold")
        if self.paused:
            info.append("  PAUSED", style="bold black on cyan")
            if self.waiting:
                info.append(f" ({len(self.waiting)} waiting)")
        elif self.follow:
            info.append("  following", style="green")
        else:
            info.append("  not following (G resumes)", style="yellow")
        if self.filter != FeedFilter():
            info.append("  filter: ", style="cyan")
            info.append_text(safe_text(self.query_one("#feed-filter", Input).value, "cyan"))
        if self.note:
            info.append_text(safe_text(f"  {self.note}", "bold yellow"))
        self.query_one("#feed-info", Static).update(info, layout=False)  # one fixed line

    # -- user actions ----------------------------------------------------------------------------

    @on(FeedLog.Highlighted, "#feed-table")
    def _highlighted(self, message: FeedLog.Highlighted) -> None:
        message.stop()
        follow = message.row >= self.table.row_count - 1
        if follow != self.follow:
            self.follow = follow

    @on(FeedLog.ScrolledUp, "#feed-table")
    def _scrolled_up(self, message: FeedLog.ScrolledUp) -> None:
        message.stop()
        self.follow = False

    @on(FeedLog.Selected, "#feed-table")
    def _selected(self, message: FeedLog.Selected) -> None:
        message.stop()
        assert isinstance(message.item, FeedEntry)
        self.post_message(FeedEventSelected(message.item.event))

    def watch_follow(self, follow: bool) -> None:
        if follow and self.is_mounted and self.table.row_count:
            self.table.move_cursor(row=self.table.row_count - 1)
        if self.is_mounted:
            self._update_info()

    def watch_paused(self, paused: bool) -> None:
        if not paused and self.waiting:
            waiting = list(self.waiting)
            self.waiting.clear()
            self._append(waiting)
        if self.is_mounted:
            self._update_info()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused

    def action_follow(self) -> None:
        self.follow = True

    def action_clear(self) -> None:
        self.entries.clear()
        self.dropped = 0
        self.note = ""
        self._rebuild()
        self._update_info()

    def action_filter(self) -> None:
        box = self.query_one("#feed-filter", Input)
        box.add_class("-visible")
        box.focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#feed-filter", Input)
        if not box.value:
            box.remove_class("-visible")
        self.table.focus()

    @on(Input.Changed, "#feed-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#feed-filter")
    def _filter_submitted(self) -> None:
        self.action_close_filter()

    def set_filter(self, text: str) -> None:
        """Show only the kept events matching ``text`` (see :class:`FeedFilter`)."""
        self.filter = FeedFilter.parse(text)
        self._rebuild()
        self._update_info()
