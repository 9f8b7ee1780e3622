"""The protobuf wire format by hand: the one reader of varints, tags and lengths in ketui.

Used for the storage envelope (``k8s\\x00`` + ``runtime.Unknown``, :func:`parse_envelope`), the KMS
v2 ``EncryptedObject`` (:mod:`ketui.core.k8s.encryption`) and the schemaless view
(:mod:`ketui.core.k8s.protobuf.schemaless`). These are a few fields each, or have no schema at all,
so a bounded reader here is simpler and faster than building descriptors. Object bodies with a
schema are parsed by upb (:mod:`ketui.core.k8s.protobuf.decode`).

Every length is checked against the bytes that remain; errors are :class:`WireError` naming the
byte offset where reading went wrong.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ketui.core.gotext import go_utf8_decode

__all__ = [
    "VARINT",
    "FIXED64",
    "LEN",
    "FIXED32",
    "MAGIC",
    "Envelope",
    "Field",
    "WireError",
    "encode_varint",
    "iter_fields",
    "len_field",
    "parse_envelope",
    "read_varint",
    "scan_fields",
    "varint_field",
]

VARINT = 0
FIXED64 = 1
LEN = 2
FIXED32 = 5

MAGIC = b"k8s\x00"
_MAX_FIELD_NUMBER = (1 << 29) - 1

Field = tuple[int, int, Any]
"""(field number, wire type, value): an int for VARINT/FIXED*, (start, stop) offsets for LEN."""


class WireError(ValueError):
    """The bytes are not well-formed protobuf; the message names the byte offset."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at byte {offset}")


def read_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """Read a varint at ``pos`` (before ``end``); return (value as uint64, position after it)."""
    result = shift = 0
    start = pos
    while pos < end:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes", start)
    raise WireError("truncated varint", start)


def scan_fields(data: bytes, pos: int, end: int) -> tuple[list[Field], int, WireError | None]:
    """Split ``data[pos:end]`` into fields (see :data:`Field`); never raises.

    Returns the fields read, the offset where reading stopped (``end`` on success, else the start
    of the bad field) and the error, if any. Groups (wire types 3, 4) are errors: Kubernetes
    messages have none. One-byte tags and one- or two-byte lengths, the common case, skip the
    varint loop.
    """
    fields: list[Field] = []
    append = fields.append
    while pos < end:
        tag_at = pos
        try:
            tag = data[pos]
            if tag < 0x80:
                pos += 1
            else:
                tag, pos = read_varint(data, pos, end)
            number, wire = tag >> 3, tag & 7
            if not 1 <= number <= _MAX_FIELD_NUMBER:
                raise WireError(f"field number {number} out of range", tag_at)
            value: Any
            if wire == LEN:
                length = data[pos] if pos < end else 0x80
                if length < 0x80:
                    pos += 1
                elif pos + 1 < end and data[pos + 1] < 0x80:  # 128 B to 16 kB
                    length = (length & 0x7F) | data[pos + 1] << 7
                    pos += 2
                else:
                    length, pos = read_varint(data, pos, end)
                if length > end - pos:
                    raise WireError(f"length {length} exceeds the {end - pos} bytes left", pos)
                value = (pos, pos + length)
                pos += length
            elif wire == VARINT:
                value, pos = read_varint(data, pos, end)
            elif wire == FIXED64 or wire == FIXED32:
                size = 8 if wire == FIXED64 else 4
                if end - pos < size:
                    raise WireError(f"truncated fixed{size * 8}", pos)
                value = int.from_bytes(data[pos : pos + size], "little")
                pos += size
            else:
                raise WireError(f"unsupported wire type {wire}", tag_at)
        except WireError as exc:
            return fields, tag_at, exc
        append((number, wire, value))
    return fields, end, None


def iter_fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """All fields of a small message as (number, wire type, value): bytes for LEN, int otherwise.
    Raises :class:`WireError` when the message is malformed anywhere."""
    return [(n, w, data[v[0] : v[1]] if w == LEN else v) for n, w, v in _fields(data, 0, len(data))]


class Envelope(NamedTuple):
    """The ``runtime.Unknown`` envelope of a protobuf value (a tuple: cheap to build)."""

    api_version: str
    kind: str
    raw: bytes
    content_encoding: str
    content_type: str


def _text(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return go_utf8_decode(data)


def parse_envelope(value: bytes) -> Envelope:
    """Parse ``k8s\\x00`` + ``runtime.Unknown``; raises :class:`WireError` (a ValueError).

    Fields: 1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType. A scalar
    seen twice keeps the last value and typeMeta seen twice merges, as Go's unmarshaller does;
    unknown and mistyped fields are skipped, as Go does. Strings that are not UTF-8 get U+FFFD per
    bad byte, as Go prints them.
    """
    if value[:4] != MAGIC:
        raise WireError("missing the k8s\\x00 magic", 0)
    strings = ["", "", "", "", ""]  # index: field number (1, 2 of typeMeta; 3, 4 of Unknown)
    raw = b""
    for number, wire, span in _fields(value, 4, len(value)):
        if wire != LEN:
            continue
        if number == 2:
            raw = value[span[0] : span[1]]
        elif number == 1:
            for sub_number, sub_wire, sub_span in _fields(value, span[0], span[1]):
                if sub_wire == LEN and sub_number <= 2:
                    strings[sub_number] = _text(value[sub_span[0] : sub_span[1]])
        elif number <= 4:
            strings[number] = _text(value[span[0] : span[1]])
    return Envelope(strings[1], strings[2], raw, strings[3], strings[4])


def _fields(data: bytes, pos: int, end: int) -> list[Field]:
    fields, _, error = scan_fields(data, pos, end)
    if error is not None:
        raise error
    return fields


def encode_varint(value: int) -> bytes:
    """Encode a non-negative integer (or a negative int64, as 10 bytes) as a varint."""
    value &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def len_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes, message)."""
    return encode_varint(number << 3 | LEN) + encode_varint(len(payload)) + payload


def varint_field(number: int, value: int) -> bytes:
    """A varint field (int, enum, bool)."""
    return encode_varint(number << 3 | VARINT) + encode_varint(value)
