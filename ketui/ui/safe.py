"""Untrusted text as Rich ``Text`` for widgets: what :mod:`ketui.core.safe_text` escapes, shown
escaped and highlighted, so the reader sees a key held an ESC, a bidi override or a bad byte."""

from __future__ import annotations

from rich.text import Text

from ketui.core.safe_text import pieces

#: How an escape (``\x1b``, ``\u202e``) looks: set apart from the text around it.
ESCAPE_STYLE = "bold reverse"


def safe_text(text: str, style: str = "", *, one_line: bool = True) -> Text:
    """``text`` with its unsafe characters as highlighted escapes (tab and newline too when
    ``one_line``)."""
    out = Text(style=style, no_wrap=one_line)
    for piece, escaped in pieces(text, one_line=one_line):
        out.append(piece, style=ESCAPE_STYLE if escaped else None)
    return out


def safe_key(key: bytes, style: str = "") -> Text:
    """An etcd key (any bytes) on one line; invalid UTF-8 as ``\\xNN``."""
    return safe_text(key.decode("utf-8", "surrogateescape"), style)
