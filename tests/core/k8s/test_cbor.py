"""ketui.core.k8s.cbor: Kubernetes' CBOR decoding rules, and robustness on hostile bytes."""

from __future__ import annotations

import time
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketui.core.k8s.cbor import (
    cbor_fieldsv1_to_json,
    cbor_to_json,
    is_cbor,
    looks_like_cbor_fieldsv1,
)
from ketui.core.k8s.render import to_json


def k8s_cbor(value: Any) -> bytes:
    """Encode like Kubernetes: strings as byte strings, []byte in tag 22, self-described."""

    def convert(item: Any) -> Any:
        if isinstance(item, str):
            return item.encode("utf-8")
        if isinstance(item, bytes):
            return cbor2.CBORTag(22, item)
        if isinstance(item, dict):
            return {convert(k): convert(v) for k, v in item.items()}
        if isinstance(item, list):
            return [convert(v) for v in item]
        return item

    return b"\xd9\xd9\xf7" + cbor2.dumps(convert(value), canonical=True)


def test_custom_resource_as_kubernetes_stores_it() -> None:
    data = k8s_cbor(
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "labels": {"b": "2", "a": "1"}, "generation": 3},
            "spec": {
                "replicas": 2,
                "ratio": 1.5,
                "enabled": True,
                "note": None,
                "blob": b"\x00\x01\xff",
                "items": ["x", {"y": -7}],
            },
        }  # fmt: skip
    )
    assert is_cbor(data)
    value = cbor_to_json(data)
    assert value == {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"generation": 3, "labels": {"a": "1", "b": "2"}, "name": "w"},
        "spec": {"blob": "AAH/", "enabled": True, "items": ["x", {"y": -7}], "note": None,
                 "ratio": 1.5, "replicas": 2},
    }  # fmt: skip
    # encoding/json prints a Go map with sorted keys: the result's key order is that order.
    assert list(value) == ["apiVersion", "kind", "metadata", "spec"]
    assert list(value["spec"]) == ["blob", "enabled", "items", "note", "ratio", "replicas"]


def test_keys_sorted_by_bytes_and_text_or_byte_string_keys_alike() -> None:
    data = cbor2.dumps({"b": 1, b"a": 2, "B": 3, "é": 4, "_": 5})
    assert list(cbor_to_json(data)) == ["B", "_", "a", "b", "é"]


@pytest.mark.parametrize(
    ("hex_data", "expected"),
    [
        ("d54401020304", "AQIDBA"),  # tag 21: base64url without padding
        ("d64401020304", "AQIDBA=="),  # tag 22: base64
        ("d74401020304", "01020304"),  # tag 23: hex
        # The nearest tag decides: 23([h'42', 22([21(h'43'), h'44'])])
        ("d7824142d682d541434144", ["42", ["Qw", "RA=="]]),
        ("d5a1416101", {"YQ": 1}),  # map keys get the encoding too
        ("c074323031332d30332d32315432303a30343a30305a", "2013-03-21T20:04:00Z"),
        (  # tag 0 keeps the offset and prints nanoseconds without trailing zeros
            "c07820323031332d30332d32315432303a30343a30302e3132303030302b30313a3030",
            "2013-03-21T20:04:00.12+01:00",
        ),
        ("c11a514b67b0", "2013-03-21T20:04:00Z"),  # tag 1, integer seconds
        ("c1fb41d4a9637be5c28f", "2013-12-09T09:31:27.589999914Z"),  # tag 1, float (Go math)
        ("d82580", []),  # unknown tags stand for their content
        ("d81c8101", [1]),  # no shared-reference semantics either
        ("d9d9f7d9d9f701", 1),
        ("5f4161416241614162ff", "abab"),  # indefinite-length byte string
        ("f98000", -0.0),
        ("f93e00", 1.5),
        ("3b7fffffffffffffff", -(2**63)),
        ("1b7fffffffffffffff", 2**63 - 1),
        ("41ff", "\ufffd"),  # invalid UTF-8 in a byte string prints as U+FFFD per byte
        ("42e282", "\ufffd\ufffd"),
        ("f6", None),
        ("f5", True),
    ],
)
def test_decoding_rules(hex_data: str, expected: Any) -> None:
    assert cbor_to_json(bytes.fromhex(hex_data)) == expected


@pytest.mark.parametrize(
    ("hex_data", "message"),
    [
        ("", "invalid CBOR"),
        ("a1", "invalid CBOR"),
        ("0102", "extra data"),
        ("f97e00", "NaN"),
        ("fa7f800000", "infinity"),
        ("f7", "simple values"),
        ("f0", "simple values"),
        ("c24101", "bignums"),
        ("1bffffffffffffffff", "overflows int64"),
        ("3b8000000000000000", "overflows int64"),
        ("a2416101616102", "twice"),
        ("a2616101616102", "invalid CBOR"),
        ("a10102", "must be a string"),
        ("62c328", "invalid CBOR"),  # invalid UTF-8 in a text string
        ("c06161", "not an RFC 3339 time"),
        ("c074323031332d31332d33315432303a30343a30305a", "not a valid"),
        ("c04161", "tag 0 must enclose a text string"),
        ("c16161", "tag 1 must enclose a number"),
        ("c11bffffffffffffff00", "outside years"),
        ("5bffffffffffffffff", "invalid CBOR"),
        ("9bffffffffffffffff", "invalid CBOR"),
    ],
)
def test_rejected_input_raises_value_error(hex_data: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cbor_to_json(bytes.fromhex(hex_data))


def test_nesting_is_bounded() -> None:
    assert cbor_to_json(b"\x81" * 60 + b"\x01") is not None
    with pytest.raises(ValueError):
        cbor_to_json(b"\x81" * 100_000 + b"\x01")
    with pytest.raises(ValueError):
        cbor_to_json(b"\xd8\x30" * 100_000 + b"\x01")


def test_non_bytes_input_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        cbor_to_json("d9d9f7")  # type: ignore[arg-type]


def test_is_cbor_and_fieldsv1_first_byte_rule() -> None:
    assert is_cbor(b"\xd9\xd9\xf7\xa0")
    assert not is_cbor(b'{"a":1}') and not is_cbor(b"") and not is_cbor(b"\xd9\xd9")
    for first in [0xF6, 0xA0, 0xBF, 0xC6, 0xDB]:
        assert looks_like_cbor_fieldsv1(bytes([first]))
    for text in [b"", b"{}", b"null", b" {}", b"\n{}", b"\xc5", b"\xdc", b"\x9f"]:
        assert not looks_like_cbor_fieldsv1(text)


def test_fieldsv1_cbor_prints_like_its_json() -> None:
    data = cbor2.dumps({b"f:metadata": {b"f:labels": {b".": {}, b"f:app": {}}}})
    assert looks_like_cbor_fieldsv1(data)
    assert to_json(cbor_fieldsv1_to_json(data), indent=None) == (
        '{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}'
    )
    assert cbor_fieldsv1_to_json(b"\xf6") is None
    with pytest.raises(ValueError, match="not an object"):
        cbor_fieldsv1_to_json(b"\xd9\xd9\xf7\x82\x01\x02")


# ---- properties --------------------------------------------------------------------------------


def _decodes_or_value_error(data: bytes) -> None:
    start = time.perf_counter()
    try:
        cbor_to_json(data)
    except ValueError:
        pass
    assert time.perf_counter() - start < 1.0


@settings(max_examples=500, deadline=1000)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_value_error(data: bytes) -> None:
    _decodes_or_value_error(data)
    _decodes_or_value_error(b"\xd9\xd9\xf7" + data)


_cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=10)
    | st.binary(max_size=10),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5) | st.binary(max_size=5), children, max_size=4)
    | st.builds(cbor2.CBORTag, st.sampled_from([0, 1, 2, 21, 22, 23, 28, 29, 37, 258, 55799, 999]),
                children),
    max_leaves=15,
)  # fmt: skip


@settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(_cbor_values, st.data())
def test_mutated_cbor_only_raises_value_error(value: Any, data: st.DataObject) -> None:
    try:
        encoded = bytearray(cbor2.dumps(value))
    except (cbor2.CBOREncodeError, ValueError, TypeError):
        return
    _decodes_or_value_error(bytes(encoded))
    for _ in range(3):
        if not encoded:
            break
        index = data.draw(st.integers(0, len(encoded) - 1))
        encoded[index] = data.draw(st.integers(0, 255))
    _decodes_or_value_error(bytes(encoded))
