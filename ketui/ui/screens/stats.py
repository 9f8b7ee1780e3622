"""Stats: count and bytes per resource and namespace, the largest objects, keys with leases."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ketui.core.index.keyindex import Aggregate, IndexStats
from ketui.core.k8s.render import human_bytes
from ketui.ui.safe import safe_key, safe_text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _numbers(agg: Aggregate) -> tuple[Text, Text]:
    """Count and size cells, right-aligned, in front of the (variable-width) name."""
    return Text(f"{agg.count:,}", justify="right"), Text(_size(agg), justify="right")


def _size(agg: Aggregate) -> str:
    text = human_bytes(agg.bytes)
    return f"{text} (+{agg.unknown} unsized)" if agg.unknown else text


class StatsScreen(Screen[bytes | None]):
    """Four tables over the key index; computed before the screen opens (in a thread)."""

    HELP = """\
## Stats
Keys and bytes per resource and per namespace (`""` is cluster-scoped), the largest values and the
keys attached to leases (events, node heartbeats, apiserver leases …). **enter** on a key opens it.
"""

    BINDINGS = [Binding("escape,q", "dismiss", "Back", id="stats.back")]

    DEFAULT_CSS = """
    StatsScreen Grid { grid-size: 2 2; grid-gutter: 0 1; }
    StatsScreen Vertical { border: round $primary; }
    StatsScreen .title { height: 1; text-style: bold; padding: 0 1; }
    StatsScreen #stats-total { height: 1; padding: 0 1; background: $boost; }
    """

    def __init__(self, stats: IndexStats) -> None:
        super().__init__()
        self.stats = stats

    def compose(self) -> ComposeResult:
        total = self.stats.total
        yield Static(
            f"{total.count:,} keys · {_size(total)} · {len(self.stats.by_resource)} resources · "
            f"{len(self.stats.by_namespace)} namespaces · {self.stats.leased.count} keys with "
            f"leases ({_plural(len(self.stats.by_lease), 'lease')})",
            id="stats-total",
        )
        with Grid():
            yield self._box("Per resource", "by-resource", ("keys", "bytes", "resource"))
            yield self._box("Per namespace", "by-namespace", ("keys", "bytes", "namespace"))
            yield self._box("Largest values", "largest", ("bytes", "key"))
            yield self._box("Keys with leases", "leases", ("keys", "bytes", "lease"))
        yield Footer()

    @staticmethod
    def _box(title: str, table_id: str, columns: tuple[str, ...]) -> Vertical:
        table: DataTable[str | Text] = DataTable(id=table_id, cursor_type="row")
        table.add_columns(*columns)
        box = Vertical(Static(title, classes="title"), table)
        return box

    def on_mount(self) -> None:
        stats = self.stats
        by_res = self.query_one("#by-resource", DataTable)
        for name, agg in sorted(stats.by_resource.items(), key=lambda i: -i[1].count):
            by_res.add_row(*_numbers(agg), safe_text(name))
        by_ns = self.query_one("#by-namespace", DataTable)
        for name, agg in sorted(stats.by_namespace.items(), key=lambda i: -i[1].count):
            by_ns.add_row(*_numbers(agg), safe_text(name) if name else "(cluster)")
        largest = self.query_one("#largest", DataTable)
        for info in stats.largest:
            size = Text(human_bytes(info.size), justify="right")
            largest.add_row(size, safe_key(info.key), key=info.key.hex())
        leases = self.query_one("#leases", DataTable)
        for lease, agg in sorted(stats.by_lease.items(), key=lambda i: -i[1].count):
            leases.add_row(*_numbers(agg), f"{lease:x}")
        by_res.focus()

    @on(DataTable.RowSelected, "#largest")
    def _open_key(self, event: DataTable.RowSelected) -> None:
        """Enter on one of the largest keys: back to the main screen, showing that key."""
        if event.row_key.value:
            self.dismiss(bytes.fromhex(event.row_key.value))
