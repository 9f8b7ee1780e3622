"""The value viewer: YAML, JSON, Raw, Meta, Events, History and Diff tabs for one key.

Every heavy step runs in a thread: fetching and decoding, rendering YAML and JSON (a third and two
thirds of a second at a megabyte), cutting the texts into lines and computing diffs. The text tabs
are text views (:class:`~ketui.ui.widgets.text_view.TextView`), which draw only the visible lines;
the YAML tab shows its first screen as soon as the renderer has written it, before the rest is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timezone
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from ketui.core.k8s.decoded import Decoded
from ketui.core.k8s.render import human_bytes, to_json
from ketui.core.k8s.served import has_managed_fields
from ketui.core.k8s.shown import (
    TEXT_VIEWS,
    dropped_note,
    is_masked,
    is_object,
    shown_object,
    shown_text,
)
from ketui.core.relations import (
    EventSummary,
    ObjectRef,
    Related,
    age,
    dependents_of,
    events_of,
    owners_of,
)
from ketui.core.search import field_line
from ketui.core.source import EventType, History, KeyValue, Revision, SourceError, WatchEvent
from ketui.ui.context import ViewContext
from ketui.ui.messages import OpenKey
from ketui.ui.safe import safe_key, safe_text
from ketui.ui.widgets.text_view import PreparedText, TextView, prepare_diff, prepare_text

CONTEXT_SETTLE = 0.3
"""Seconds the cursor rests on a key before its Events and dependents are looked up."""

#: The text tab of each rendered view and its language.
_TEXT_TABS: dict[str, tuple[str, str | None]] = {
    "yaml": ("yaml-text", "yaml"),
    "json": ("json-text", "json"),
    "raw": ("raw-text", None),
}

class ValueView(Vertical):
    """Shows one key's value; loads and decodes in workers, never on the event loop."""

    HELP = """\
## Value viewer
Tabs: **YAML** (as `kubectl get -o yaml` prints it), **JSON**, **Raw** (text or hex dump),
**Meta** (revisions, lease and TTL, size, encoding, encryption; the owners and the dependents of
the object: `enter` goes to one), **Events** (the Events about the object, newest first),
**History** (every revision still in etcd; mark two with `space` to diff them) and **Diff** (this
change against the previous value).

`metadata.managedFields` are hidden, as `kubectl get` hides them: `F` shows them (YAML, JSON and
diffs). Secret `data`/`stringData` stay masked until you press `x` (per object). With the tabs
focused, `y` `j` `w` `m` `e` `h` `d` switch to YAML, JSON, Raw, Meta, Events, History and Diff.
"""

    BINDINGS = [
        Binding("x", "reveal", "Reveal secret", id="value.reveal", tooltip="Show/hide secret data"),
        Binding("y", "show_tab('yaml')", "YAML", show=False, id="value.yaml"),
        Binding("j", "show_tab('json')", "JSON", show=False, id="value.json"),
        Binding("w", "show_tab('raw')", "Raw", show=False, id="value.raw"),
        Binding("m", "show_tab('meta')", "Meta", show=False, id="value.meta"),
        Binding("e", "show_tab('events')", "Events", show=False, id="value.events"),
        Binding(
            "F", "toggle_managed_fields", "managedFields", id="value.managed_fields",
            tooltip="Show/hide metadata.managedFields",
        ),  # fmt: skip
        Binding("h", "show_tab('history')", "History", show=False, id="value.history"),
        Binding("d", "show_tab('diff')", "Diff", show=False, id="value.diff"),
    ]

    DEFAULT_CSS = """
    ValueView { height: 1fr; }
    ValueView #value-title { height: 1; padding: 0 1; background: $boost; }
    ValueView #value-note {
        display: none; height: 1; padding: 0 1; color: $text-warning;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    ValueView #value-note.-visible { display: block; }
    ValueView #meta { padding: 0 1; }
    ValueView #history-table { height: auto; max-height: 40%; }
    ValueView #meta-tab > VerticalScroll { height: 1fr; }
    ValueView #relations-table { height: auto; margin: 1 0 0 0; }
    ValueView #events-table { height: 1fr; }
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
        self.managed_fields = False  # show metadata.managedFields (the whole session)
        self._mark_path: tuple[bytes, tuple[str | int, ...]] | None = None  # a hit's field
        self.relations: list[bytes | None] = []  # the key of each row of the relations table
        self._rendering = 0  # number of the latest rendering of the texts
        self._yaml_done = 0  # the rendering whose whole YAML is shown

    def compose(self) -> ComposeResult:
        yield Static("Select a key in the tree", id="value-title")
        yield Static("", id="value-note")
        with TabbedContent(id="value-tabs"):
            with TabPane("YAML", id="yaml"):
                yield TextView("yaml", id="yaml-text")
            with TabPane("JSON", id="json"):
                yield TextView("json", id="json-text")
            with TabPane("Raw", id="raw"):
                yield TextView(None, id="raw-text")
            with TabPane("Meta", id="meta-tab"), VerticalScroll():
                yield Static("", id="meta")
                relations: DataTable[str] = DataTable(id="relations-table", cursor_type="row")
                relations.add_columns("relation", "kind", "name", "key")
                yield relations
            with TabPane("Events", id="events"):
                events: DataTable[Text | str] = DataTable(id="events-table", cursor_type="row")
                events.add_columns("last seen", "type", "reason", "count", "from", "message")
                yield events
            with TabPane("History", id="history"):
                table: DataTable[str] = DataTable(id="history-table", cursor_type="row")
                table.add_columns("", "revision", "op", "version", "size")
                yield table
                yield TextView("diff", id="history-diff")
            with TabPane("Diff", id="diff"):
                yield TextView("diff", id="diff-text")

    # -- loading ---------------------------------------------------------------------------------

    def load(self, key: bytes, revision: int | None = None) -> None:
        """Show ``key`` (now, or at ``revision``)."""
        self.key = key
        if self._mark_path is not None and self._mark_path[0] != key:
            self._mark_path = None
        self._load(key, revision)

    def show_hit(self, key: bytes, parts: tuple[str | int, ...]) -> None:
        """Show ``key`` in the YAML tab with the line of the field at ``parts`` highlighted
        (kept when the tree selects the same key meanwhile)."""
        self._mark_path = (key, parts)
        self.load(key)
        self.query_one(TabbedContent).active = "yaml"

    def show_event(self, event: WatchEvent) -> None:
        """Show the object a watch event wrote (or deleted) and its diff against the old value."""
        self.key = event.kv.key
        self._show_event(event)

    @work(exclusive=True, group="value", exit_on_error=False)
    async def _load(self, key: bytes, revision: int | None) -> None:
        self.query_one("#value-title", Static).update(Text("loading ") + safe_key(key) + "…")
        try:
            kv = await self.ctx.source.get(key, revision=revision)
        except SourceError as err:
            self.notify(str(err), severity="error", title="get failed")
            return
        if kv is None:
            self._clear(safe_key(key) + ": not found (deleted?)")
            return
        decoded = await self.ctx.decode(kv)
        ttl = await self.ctx.lease_ttl(kv.lease)
        self._apply(kv, decoded, ttl)
        await self._load_history(key)
        await self._auto_diff()
        self._load_context(kv, decoded)

    @work(exclusive=True, group="value", exit_on_error=False)
    async def _show_event(self, event: WatchEvent) -> None:
        current = event.kv if event.type is EventType.PUT else event.prev_kv
        if current is None:
            self._clear(safe_key(event.kv.key) + " deleted")
            return
        decoded = await self.ctx.decode(current)
        prev = await self.ctx.decode(event.prev_kv) if event.prev_kv is not None else None
        self._apply(current, decoded, None)
        before = self._shown(prev) if prev else None
        after = self._shown(decoded) if event.type is EventType.PUT else None
        label = f"rev {event.prev_kv.mod_revision}" if event.prev_kv else "(new)"
        self.query_one(TabbedContent).active = "diff"
        await self._show_diff("diff-text", before, after, label, f"rev {event.revision}")
        await self._load_history(current.key)
        self._load_context(current, decoded)

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
        await self._diff_revisions("diff-text", older, newer)

    # -- rendering -------------------------------------------------------------------------------

    def _revealed(self) -> bool:
        return self.key is not None and self.key in self.revealed

    def _shown(self, decoded: Decoded) -> Any:
        """The object as the YAML tab shows it (no resourceVersion), for diffs."""
        return shown_object(
            decoded, revision=None, reveal=self._revealed(), managed_fields=self.managed_fields
        )

    def _clear(self, title: Text) -> None:
        self.kv = self.decoded = None
        self.query_one("#value-title", Static).update(title)
        self._show_note(None)
        for area in ("yaml-text", "json-text", "raw-text", "diff-text", "history-diff"):
            self._set_text(area, "")
        self.query_one("#meta", Static).update("")
        self._fill_relations([], [])
        self.query_one("#events-table", DataTable).clear()

    def _apply(self, kv: KeyValue, decoded: Decoded, ttl: tuple[int, int] | None) -> None:
        self.kv, self.decoded = kv, decoded
        self._show_title()
        self._show_note(dropped_note(decoded))
        self.query_one("#meta", Static).update(self._meta(kv, decoded, ttl))
        self.render_texts()

    def _show_title(self) -> None:
        if self.kv is None or self.decoded is None:
            return
        title = safe_key(self.kv.key, "bold")
        what = self.decoded.kind or self.decoded.family.value
        title.append(f"  {what}  rev {self.kv.mod_revision}  {human_bytes(self.kv.size)}")
        if is_masked(self.decoded, reveal=self._revealed()):
            title.append("  ")
            title.append(" secret masked: x reveals ", style="black on yellow")
        if not self.managed_fields and has_managed_fields(self.decoded.obj):
            title.append("  managedFields hidden: F shows", style="dim")
        self.query_one("#value-title", Static).update(title)

    def _show_note(self, note: str | None) -> None:
        """A line under the title for what the release view leaves out (the Meta tab lists it)."""
        widget = self.query_one("#value-note", Static)
        widget.update(safe_text(f"⚠ {note}; the Meta tab lists them") if note else "")
        widget.set_class(note is not None, "-visible")

    @work(exclusive=True, group="render", exit_on_error=False)
    async def render_texts(self) -> None:
        """Fill the YAML, JSON and Raw tabs, in threads; the YAML's first screen comes first."""
        kv, decoded = self.kv, self.decoded
        if kv is None or decoded is None:
            return
        self._rendering += 1
        rendering = self._rendering
        reveal, managed_fields = self._revealed(), self.managed_fields
        keyring_given = self.ctx.decoder.keyring is not None
        loop = asyncio.get_running_loop()

        def first_lines(text: str) -> None:  # in the rendering thread
            loop.call_soon_threadsafe(self._show_first_lines, rendering, text)

        for view in ("json", "raw"):
            self._set_text(_TEXT_TABS[view][0], "rendering…")
        for view in TEXT_VIEWS:
            area_id, language = _TEXT_TABS[view]
            prepared = await asyncio.to_thread(
                _render, kv, decoded, view, language, reveal, keyring_given, managed_fields,
                first_lines if view == "yaml" else None,
            )  # fmt: skip
            self.query_one(f"#{area_id}", TextView).show(prepared)
            if view == "yaml":
                self._yaml_done = rendering
                self._mark_field(prepared.text)

    def _mark_field(self, yaml_text: str) -> None:
        """Highlight the field a search hit named (managedFields shown if it is under them)."""
        if self._mark_path is None or self._mark_path[0] != self.key:
            return
        parts = self._mark_path[1]
        if parts[:2] == ("metadata", "managedFields") and not self.managed_fields:
            self.managed_fields = True
            self._show_title()
            self.render_texts()
            return
        line = field_line(yaml_text, parts) if parts else None
        if line is not None:
            self.query_one("#yaml-text", TextView).mark(line)

    def _show_first_lines(self, rendering: int, text: str) -> None:
        """The first lines of a big YAML, while the rest is still being rendered."""
        if rendering == self._rendering and self._yaml_done != rendering:
            self._set_text("yaml-text", text)

    def _set_text(self, area_id: str, text: str) -> None:
        """Show a short text at once (a note, a placeholder, the first lines)."""
        self.query_one(f"#{area_id}", TextView).show_text(text)

    async def _show_diff(
        self, area_id: str, before: Any, after: Any, before_label: str, after_label: str
    ) -> None:
        """Compute and show a diff in a thread."""
        prepared = await asyncio.to_thread(prepare_diff, before, after, before_label, after_label)
        self.query_one(f"#{area_id}", TextView).show(prepared)

    @staticmethod
    def _meta(kv: KeyValue, decoded: Decoded, ttl: tuple[int, int] | None) -> Text:
        rows: list[tuple[str, str]] = [
            ("key", kv.key.decode("utf-8", "surrogateescape")),
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
        if decoded.view:
            rows.append(("schema", f"Kubernetes {decoded.view}"))
        for dropped in decoded.dropped:
            value = to_json(dropped.value, indent=None)
            known = f"known to {dropped.releases}"
            rows.append(("not in the view", f"{dropped.path} = {value} ({known})"))
        for warning in decoded.warnings:
            rows.append(("warning", warning))
        if decoded.error:
            rows.append(("error", decoded.error))
        text = Text()
        for name, value in rows:
            text.append(f"{name:>17}  ", style="bold")
            text.append_text(safe_text(value))
            text.append("\n")
        return text

    # -- the object in context: events, owners, dependents ----------------------------------------

    @work(exclusive=True, group="context", exit_on_error=False)
    async def _load_context(self, kv: KeyValue, decoded: Decoded) -> None:
        """Fill the Events tab and the Meta tab's owners and dependents (in the background:
        finding them reads the Events of the namespace and the namespace's objects, so only once
        the cursor rests on the key: moving on cancels this worker before it reads anything)."""
        ref = ObjectRef.of(decoded.obj) if is_object(decoded) else None
        events_table = self.query_one("#events-table", DataTable)
        events_table.clear()
        tab = self.query_one(TabbedContent).get_tab("events")
        tab.label = "Events"
        owners = owners_of(decoded.obj, prefix=self.ctx.prefix)
        self._fill_relations(owners, None if ref is not None and ref.uid else [])
        if ref is None:
            return
        await asyncio.sleep(CONTEXT_SETTLE)
        prefix = self.ctx.prefix
        try:
            events = await events_of(self.ctx.source, ref, self.ctx.decoder, prefix=prefix)
            self._fill_events(events)
            tab.label = f"Events ({len(events)})" if events else "Events"
            where = (
                self.ctx.namespace_prefixes(ref.namespace)
                if ref.namespace is not None and self.ctx.namespace_prefixes is not None
                else [f"{prefix}/".encode()]
            )
            dependents = await dependents_of(self.ctx.source, ref, self.ctx.decoder, where)
        except SourceError as err:
            self.notify(str(err), severity="warning", title="events and dependents")
            return
        self._fill_relations(owners, dependents)

    def _fill_events(self, events: list[EventSummary]) -> None:
        table: DataTable[Text | str] = self.query_one("#events-table", DataTable)
        table.clear()
        now = self.ctx.clock().astimezone(timezone.utc)
        for event in events:
            seen = age(event.last_seen, now)
            style = "bold yellow" if event.type == "Warning" else ""
            table.add_row(
                seen, Text(event.type, style=style), safe_text(event.reason), str(event.count),
                safe_text(event.source), safe_text(event.message),
            )  # fmt: skip

    def _fill_relations(self, owners: list[Related], dependents: list[Related] | None) -> None:
        """The owners, then the dependents (None: still looking for them)."""
        table: DataTable[Text | str] = self.query_one("#relations-table", DataTable)
        table.clear()
        self.relations = []
        rows = [("controller" if r.controller else "owner", r) for r in owners]
        rows += [("dependent", r) for r in dependents or []]
        for relation, related in rows:
            name = f"{related.namespace}/{related.name}" if related.namespace else related.name
            key = safe_key(related.key) if related.key else Text("(kind unknown to ketui)")
            table.add_row(relation, safe_text(related.kind), safe_text(name), key)
            self.relations.append(related.key)
        if dependents is None:
            table.add_row("dependents", "", Text("looking…", style="dim"), "")
            self.relations.append(None)

    @on(DataTable.RowSelected, "#relations-table")
    def _open_related(self, event: DataTable.RowSelected) -> None:
        """Enter on an owner or a dependent goes to it."""
        row = event.cursor_row
        if 0 <= row < len(self.relations) and self.relations[row] is not None:
            key = self.relations[row]
            assert key is not None
            self.post_message(OpenKey(key))

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
        await self._diff_revisions("history-diff", by_rev[older], by_rev[newer])

    async def _diff_revisions(self, area_id: str, older: Revision, newer: Revision) -> None:
        async def obj(rev: Revision) -> object:
            if rev.type is EventType.DELETE:
                return None
            return self._shown(await self.ctx.decode(rev.kv))

        before, after = await obj(older), await obj(newer)
        labels = f"rev {older.kv.mod_revision}", f"rev {newer.kv.mod_revision}"
        await self._show_diff(area_id, before, after, *labels)

    # -- actions ---------------------------------------------------------------------------------

    def action_reveal(self) -> None:
        """Toggle secret masking for the shown object only."""
        if self.key is None:
            return
        if self.key in self.revealed:
            self.revealed.discard(self.key)
        else:
            self.revealed.add(self.key)
        self._show_title()
        self.render_texts()
        self._show_history_diff()

    def action_toggle_managed_fields(self) -> None:
        """Show or hide metadata.managedFields in the texts and diffs, for every object."""
        self.managed_fields = not self.managed_fields
        self.notify(f"managedFields {'shown' if self.managed_fields else 'hidden'}")
        self._show_title()
        self.render_texts()
        self._show_history_diff()
        if self.history is not None:
            self.run_worker(self._auto_diff(), group="value-diff", exclusive=True)

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = "meta-tab" if tab == "meta" else tab

    def yaml_text(self) -> str:
        """The YAML as shown (masked when masked), for copying."""
        return self.query_one("#yaml-text", TextView).text


def _render(
    kv: KeyValue,
    decoded: Decoded,
    view: str,
    language: str | None,
    reveal: bool,
    keyring_given: bool,
    managed_fields: bool,
    first_lines: Callable[[str], None] | None,
) -> PreparedText:
    """One text tab, rendered and cut into lines (in a thread)."""
    text = shown_text(
        kv, decoded, view, reveal=reveal, keyring_given=keyring_given,
        managed_fields=managed_fields, first_lines=first_lines,
    )  # fmt: skip
    return prepare_text(text, language)
