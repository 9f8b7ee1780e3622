"""The Leases screen (``L``): every lease with its granted and remaining TTL and the keys attached
(Events, masterleases, node leases...). Live etcd lists every lease, keys or not; a snapshot its
lease bucket; other sources know leases only from their keys. ``enter`` on a key opens it."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ketui.core.source import LeaseInfo, ListsLeases, Source, SourceError
from ketui.ui.safe import safe_key, safe_text


def _ttl(seconds: int | None) -> str:
    return f"{seconds} s" if seconds is not None else "?"


class LeasesScreen(Screen[bytes | None]):
    """Leases and their keys; dismissed with a key to open, or None."""

    HELP = """\
## Leases
Every lease with its granted and remaining time to live and the number of keys attached, most
keys first; the keys of the lease under the cursor are listed below (**enter** opens one).
Live etcd lists every lease, with keys or not; a snapshot lists the leases it stored (their
remaining TTL only where etcd checkpointed it); a dump knows leases only from its keys.
"""

    BINDINGS = [Binding("escape,q", "dismiss", "Back", id="leases.back")]

    DEFAULT_CSS = """
    LeasesScreen #leases-summary, LeasesScreen #lease-keys-title {
        height: 1; padding: 0 1; background: $boost;
    }
    LeasesScreen #leases { height: 1fr; }
    LeasesScreen #lease-keys { height: 1fr; }
    """

    def __init__(self, source: Source, keys_by_lease: dict[int, list[bytes]]) -> None:
        super().__init__()
        self.source = source
        self.keys_by_lease = keys_by_lease
        self.leases: list[LeaseInfo] = []

    def compose(self) -> ComposeResult:
        yield Static("reading the leases…", id="leases-summary")
        leases: DataTable[Text | str] = DataTable(id="leases", cursor_type="row")
        leases.add_columns("lease", "granted", "remaining", "keys", "first key")
        yield leases
        yield Static("", id="lease-keys-title")
        keys: DataTable[Text | str] = DataTable(id="lease-keys", cursor_type="row")
        keys.add_columns("key")
        yield keys
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="leases", exit_on_error=False)
    async def load(self) -> None:
        known: dict[int, LeaseInfo] = {}
        note = ""
        if isinstance(self.source, ListsLeases):
            try:
                known = {lease.id: lease for lease in await self.source.leases()}
            except SourceError as error:
                note = f" (TTLs unknown: {error})"
        else:
            note = " (this source records no TTLs: leases as its keys name them)"
        ids = set(known) | set(self.keys_by_lease)
        self.leases = sorted(
            (known.get(i, LeaseInfo(i)) for i in ids),
            key=lambda lease: (-len(self.keys_by_lease.get(lease.id, [])), lease.id),
        )
        table: DataTable[Text | str] = self.query_one("#leases", DataTable)
        table.clear()
        for lease in self.leases:
            keys = self.keys_by_lease.get(lease.id, [])
            table.add_row(
                f"{lease.id:x}", _ttl(lease.granted_ttl), _ttl(lease.remaining_ttl),
                str(len(keys)), safe_key(keys[0]) if keys else Text("(none)", style="dim"),
                key=str(lease.id),
            )  # fmt: skip
        attached = sum(len(keys) for keys in self.keys_by_lease.values())
        summary = f"{len(self.leases)} leases, {attached} keys attached{note}"
        self.query_one("#leases-summary", Static).update(safe_text(summary))
        if self.leases:
            self._show_keys(self.leases[0].id)
        table.focus()

    def _show_keys(self, lease_id: int) -> None:
        keys = self.keys_by_lease.get(lease_id, [])
        self.query_one("#lease-keys-title", Static).update(
            f"keys of lease {lease_id:x}: {len(keys)} (enter opens one)"
        )
        table: DataTable[Text | str] = self.query_one("#lease-keys", DataTable)
        table.clear()
        for key in keys:
            table.add_row(safe_key(key), key=key.hex())

    @on(DataTable.RowHighlighted, "#leases")
    def _lease_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._show_keys(int(event.row_key.value))

    @on(DataTable.RowSelected, "#leases")
    def _lease_selected(self) -> None:
        self.query_one("#lease-keys", DataTable).focus()

    @on(DataTable.RowSelected, "#lease-keys")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.dismiss(bytes.fromhex(event.row_key.value))
