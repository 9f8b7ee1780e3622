"""A read-only, scrollable, highlighted text (pygments through ``textual.highlight``).

Used for JSON and diffs. The tree-sitter JSON grammar crashes the interpreter inside a running app
with tree-sitter 0.26 / tree-sitter-json 0.24 (segfault in ``TextArea(language="json")``), so JSON
is highlighted here instead; YAML keeps the tree-sitter ``TextArea``.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.highlight import highlight
from textual.widgets import Static


class CodeView(VerticalScroll, can_focus=True):
    """Shows ``text`` highlighted as ``language``; re-highlights when the theme changes."""

    DEFAULT_CSS = """
    CodeView { height: 1fr; padding: 0 1; }
    CodeView > Static { width: auto; }
    """

    def __init__(self, language: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.language = language
        self.text = ""

    def compose(self) -> ComposeResult:
        yield Static("", markup=False)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._render_text())

    def load_text(self, text: str) -> None:
        """Replace the shown text (same name as ``TextArea.load_text``)."""
        self.text = text
        self._render_text()
        self.scroll_home(animate=False)

    def _render_text(self) -> None:
        if self.language == "diff":
            self.query_one(Static).update(diff_content(self.text))
        else:
            self.query_one(Static).update(highlight(self.text, language=self.language))


#: Line styles of a diff: field changes, unified-diff headers, hunks, removed and added lines.
_DIFF_STYLES = (
    ("+++", "$text-muted"),
    ("---", "$text-muted"),
    ("@@", "$accent"),
    ("+", "$text-success"),
    ("-", "$text-error"),
)


def diff_content(text: str) -> Content:
    """Colour a :func:`ketui.ui.objview.diff_text`: field changes bold, then the unified diff."""
    lines: list[Content] = []
    in_unified = False
    for line in text.split("\n"):
        in_unified = in_unified or line.startswith("--- ")
        style = "bold" if not in_unified and line else ""
        if in_unified:
            style = next((s for prefix, s in _DIFF_STYLES if line.startswith(prefix)), "")
        lines.append(Content.styled(line, style) if style else Content(line))
    return Content("\n").join(lines)
