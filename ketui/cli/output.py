"""Everything the CLI writes, in one place: nothing from etcd or a file reaches the terminal as a
control sequence (:mod:`ketui.core.safe_text`).

Human text (tables, lines, notes) goes out with unsafe characters as visible escapes; JSON keeps
its exact value with them as ``\\uXXXX`` escapes; YAML and JSON renderings of objects escape them
themselves (:mod:`ketui.core.k8s.render`). Only ``-o raw`` writes bytes as they are, and only to a
file or a pipe.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from ketui.core.safe_text import json_escaped, visible, visible_line

#: ketui's own emphasis on a terminal (bold red, as grep marks matches); never from the data.
_MARK_ON, _MARK_OFF = "\x1b[1;31m", "\x1b[0m"


def note(message: str) -> None:
    """``ketui: <message>`` on stderr (errors, warnings, what was chosen)."""
    print(f"ketui: {visible(message)}", file=sys.stderr)


def line(text: str = "") -> None:
    """One line of human output on stdout."""
    print(visible(text))


def text(value: str) -> None:
    """A rendered text (YAML, JSON, a text value) on stdout, ending with a newline."""
    if value:
        sys.stdout.write(visible(value if value.endswith("\n") else value + "\n"))
    sys.stdout.flush()


def print_json(value: Any) -> None:
    """One JSON document on one line (the ``-o json`` contracts)."""
    print(json_escaped(json.dumps(value, ensure_ascii=False)))


def table(rows: Sequence[Sequence[object]], *, right: Iterable[int] = ()) -> None:
    """Aligned columns, two spaces apart; ``right`` columns right-aligned. Cells stay on their
    line: tabs and newlines in them are escaped too."""
    texts = [[visible_line(str(cell)) for cell in row] for row in rows]
    if not texts:
        return
    widths = [max(len(row[i]) for row in texts) for i in range(len(texts[0]))]
    right_set = set(right)
    for row in texts:
        cells = [
            cell.rjust(widths[i]) if i in right_set else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        print("  ".join(cells).rstrip())


def marked_line(parts: Iterable[tuple[str, bool]], *, color: bool) -> None:
    """One line of ``(text, marked)`` parts on stdout: each text made safe and kept on the line,
    the marked ones in bold red when ``color`` (the escape codes are ketui's, around safe text)."""
    out = []
    for piece, marked in parts:
        safe = visible_line(piece)
        out.append(f"{_MARK_ON}{safe}{_MARK_OFF}" if marked and color and safe else safe)
    print("".join(out))


def progress(message: str) -> None:
    """A progress line on a terminal's stderr, overwritten by the next one (``""`` clears it)."""
    sys.stderr.write("\r\x1b[K" + visible_line(message))
    sys.stderr.flush()
