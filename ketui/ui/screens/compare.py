"""Compare: what was added, removed or changed since the user marked the state."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ketui.core.source import CompactedError, KeyInfo, SourceError
from ketui.ui.context import ViewContext
from ketui.ui.objview import diff_text, shown_object
from ketui.ui.widgets.code_view import CodeView


@dataclass(frozen=True, slots=True)
class Change:
    key: bytes
    kind: str  # "added", "removed", "changed"


def changes_between(before: dict[bytes, KeyInfo], after: dict[bytes, KeyInfo]) -> list[Change]:
    """Keys added, removed or modified between two listings, in key order."""
    changes = [Change(k, "removed") for k in before.keys() - after.keys()]
    changes += [Change(k, "added") for k in after.keys() - before.keys()]
    changes += [
        Change(k, "changed")
        for k in before.keys() & after.keys()
        if before[k].mod_revision != after[k].mod_revision
    ]
    return sorted(changes, key=lambda c: c.key)


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
    CompareScreen CodeView { width: 1fr; }
    """

    def __init__(
        self, ctx: ViewContext, mark_revision: int, changes: list[Change], reveal: set[bytes]
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.mark_revision = mark_revision
        self.changes = changes
        self.reveal = reveal

    def compose(self) -> ComposeResult:
        counts = {
            kind: sum(c.kind == kind for c in self.changes)
            for kind in ("added", "removed", "changed")
        }
        yield Static(
            f"since revision {self.mark_revision}: {counts['added']} added, "
            f"{counts['removed']} removed, {counts['changed']} changed",
            id="compare-title",
        )
        with Horizontal():
            table: DataTable[str] = DataTable(id="changes", cursor_type="row")
            table.add_columns("", "key")
            for change in self.changes:
                sign = {"added": "+", "removed": "-", "changed": "~"}[change.kind]
                table.add_row(sign, change.key.decode(errors="replace"), key=change.key.hex())
            yield table
            yield CodeView("diff", id="compare-diff")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#changes", DataTable).focus()
        if not self.changes:
            self.query_one(CodeView).load_text("(nothing changed)")

    @on(DataTable.RowHighlighted, "#changes")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.show_diff(bytes.fromhex(event.row_key.value))

    @work(exclusive=True, group="compare", exit_on_error=False)
    async def show_diff(self, key: bytes) -> None:
        source = self.ctx.source
        area = self.query_one(CodeView)
        try:
            before_kv = await source.get(key, revision=self.mark_revision)
        except CompactedError:
            area.load_text(f"the value at revision {self.mark_revision} has been compacted")
            return
        except SourceError as err:
            area.load_text(str(err))
            return
        try:
            after_kv = await source.get(key)
        except SourceError as err:
            area.load_text(str(err))
            return
        reveal = key in self.reveal
        before = (
            shown_object(await self.ctx.decode(before_kv), reveal=reveal) if before_kv else None
        )
        after = shown_object(await self.ctx.decode(after_kv), reveal=reveal) if after_kv else None
        area.load_text(
            diff_text(before, after, before_label=f"rev {self.mark_revision}", after_label="now")
        )
