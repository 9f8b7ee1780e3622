"""Compare: what was added, removed or changed since the user marked the state."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ketui.core.index.sourcediff import KeyDiff
from ketui.core.k8s.shown import shown_object
from ketui.core.source import CompactedError, KeyValue, SourceError
from ketui.ui.context import ViewContext
from ketui.ui.safe import safe_key
from ketui.ui.widgets.text_view import TextView, prepare_diff


class CompareScreen(Screen[None]):
    """A list of changed keys; the field diff of the highlighted one beside it."""

    HELP = """\
## Compare
Keys added, removed or changed since the state was marked (`M`), with the field diff of the
highlighted key: the before/after of `kubectl apply`. Old values are read at the marked revision,
so they are only available until etcd compacts it.
"""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="compare.back")]

    DEFAULT_CSS = """
    CompareScreen #compare-title { height: 1; padding: 0 1; background: $boost; }
    CompareScreen #changes { width: 45%; }
    CompareScreen TextView { width: 1fr; }
    """

    def __init__(
        self, ctx: ViewContext, mark_revision: int, changes: KeyDiff, reveal: set[bytes]
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.mark_revision = mark_revision
        self.changes = changes
        self.reveal = reveal

    def compose(self) -> ComposeResult:
        changes = self.changes
        yield Static(
            f"since revision {self.mark_revision}: {len(changes.added)} added, "
            f"{len(changes.removed)} removed, {len(changes.changed)} changed",
            id="compare-title",
        )
        rows = [(key, "+") for key in changes.added] + [(key, "-") for key in changes.removed]
        rows += [(key, "~") for key in changes.changed]
        with Horizontal():
            table: DataTable[str | Text] = DataTable(id="changes", cursor_type="row")
            table.add_columns("", "key")
            for key, sign in sorted(rows):
                table.add_row(sign, safe_key(key), key=key.hex())
            yield table
            yield TextView("diff", id="compare-diff")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#changes", DataTable).focus()
        changes = self.changes
        if not (changes.added or changes.removed or changes.changed):
            self.query_one(TextView).show_text("(nothing changed)")

    @on(DataTable.RowHighlighted, "#changes")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.show_diff(bytes.fromhex(event.row_key.value))

    @work(exclusive=True, group="compare", exit_on_error=False)
    async def show_diff(self, key: bytes) -> None:
        source = self.ctx.source
        area = self.query_one(TextView)
        try:
            before_kv = await source.get(key, revision=self.mark_revision)
        except CompactedError:
            area.show_text(f"the value at revision {self.mark_revision} has been compacted")
            return
        except SourceError as err:
            area.show_text(str(err))
            return
        try:
            after_kv = await source.get(key)
        except SourceError as err:
            area.show_text(str(err))
            return
        reveal = key in self.reveal

        async def shown(kv: KeyValue | None) -> Any:
            if kv is None:
                return None
            return shown_object(await self.ctx.decode(kv), revision=None, reveal=reveal)

        before, after = await shown(before_kv), await shown(after_kv)
        label = f"rev {self.mark_revision}"
        area.show(await asyncio.to_thread(prepare_diff, before, after, label, "now"))
