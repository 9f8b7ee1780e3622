"""Protobuf wire format for the few small, fixed messages ketui reads and writes by hand.

These are the storage envelope (``runtime.Unknown``) and the KMS v2 ``EncryptedObject``: a few
fields each, so a bounded reader here is simpler and faster than building descriptors. Object
bodies are decoded elsewhere (:mod:`ketui.core.proto_decode`, :mod:`ketui.core.rawproto`).
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT = 0
FIXED64 = 1
LEN = 2
FIXED32 = 5

_MAX_VARINT_BYTES = 10


class WireError(ValueError):
    """The bytes are not well-formed protobuf."""


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Read a varint at ``pos``; return (value, position after it)."""
    result = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(data):
            raise WireError(f"varint cut short at byte {pos + i}")
        byte = data[pos + i]
        result |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos + i + 1
    raise WireError(f"varint longer than {_MAX_VARINT_BYTES} bytes at byte {pos}")


def iter_fields(data: bytes, start: int = 0) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for each field from ``start`` on; values are bytes
    for LEN/FIXED fields, int for VARINT. Error messages give byte offsets into ``data``.

    Groups (wire types 3 and 4) are rejected: none of the messages read here use them.
    """
    pos = start
    end = len(data)
    while pos < end:
        tag, pos = read_varint(data, pos)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise WireError(f"field number 0 at byte {pos}")
        value: int | bytes
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
        elif wire_type == LEN:
            length, pos = read_varint(data, pos)
            if length > end - pos:
                raise WireError(f"field {number} claims {length} bytes, only {end - pos} left")
            value = data[pos : pos + length]
            pos += length
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            if size > end - pos:
                raise WireError(f"field {number} cut short")
            value = data[pos : pos + size]
            pos += size
        else:
            raise WireError(f"unsupported wire type {wire_type} for field {number}")
        yield number, wire_type, value


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
