"""A read-only text of any size, highlighted and drawn only where it is visible.

``TextArea.load_text`` of a 1.25 MB YAML froze the screen for 10 s: it lays out and highlights the
whole document on the event loop. Here the text is cut into lines in a thread
(:func:`prepare_text`), and :meth:`TextView.render_line` styles just the lines on screen, with a
few regular expressions per line, and caches them. Showing a megabyte costs the same as showing a
screenful.

Highlighting is per line, which YAML as kubectl prints it allows: a mapping key starts its line,
a scalar follows it, and the only multi-line scalars are block scalars (``key: |``), whose lines
:func:`prepare_text` marks. JSON as ``to_json`` prints it has one member per line. Diffs are
coloured by their line prefixes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ketui.core.k8s.objdiff import diff_text
from ketui.core.safe_text import UNSAFE, pieces, visible

_YAML_KEY = re.compile(
    r"^(?P<indent> *(?:- )*)"
    r"""(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|(?:[^\s#'"-]|-(?=\S)).*?)"""
    r":(?P<rest>(?: .*)?)$"
)
_YAML_ITEM = re.compile(r"^(?P<indent> *(?:- )+)(?P<rest>.*)$")
_YAML_BLOCK = re.compile(r"(?:^|: |- )[|>][-+0-9]*$")
_JSON_MEMBER = re.compile(r'^(?P<indent>\s*)(?P<key>"(?:[^"\\]|\\.)*")(?P<colon>: )(?P<rest>.*)$')
_LITERAL = re.compile(r"^(?:-?\d[\d.eE+-]*|true|false|null|~|\.nan|\.inf|-\.inf)(?P<comma>,?)$")
_DIFF_PREFIXES = (
    ("+++", "header"),
    ("---", "header"),
    ("@@", "hunk"),
    ("+", "added"),
    ("-", "removed"),
)


@dataclass(frozen=True, slots=True)
class PreparedText:
    """A text cut into lines, with what drawing needs to know about them."""

    text: str
    language: str | None
    lines: list[str]
    width: int  # cells of the widest line
    block: bytes = b""  # YAML: 1 for a line inside a block scalar
    unified_from: int = -1  # diff: first line of the unified diff (-1: none)

    @classmethod
    def empty(cls) -> PreparedText:
        return cls("", None, [], 0)


def prepare_text(text: str, language: str | None) -> PreparedText:
    """Cut ``text`` into lines for :class:`TextView` (a megabyte takes 20-40 ms: in a thread)."""
    if "\t" in text:
        text = text.expandtabs(8)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    shown = lines if not UNSAFE.search(text) else [visible(line) for line in lines]
    width = max(map(cell_len, shown), default=0)
    block = b""
    unified_from = -1
    if language == "yaml":
        block = _block_lines(lines)
    elif language == "diff":
        unified_from = next((i for i, line in enumerate(lines) if line.startswith("--- ")), -1)
    return PreparedText(text, language, lines, width, block, unified_from)


def prepare_diff(before: Any, after: Any, before_label: str, after_label: str) -> PreparedText:
    """:func:`~ketui.core.k8s.objdiff.diff_text` of two objects, ready to show (difflib over a
    megabyte object takes seconds: in a thread)."""
    text = diff_text(before, after, before_label=before_label, after_label=after_label)
    return prepare_text(text, "diff")


def _block_lines(lines: list[str]) -> bytes:
    """Which lines belong to a block scalar (``key: |`` and the lines indented deeper)."""
    flags = bytearray(len(lines))
    inside_below = -1  # a line indented more than this is scalar text
    for number, line in enumerate(lines):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if inside_below >= 0 and (not stripped or indent > inside_below):
            flags[number] = 1
            continue
        inside_below = -1
        if _YAML_BLOCK.search(line):
            rest = stripped.lstrip("- ")
            column = indent + len(stripped) - len(rest)  # of the key, or after the last "- "
            # "- |": the text is indented past the dash; "key: |": past the key
            inside_below = column - 2 if rest[:1] in ("|", ">") else column
    return bytes(flags)


@dataclass
class _Styles:
    """Rich styles of the component classes, read once per theme."""

    get: Callable[[str], Style]
    cache: dict[str, Style] = field(default_factory=dict)

    def __call__(self, name: str) -> Style:
        style = self.cache.get(name)
        if style is None:
            style = self.cache[name] = self.get(f"text-view--{name}")
        return style


class TextView(ScrollView, can_focus=True):
    """Shows a :class:`PreparedText`; keys scroll it (arrows, page keys, home, end)."""

    COMPONENT_CLASSES = {
        "text-view--key",
        "text-view--string",
        "text-view--literal",
        "text-view--comment",
        "text-view--change",
        "text-view--header",
        "text-view--hunk",
        "text-view--added",
        "text-view--removed",
        "text-view--escape",
        "text-view--mark",
    }

    DEFAULT_CSS = """
    TextView { height: 1fr; padding: 0 1; }
    TextView > .text-view--key { color: $accent; }
    TextView > .text-view--string { color: $text-success; }
    TextView > .text-view--literal { color: $text-warning; }
    TextView > .text-view--comment { color: $text-muted; text-style: italic; }
    TextView > .text-view--change { text-style: bold; }
    TextView > .text-view--header { color: $text-muted; }
    TextView > .text-view--hunk { color: $accent; }
    TextView > .text-view--added { color: $text-success; }
    TextView > .text-view--removed { color: $text-error; }
    TextView > .text-view--escape { text-style: bold reverse; }
    TextView > .text-view--mark { background: $accent 40%; }
    """

    def __init__(self, language: str | None, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.language = language
        self.prepared = PreparedText.empty()
        self._cache: LRUCache[int, Strip] = LRUCache(2048)
        self._styles = _Styles(self.get_component_rich_style)
        self.marked: int | None = None  # a line shown highlighted (a search hit's field)

    @property
    def text(self) -> str:
        """The whole text shown."""
        return self.prepared.text

    def show(self, prepared: PreparedText) -> None:
        """Show ``prepared`` from its first line (cheap: nothing is drawn until visible)."""
        self.prepared = prepared
        self.marked = None
        self._cache.clear()
        self.virtual_size = Size(prepared.width, len(prepared.lines))
        self.scroll_home(animate=False, immediate=True)
        self.refresh()

    def mark(self, line: int) -> None:
        """Highlight ``line`` and scroll it to the middle of the view."""
        self.marked = line
        self._cache.clear()
        self.scroll_to(y=max(0, line - self.scrollable_content_region.height // 2), animate=False)
        self.refresh()

    def show_text(self, text: str) -> None:
        """Show a short text at once (a note, a placeholder); big texts go through a thread."""
        self.show(prepare_text(text, self.language))

    def notify_style_update(self) -> None:
        """CSS or theme changed: the component styles and every drawn line are stale."""
        super().notify_style_update()
        self._styles = _Styles(self.get_component_rich_style)
        self._cache.clear()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        number = int(self.scroll_y) + y
        if number >= len(self.prepared.lines):
            return Strip.blank(width, self.rich_style)
        strip = self._cache.get(number)
        if strip is None:
            segments = list(_escaped(self._segments(number), self._styles("escape")))
            strip = Strip(segments).apply_style(self.rich_style)
            if number == self.marked:
                strip = strip.apply_style(self._styles("mark"))
            self._cache[number] = strip
        scroll_x = int(self.scroll_x)
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, self.rich_style)

    def on_resize(self) -> None:
        self._cache.clear()

    # -- highlighting ----------------------------------------------------------------------------

    def _segments(self, number: int) -> list[Segment]:
        prepared = self.prepared
        line = prepared.lines[number]
        style = self._styles
        if prepared.language == "yaml":
            if prepared.block and prepared.block[number]:
                return [Segment(line, style("string"))]
            return _yaml_segments(line, style)
        if prepared.language == "json":
            return _json_segments(line, style)
        if prepared.language == "diff":
            if prepared.unified_from < 0 or number < prepared.unified_from:
                return [Segment(line, style("change"))]
            for prefix, name in _DIFF_PREFIXES:
                if line.startswith(prefix):
                    return [Segment(line, style(name))]
        return [Segment(line)]


def _escaped(segments: list[Segment], style: Style) -> Iterator[Segment]:
    """The segments without empty ones, unsafe characters as visible escapes in ``style``: no
    text from etcd reaches the terminal as a control sequence."""
    for segment in segments:
        if not segment.text:
            continue
        if not UNSAFE.search(segment.text):
            yield segment
            continue
        for piece, escaped in pieces(segment.text, one_line=False):
            base = segment.style or Style()
            yield Segment(piece, base + style if escaped else segment.style)


def _value_segment(text: str, style: Callable[[str], Style]) -> Segment:
    """A scalar after ``key: `` or ``- ``: quoted strings, literals (numbers, booleans, null)."""
    if text.startswith(("'", '"')):
        return Segment(text, style("string"))
    if _LITERAL.match(text):
        return Segment(text, style("literal"))
    if text.startswith("#"):
        return Segment(text, style("comment"))
    return Segment(text, style("string"))


def _yaml_segments(line: str, style: Callable[[str], Style]) -> list[Segment]:
    match = _YAML_KEY.match(line)
    if match is not None:
        segments = [Segment(match["key"], style("key")), Segment(":")]
        if match["indent"]:
            segments.insert(0, Segment(match["indent"]))
        rest = match["rest"]
        if rest:
            segments += [Segment(" "), _value_segment(rest[1:], style)]
        return segments
    item = _YAML_ITEM.match(line)
    if item is not None and item["rest"]:
        return [Segment(item["indent"]), _value_segment(item["rest"], style)]
    return [Segment(line)]


def _json_segments(line: str, style: Callable[[str], Style]) -> list[Segment]:
    match = _JSON_MEMBER.match(line)
    if match is None:
        stripped = line.strip()
        if stripped and stripped[0] not in "{}[]":
            indent = line[: len(line) - len(line.lstrip())]
            return [Segment(indent), _value_segment(stripped, style)]
        return [Segment(line)]
    segments = [Segment(match["indent"]), Segment(match["key"], style("key")), Segment(": ")]
    rest = match["rest"]
    if rest and rest[0] not in "{[":
        segments.append(_value_segment(rest, style))
    elif rest:
        segments.append(Segment(rest))
    return segments
