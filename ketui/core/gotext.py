"""Text conversions that follow Go's rules, shared by the formatting and decoding modules."""

from __future__ import annotations

import codecs

__all__ = ["JsonNumber", "go_utf8_decode", "json_number_int"]


def _replace_each_byte(exc: UnicodeError) -> tuple[str, int]:
    """Error handler: one U+FFFD per invalid byte.

    Go (``encoding/json``, ``strings.ToValidUTF8`` aside) decodes a bad sequence one byte at a
    time, so ``b"\\xe2\\x82"`` prints as two U+FFFD where Python's ``"replace"`` gives one.
    Every byte of a range Python reports is individually invalid to Go as well (the bytes after
    the first are continuation bytes), so replacing each byte matches Go exactly.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error("ketui-go-replace", _replace_each_byte)


def go_utf8_decode(data: bytes) -> str:
    """Bytes of a Go string as ``encoding/json`` prints them (invalid bytes become U+FFFD)."""
    return data.decode("utf-8", "ketui-go-replace")


class JsonNumber(float):
    """A number of embedded raw JSON (``RawExtension``, ``apiextensions`` ``JSON``) that keeps its
    text: ``encoding/json`` copies such JSON through as written (``1.0``, ``-0``, ``1E-7`` stay so
    in ``-o json``), and ``sigs.k8s.io/yaml`` reads that text again for ``-o yaml``."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number


def json_number_int(text: str) -> int | JsonNumber:
    """``parse_int`` for raw JSON: an int, but ``-0`` (the one JSON integer ``str(int)`` does
    not give back) as a :class:`JsonNumber`."""
    return JsonNumber(text) if text == "-0" else int(text)
