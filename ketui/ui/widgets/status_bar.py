"""One-line status bar: source, endpoint, revision, db size, leader, key count, read-only badge."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from ketui.core.k8s.render import human_bytes
from ketui.core.source import SourceStatus
from ketui.ui.safe import safe_text


class StatusBar(Static):
    """Shows the latest :class:`SourceStatus`; a connection error stays red until a success."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    StatusBar.-error { background: $error 40%; }
    """

    status: reactive[SourceStatus | None] = reactive(None)
    error: reactive[str | None] = reactive(None)
    paused: reactive[bool] = reactive(False)

    def render(self) -> Text:
        status = self.status
        text = Text()
        if status is None:
            text.append("connecting…" if self.error is None else "")
        else:
            text.append(f" {status.kind} ", style="bold reverse")
            text.append(" ")
            text.append_text(safe_text(status.endpoint or status.description))
            text.append(f"  rev {status.revision}")
            if status.db_size is not None:
                text.append(f"  db {human_bytes(status.db_size)}")
            if status.leader:
                text.append("  leader ")
                text.append_text(safe_text(status.leader))
            if status.key_count is not None:
                text.append(f"  {status.key_count} keys")
            if status.read_only:
                text.append("  ")
                text.append(" READ-ONLY ", style="bold black on yellow")
        if self.paused:
            text.append("  ")
            text.append(" PAUSED ", style="bold black on cyan")
        if self.error is not None:
            text.append("  ")
            text.append_text(safe_text(f" ⚠ {self.error} (retrying) ", "bold white on red"))
        return text

    def watch_error(self, error: str | None) -> None:
        self.set_class(error is not None, "-error")
