"""Small stored values built by hand, byte by byte, for the decoder tests.

They do not depend on ketui's encoder, so a bug there cannot hide a bug in the decoder.
"""

from __future__ import annotations

from ketui.core.pbwire import len_field


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """``k8s\\x00`` + runtime.Unknown{typeMeta{apiVersion, kind}, raw, "", ""} as Go writes it."""
    type_meta = len_field(1, api_version.encode()) + len_field(2, kind.encode())
    return (
        b"k8s\x00"
        + len_field(1, type_meta)
        + len_field(2, raw)
        + len_field(3, b"")
        + len_field(4, b"")
    )


def pod_value(name: str = "www", namespace: str = "default") -> bytes:
    """A v1 Pod with just a name and namespace: metadata(1){name(1), namespace(3)}, spec, status."""
    metadata = len_field(1, name.encode()) + len_field(3, namespace.encode())
    return envelope("v1", "Pod", len_field(1, metadata) + len_field(2, b"") + len_field(3, b""))


def secret_value(name: str = "db", data: dict[str, bytes] | None = None) -> bytes:
    """A v1 Secret: metadata(1){name, namespace}, data(2) map<string, bytes>, type(3)."""
    metadata = len_field(1, name.encode()) + len_field(3, b"default")
    raw = len_field(1, metadata)
    for key, value in sorted((data or {}).items()):
        raw += len_field(2, len_field(1, key.encode()) + len_field(2, value))
    raw += len_field(3, b"Opaque")
    return envelope("v1", "Secret", raw)
