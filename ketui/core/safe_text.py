"""Text written by others, made safe to show: the one place that decides what may reach a screen.

Keys, names, annotations, event messages and file names come from whoever could write to etcd or
hand over a file, and ketui shows them to an administrator who is often root on a control-plane
node (the class of kubectl's CVE-2021-25743). Before any of it is written to a terminal, a table,
a notification or a widget, the characters below are replaced by visible escapes (``\\x1b``,
``\\u202e``): they are never emitted as they are.

* C0 controls other than tab and newline (ESC starts every terminal sequence; CR overwrites a line),
  DEL, and C1 controls U+0080-U+009F (``\\x9b`` is a one-byte CSI to many terminals);
* invisible or reordering characters that can disguise a key: bidi embeddings, overrides and
  isolates (U+202A-U+202E, U+2066-U+2069), marks (U+200E, U+200F, U+061C), zero-width characters
  (U+200B-U+200D, U+2060-U+2064, U+FEFF), line and paragraph separators (U+2028, U+2029) and the
  interlinear annotation marks (U+FFF9-U+FFFB);
* bytes that are not UTF-8 (decoded with ``surrogateescape``): ``\\xNN``.

Machine output keeps its own exact escaping: :func:`json_escaped` for JSON, and the YAML renderer
double-quotes and escapes any string holding one of these (:mod:`ketui.core.k8s.render`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_C0 = "\x00-\x08\x0b-\x1f"  # C0 controls but tab and newline
#: As a regex character class: the unsafe characters that are not C0 controls (which every JSON
#: and YAML encoder escapes already): DEL, C1 and the invisible and reordering characters.
UNSAFE_NON_C0 = (
    "\x7f-\x9f"  # DEL, C1
    "\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb"
)
_NOT_UTF8 = "\udc80-\udcff"  # bytes that were not UTF-8 (surrogateescape)
_UNSAFE_CLASS = _C0 + UNSAFE_NON_C0 + _NOT_UTF8
#: One character that must not be written as it is (tab and newline are allowed).
UNSAFE = re.compile(f"[{_UNSAFE_CLASS}]")
#: The same, and tab and newline too: for text that must stay on one line.
UNSAFE_IN_LINE = re.compile(f"[{_UNSAFE_CLASS}\t\n]")


def escape_char(char: str) -> str:
    """The visible escape of one character: ``\\x1b``, ``\\u202e``, ``\\xff`` for a byte that was
    not UTF-8, ``\\n`` and ``\\t``."""
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def _escape(match: re.Match[str]) -> str:
    return escape_char(match.group())


def visible(text: str) -> str:
    """``text`` with every unsafe character as its escape (tab and newline kept)."""
    return UNSAFE.sub(_escape, text)


def visible_line(text: str) -> str:
    """``text`` on one line: unsafe characters, tabs and newlines as escapes."""
    return UNSAFE_IN_LINE.sub(_escape, text)


def visible_key(key: bytes) -> str:
    """An etcd key (any bytes) as one safe line; invalid UTF-8 as ``\\xNN``."""
    return visible_line(key.decode("utf-8", "surrogateescape"))


def pieces(text: str, *, one_line: bool = True) -> Iterator[tuple[str, bool]]:
    """``text`` cut into ``(piece, escaped)``: runs of safe text, and escapes of unsafe characters
    (each its own piece, so a UI can style what was escaped)."""
    pattern = UNSAFE_IN_LINE if one_line else UNSAFE
    start = 0
    for match in pattern.finditer(text):
        if match.start() > start:
            yield text[start : match.start()], False
        yield escape_char(match.group()), True
        start = match.end()
    if start < len(text):
        yield text[start:], False


_JSON_UNSAFE = re.compile(f"[{UNSAFE_NON_C0}]")


def json_escaped(text: str) -> str:
    """JSON text (``json.dumps`` output, which escapes C0 controls already) with the other unsafe
    characters as ``\\uXXXX`` escapes: the same JSON value, and nothing that can drive a terminal.
    They can only stand inside JSON strings, where the escapes mean the same characters."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
