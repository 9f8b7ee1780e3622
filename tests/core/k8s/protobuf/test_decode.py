"""Decoder rules not covered by the upstream fixtures, and robustness on bad bytes."""

from __future__ import annotations

import json

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketui.core.k8s.protobuf.decode import (
    decode_message,
    decode_object,
    decode_storage,
    go_duration,
)
from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.k8s.protobuf.schema import message_index, view_for
from ketui.core.pbwire import len_field, parse_envelope
from tests.core.k8s.test_fixtures_decode import FIXTURES


def _cm_raw(**fields: object) -> bytes:
    obj = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "cm"}, **fields}
    return parse_envelope(encode_object(obj))[2]


def test_unknown_kind_is_none() -> None:
    assert decode_object("route.openshift.io/v1", "Route", b"", view_for(None)) is None


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        (b"v\xffv", "v\ufffdv"),
        (b"\xe2\x82v", "\ufffd\ufffdv"),  # Go: one U+FFFD per byte (Python's "replace": one)
        (b"\xed\xa0\x80", "\ufffd" * 3),  # a UTF-16 surrogate encoded in UTF-8
    ],
)
def test_invalid_utf8_prints_replacement_character_per_byte(bad: bytes, shown: str) -> None:
    raw = _cm_raw(data={"k": "X" * len(bad)}).replace(b"X" * len(bad), bad)
    out = decode_object("v1", "ConfigMap", raw)
    assert out is not None and out["data"] == {"k": shown}


def test_map_keys_not_utf8_sorted_by_bytes_like_go() -> None:
    # ConfigMap.data with keys "z", "\u00e9" (c3 a9), "\xff" (not UTF-8) and "\xff" again:
    # Go sorts keys by their bytes and keeps the last entry of a repeated key
    entries = [(b"\xff", b"1"), (b"\xc3\xa9", b"2"), (b"z", b"3"), (b"\xff", b"4")]
    raw = _cm_raw() + b"".join(len_field(2, len_field(1, k) + len_field(2, v)) for k, v in entries)
    out = decode_object("v1", "ConfigMap", raw)
    assert out is not None
    assert list(out["data"].items()) == [("z", "3"), ("\u00e9", "2"), ("\ufffd", "4")]


def test_secret_with_key_not_utf8() -> None:
    """Fuzz input (reliability suite): a Secret whose data key is not UTF-8 (``passwo\xb2d``)."""
    value = bytes.fromhex(
        "6b3873000a0c0a027631120653656372657412370a0d0a0264621a0764656661756c7412090a0362"
        "696e1202ff0012130a0870617373776fb264120768756e746572321a064f70617175651a00"
    )
    out = decode_storage(value)
    assert out is not None
    assert out["data"] == {"bin": "/wA=", "passwo\ufffdd": "aHVudGVyMg=="}
    assert list(out["data"]) == ["bin", "passwo\ufffdd"]


def test_envelope_strings_follow_go_utf8_rules() -> None:
    value = encode_object({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}})
    envelope = parse_envelope(value.replace(b"Pod", b"P\xe2\x82", 1))
    assert envelope.kind == "P\ufffd\ufffd" and envelope.api_version == "v1"


def _with_managed_fields(fields_v1: bytes) -> bytes:
    """A ConfigMap whose managedFields[0].fieldsV1 holds the given raw bytes."""
    marker: dict[str, object] = {"f:marker": {}}
    raw = _cm_raw(metadata={"name": "cm", "managedFields": [{"manager": "m", "fieldsV1": marker}]})
    old = json.dumps(marker, separators=(",", ":")).encode()
    # FieldsV1 {1: raw}; the lengths are single bytes here, adjust the three enclosing ones.
    delta = len(fields_v1) - len(old)
    at = raw.index(old)
    patched = bytearray(raw[:at] + fields_v1 + raw[at + len(old) :])
    for back in (1, 3):  # FieldsV1.raw length, ManagedFieldsEntry.fieldsV1 length
        patched[at - back] += delta
    entry_len_at = raw.index(b"\x0a\x01m") - 1  # ManagedFieldsEntry length before "manager"
    patched[entry_len_at] += delta
    meta_len_at = 1  # ConfigMap.metadata is the first field
    patched[meta_len_at] += delta
    return bytes(patched)


def test_cbor_fields_v1() -> None:
    raw = _with_managed_fields(cbor2.dumps({"f:data": {}}))
    out = decode_object("v1", "ConfigMap", raw)
    assert out is not None
    assert out["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {}}


def test_wire_fields_the_release_drops_are_reported_not_printed() -> None:
    pb = FIXTURES / "1.17" / "core.v1.Pod.pb"
    if not pb.is_file():
        pytest.skip(f"no upstream fixtures at {FIXTURES}")
    envelope = parse_envelope(pb.read_bytes())
    dropped: list[tuple[int, int]] = []
    newest = decode_object(envelope.api_version, envelope.kind, envelope.raw, dropped=dropped)
    assert newest is not None
    assert "clusterName" not in newest["metadata"]  # removed in 1.25, on the wire in 1.17 data
    meta = message_index("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    assert (meta, 15) in dropped  # ObjectMeta.clusterName is field 15
    extras = decode_object(
        envelope.api_version, envelope.kind, envelope.raw, view_for(None, wire_extras=True)
    )
    assert extras is not None
    keys = list(extras["metadata"])
    assert keys.index("clusterName") == keys.index("finalizers") + 1  # at its Go order
    old = decode_object(envelope.api_version, envelope.kind, envelope.raw, view_for("1.17"))
    assert old is not None and "clusterName" in old["metadata"]


def test_go_duration() -> None:
    cases = {
        0: "0s",
        1_500_000_000: "1.5s",
        120 * 10**9: "2m0s",
        3600 * 10**9: "1h0m0s",
        300_000_000: "300ms",
        1_500: "1.5µs",
        10: "10ns",
        -90 * 10**9: "-1m30s",
    }
    for ns, text in cases.items():
        assert go_duration(ns) == text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_but_value_error(data: bytes) -> None:
    for kind, api_version in (
        ("Pod", "v1"),
        ("CustomResourceDefinition", "apiextensions.k8s.io/v1"),
    ):
        try:
            out = decode_object(api_version, kind, data)
        except ValueError:
            continue
        assert isinstance(out, dict)
        json.dumps(out)


def _nested_not(depth: int) -> bytes:
    """JSONSchemaProps nested ``depth`` levels through its ``not`` field (number 28)."""
    data = b""
    for _ in range(depth):
        data = len_field(28, data)
    return data


def test_nesting_is_bounded() -> None:
    index = message_index(
        "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
    )
    out = decode_message(index, _nested_not(100), view_for(None))
    for _ in range(99):
        out = out["not"]
    assert out == {"not": {}}
    with pytest.raises(ValueError, match="MaxDepth"):
        decode_message(index, _nested_not(5000), view_for(None))
