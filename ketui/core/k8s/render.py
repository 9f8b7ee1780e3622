"""Output formatting: the one place that turns decoded objects into text.

* ``to_json`` prints what Go's ``encoding/json`` prints (``json.MarshalIndent``, which is what
  ``kubectl get -o json`` uses with four spaces): keys in dict order, ``<``, ``>``, ``&``,
  U+2028 and U+2029 escaped, Go's float format.
* ``to_yaml`` prints what ``kubectl get -o yaml`` prints: ``sigs.k8s.io/yaml`` turns the JSON
  into YAML with go-yaml v2, which re-reads the JSON (numbers become int or float by their
  text), sorts the keys of every mapping with its "natural" order, quotes strings that would
  read back as something else, uses literal blocks for multi-line strings and folds long
  lines at 80 columns.  go-yaml's emitter is a port of libyaml, so the events are handed to
  PyYAML's libyaml binding (``CEmitter``) when present, which writes the same bytes.
* ``hexdump`` is the ``hexdump -C`` layout used by the raw-bytes view.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import yaml

from ketui.core.gotext import JsonNumber
from ketui.core.safe_text import UNSAFE, UNSAFE_NON_C0

__all__ = [
    "FORMATS",
    "go_json_float",
    "hexdump",
    "to_json",
    "to_text",
    "to_yaml",
]

FORMATS = ("yaml", "json")

# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------

_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
# Control characters, quote, backslash, the HTML-sensitive characters encoding/json escapes by
# default, the two JavaScript line terminators, and lone surrogates (which Go cannot hold in a
# string: its decoder turns them into U+FFFD). Unlike Go, also DEL, C1 and the invisible and
# reordering characters (ketui.core.safe_text): the same JSON value, safe on a terminal.
_JSON_NEEDS_ESCAPE = re.compile(f'[\x00-\x1f"\\\\<>&\ud800-\udfff{UNSAFE_NON_C0}]')


def _json_escape_char(match: re.Match[str]) -> str:
    char = match.group()
    short = _JSON_ESCAPES.get(char)
    if short is not None:
        return short
    if "\ud800" <= char <= "\udfff":
        return "\ufffd"
    return f"\\u{ord(char):04x}"


def _json_string(text: str) -> str:
    return '"' + _JSON_NEEDS_ESCAPE.sub(_json_escape_char, text) + '"'


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(value) > 0`` and the decimal point position.

    ``value == 0.DIGITS * 10**point``.  Python's ``repr`` and Go's ``strconv`` both pick the
    shortest digit string that reads back as the same float (the closest one on ties).
    """
    _, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    text = "".join(map(str, digits))
    assert isinstance(exponent, int)
    return text, len(text) + exponent


def _positional(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _scientific(digits: str, point: int) -> str:
    """Go's ``%e`` with shortest precision: one digit, fraction, ``e±XX`` (two digits min)."""
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exponent = point - 1
    sign = "-" if exponent < 0 else "+"
    return f"{mantissa}e{sign}{abs(exponent):02d}"


# Go refuses to marshal NaN and infinities (a protobuf double can hold them); ketui prints
# these placeholders instead of failing: JavaScript's names in JSON, go-yaml's in YAML.
_NON_FINITE_JSON = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_NON_FINITE_YAML = {"nan": ".nan", "inf": ".inf", "-inf": "-.inf"}


def go_json_float(value: float) -> str:
    """A float64 as ``encoding/json`` prints it: ``1``, ``0.5``, ``1e-7``, ``1e+21``, ``-0``.

    Raises ``ValueError`` for NaN and infinities, as Go's ``json.Marshal`` fails on them.
    """
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {value!r}")
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    digits, point = _shortest_digits(value)
    magnitude = abs(value)
    if magnitude < 1e-6 or magnitude >= 1e21:
        text = _scientific(digits, point)
        # encoding/json shortens a one-digit negative exponent: e-07 -> e-7.
        if text[-4:-1] == "e-0":
            text = text[:-2] + text[-1]
        return sign + text
    return sign + _positional(digits, point)


def _go_yaml_float(value: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)`` as go-yaml v2 prints a float."""
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    if math.isinf(value):
        return sign + ".inf"
    digits, point = _shortest_digits(value)
    exponent = point - 1
    if exponent < -4 or exponent >= 6:  # shortest 'g' switches to %e at precision 6
        return sign + _scientific(digits, point)
    return sign + _positional(digits, point)


def _json_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return _NON_FINITE_JSON[repr(value)]
        return go_json_float(value)
    raise ValueError(f"json: unsupported type: {type(value).__name__}")


def _json_lines(value: Any, indent: str, level: int, out: list[str]) -> None:
    if isinstance(value, Mapping):
        if not value:
            out.append("{}")
            return
        inner = "\n" + indent * (level + 1)
        out.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"json: unsupported map key type: {type(key).__name__}")
            out.append(inner if first else "," + inner)
            first = False
            out.append(_json_string(key))
            out.append(": ")
            _json_lines(item, indent, level + 1, out)
        out.append("\n" + indent * level + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = "\n" + indent * (level + 1)
        out.append("[")
        for index, item in enumerate(value):
            out.append(inner if index == 0 else "," + inner)
            _json_lines(item, indent, level + 1, out)
        out.append("\n" + indent * level + "]")
    else:
        out.append(_json_scalar(value))


def _json_compact(value: Any, out: list[str]) -> None:
    if isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise ValueError(f"json: unsupported map key type: {type(key).__name__}")
            if index:
                out.append(",")
            out.append(_json_string(key))
            out.append(":")
            _json_compact(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _json_compact(item, out)
        out.append("]")
    else:
        out.append(_json_scalar(value))


def to_json(obj: Any, indent: int | None = 4) -> str:
    """``obj`` as Go's ``json.MarshalIndent(obj, "", <indent spaces>)`` prints it.

    ``indent=None`` gives the compact ``json.Marshal`` form.  There is no trailing newline
    (``kubectl get -o json`` prints one after this text).  NaN and infinities, which Go refuses
    to print, come out as ``NaN``, ``Infinity``, ``-Infinity``.  Raises ``ValueError`` for
    values no decoder produces (non-string keys, other types) and for nesting deeper than
    Python's recursion limit.
    """
    out: list[str] = []
    try:
        if indent is None:
            _json_compact(obj, out)
        else:
            _json_lines(obj, " " * indent, 0, out)
    except RecursionError as exc:
        raise ValueError("json: value nested too deeply") from exc
    return "".join(out)


# --------------------------------------------------------------------------------------------
# YAML (sigs.k8s.io/yaml JSONToYAML: go-yaml v2 reads the JSON, then writes YAML)
# --------------------------------------------------------------------------------------------

_YAML_SPECIAL_WORDS = frozenset(
    "y Y yes Yes YES true True TRUE on On ON n N no No NO false False FALSE off Off OFF "
    "~ null Null NULL .nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF".split()
)
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?", re.ASCII)
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?", re.ASCII)
_BASE60_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?", re.ASCII)
_YAML_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:(?:[Tt]|( ))([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?"
    r"(Z|[-+][0-9]{2}:[0-9]{2})?)?",
    re.ASCII,
)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _is_yaml_timestamp(text: str) -> bool:
    """go-yaml v2 ``parseTimestamp``: ``time.Parse`` with its four layouts."""
    match = _YAML_TIMESTAMP.fullmatch(text)
    if match is None:
        return False
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    if match[5] is not None:
        if match[4] is not None and match[8] is not None:  # "2006-1-2 15:4:5" has no zone
            return False
        if match[4] is None and match[8] is None:  # the T/t layouts require a zone
            return False
        if int(match[5]) > 23 or int(match[6]) > 59 or int(match[7]) > 59:
            return False
    if not 1 <= month <= 12 or day < 1:
        return False
    limit = 28 if month == 2 and not _is_leap(year) else _DAYS_IN_MONTH[month - 1]
    return day <= limit


_BASE_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


def _go_parse_int(text: str, unsigned: bool) -> bool:
    """Whether ``strconv.ParseInt(text, 0, 64)`` (``ParseUint`` if ``unsigned``) accepts it."""
    body, negative = text, False
    if body[:1] in ("+", "-"):
        if unsigned:
            return False
        negative, body = body[0] == "-", body[1:]
    base = 10
    if len(body) > 2 and body[0] == "0" and body[1] in "xXoObB":
        base = {"x": 16, "o": 8, "b": 2}[body[1].lower()]
        body = body[2:]
    elif len(body) > 1 and body[0] == "0":
        base, body = 8, body[1:]
    if not body or any(c not in _BASE_DIGITS[base] for c in body):
        return False
    number = int(body, base)
    if unsigned:
        return number < 1 << 64
    return number <= (1 << 63) - (0 if negative else 1)


def _yaml_resolves_to_str(text: str) -> bool:
    """go-yaml v2 ``resolve("", text)`` gives ``!!str``, so the text can be written plain."""
    if text == "":
        return False  # the empty plain scalar is null
    first = text[0]
    if first not in "+-0123456789yYnNtTfFoO~.":
        return True
    if text in _YAML_SPECIAL_WORDS:
        return False
    if first in "yYnNtTfFoO~":
        return True
    if first == ".":
        return not (_DOT_FLOAT.fullmatch(text) and _parses_as_finite_float(text))
    if _is_yaml_timestamp(text):
        return False
    plain = text.replace("_", "")
    if _go_parse_int(plain, False) or _go_parse_int(plain, True):
        return False
    return not (_YAML_STYLE_FLOAT.fullmatch(plain) and _parses_as_finite_float(plain))


def _parses_as_finite_float(text: str) -> bool:
    """``strconv.ParseFloat`` succeeds (it fails with a range error where Python gives inf)."""
    return not math.isinf(float(text))


def _yaml_number(json_text: str) -> str:
    """The YAML text for a JSON number text, as go-yaml v2 reads it back and writes it."""
    plain = json_text
    if _go_parse_int(plain, False) or _go_parse_int(plain, True):
        return str(int(plain))
    number = float(plain)
    if math.isinf(number):  # ParseFloat overflow: go-yaml keeps the text as a string
        return json_text
    return _go_yaml_float(number)


def _go_yaml_key_less(a: str, b: str) -> bool:
    """go-yaml v2 ``keyList.Less`` for two string keys (letters vs digit runs, "natural")."""
    ar, br = a, b
    for i in range(min(len(ar), len(br))):
        if ar[i] == br[i]:
            continue
        al, bl = ar[i].isalpha(), br[i].isalpha()
        if al and bl:
            return ar[i] < br[i]
        if al or bl:
            return bl
        an = bn = 0
        if ar[i] == "0" or br[i] == "0":
            j = i - 1
            while j >= 0 and ar[j].isdecimal():
                if ar[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(ar) and ar[ai].isdecimal():
            an = _wrap_int64(an * 10 + ord(ar[ai]) - 48)
            ai += 1
        bi = i
        while bi < len(br) and br[bi].isdecimal():
            bn = _wrap_int64(bn * 10 + ord(br[bi]) - 48)
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ar[i] < br[i]
    return len(ar) < len(br)


def _wrap_int64(number: int) -> int:
    return (number + (1 << 63)) % (1 << 64) - (1 << 63)


def _key_cmp(a: str, b: str) -> int:
    if _go_yaml_key_less(a, b):
        return -1
    if _go_yaml_key_less(b, a):
        return 1
    return 0


_KEY_ORDER = functools.cmp_to_key(_key_cmp)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _scalar_event(text: str, style: str | None) -> yaml.ScalarEvent:
    return yaml.ScalarEvent(None, None, (True, True), text, style=style)


def _string_event(text: str) -> yaml.ScalarEvent:
    """go-yaml v2 ``stringv``: literal block if multi-line, plain if it reads back as a string.

    Unlike go-yaml, a string holding a control, invisible or reordering character
    (:data:`~ketui.core.safe_text.UNSAFE`) is always double-quoted, where :func:`to_yaml` can
    escape every such character: the same value, and nothing that can drive a terminal.
    """
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)  # what Go's JSON round trip makes of them
    if UNSAFE.search(text):
        return _scalar_event(text, '"')
    if "\n" in text:
        return _scalar_event(text, "|")
    plain = _yaml_resolves_to_str(text) and _BASE60_FLOAT.fullmatch(text) is None
    return _scalar_event(text, None if plain else '"')


def _sorted_keys(mapping: Mapping[Any, Any]) -> list[str]:
    keys = list(mapping)
    for key in keys:
        if not isinstance(key, str):
            raise ValueError(f"json: unsupported map key type: {type(key).__name__}")
    # Between two all-letter strings go-yaml's order is plain code point order.
    if all(key.isalpha() for key in keys):
        return sorted(keys)
    return sorted(keys, key=_KEY_ORDER)


def _yaml_events(value: Any, out: list[yaml.Event]) -> None:
    if isinstance(value, str):
        out.append(_string_event(value))
    elif isinstance(value, Mapping):
        out.append(yaml.MappingStartEvent(None, None, True, flow_style=False))
        for key in _sorted_keys(value):
            out.append(_string_event(key))
            _yaml_events(value[key], out)
        out.append(yaml.MappingEndEvent())
    elif isinstance(value, (list, tuple)):
        out.append(yaml.SequenceStartEvent(None, None, True, flow_style=False))
        for item in value:
            _yaml_events(item, out)
        out.append(yaml.SequenceEndEvent())
    elif value is None or isinstance(value, bool):
        out.append(_scalar_event(_json_scalar(value), None))
    elif isinstance(value, JsonNumber):
        out.append(_scalar_event(_yaml_number(value.text), None))
    elif isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        out.append(_scalar_event(_NON_FINITE_YAML[repr(value)], None))
    elif isinstance(value, (int, float)):
        out.append(_scalar_event(_yaml_number(_json_scalar(value)), None))
    else:
        raise ValueError(f"yaml: unsupported type: {type(value).__name__}")


_YAML_DUMPER: Any = getattr(yaml, "CDumper", yaml.Dumper)


#: Levels of nesting whose events :func:`_lazy_yaml_events` makes one child at a time.
_LAZY_DEPTH = 4


def _lazy_yaml_events(value: Any, depth: int = _LAZY_DEPTH) -> Iterator[yaml.Event]:
    """The events of :func:`_yaml_events`, made as the emitter asks for them in the top
    ``depth`` levels: the first lines of a big object are written long before its last, and the
    whole is faster too (a third less time at a megabyte: no list of every event is kept)."""
    if depth == 0 or not isinstance(value, (Mapping, list, tuple)) or isinstance(value, str):
        out: list[yaml.Event] = []
        _yaml_events(value, out)
        yield from out
    elif isinstance(value, Mapping):
        yield yaml.MappingStartEvent(None, None, True, flow_style=False)
        for key in _sorted_keys(value):
            yield _string_event(key)
            yield from _lazy_yaml_events(value[key], depth - 1)
        yield yaml.MappingEndEvent()
    else:
        yield yaml.SequenceStartEvent(None, None, True, flow_style=False)
        for item in value:
            yield from _lazy_yaml_events(item, depth - 1)
        yield yaml.SequenceEndEvent()


class _FirstLines:
    """The YAML emitter's output stream: hands the first complete lines over once."""

    def __init__(self, first_lines: Callable[[str], None] | None) -> None:
        self._first_lines = first_lines
        self.parts: list[str] = []

    def write(self, data: str) -> None:
        self.parts.append(data)
        if self._first_lines is not None and "\n" in data:
            head = "".join(self.parts)
            self._first_lines(_finished(head[: head.rindex("\n") + 1]))
            self._first_lines = None


def to_yaml(obj: Any, *, first_lines: Callable[[str], None] | None = None) -> str:
    """``obj`` as ``kubectl get -o yaml`` prints it (ends with a newline).

    ``first_lines``, when given, is called once with the first complete lines as soon as the
    emitter writes them (16 KB or so: a first screen of a megabyte object in a few milliseconds,
    where the whole takes a third of a second); the returned text is the whole, as without it.

    NaN and infinities print as ``.nan``, ``.inf``, ``-.inf``.  Raises ``ValueError`` like
    ``to_json``.
    """
    options: dict[str, Any] = {"Dumper": _YAML_DUMPER, "width": 80, "indent": 2}
    stream = _FirstLines(first_lines)
    events = itertools.chain(
        (yaml.StreamStartEvent(), yaml.DocumentStartEvent(explicit=False)),
        _lazy_yaml_events(obj),
        (yaml.DocumentEndEvent(explicit=False), yaml.StreamEndEvent()),
    )
    try:
        yaml.emit(events, stream=stream, allow_unicode=True, **options)
        text = "".join(stream.parts)
    except RecursionError as exc:
        raise ValueError("yaml: value nested too deeply") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"yaml: {exc}") from exc
    assert isinstance(text, str)
    return _finished(text)


def _finished(text: str) -> str:
    """The emitter's text (whole, or its first lines) as kubectl prints it."""
    # libyaml >= 0.2.5 closes a document that ends in a "|+" block with "..."; go-yaml's port
    # does not (its encoder clears open_ended before the stream end).  At column 0 on the
    # last line this can only be that marker: a "..." string would have been quoted.
    if text.endswith("\n...\n"):
        text = text[:-4]
    # libyaml writes the invisible and reordering characters as they are, even double-quoted;
    # only double-quoted scalars hold them (_string_event), where an escape means the same.
    return _YAML_RAW_UNSAFE.sub(_yaml_escape, text)


_YAML_RAW_UNSAFE = re.compile(f"[{UNSAFE_NON_C0}]")


def _yaml_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}"


# --------------------------------------------------------------------------------------------
# Helpers for the UI
# --------------------------------------------------------------------------------------------


def to_text(obj: Any, fmt: str) -> str:
    """``obj`` in output format ``fmt`` (``"yaml"`` or ``"json"``), as kubectl prints it.

    Both forms end with a newline, like ``kubectl get -o yaml|json``.
    """
    if fmt == "yaml":
        return to_yaml(obj)
    if fmt == "json":
        return to_json(obj) + "\n"
    raise ValueError(f"unknown output format {fmt!r} (expected one of: {', '.join(FORMATS)})")


def hexdump(data: bytes, width: int = 16) -> str:
    """``hexdump -C`` layout: offset, hex bytes (extra gap mid-row), ``|ASCII|`` column.

    Non-printable bytes show as ``.``; the last line is the total length, as ``hexdump -C``
    prints it.  Empty input gives an empty string.
    """
    if width < 1:
        raise ValueError("hexdump width must be at least 1")
    if not data:
        return ""
    half = (width + 1) // 2
    hex_width = width * 3 - 1 + (1 if width > half else 0)
    lines = []
    for offset in range(0, len(data), width):
        chunk = data[offset : offset + width]
        left = " ".join(f"{byte:02x}" for byte in chunk[:half])
        right = " ".join(f"{byte:02x}" for byte in chunk[half:])
        hex_part = left + ("  " + right if right else "")
        text = "".join(chr(byte) if 0x20 <= byte < 0x7F else "." for byte in chunk)
        lines.append(f"{offset:08x}  {hex_part:<{hex_width}}  |{text}|")
    lines.append(f"{len(data):08x}")
    return "\n".join(lines) + "\n"


def human_bytes(size: int | None) -> str:
    """``1536`` -> ``"1.5 KiB"``; ``None`` (not known) -> ``"?"``."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
