"""A fast, bounded list of feed rows with a cursor, drawn line by line (``ScrollView.render_line``).

A ``DataTable`` re-measures its rows on every change, which costs hundreds of milliseconds per batch
at thousands of events per second. Here every row has the same fixed column layout, rows are
rendered only when visible (and cached), and dropping the oldest rows is O(1).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

T = TypeVar("T")

#: (title, width) of each column; width 0 takes the remaining space.
Columns = tuple[tuple[str, int], ...]


class FeedLog(ScrollView, Generic[T], can_focus=True):
    """Rows of fixed-width cells; keeps at most ``max_rows`` (the oldest go first)."""

    COMPONENT_CLASSES = {"feed-log--cursor", "feed-log--header"}

    DEFAULT_CSS = """
    FeedLog { height: 1fr; }
    FeedLog > .feed-log--cursor { background: $block-cursor-background; }
    FeedLog:blur > .feed-log--cursor { background: $block-cursor-blurred-background; }
    FeedLog > .feed-log--header { text-style: bold; background: $panel; }
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("enter", "select", "Show event", id="feed.select", tooltip="Object and diff"),
    ]

    cursor_row: reactive[int] = reactive(-1, init=False)

    @dataclass
    class _Message(Message):
        feed_log: FeedLog[object]

        @property
        def control(self) -> FeedLog[object]:
            """Lets ``@on(..., "#id")`` match the sending FeedLog."""
            return self.feed_log

    @dataclass
    class Highlighted(_Message):
        """The cursor moved to ``row`` (an index into the shown rows)."""

        row: int

    @dataclass
    class Selected(_Message):
        """Enter was pressed on ``item``."""

        item: object

    @dataclass
    class ScrolledUp(_Message):
        """The user scrolled up with the mouse (the feed stops following)."""

    def __init__(
        self,
        columns: Columns,
        cells: Callable[[T], tuple[Text, ...]],
        *,
        max_rows: int,
        id: str | None = None,  # noqa: A002 - Textual's name
    ) -> None:
        super().__init__(id=id)
        self.columns = columns
        self.cells = cells
        self.max_rows = max_rows
        self.items: deque[T] = deque()
        self._first = 0  # absolute number of the first kept row: a stable cache key
        self._cache: dict[int, list[Segment]] = {}

    # -- rows ------------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.items)

    def get_row_at(self, row: int) -> tuple[Text, ...]:
        return self.cells(self.items[row])

    def clear(self) -> None:
        self.items.clear()
        self._cache.clear()
        self._first = 0
        self.cursor_row = -1
        self._resize()

    def extend(self, items: Iterable[T]) -> int:
        """Append rows, dropping the oldest beyond ``max_rows``; returns how many were dropped."""
        self.items.extend(items)
        dropped = max(0, len(self.items) - self.max_rows)
        for _ in range(dropped):
            self.items.popleft()
            self._cache.pop(self._first, None)
            self._first += 1
        if dropped and self.cursor_row >= 0:
            self.set_reactive(FeedLog.cursor_row, max(0, self.cursor_row - dropped))
        self._resize()
        return dropped

    def _resize(self) -> None:
        self.virtual_size = Size(self._line_width(), len(self.items) + 1)  # +1: the header
        self.refresh()

    def _line_width(self) -> int:
        return sum(width + 1 for _, width in self.columns)

    # -- cursor ----------------------------------------------------------------------------------

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        if not self.items:
            return
        row = max(0, min(row, len(self.items) - 1))
        if row == self.cursor_row:  # rows may have moved below it: keep it in view anyway
            self.call_after_refresh(self._scroll_cursor_into_view)
        self.cursor_row = row

    def watch_cursor_row(self, old: int, new: int) -> None:
        # After the refresh: new rows change the scroll range only once they are laid out.
        self.call_after_refresh(self._scroll_cursor_into_view)
        self.refresh()
        if new >= 0:
            self.post_message(self.Highlighted(self, new))  # type: ignore[arg-type]

    def _scroll_cursor_into_view(self) -> None:
        # Screen line y shows row y - 1 + scroll_y (line 0 is the header).
        if self.cursor_row < 0:
            return
        rows_visible = max(1, self.scrollable_content_region.height - 1)
        if self.cursor_row < self.scroll_y:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= self.scroll_y + rows_visible:
            self.scroll_to(y=self.cursor_row - rows_visible + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(row=self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(row=self.cursor_row + direction * max(1, self.size.height - 2))

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_select(self) -> None:
        if 0 <= self.cursor_row < len(self.items):
            self.post_message(self.Selected(self, self.items[self.cursor_row]))  # type: ignore[arg-type]

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.post_message(self.ScrolledUp(self))  # type: ignore[arg-type]

    async def _on_click(self, event: events.Click) -> None:
        row = event.y + int(self.scroll_y) - 1
        if 0 <= row < len(self.items):
            self.move_cursor(row=row)
            if event.chain == 2:
                self.action_select()

    # -- drawing ---------------------------------------------------------------------------------

    def _segments(self, cells: tuple[Text, ...], width: int) -> list[Segment]:
        line = Text(no_wrap=True, overflow="ellipsis")
        widths = [w or max(8, width - self._line_width()) for _, w in self.columns]
        for cell, cell_width in zip(cells, widths, strict=True):
            cell = cell.copy()
            cell.truncate(cell_width, overflow="ellipsis")
            cell.align("right" if cell.justify == "right" else "left", cell_width)
            line.append_text(cell)
            line.append(" ")
        return list(line.render(self.app.console))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:  # the header stays put
            header = tuple(Text(title) for title, _ in self.columns)
            style = self.get_component_rich_style("feed-log--header")
            return (
                Strip(self._segments(header, width))
                .apply_style(style)
                .extend_cell_length(width, style)
            )
        row = y - 1 + int(self.scroll_y)
        if row >= len(self.items):
            return Strip.blank(width, self.rich_style)
        key = self._first + row
        segments = self._cache.get(key)
        if segments is None:
            segments = self._segments(self.cells(self.items[row]), width)
            if len(self._cache) > 4 * self.max_rows:
                self._cache.clear()
            self._cache[key] = segments
        strip = Strip(segments).crop(int(self.scroll_x), int(self.scroll_x) + width)
        if row == self.cursor_row:
            style = self.get_component_rich_style("feed-log--cursor")
            strip = strip.apply_style(style).extend_cell_length(width, style)
        return strip.extend_cell_length(width, self.rich_style or Style())

    def on_resize(self) -> None:
        self._cache.clear()
        self.call_after_refresh(self._scroll_cursor_into_view)
