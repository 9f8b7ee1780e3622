"""Content search over every value of a source: ``ketui grep`` and the TUI's search.

Searching decodes only what may match. Kubernetes protobuf keeps strings as plain UTF-8 bytes, so
a literal is first looked for in the stored bytes (one C-level ``find`` per value, done by the
source where the bytes are: :meth:`ketui.core.source.Source.filter_values`); only those
candidates are decoded, and the decoded object is walked to confirm the hit and name its field
path. The byte test (:class:`Prefilter`) may let through values that do not match, never the
other way round:

- a JSON value (custom resources) escapes ``"``, ``\\``, ``<``, ``>``, ``&`` and control
  characters, so such a literal is also looked for in its JSON-escaped form;
- numbers, booleans and times are stored as varints in protobuf, not as text: a pattern that
  looks like one (``8080``, ``true``, ``2024-05-01T10:00:00Z``) decodes every value;
- a case-insensitive literal is a bytes regex (ASCII) or a text regex over the bytes read as
  UTF-8; a regular expression runs over the bytes read as UTF-8 unless it is anchored
  (``^``, ``$``, ``\\b``, lookarounds: the bytes around a field are not its text), in which case
  every value is decoded;
- values encrypted at rest are candidates only when a keyring can decrypt them; otherwise they
  are counted as not searchable.

What is matched: every scalar of the decoded object (strings as they are, numbers and booleans
as JSON prints them), not map keys; ``managedFields`` only when a field path asks for them;
Secret ``data``/``stringData`` and the last-applied annotation only when secrets are revealed
(``data`` then also as decoded text). A value that is not an object (text under ``/registry``,
say) is matched as a whole, with an empty path.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ketui.core.k8s.decoded import Decoded
from ketui.core.k8s.render import to_json
from ketui.core.k8s.secrets import LAST_APPLIED, is_secret
from ketui.core.k8s.shown import Decoder, is_object
from ketui.core.source import VALUE_SLACK, KeyValue, ProgressCallback, Source, ValueTest

try:  # the pattern parser behind ``re`` (public API has no way to ask for anchors)
    import re._parser as _sre_parse  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef,unused-ignore]

__all__ = [
    "FieldPathError",
    "Hit",
    "Prefilter",
    "Query",
    "SearchStats",
    "excerpt",
    "field_line",
    "parse_field_path",
    "path_text",
    "search",
]

ENCRYPTED_MAGIC = b"k8s:enc:"
WILD = object()
"""A field-path segment that matches any field, map key or list index (``*``, ``[*]``)."""

PathPart = str | int
Segment = str | int | object

#: A literal that may be stored as a number, boolean or time (a varint in protobuf) rather than
#: as text: the raw bytes cannot rule such values out.
_NOT_TEXT_ON_THE_WIRE = re.compile(r"[-+0-9:eETZ]*\.?[-+0-9:eETZ]*|true|false|null", re.IGNORECASE)
_GO_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                                  "\u2028": "\\u2028", "\u2029": "\\u2029"})  # fmt: skip
_JSON_ESCAPED = frozenset('"\\<>&\u2028\u2029')
_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_/:-]+")
_MANAGED_FIELDS = ("metadata", "managedFields")


class FieldPathError(ValueError):
    """A ``--field`` path that cannot be parsed; the message says where."""


@dataclass(frozen=True, slots=True)
class Query:
    """What to look for: a literal (default) or a regular expression, optionally only under a
    field path (parsed with :func:`parse_field_path`)."""

    pattern: str
    regex: bool = False
    ignore_case: bool = False
    field: tuple[Segment, ...] | None = None
    reveal_secrets: bool = False

    def compiled(self) -> re.Pattern[str]:
        """The pattern as a text regex (raises ``re.error`` for a bad ``-E`` pattern)."""
        flags = re.IGNORECASE if self.ignore_case else 0
        return re.compile(self.pattern if self.regex else re.escape(self.pattern), flags)


@dataclass(frozen=True, slots=True)
class Hit:
    """One match: the key, its revision, the field path and the whole scalar that matched, with
    the matched spans in it (for highlighting)."""

    key: bytes
    revision: int
    path: str
    value: str
    spans: tuple[tuple[int, int], ...]
    parts: tuple[PathPart, ...] = ()  # the path's segments (field_line finds them in YAML)


@dataclass(slots=True)
class SearchStats:
    """How far a search is, updated while it runs (read it from the same event loop)."""

    scanned: int = 0
    total: int = 0
    candidates: int = 0
    hits: int = 0
    encrypted: int = 0  # values encrypted at rest that could not be searched
    undecodable: int = 0  # candidates that gave no object nor text
    stopped_early: bool = False  # max_hits reached


# ----------------------------------------------------------------------------- field paths


def parse_field_path(text: str) -> tuple[Segment, ...]:
    """``spec.containers[*].image``, ``metadata.labels['app.kubernetes.io/name']``,
    ``metadata.labels.*``, ``items[0]`` into segments (names, list indexes, :data:`WILD`)."""
    segments: list[Segment] = []
    pos, n = 0, len(text)
    if not text.strip():
        raise FieldPathError("empty field path")
    while pos < n:
        if text[pos] == "[":
            close = _closing_bracket(text, pos)
            inner = text[pos + 1 : close].strip()
            if inner == "*":
                segments.append(WILD)
            elif inner.isdigit():
                segments.append(int(inner))
            elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                segments.append(inner[1:-1])
            else:
                raise FieldPathError(
                    f"bad field path {text!r}: [{inner}] at {pos} is not [N], [*] or ['key']"
                )
            pos = close + 1
            if pos < n and text[pos] == ".":
                pos += 1
                if pos == n:
                    raise FieldPathError(f"bad field path {text!r}: ends with '.'")
            continue
        end = pos
        while end < n and text[end] not in ".[":
            end += 1
        name = text[pos:end]
        if not name:
            raise FieldPathError(f"bad field path {text!r}: empty name at {pos}")
        segments.append(WILD if name == "*" else name)
        pos = end
        if pos < n and text[pos] == ".":
            pos += 1
            if pos == n:
                raise FieldPathError(f"bad field path {text!r}: ends with '.'")
    return tuple(segments)


def _closing_bracket(text: str, start: int) -> int:
    quote = None
    for pos in range(start + 1, len(text)):
        char = text[pos]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "]":
            return pos
    raise FieldPathError(f"bad field path {text!r}: '[' at {start} is never closed")


def path_text(parts: tuple[PathPart, ...] | list[PathPart]) -> str:
    """A path as ``ketui grep`` prints it: ``spec.containers[0].image``, and keys that are not
    plain names quoted: ``metadata.labels['app.kubernetes.io/name']``."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _SIMPLE_KEY.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            out.append("['" + part.replace("'", "\\'") + "']")
    return "".join(out)


def _under(path: tuple[PathPart, ...], field_path: tuple[Segment, ...]) -> bool:
    """Whether ``path`` is at or under ``field_path``."""
    if len(path) < len(field_path):
        return False
    return all(seg is WILD or seg == part for seg, part in zip(field_path, path, strict=False))


def _names_managed_fields(field_path: tuple[Segment, ...] | None) -> bool:
    return field_path is not None and tuple(field_path[:2]) == _MANAGED_FIELDS


#: A YAML mapping line: indent, "- ", then a key single-quoted, double-quoted or plain, then ":".
_YAML_KEY = re.compile(
    r"( *)(- )?(?:'((?:[^']|'')*)'|\"((?:[^\"\\]|\\.)*)\"|([^ '\"][^:]*)):(?: |$)"
)


def field_line(yaml_text: str, parts: tuple[PathPart, ...]) -> int | None:
    """The line (0-based) of the field at ``parts`` in YAML as kubectl prints it (2-space
    indent; a list's items at the indent of its key), or None where it cannot be told."""
    lines = yaml_text.split("\n")
    lo, hi = 0, len(lines)
    keys_at, items_at = 0, 0  # indent of the current mapping's keys, of its list's items
    found = None
    for part in parts:
        if isinstance(part, int):
            dash = " " * items_at + "- "
            items = [i for i in range(lo, hi) if lines[i].startswith(dash)]
            if part >= len(items):
                return None
            found = items[part]
            lo, hi = found, ([*items[part + 1 :], hi])[0]
            lines[found] = " " * (items_at + 2) + lines[found][items_at + 2 :]  # its first key
            keys_at = items_at = items_at + 2
            continue
        found = None
        for i in range(lo, hi):
            match = _YAML_KEY.match(lines[i])
            if match is None or match.group(2) or len(match.group(1)) != keys_at:
                continue
            quoted, double, plain = match.group(3), match.group(4), match.group(5)
            if quoted is not None:
                name = quoted.replace("''", "'")
            elif double is not None:
                name = json.loads(f'"{double}"')
            else:
                name = plain
            if name == part:
                found = i
                break
        if found is None:
            return None
        end = found + 1
        while end < hi and (not lines[end].strip() or _indent(lines[end]) > keys_at
                            or lines[end].startswith(" " * keys_at + "- ")):  # fmt: skip
            end += 1
        lo, hi = found + 1, end
        items_at, keys_at = keys_at, keys_at + 2
    return found


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


# ----------------------------------------------------------------------------- byte prefilter


class Prefilter:
    """The byte test of a :class:`Query`: ``prefilter.test(buf, start, end)`` is False only where
    the stored value cannot match. The value ends at ``end`` and starts at most
    :data:`~ketui.core.source.VALUE_SLACK` bytes after ``start`` (a snapshot passes its record
    from just after the key); called from worker threads, one at a time. ``test`` is a function
    made for the query's kind, as it runs once per stored value.

    Values passed over because they are encrypted at rest and no keyring can open them are
    counted in ``stats.encrypted``.
    """

    def __init__(self, query: Query, *, can_decrypt: bool, stats: SearchStats) -> None:
        self.can_decrypt = can_decrypt
        self.stats = stats
        pattern = query.pattern
        # A JSON value escapes some characters, which the two regex forms cannot look for: such
        # patterns take every JSON value (a regex may match those characters in any way)
        json_values = query.regex or (
            query.ignore_case and any(c in _JSON_ESCAPED or c < " " for c in pattern)
        )
        found: Callable[[Any, int, int], bool]
        if not query.regex and _NOT_TEXT_ON_THE_WIRE.fullmatch(pattern):
            self.test: ValueTest = self._openable
            return
        if not query.regex and not query.ignore_case:
            escaped = json.dumps(pattern, ensure_ascii=False)[1:-1].translate(_GO_JSON_ESCAPES)
            before_go_1_22 = escaped.replace("\\b", "\\u0008").replace("\\f", "\\u000c")
            needles = tuple(dict.fromkeys(t.encode() for t in (pattern, escaped, before_go_1_22)))
            if len(needles) == 1:
                needle = needles[0]

                def found(buf: Any, start: int, end: int) -> bool:
                    return bool(buf.find(needle, start, end) >= 0)
            else:

                def found(buf: Any, start: int, end: int) -> bool:
                    return any(buf.find(needle, start, end) >= 0 for needle in needles)
        elif not query.regex and pattern.isascii():
            search_bytes = re.compile(re.escape(pattern.encode()), re.IGNORECASE).search

            def found(buf: Any, start: int, end: int) -> bool:
                return search_bytes(buf, start, end) is not None
        elif query.regex and _has_anchors(query):
            self.test = self._openable
            return
        else:
            search_text = query.compiled().search

            def found(buf: Any, start: int, end: int) -> bool:
                text = bytes(buf[start:end]).decode("utf-8", "surrogateescape")
                return search_text(text) is not None

        sealed = self._sealed

        def test(buf: Any, start: int, end: int) -> bool:
            if found(buf, start, end) or (json_values and _json_value(buf, start)):
                return True
            return _encrypted(buf, start) and not sealed(buf, start)

        self.test = test

    def _sealed(self, buf: Any, start: int) -> bool:
        """Whether the value is encrypted at rest and no keyring can open it (counted)."""
        if self.can_decrypt or not _encrypted(buf, start):
            return False
        self.stats.encrypted += 1
        return True

    def _openable(self, buf: Any, start: int, end: int) -> bool:
        """The test of a pattern every value may hold: all pass but the sealed ones."""
        return not self._sealed(buf, start)


def _encrypted(buf: Any, start: int) -> bool:
    """Whether the value is encrypted at rest (starts with ``k8s:enc:``)."""
    return bool(buf.find(ENCRYPTED_MAGIC, start, start + VALUE_SLACK + len(ENCRYPTED_MAGIC)) >= 0)


def _json_value(buf: Any, start: int) -> bool:
    """Whether the value may be JSON: a ``{"`` where it starts."""
    return bool(buf.find(b'{"', start, start + VALUE_SLACK + 2) >= 0)


def _has_anchors(query: Query) -> bool:
    """Whether a regex asserts something about the text around a match (``^``, ``$``, ``\\b``,
    lookarounds): the bytes around a stored field are not the field's text, so such a pattern
    cannot be tested on the stored bytes."""
    try:
        parsed = _sre_parse.parse(query.pattern)
    except re.error:
        return True  # compiled() raises the user-facing error
    return _asserts(parsed)


def _asserts(parsed: Any) -> bool:
    for op, arg in parsed:
        name = str(op)
        if name in ("AT", "ASSERT", "ASSERT_NOT", "GROUPREF", "GROUPREF_EXISTS"):
            return True
        for item in arg if isinstance(arg, (tuple, list)) else ():
            if isinstance(item, _sre_parse.SubPattern) and _asserts(item):
                return True
            if isinstance(item, (tuple, list)):
                for sub in item:
                    if isinstance(sub, _sre_parse.SubPattern) and _asserts(sub):
                        return True
    return False


# ----------------------------------------------------------------------------- confirming


def _scalars(
    value: Any, path: list[PathPart], *, skip: Callable[[tuple[PathPart, ...]], bool]
) -> Iterator[tuple[tuple[PathPart, ...], str]]:
    """Every scalar under ``value`` with its path, as text (strings as they are, the rest as
    JSON prints them); subtrees ``skip`` refuses are left out."""
    if isinstance(value, dict):
        for name, item in value.items():
            path.append(name)
            here = tuple(path)
            if not skip(here):
                yield from _scalars(item, path, skip=skip)
            path.pop()
    elif isinstance(value, list):
        for index, item in enumerate(value):
            path.append(index)
            yield from _scalars(item, path, skip=skip)
            path.pop()
    elif value is not None:
        yield tuple(path), value if isinstance(value, str) else to_json(value, indent=None)


def _skipper(obj: dict[str, Any], query: Query) -> Callable[[tuple[PathPart, ...]], bool]:
    secret = is_secret(obj) and not query.reveal_secrets
    managed = not _names_managed_fields(query.field)

    def skip(path: tuple[PathPart, ...]) -> bool:
        if managed and path == _MANAGED_FIELDS:
            return True
        if secret:
            if len(path) == 1 and path[0] in ("data", "stringData"):
                return True
            if path == ("metadata", "annotations", LAST_APPLIED):
                return True
        return False

    return skip


def _matches(
    decoded: Decoded, kv: KeyValue, query: Query, rx: re.Pattern[str]
) -> Iterator[Hit]:
    """The hits in one decoded value."""
    obj = decoded.obj
    if not is_object(decoded):
        text = decoded.text
        if text is not None and query.field is None:
            spans = tuple(m.span() for m in rx.finditer(text) if m.end() > m.start())
            if spans:
                yield Hit(kv.key, kv.mod_revision, "", text, spans, ())
        return
    assert isinstance(obj, dict)
    reveal_data = is_secret(obj) and query.reveal_secrets
    for path, text in _scalars(obj, [], skip=_skipper(obj, query)):
        if query.field is not None and not _under(path, query.field):
            continue
        spans = tuple(m.span() for m in rx.finditer(text) if m.end() > m.start())
        if not spans and reveal_data and len(path) == 2 and path[0] == "data":
            plain = _plain_text(text)
            if plain is not None:
                spans = tuple(m.span() for m in rx.finditer(plain) if m.end() > m.start())
                text = plain if spans else text
        if spans:
            yield Hit(kv.key, kv.mod_revision, path_text(path), text, spans, path)


def excerpt(hit: Hit, context: int = 60) -> list[tuple[str, bool]]:
    """The hit's value as ``(text, matched)`` parts, cut to ``context`` characters on each side of
    its first match when it is long (with an ellipsis where cut)."""
    value, spans = hit.value, hit.spans
    start, end = 0, len(value)
    if len(value) > 2 * context + (spans[0][1] - spans[0][0]):
        start = max(0, spans[0][0] - context)
        end = min(len(value), spans[0][1] + context)
    parts: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    at = start
    for lo, hi in spans:
        if lo >= end:
            break
        lo, hi = max(lo, at), min(hi, end)
        parts += [(value[at:lo], False), (value[lo:hi], True)]
        at = hi
    parts.append((value[at:end], False))
    if end < len(value):
        parts.append(("…", False))
    return [(text, matched) for text, matched in parts if text]


def _plain_text(b64: str) -> str | None:
    """A Secret's ``data`` value as text, where it is UTF-8."""
    try:
        return base64.b64decode(b64, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _confirm(
    page: list[KeyValue], query: Query, rx: re.Pattern[str], decoder: Decoder, stats: SearchStats
) -> list[Hit]:
    """Decode a page of candidates and collect their hits (runs in a worker thread)."""
    hits: list[Hit] = []
    for kv in page:
        decoded = decoder(kv)
        encryption = decoded.encryption
        if encryption is not None and not encryption.decrypted:
            stats.encrypted += 1
            continue
        if decoded.obj is None and decoded.text is None:
            stats.undecodable += 1
            continue
        hits.extend(_matches(decoded, kv, query, rx))
    return hits


# ----------------------------------------------------------------------------- the search


@dataclass(slots=True)
class _Progress:
    """Keeps ``stats`` current with the source's (keys scanned, total), then tells the caller."""

    stats: SearchStats
    report: ProgressCallback | None = None

    def __call__(self, done: int, total: int) -> None:
        self.stats.scanned, self.stats.total = done, total
        if self.report is not None:
            self.report(done, total)


async def search(
    source: Source,
    query: Query,
    decoder: Decoder,
    *,
    prefix: bytes = b"",
    max_hits: int | None = None,
    stats: SearchStats | None = None,
    on_progress: ProgressCallback | None = None,
) -> AsyncIterator[list[Hit]]:
    """The hits under ``prefix``, in key order, in batches as they are found.

    ``stats`` (given or not) is updated as the search goes: keys scanned of the total,
    candidates decoded, hits, values that are encrypted or undecodable. Raises ``re.error`` for a
    bad regular expression before anything is read.
    """
    rx = query.compiled()
    stats = stats if stats is not None else SearchStats()
    prefilter = Prefilter(query, can_decrypt=decoder.keyring is not None, stats=stats)
    pages = source.filter_values(
        prefix, prefilter.test, on_progress=_Progress(stats, on_progress)
    )
    try:
        async for page in pages:
            stats.candidates += len(page)
            hits = await asyncio.to_thread(_confirm, page, query, rx, decoder, stats)
            if max_hits is not None and stats.hits + len(hits) >= max_hits:
                hits = hits[: max_hits - stats.hits]
                stats.hits += len(hits)
                stats.stopped_early = True
                if hits:
                    yield hits
                return
            stats.hits += len(hits)
            if hits:
                yield hits
    finally:
        await pages.aclose()
