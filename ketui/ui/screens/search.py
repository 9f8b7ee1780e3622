"""Search: the decoded values of the whole source, or of a subtree, for a text (``ctrl+f``).

The search runs in a worker (:func:`ketui.core.search.search`); hits fill the list as they are
found, with the key, the field path and the match; the line above says how far it is. ``escape``
stops a running search, a second one closes the screen; ``enter`` on a hit opens its value with
the field's line highlighted.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Checkbox, DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState

from ketui.core.search import (
    FieldPathError,
    Hit,
    Query,
    SearchStats,
    excerpt,
    parse_field_path,
    search,
)
from ketui.ui.context import ViewContext
from ketui.ui.safe import safe_key, safe_text

MAX_HITS = 10_000
"""Hits listed at most; the search stops there and says so."""

MATCH_STYLE = "bold black on yellow"


class SearchScreen(Screen[Hit | None]):
    """Content search over a source; dismissed with the hit to open, or None."""

    HELP = """\
## Search
Type a text and press **enter**: every string of every decoded object under the prefix is
matched (a literal; tick *regex* for a regular expression, *ignore case* to ignore case), only
under a field path if you give one (`spec.containers[*].image`, `metadata.labels.app`). Secret
names and metadata are searched, their data is not (`ketui grep --show-secrets` does that);
values encrypted at rest only with the encryption config. **enter** on a hit opens the object
with the field highlighted; **escape** stops a running search, then closes.
"""

    BINDINGS = [
        Binding("escape", "stop_or_close", "Stop/Back", id="search.back"),
        Binding("ctrl+f", "focus_pattern", "New search", show=False, id="search.pattern"),
    ]

    DEFAULT_CSS = """
    SearchScreen #search-options { height: 3; }
    SearchScreen #search-pattern { width: 1fr; }
    SearchScreen #search-prefix { width: 40; }
    SearchScreen Checkbox { width: auto; }
    SearchScreen #search-status { height: 1; padding: 0 1; background: $boost; }
    SearchScreen #search-results { height: 1fr; }
    """

    def __init__(self, ctx: ViewContext, *, prefix: str = "") -> None:
        super().__init__()
        self.ctx = ctx
        self.prefix = prefix
        self.hits: list[Hit] = []
        self.stats = SearchStats()
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="search-options"):
            yield Input(placeholder="text to find, then enter", id="search-pattern")
            yield Input(self.prefix, placeholder="under prefix (all keys)", id="search-prefix")
            yield Checkbox("regex", id="search-regex")
            yield Checkbox("ignore case", id="search-case")
        yield Input(
            placeholder="only under this field path, e.g. spec.containers[*].image (optional)",
            id="search-field",
        )
        yield Static("", id="search-status")
        table: DataTable[Text | str] = DataTable(id="search-results", cursor_type="row")
        table.add_columns("key", "field", "match")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#search-pattern", Input).focus()
        self._status("type a text and press enter")

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#search-status", Static).update(Text(text, style=style))

    @on(Input.Submitted)
    def _submitted(self) -> None:
        pattern = self.query_one("#search-pattern", Input).value
        if not pattern:
            self._status("type a text to find", "bold yellow")
            return
        field_text = self.query_one("#search-field", Input).value.strip()
        try:
            field = parse_field_path(field_text) if field_text else None
            query = Query(
                pattern, regex=self.query_one("#search-regex", Checkbox).value,
                ignore_case=self.query_one("#search-case", Checkbox).value, field=field,
            )  # fmt: skip
            query.compiled()
        except (FieldPathError, re.error) as error:
            self._status(f"{error}", "bold red")
            return
        prefix = self.query_one("#search-prefix", Input).value
        self._worker = self._run(query, prefix.encode("utf-8", "surrogateescape"))

    @work(exclusive=True, group="search", exit_on_error=False, description="search")
    async def _run(self, query: Query, prefix: bytes) -> None:
        table: DataTable[Text | str] = self.query_one("#search-results", DataTable)
        table.clear()
        self.hits = []
        self.stats = stats = SearchStats()
        self._status("searching…")

        def progress(done: int, total: int) -> None:
            self._status(f"searched {done:,} of {total:,} keys: {stats.hits:,} hits …")

        async for hits in search(
            self.ctx.source, query, self.ctx.decoder, prefix=prefix, stats=stats,
            max_hits=MAX_HITS, on_progress=progress,
        ):  # fmt: skip
            for hit in hits:
                self.hits.append(hit)
                match = Text()
                for piece, matched in excerpt(hit, 40):
                    match.append_text(safe_text(piece, MATCH_STYLE if matched else ""))
                table.add_row(safe_key(hit.key), safe_text(hit.path or "(value)"), match)
        self._status(self._summary(stats))

    @staticmethod
    def _summary(stats: SearchStats) -> str:
        hits = f"{stats.hits:,} hit{'' if stats.hits == 1 else 's'}"
        text = f"{hits} in {stats.total:,} keys ({stats.candidates:,} decoded)"
        if stats.stopped_early:
            text += f"; stopped at {MAX_HITS:,}"
        if stats.encrypted:
            text += f"; {stats.encrypted} encrypted values not searched (no encryption config)"
        return text + "; enter opens a hit"

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker:
            return
        if event.state is WorkerState.CANCELLED:
            self._status(f"stopped: {self._summary(self.stats)}", "bold yellow")
        elif event.state is WorkerState.ERROR:
            self._status(f"search failed: {event.worker.error}", "bold red")

    @on(DataTable.RowSelected, "#search-results")
    def _open(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.hits):
            self.dismiss(self.hits[event.cursor_row])

    def action_stop_or_close(self) -> None:
        if self._worker is not None and self._worker.is_running:
            self._worker.cancel()
            return
        self.dismiss(None)

    def action_focus_pattern(self) -> None:
        self.query_one("#search-pattern", Input).focus()
