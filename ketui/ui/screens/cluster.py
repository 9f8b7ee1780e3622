"""The Cluster screen (live etcd): every member as it answers, refreshed every two seconds, and
etcd's consistency check on demand (``c``). See :mod:`ketui.core.sources.etcd.cluster`."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ketui.core.k8s.render import human_bytes
from ketui.core.sources.etcd.cluster import ClusterReport, check_consistency, cluster_report
from ketui.core.sources.etcd.source import EtcdSource
from ketui.ui.safe import safe_text

REFRESH_SECONDS = 2.0


def _size(value: int | None) -> str:
    return human_bytes(value) if value is not None else "?"


def _number(value: int | None) -> str:
    return str(value) if value is not None else "?"


class ClusterScreen(Screen[None]):
    """Members, leader, raft state, db sizes, health and alarms of the live cluster."""

    HELP = """\
## Cluster
Every endpoint given and every member of the member list, each asked on its own and refreshed
every two seconds: role, raft term and index, db size and size in use, etcd version, how long it
took to answer, and its error when it did not. **c** checks that all members hold the same data
(etcd's HashKV at one revision) and names those that differ.
"""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Back", id="cluster.back"),
        Binding("c", "check", "Check consistency", id="cluster.check",
                tooltip="HashKV of every member at one revision"),  # fmt: skip
    ]

    DEFAULT_CSS = """
    ClusterScreen #cluster-summary, ClusterScreen #cluster-check {
        height: auto; padding: 0 1; background: $boost;
    }
    ClusterScreen #members { height: 1fr; }
    """

    def __init__(self, source: EtcdSource) -> None:
        super().__init__()
        self.source = source
        self.report: ClusterReport | None = None

    def compose(self) -> ComposeResult:
        yield Static("asking the members…", id="cluster-summary")
        table: DataTable[Text | str] = DataTable(id="members", cursor_type="row")
        table.add_columns("name", "id", "endpoint", "peer URLs", "role", "version", "db",
                          "in use", "term", "index", "applied", "latency", "error")  # fmt: skip
        yield table
        yield Static("c: check that all members hold the same data", id="cluster-check")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_report()
        self.set_interval(REFRESH_SECONDS, self.refresh_report)

    @work(exclusive=True, group="cluster", exit_on_error=False)
    async def refresh_report(self) -> None:
        report = await cluster_report(self.source)
        self.report = report
        table: DataTable[Text | str] = self.query_one("#members", DataTable)
        row = table.cursor_row
        table.clear()
        for m in report.members:
            role = "leader" if m.is_leader else "learner" if m.is_learner else "follower"
            table.add_row(
                safe_text(m.name or "?"), f"{m.id:x}" if m.id is not None else "?",
                safe_text(m.endpoint), safe_text(",".join(m.peer_urls) or "?"),
                Text(role if m.error is None else "?",
                                            style="bold" if m.is_leader else ""),
                safe_text(m.version or "?"), _size(m.db_size), _size(m.db_size_in_use),
                _number(m.raft_term), _number(m.raft_index), _number(m.raft_applied_index),
                f"{m.latency * 1000:.1f} ms" if m.latency is not None else "?",
                safe_text(m.error or "", "bold red"),
            )  # fmt: skip
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        answering = sum(m.error is None for m in report.members)
        leader = next((m.name or f"{m.id:x}" for m in report.members if m.is_leader), "none")
        summary = Text(f"{answering} of {len(report.members)} members answer · leader {leader}")
        for alarm in report.alarms:
            summary.append("  ")
            summary.append_text(safe_text(f"alarm: {alarm}", "bold white on red"))
        for note in report.notes:
            summary.append("\n")
            summary.append_text(safe_text(note, "bold yellow"))
        self.query_one("#cluster-summary", Static).update(summary)

    @work(exclusive=True, group="cluster-check", exit_on_error=False)
    async def action_check(self) -> None:
        widget = self.query_one("#cluster-check", Static)
        widget.update("checking: HashKV of every member …")
        result = await check_consistency(self.source, self.report)
        if result.consistent:
            text = Text(f"consistent: {len(result.hashes)} members hold the same data at "
                        f"revision {result.revision}", style="bold green")  # fmt: skip
        elif result.differing:
            names = ", ".join(f"{m.name or '?'} ({m.endpoint})" for m in result.differing)
            text = safe_text(f"INCONSISTENT at revision {result.revision}: {names} differ",
                             "bold white on red")  # fmt: skip
        else:
            errors = "; ".join(h.error for h in result.hashes if h.error)
            text = safe_text(f"not every member could be checked: {errors}", "bold yellow")
        widget.update(text)
