"""Inputs the fuzzer (``scripts/fuzz.py``) found, reduced to what triggers them, kept as tests.

Each test names the fuzz input it came from (``--reproduce SEED:CHUNK:INDEX`` with the script of
the time). Tests marked ``xfail(strict=True)`` are bugs reported to the owner of the module; they
turn into failures the moment the bug is fixed, so the marker gets removed with the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ketui.core.k8s.decode import MAX_JSON_DEPTH, decode_value
from ketui.core.k8s.encryption import Keyring
from ketui.core.k8s.protobuf.decode import decode_object
from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.k8s.render import to_json, to_yaml
from ketui.core.pbwire import len_field
from tests.k8s_values import envelope

KEYRING = Keyring.from_config(
    {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [
            {
                "resources": ["secrets"],
                "providers": [{"aescbc": {"keys": [{"name": "cbc1", "secret": "A" * 43 + "="}]}}],
            }
        ],
    }
)


@pytest.mark.parametrize(
    "name",
    [b"cbc\n", b"a\rb", b"\x1b[31mred", b"\x9b2J", b"tab\there"],
)
def test_messages_are_one_printable_line(name: bytes) -> None:
    """Fuzz 1:1648:396: the key name of an encryption header is quoted in the error, and may hold
    a newline or a terminal escape sequence."""
    value = b"k8s:enc:aescbc:v1:" + name + b":" + bytes(32)
    for keyring in (KEYRING, None):
        decoded = decode_value(value, keyring=keyring)
        messages = [decoded.error or "", *decoded.warnings]
        if decoded.encryption is not None:
            messages.append(decoded.encryption.reason or "")
        for message in messages:
            assert message.isprintable(), repr(message)


def _deeper(frames: int, fn: Callable[[Any], str], arg: Any) -> str:
    return _deeper(frames - 1, fn, arg) if frames else fn(arg)


@pytest.mark.parametrize("depth", [512, 513, 990])
def test_deep_json_decodes_only_when_renderable(depth: int) -> None:
    """Fuzz 1:467:200 (found as "slow"): JSON nested ~990 deep decoded, but rendering it from a
    deeper stack than decode's (the TUI's) raised "nested too deeply". Now decode_value refuses
    anything deeper than a fixed limit, and what it accepts renders from 300 frames down."""
    value = b'{"kind":"X","a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
    decoded = decode_value(value)
    if depth > MAX_JSON_DEPTH:
        assert decoded.error is not None and "nested too deeply" in decoded.error
        return
    assert decoded.error is None, decoded.error
    for render in (to_json, to_yaml):
        assert _deeper(300, render, decoded.obj)


def crd_with_additional_properties(value: Any) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"labels": {"type": "object"}}}
    schema["properties"]["labels"]["additionalProperties"] = value  # type: ignore[index]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "kind": "Widget"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def test_crd_additional_properties_false_decodes() -> None:
    decoded = decode_value(encode_object(crd_with_additional_properties(False)))
    assert decoded.error is None, decoded.error


def test_crd_additional_properties_schema_decodes() -> None:
    """Fuzz 1:166:54. Any CRD with ``additionalProperties: {<schema>}`` (a map-typed field: very
    common) fails with "tuple indices must be integers or slices, not NoneType"."""
    crd = crd_with_additional_properties({"type": "string"})
    decoded = decode_value(encode_object(crd))
    assert decoded.error is None, decoded.error
    versions = decoded.obj["spec"]["versions"]
    assert versions[0]["schema"] == crd["spec"]["versions"][0]["schema"]


def map_entry(key: bytes, value: bytes) -> bytes:
    return len_field(1, key) + len_field(2, value)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        # Fuzz 1:868:396: Secret.data (map<string, bytes>) with a key that is not UTF-8.
        (
            "Secret",
            len_field(1, len_field(1, b"db"))
            + len_field(2, map_entry(b"user", b"x"))
            + len_field(2, map_entry(b"passwo\xb2d", b"y")),
        ),
        # Fuzz 1:1536:312: LimitRange.spec.limits[].max (map<string, Quantity>), same cause.
        (
            "LimitRange",
            len_field(
                2,
                len_field(
                    1,
                    len_field(1, b"Container")
                    + len_field(2, map_entry(b"cpu", len_field(1, b"1")))
                    + len_field(2, map_entry(b"m\xffem", len_field(1, b"1Gi"))),
                ),
            ),
        ),
    ],
)
def test_map_key_not_utf8(kind: str, raw: bytes) -> None:
    """Go prints such a key with U+FFFD; ketui's converter raises TypeError (only ValueError is
    allowed) and decode_value shows "'<' not supported between instances of 'str' and 'bytes'"."""
    try:
        obj = decode_object("v1", kind, raw)
    except ValueError:
        obj = None
    assert obj is not None
    decoded = decode_value(envelope("v1", kind, raw))
    assert decoded.error is None, decoded.error
