"""Text conversions that follow Go's rules, shared by the formatting and decoding modules."""

from __future__ import annotations

import codecs

__all__ = ["go_utf8_decode"]


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
