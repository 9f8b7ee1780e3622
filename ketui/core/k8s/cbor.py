"""Kubernetes CBOR to JSON-ready Python values.

From apimachinery v0.31 kube-apiserver can store custom resources as CBOR (the value starts
with the self-described CBOR tag 55799, bytes ``d9 d9 f7``) and the bytes of a
``RawExtension`` or ``FieldsV1`` inside a protobuf object may be CBOR too.  Kubernetes prints
such data by decoding it with the decoder options of
``k8s.io/apimachinery/pkg/runtime/serializer/cbor/internal/modes`` into ``interface{}`` and
marshalling the result with ``encoding/json``.  This module reproduces that pipeline on top of
the ``cbor2`` library:

* Kubernetes writes Go strings as CBOR *byte* strings; a byte string decodes to a string
  (invalid UTF-8 becomes U+FFFD per bad byte, as ``encoding/json`` prints it).  Inside one of
  the "expected later encoding" tags 21/22/23 the nearest tag turns the bytes into
  base64url (no padding), base64 or hex text; Kubernetes writes ``[]byte`` as tag 22.
* Text strings must be valid UTF-8.  Integers must fit in int64.  NaN, infinities, bignums
  (tags 2, 3) and simple values other than false/true/null are rejected.
* Tag 0 (RFC 3339 text) and tag 1 (epoch seconds) become RFC 3339 text with nanoseconds,
  as Go's ``time.Time.MarshalText`` prints it.  Every other tag (including 55799) stands for
  its content.
* Map keys must be (text or byte) strings, duplicates are rejected, and the result's keys are
  sorted by their bytes, as ``encoding/json`` orders the keys of a Go map.

Everything else about the input that Kubernetes would reject raises ``ValueError``.  Nesting is
limited to 64 levels like Kubernetes' decoder; declared lengths are checked against the input
by ``cbor2`` before anything is allocated.  One limit is deliberately not copied: Kubernetes
also refuses arrays and maps of more than 1024 entries, ketui shows them.
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import cbor2

from ketui.core.gotext import go_utf8_decode

__all__ = [
    "CBOR_SELF_DESCRIBED",
    "cbor_fieldsv1_to_json",
    "cbor_to_json",
    "is_cbor",
    "looks_like_cbor_fieldsv1",
]

#: The self-described CBOR tag (55799) as Kubernetes writes it in front of every CBOR value.
CBOR_SELF_DESCRIBED = b"\xd9\xd9\xf7"

#: Same limit as Kubernetes' decoder (``MaxNestedLevels: 64``); tags count as a level.
MAX_DEPTH = 64

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

# Tags that cbor2 would turn into Python objects (datetime, Decimal, UUID, shared references,
# ...).  Kubernetes knows none of them except 0 and 1, so each is captured as a _Tag and
# interpreted below.  55799 is left to cbor2, which returns its content, as Go does.
_CBOR2_SEMANTIC_TAGS = (
    0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 100, 256, 258, 260, 261, 1004, 43000,
)  # fmt: skip

_EXPECTED_LATER_ENCODING = (21, 22, 23)


class _Tag:
    """A tag as decoded by cbor2 (hashable by identity, so it may also be a map key)."""

    __slots__ = ("number", "content")

    def __init__(self, number: int, content: Any) -> None:
        self.number = number
        self.content = content


def _semantic(number: int) -> Callable[[Any, bool], _Tag]:
    return lambda content, _immutable: _Tag(number, content)


_SEMANTIC_DECODERS = {number: _semantic(number) for number in _CBOR2_SEMANTIC_TAGS}


def _tag_hook(tag: cbor2.CBORTag, _immutable: bool) -> _Tag:
    return _Tag(tag.tag, tag.value)


def is_cbor(data: bytes) -> bool:
    """True when ``data`` starts with the self-described CBOR tag (how Kubernetes stores CBOR)."""
    return data[:3] == CBOR_SELF_DESCRIBED


def looks_like_cbor_fieldsv1(data: bytes) -> bool:
    """Apimachinery's FieldsV1 content-type rule: the first byte tells CBOR from JSON.

    A CBOR FieldsV1 begins with null (``f6``), a map head (``a0``-``bf``) or a tag head
    (``c6``-``db``); a JSON one with whitespace, ``n`` or ``{``.  The sets do not intersect.
    """
    if not data:
        return False
    first = data[0]
    return first == 0xF6 or 0xA0 <= first <= 0xBF or 0xC6 <= first <= 0xDB


def _loads(data: bytes) -> Any:
    """Parse exactly one CBOR data item with cbor2, captured tags left as ``_Tag``."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError("CBOR input must be bytes")
    decoder = cbor2.CBORDecoder(
        io.BytesIO(data),
        tag_hook=_tag_hook,
        semantic_decoders=_SEMANTIC_DECODERS,
        max_depth=MAX_DEPTH,
        allow_duplicate_keys=False,
    )
    try:
        value = decoder.decode()
    except RecursionError as exc:  # belt and braces: max_depth should stop this first
        raise ValueError("CBOR nested too deeply") from exc
    except (cbor2.CBORError, ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"invalid CBOR: {exc}") from exc
    try:
        decoder.read(1)
    except cbor2.CBORDecodeEOF:
        return value
    raise ValueError("invalid CBOR: extra data after the first data item")


def cbor_to_json(data: bytes) -> Any:
    """Decode one CBOR data item as Kubernetes does and return the value ``encoding/json`` prints.

    The result is made of ``dict`` (keys sorted), ``list``, ``str``, ``int``, ``float``,
    ``bool`` and ``None``.  Raises ``ValueError`` for anything Kubernetes would reject.
    """
    return _convert(_loads(data), None, 0)


def cbor_fieldsv1_to_json(data: bytes) -> dict[str, Any] | None:
    """Decode CBOR ``FieldsV1`` bytes: Kubernetes decodes them into ``map[string]any``.

    Returns the object, or None for CBOR null (printed as ``null``); any other top-level type
    raises ``ValueError``.
    """
    value = cbor_to_json(data)
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"FieldsV1 CBOR holds a {type(value).__name__}, not an object")
    return value


def _convert(value: Any, encoding: int | None, depth: int) -> Any:
    """Turn a cbor2 value into the JSON-ready value; ``encoding`` is the nearest tag 21-23."""
    if depth > MAX_DEPTH:
        raise ValueError("CBOR nested too deeply")
    if value is None or type(value) is bool or type(value) is str:
        return value
    if type(value) is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"CBOR integer {value} overflows int64")
        return value
    if type(value) is float:
        if math.isnan(value) or math.isinf(value):
            raise ValueError("CBOR NaN and infinity have no JSON form")
        return value
    if isinstance(value, bytes):
        return _bytes_to_text(value, encoding)
    if isinstance(value, (list, tuple)):
        return [_convert(item, encoding, depth + 1) for item in value]
    if isinstance(value, Mapping):  # cbor2 gives a frozendict inside tags
        return _convert_map(value, encoding, depth)
    if isinstance(value, _Tag):
        return _convert_tag(value, encoding, depth)
    if value is cbor2.undefined or isinstance(value, cbor2.CBORSimpleValue):
        raise ValueError("CBOR simple values other than false, true and null are not accepted")
    raise ValueError(f"unsupported CBOR item {type(value).__name__}")


def _convert_tag(tag: _Tag, encoding: int | None, depth: int) -> Any:
    number, content = tag.number, tag.content
    if number in _EXPECTED_LATER_ENCODING:
        return _convert(content, number, depth + 1)
    if number in (2, 3):
        raise ValueError("CBOR bignums (tags 2 and 3) are not accepted")
    if number == 0:
        if type(content) is not str:
            raise ValueError("CBOR tag 0 must enclose a text string")
        return _rfc3339_nano(content)
    if number == 1:
        if type(content) not in (int, float):
            raise ValueError("CBOR tag 1 must enclose a number")
        return _epoch_rfc3339_nano(content)
    return _convert(content, encoding, depth + 1)


def _convert_map(value: Mapping[Any, Any], encoding: int | None, depth: int) -> dict[str, Any]:
    entries: dict[bytes, tuple[str, Any]] = {}
    for raw_key, raw_item in value.items():
        key_bytes = _key_bytes(raw_key, encoding, depth + 1)
        if key_bytes in entries:
            raise ValueError(f"CBOR map has the key {key_bytes!r} twice")
        entries[key_bytes] = (
            go_utf8_decode(key_bytes),
            _convert(raw_item, encoding, depth + 1),
        )
    return {key: item for _, (key, item) in sorted(entries.items())}


def _key_bytes(key: Any, encoding: int | None, depth: int) -> bytes:
    """A map key as the bytes of the Go string it decodes into (tags stripped, 21-23 applied)."""
    while isinstance(key, _Tag):
        depth += 1
        if depth > MAX_DEPTH:
            raise ValueError("CBOR nested too deeply")
        if key.number in _EXPECTED_LATER_ENCODING:
            encoding = key.number
        elif key.number in (1, 2, 3) or (key.number == 0 and type(key.content) is not str):
            raise ValueError(f"CBOR tag {key.number} cannot be a map key")
        key = key.content
    if type(key) is str:
        return key.encode("utf-8")
    if isinstance(key, bytes):
        return _encode_later(key, encoding).encode("ascii") if encoding else key
    raise ValueError(f"CBOR map key must be a string, not {type(key).__name__}")


def _bytes_to_text(data: bytes, encoding: int | None) -> str:
    return _encode_later(data, encoding) if encoding else go_utf8_decode(data)


def _encode_later(data: bytes, encoding: int | None) -> str:
    if encoding == 21:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
    if encoding == 22:
        return base64.b64encode(data).decode("ascii")
    return data.hex()


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})",
    re.ASCII,
)


def _rfc3339_nano(text: str) -> str:
    """Go's ``time.Parse(time.RFC3339, text)`` then ``MarshalText`` (RFC 3339 with nanos)."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"CBOR tag 0 holds {text!r}, not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7) or "", match.group(8)
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise ValueError(f"CBOR tag 0 holds {text!r}, not a valid time: {exc}") from exc
    if zone != "Z" and (int(zone[1:3]) >= 24 or int(zone[4:6]) >= 60):
        raise ValueError(f"CBOR tag 0 holds {text!r}, whose time zone is out of range")
    if zone in ("+00:00", "-00:00"):
        zone = "Z"
    nanos = (fraction + "000000000")[:9].rstrip("0")
    stamp = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    return stamp + (f".{nanos}" if nanos else "") + zone


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _epoch_rfc3339_nano(seconds: int | float) -> str:
    """Go's ``time.Unix`` of tag 1 content, in UTC, printed by ``MarshalText``."""
    if isinstance(seconds, float):
        if math.isnan(seconds) or math.isinf(seconds):
            raise ValueError("CBOR tag 1 holds NaN or infinity")
        whole = math.trunc(seconds)
        nanos = whole * 1_000_000_000 + int((seconds - whole) * 1e9)
    else:
        nanos = seconds * 1_000_000_000
    secs, nano = divmod(nanos, 1_000_000_000)
    try:
        moment = _UNIX_EPOCH + timedelta(seconds=secs)
    except OverflowError as exc:
        raise ValueError("CBOR tag 1 time is outside years 1 to 9999") from exc
    fraction = f"{nano:09d}".rstrip("0")
    stamp = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    return stamp + (f".{fraction}" if fraction else "") + "Z"
