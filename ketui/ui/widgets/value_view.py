"""The value viewer: YAML, JSON, Raw, Meta, History and Diff tabs for one key."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, Static, TabbedContent, TabPane, TextArea

from ketui.core.k8s.decoded import Decoded
from ketui.core.source import EventType, History, KeyValue, Revision, SourceError, WatchEvent
from ketui.ui.context import ViewContext
from ketui.ui.formatting import human_bytes
from ketui.ui.objview import diff_text, render_value, shown_object
from ketui.ui.widgets.code_view import CodeView


def _code(language: str | None, id: str) -> TextArea:  # noqa: A002 - Textual's name
    area = TextArea.code_editor(
        "", language=language, read_only=True, id=id, show_line_numbers=False, soft_wrap=False
    )
    area.highlight_cursor_line = False
    area.cursor_blink = False  # steady screens: easier on SSH links, deterministic snapshots
    return area


class ValueView(Vertical):
    """Shows one key's value; loads and decodes in workers, never on the event loop."""

    HELP = """\
## Value viewer
Tabs: **YAML** (as `kubectl get -o yaml` prints it), **JSON**, **Raw** (text or hex dump),
**Meta** (revisions, lease and TTL, size, encoding, encryption), **History** (every revision still
in etcd; mark two with `space` to diff them) and **Diff** (this change against the previous value).

Secret `data`/`stringData` stay masked until you press `x` (per object). With the tabs focused,
`y` `j` `w` `m` `h` `d` switch to YAML, JSON, Raw, Meta, History and Diff.
"""

    BINDINGS = [
        Binding("x", "reveal", "Reveal secret", id="value.reveal", tooltip="Show/hide secret data"),
        Binding("y", "show_tab('yaml')", "YAML", show=False, id="value.yaml"),
        Binding("j", "show_tab('json')", "JSON", show=False, id="value.json"),
        Binding("w", "show_tab('raw')", "Raw", show=False, id="value.raw"),
        Binding("m", "show_tab('meta')", "Meta", show=False, id="value.meta"),
        Binding("h", "show_tab('history')", "History", show=False, id="value.history"),
        Binding("d", "show_tab('diff')", "Diff", show=False, id="value.diff"),
    ]

    DEFAULT_CSS = """
    ValueView { height: 1fr; }
    ValueView #value-title { height: 1; padding: 0 1; background: $boost; }
    ValueView TextArea { height: 1fr; border: none; padding: 0; }
    ValueView #meta { padding: 0 1; }
    ValueView #history-table { height: auto; max-height: 40%; }
    """

    key: reactive[bytes | None] = reactive(None, init=False)

    def __init__(self, ctx: ViewContext, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.ctx = ctx
        self.kv: KeyValue | None = None
        self.decoded: Decoded | None = None
        self.revealed: set[bytes] = set()
        self.history: History | None = None
        self.marked: list[int] = []  # history revisions marked for the diff, at most two

    def compose(self) -> ComposeResult:
        yield Static("Select a key in the tree", id="value-title")
        with TabbedContent(id="value-tabs"):
            with TabPane("YAML", id="yaml"):
                yield _code("yaml", "yaml-text")
            with TabPane("JSON", id="json"):
                yield CodeView("json", id="json-text")
            with TabPane("Raw", id="raw"):
                yield _code(None, "raw-text")
            with TabPane("Meta", id="meta-tab"):
                yield Static("", id="meta")
            with TabPane("History", id="history"):
                table: DataTable[str] = DataTable(id="history-table", cursor_type="row")
                table.add_columns("", "revision", "op", "version", "size")
                yield table
                yield CodeView("diff", id="history-diff")
            with TabPane("Diff", id="diff"):
                yield CodeView("diff", id="diff-text")

    # -- loading ---------------------------------------------------------------------------------

    def load(self, key: bytes, revision: int | None = None) -> None:
        """Show ``key`` (now, or at ``revision``)."""
        self.key = key
        self._load(key, revision)

    def show_event(self, event: WatchEvent) -> None:
        """Show the object a watch event wrote (or deleted) and its diff against the old value."""
        self.key = event.kv.key
        self._show_event(event)

    @work(exclusive=True, group="value", exit_on_error=False)
    async def _load(self, key: bytes, revision: int | None) -> None:
        self.query_one("#value-title", Static).update(f"loading {key.decode(errors='replace')}…")
        try:
            kv = await self.ctx.source.get(key, revision=revision)
        except SourceError as err:
            self.notify(str(err), severity="error", title="get failed")
            return
        if kv is None:
            self._clear(f"{key.decode(errors='replace')}: not found (deleted?)")
            return
        decoded = await self.ctx.decode(kv)
        ttl = await self.ctx.lease_ttl(kv.lease)
        self._apply(kv, decoded, ttl)
        await self._load_history(key)
        await self._auto_diff()

    @work(exclusive=True, group="value", exit_on_error=False)
    async def _show_event(self, event: WatchEvent) -> None:
        current = event.kv if event.type is EventType.PUT else event.prev_kv
        if current is None:
            self._clear(f"{event.kv.key.decode(errors='replace')} deleted")
            return
        decoded = await self.ctx.decode(current)
        prev = await self.ctx.decode(event.prev_kv) if event.prev_kv is not None else None
        self._apply(current, decoded, None)
        before = shown_object(prev, reveal=self._revealed()) if prev else None
        after = (
            shown_object(decoded, reveal=self._revealed()) if event.type is EventType.PUT else None
        )
        label = f"rev {event.prev_kv.mod_revision}" if event.prev_kv else "(new)"
        self._set_text(
            "diff-text",
            diff_text(before, after, before_label=label, after_label=f"rev {event.revision}"),
        )
        self.query_one(TabbedContent).active = "diff"
        await self._load_history(current.key)

    async def _load_history(self, key: bytes) -> None:
        try:
            history = await self.ctx.source.history(key)
        except SourceError as err:
            self.history = None
            self.notify(str(err), severity="warning", title="history unavailable")
            return
        self.history = history
        self.marked = [r.kv.mod_revision for r in history.revisions[-2:]]
        self._fill_history()

    async def _auto_diff(self) -> None:
        """Fill the Diff tab with the last change of the key, from its history."""
        if self.history is None or len(self.history.revisions) < 2:
            self._set_text("diff-text", "(no earlier revision to compare with)")
            return
        older, newer = self.history.revisions[-2:]
        self._set_text("diff-text", await self._diff_revisions(older, newer))

    # -- rendering -------------------------------------------------------------------------------

    def _revealed(self) -> bool:
        return self.key is not None and self.key in self.revealed

    def _clear(self, title: str) -> None:
        self.kv = self.decoded = None
        self.query_one("#value-title", Static).update(title)
        for area in ("yaml-text", "json-text", "raw-text", "diff-text", "history-diff"):
            self._set_text(area, "")
        self.query_one("#meta", Static).update("")

    def _apply(self, kv: KeyValue, decoded: Decoded, ttl: tuple[int, int] | None) -> None:
        self.kv, self.decoded = kv, decoded
        self._render_texts()
        self.query_one("#meta", Static).update(self._meta(kv, decoded, ttl))

    def _render_texts(self) -> None:
        if self.kv is None or self.decoded is None:
            return
        rendered = render_value(self.kv, self.decoded, reveal=self._revealed())
        title = Text(self.kv.key.decode(errors="replace"), style="bold")
        what = self.decoded.kind or self.decoded.family.value
        title.append(f"  {what}  rev {self.kv.mod_revision}  {human_bytes(self.kv.size)}")
        if rendered.masked:
            title.append("  ")
            title.append(" secret masked: x reveals ", style="black on yellow")
        self.query_one("#value-title", Static).update(title)
        self._set_text("yaml-text", rendered.yaml)
        self._set_text("json-text", rendered.json)
        self._set_text("raw-text", rendered.raw)

    def _set_text(self, area_id: str, text: str) -> None:
        widget = self.query_one(f"#{area_id}")
        assert isinstance(widget, (TextArea, CodeView))
        widget.load_text(text)

    @staticmethod
    def _meta(kv: KeyValue, decoded: Decoded, ttl: tuple[int, int] | None) -> Text:
        rows: list[tuple[str, str]] = [
            ("key", kv.key.decode(errors="replace")),
            ("create revision", str(kv.create_revision)),
            ("mod revision", str(kv.mod_revision)),
            ("version", str(kv.version)),
            ("lease", f"{kv.lease:x}" if kv.lease else "none"),
        ]
        if kv.lease:
            rows.append(
                ("lease TTL", f"{ttl[0]} s left of {ttl[1]} s" if ttl is not None else "unknown")
            )
        rows.append(("size", f"{kv.size} bytes ({human_bytes(kv.size)})"))
        rows.append(("encoding", decoded.family.value))
        if decoded.content_type:
            rows.append(("content type", decoded.content_type))
        if decoded.api_version or decoded.kind:
            rows.append(("type", f"{decoded.api_version or '?'} {decoded.kind or '?'}"))
        if decoded.message:
            rows.append(("protobuf message", decoded.message))
        if decoded.encryption is not None:
            enc = decoded.encryption
            state = "decrypted" if enc.decrypted else f"not decrypted: {enc.reason or 'no key'}"
            rows.append(("encryption", f"{enc.provider} key {enc.key_name!r} ({state})"))
        if decoded.kube_version:
            rows.append(("schema", f"Kubernetes {decoded.kube_version}"))
        for warning in decoded.warnings:
            rows.append(("warning", warning))
        if decoded.error:
            rows.append(("error", decoded.error))
        text = Text()
        for name, value in rows:
            text.append(f"{name:>17}  ", style="bold")
            text.append(value + "\n")
        return text

    # -- history ---------------------------------------------------------------------------------

    def _fill_history(self) -> None:
        table: DataTable[str] = self.query_one("#history-table", DataTable)
        table.clear()
        if self.history is None:
            return
        for rev in self.history.revisions:
            mark = "●" if rev.kv.mod_revision in self.marked else ""
            size = "-" if rev.type is EventType.DELETE else human_bytes(rev.kv.size)
            table.add_row(
                mark,
                str(rev.kv.mod_revision),
                rev.type.value,
                str(rev.kv.version),
                size,
                key=str(rev.kv.mod_revision),
            )
        if self.history.compact_revision:
            table.add_row("", f"≤{self.history.compact_revision}", "compacted", "", "")
        self._show_history_diff()

    @on(DataTable.RowSelected, "#history-table")
    def _toggle_mark(self, event: DataTable.RowSelected) -> None:
        """Enter/space on a history row marks it; the two marked revisions are diffed."""
        if event.row_key.value is None or not event.row_key.value.isdigit():
            return
        revision = int(event.row_key.value)
        if revision in self.marked:
            self.marked.remove(revision)
        else:
            self.marked = [*self.marked, revision][-2:]
        self._fill_history()

    @work(exclusive=True, group="history-diff", exit_on_error=False)
    async def _show_history_diff(self) -> None:
        if self.history is None or len(self.marked) < 2:
            self._set_text("history-diff", "mark two revisions (enter) to compare them")
            return
        by_rev = {r.kv.mod_revision: r for r in self.history.revisions}
        older, newer = sorted(self.marked)
        if older not in by_rev or newer not in by_rev:
            return
        self._set_text("history-diff", await self._diff_revisions(by_rev[older], by_rev[newer]))

    async def _diff_revisions(self, older: Revision, newer: Revision) -> str:
        reveal = self._revealed()

        async def obj(rev: Revision) -> object:
            if rev.type is EventType.DELETE:
                return None
            return shown_object(await self.ctx.decode(rev.kv), reveal=reveal)

        return diff_text(
            await obj(older),
            await obj(newer),
            before_label=f"rev {older.kv.mod_revision}",
            after_label=f"rev {newer.kv.mod_revision}",
        )

    # -- actions ---------------------------------------------------------------------------------

    def action_reveal(self) -> None:
        """Toggle secret masking for the shown object only."""
        if self.key is None:
            return
        if self.key in self.revealed:
            self.revealed.discard(self.key)
        else:
            self.revealed.add(self.key)
        self._render_texts()
        self._show_history_diff()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = "meta-tab" if tab == "meta" else tab

    def yaml_text(self) -> str:
        """The YAML as shown (masked when masked), for copying."""
        return self.query_one("#yaml-text", TextArea).text
