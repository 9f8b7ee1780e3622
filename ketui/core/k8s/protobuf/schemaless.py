"""Schemaless protobuf view, for kinds the schema does not know (OpenShift, newer releases).

Without a schema the wire format still tells field numbers and wire types.  ``decode_raw``
turns a message into a dict keyed by field number (``"1"``, ``"2"``, ...); a number seen more
than once becomes a list in wire order.  Values:

* varint: an int, read as int64 (Kubernetes' negative int32/int64 values are sign-extended);
* fixed64 / fixed32: the unsigned int;
* length-delimited: printable UTF-8 text becomes a string; otherwise, if the bytes parse
  cleanly as a message (every tag has a known wire type and a field number in range, every
  length fits, nothing left over), a nested dict; otherwise valid UTF-8 becomes a string and
  anything else ``"base64:<standard base64>"``.

When the bytes stop being a message, the keys ``"_error"`` (what went wrong, at which offset)
and ``"_rest"`` (the unparsed bytes, base64) are added.  The function never raises; every
length is checked against the bytes that remain, nesting is cut at ``max_depth`` (deeper
payloads are shown as text or bytes) and each nesting level reads every byte a fixed number
of times, so the time is linear in ``len(data) * max_depth``.
"""

from __future__ import annotations

import base64
from typing import Any

from ketui.core.pbwire import LEN, VARINT, Field, scan_fields

__all__ = ["decode_raw"]


def _is_printable_text(text: str) -> bool:
    return all(char.isprintable() or char in "\t\n\r" for char in text)


def _length_delimited(data: bytes, start: int, stop: int, depth: int, max_depth: int) -> Any:
    chunk = data[start:stop]
    try:
        text: str | None = chunk.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and _is_printable_text(text):
        return text
    if depth < max_depth:
        fields, _, error = scan_fields(data, start, stop)
        if error is None:
            return _message(data, fields, depth + 1, max_depth)
    if text is not None:
        return text
    return "base64:" + base64.b64encode(chunk).decode("ascii")


def _message(data: bytes, fields: list[Field], depth: int, max_depth: int) -> dict[str, Any]:
    grouped: dict[str, list[Any]] = {}
    for number, wire, raw in fields:
        if wire == LEN:
            value = _length_delimited(data, raw[0], raw[1], depth, max_depth)
        elif wire == VARINT and raw >= 1 << 63:
            value = raw - (1 << 64)
        else:
            value = raw
        grouped.setdefault(str(number), []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in grouped.items()}


def decode_raw(data: bytes, *, max_depth: int = 32) -> dict[str, Any]:
    """Schemaless view of a protobuf message; never raises (see the module docstring)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return {"_error": f"not bytes: {type(data).__name__}"}
    payload = bytes(data)
    fields, stopped, error = scan_fields(payload, 0, len(payload))
    result = _message(payload, fields, 0, max(0, max_depth))
    if error is not None:
        result["_error"] = str(error)
        result["_rest"] = "base64:" + base64.b64encode(payload[stopped:]).decode("ascii")
    return result
