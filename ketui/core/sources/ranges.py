"""The key range of a prefix, as etcd's ``--prefix`` selects it: written once for every source."""

from __future__ import annotations


def prefix_end(prefix: bytes) -> bytes | None:
    """The first key after every key that starts with ``prefix``; ``None``: no end (an empty
    prefix, or one of only ``0xff`` bytes, reaches to the end of the keyspace).

    etcd's ``GetPrefixRangeEnd``: drop trailing ``0xff`` bytes, then add one to the last byte.
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def etcd_range(prefix: bytes) -> tuple[bytes, bytes]:
    """``(key, range_end)`` of a Range or Watch request for ``prefix``; ``b"\\0"`` means "every key
    from ``key`` on" in etcd's API, and an empty key is sent as ``b"\\0"`` too."""
    return (prefix or b"\0"), prefix_end(prefix) or b"\0"
