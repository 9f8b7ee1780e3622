"""ketui.core.pbwire: the one hand-written protobuf wire reader (envelope, KMS v2, schemaless)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketui.core.pbwire import (
    FIXED32,
    FIXED64,
    LEN,
    MAGIC,
    VARINT,
    WireError,
    encode_varint,
    iter_fields,
    len_field,
    parse_envelope,
    read_varint,
    scan_fields,
    varint_field,
)


@pytest.mark.parametrize("size", [0, 1, 127, 128, 129, 16383, 16384, 70000])
def test_lengths_around_the_fast_path_limits(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    data = len_field(3, payload) + varint_field(4, 2**63)
    assert iter_fields(data) == [(3, LEN, payload), (4, VARINT, 2**63)]


@given(st.integers(min_value=0, max_value=2**64 - 1), st.integers(min_value=1, max_value=2**29 - 1))
def test_varints_and_tags_round_trip(value: int, number: int) -> None:
    encoded = encode_varint(value)
    assert read_varint(b"\x00" + encoded, 1, len(encoded) + 1) == (value, len(encoded) + 1)
    assert iter_fields(varint_field(number, value)) == [(number, VARINT, value)]


def test_fixed_fields_are_little_endian_ints() -> None:
    data = encode_varint(1 << 3 | FIXED64) + (2**40).to_bytes(8, "little")
    data += encode_varint(2 << 3 | FIXED32) + (7).to_bytes(4, "little")
    assert iter_fields(data) == [(1, FIXED64, 2**40), (2, FIXED32, 7)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x0a\x05abc", "length 5 exceeds the 3 bytes left at byte 4"),
        (b"\x0a\x80", "truncated varint at byte 3"),
        (b"\x0a", "truncated varint at byte 3"),
        (b"\x0b\x00", "unsupported wire type 3 at byte 2"),
        (b"\x08" + b"\xff" * 11, "varint longer than 10 bytes at byte 3"),
    ],
)
def test_errors_name_the_offset(data: bytes, message: str) -> None:
    good = len_field(1, b"")
    fields, stopped, error = scan_fields(good + data, 0, len(good + data))
    assert fields == [(1, LEN, (2, 2))] and stopped == 2
    assert error is not None and str(error) == message
    with pytest.raises(WireError, match=message):
        iter_fields(good + data)


def _envelope(*fields: bytes) -> bytes:
    return MAGIC + b"".join(fields)


def test_envelope_as_kube_apiserver_writes_it() -> None:
    type_meta = len_field(1, b"v1") + len_field(2, b"Pod")
    value = _envelope(len_field(1, type_meta), len_field(2, b"\x0a\x00"), len_field(3, b""))
    env = parse_envelope(value + len_field(4, b""))
    assert env == ("v1", "Pod", b"\x0a\x00", "", "")
    assert (env.api_version, env.kind, env.raw) == ("v1", "Pod", b"\x0a\x00")


def test_envelope_follows_go_merge_rules() -> None:
    value = _envelope(
        len_field(1, len_field(1, b"v1") + len_field(2, b"Pod")),
        len_field(2, b"first"),
        varint_field(9, 5),  # unknown field: skipped
        varint_field(2, 1),  # mistyped raw: skipped
        len_field(1, len_field(2, b"Node")),  # typeMeta again: merged
        len_field(2, b"second"),  # raw again: last wins
        len_field(4, b"application/vnd.kubernetes.protobuf"),
    )
    assert parse_envelope(value) == (
        "v1",
        "Node",
        b"second",
        "",
        "application/vnd.kubernetes.protobuf",
    )


def test_envelope_errors() -> None:
    with pytest.raises(WireError, match="missing the k8s"):
        parse_envelope(b'{"kind": "Pod"}')
    with pytest.raises(WireError, match="exceeds"):
        parse_envelope(_envelope(b"\x12\x05ab"))
    with pytest.raises(WireError, match="truncated varint"):
        parse_envelope(_envelope(len_field(1, b"\x0a")))  # typeMeta itself malformed
