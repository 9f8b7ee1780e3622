"""`?`: the keys of the focused widget (and its containers) plus its HELP text."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Markdown


def help_markdown(widget: Widget | None, app_bindings: list[Binding], app_help: str) -> str:
    """Markdown for the help screen: HELP texts and key tables from ``widget`` up to the app."""
    sections: list[str] = []
    seen_keys: set[str] = set()
    node = widget
    while node is not None:
        text = getattr(type(node), "HELP", None)
        bindings = _class_bindings(type(node))
        if text or bindings:
            block = [text.strip()] if text else []
            rows = _rows(bindings, seen_keys)
            if rows:
                block.extend(["", _HEADER, "|---|---|---|", *rows])
            if block:
                sections.append("\n".join(block))
        parent = node.parent
        node = parent if isinstance(parent, Widget) else None
    global_rows = _rows(app_bindings, seen_keys)
    sections.append(
        "\n".join([app_help.strip(), "", _HEADER, "|---|---|---|", *global_rows])
    )
    return "\n\n".join(sections)


#: The key tables' columns: the id is what the config file's [keymap] rebinds.
_HEADER = "| key | action | id (for [keymap]) |"


def _class_bindings(cls: type) -> list[Binding]:
    """Bindings a widget class declares, its own first, then those it inherits."""
    found: list[Binding] = []
    for klass in cls.__mro__:
        declared = klass.__dict__.get("BINDINGS")
        if declared:
            found.extend(Binding.make_bindings(declared))
    return found


def _rows(bindings: list[Binding], seen: set[str]) -> list[str]:
    rows = []
    for binding in bindings:
        if not binding.description or binding.key in seen:
            continue
        seen.add(binding.key)
        key = binding.key_display or binding.key
        detail = f" — {binding.tooltip}" if binding.tooltip else ""
        ident = f"`{binding.id}`" if binding.id else ""
        rows.append(f"| `{key}` | {binding.description}{detail} | {ident} |")
    return rows


class HelpScreen(ModalScreen[None]):
    """A scrollable modal with the help text; any of escape, q, ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 95%; height: 85%; border: thick $primary;
        background: $surface; padding: 0 1; }
    """

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(self.markdown)
