"""ketui.core.k8s.protobuf.schemaless: schemaless protobuf view; never raises, bounded time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketui.core.k8s.protobuf.schemaless import decode_raw
from ketui.core.pbwire import encode_varint as _varint
from ketui.core.pbwire import len_field as _len
from tests.paths import FIXTURES

ALL_PB = sorted(FIXTURES.glob("*/*.pb")) if FIXTURES.is_dir() else []
MAGIC = b"k8s\x00"


def test_scalars_strings_nested_and_repeated() -> None:
    data = (
        _len(1, b"hello")
        + _varint(2 << 3) + _varint(150)
        + _varint(3 << 3) + _varint(-1)
        + _varint(4 << 3 | 5) + (7).to_bytes(4, "little")
        + _varint(5 << 3 | 1) + (2**40).to_bytes(8, "little")
        + _len(6, _len(1, b"\x80\x01"))  # not text: a nested message holding bytes
        + _len(7, b"\xff\xfe")  # neither text nor message: bytes
        + _len(8, b"a")
        + _len(8, b"b")
        + _len(9, b"")
        + _len(10, "tab\tand é".encode())
    )  # fmt: skip
    assert decode_raw(data) == {
        "1": "hello",
        "2": 150,
        "3": -1,
        "4": 7,
        "5": 2**40,
        "6": {"1": "base64:gAE="},
        "7": "base64://4=",
        "8": ["a", "b"],
        "9": "",
        "10": "tab\tand é",
    }


def test_printable_text_wins_over_message_that_happens_to_parse() -> None:
    assert decode_raw(_len(1, b"hp")) == {"1": "hp"}  # 'h' 'p' is also field 13 = 112


def test_nesting_is_cut_at_max_depth() -> None:
    payload = _len(1, b"\x00")
    for _ in range(50):
        payload = _len(1, payload)
    value = decode_raw(payload, max_depth=5)
    for _ in range(5):
        value = value["1"]
    assert isinstance(value["1"], str)  # too deep: shown as (control-character) text
    assert "_error" not in decode_raw(payload)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x0a\x05abc", "length 5 exceeds the 3 bytes left"),
        (b"\x08", "truncated varint"),
        (b"\x08" + b"\xff" * 11, "varint longer than 10 bytes"),
        (b"\x0b\x00", "unsupported wire type 3"),
        (b"\x00\x01", "field number 0 out of range"),
        (b"\x0d\x01\x02", "truncated fixed32"),
        (b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "exceeds"),
    ],
)
def test_damaged_input_shows_error_and_rest(data: bytes, error: str) -> None:
    result = decode_raw(_len(1, b"ok") + data)
    assert result["1"] == "ok"
    assert error in result["_error"]
    assert result["_rest"].startswith("base64:")


def test_non_bytes_and_empty() -> None:
    assert decode_raw(b"") == {}
    assert "_error" in decode_raw("text")  # type: ignore[arg-type]
    assert "_error" in decode_raw(10**12)  # type: ignore[arg-type]


@pytest.mark.skipif(not ALL_PB, reason="shared fixtures not present")
def test_every_fixture_decodes_without_error() -> None:
    for path in ALL_PB:
        data = path.read_bytes()
        assert data.startswith(MAGIC), path
        result = decode_raw(data[len(MAGIC) :])
        assert "_error" not in result, path
        assert set(result) <= {"1", "2", "3", "4"}, path


@pytest.mark.skipif(not ALL_PB, reason="shared fixtures not present")
def test_pod_fixture_shape() -> None:
    data = (FIXTURES / "master" / "core.v1.Pod.pb").read_bytes()[len(MAGIC) :]
    result = decode_raw(data)
    assert result["1"] == {"1": "v1", "2": "Pod"}
    metadata = result["2"]["1"]
    assert metadata["1"] == "nameValue"
    assert metadata["11"] == {"1": "labelsKey", "2": "labelsValue"}  # map entry


def test_adversarial_input_is_linear() -> None:
    # A tower of length prefixes: every level parses, the innermost payload does not.
    payload = b"\xff" * 1000
    for _ in range(40):
        payload = _len(1, payload)
    start = time.perf_counter()
    decode_raw(payload * 200)
    assert time.perf_counter() - start < 5.0


@settings(max_examples=500, deadline=1000)
@given(st.binary(max_size=400), st.integers(0, 40))
def test_random_bytes_never_raise(data: bytes, max_depth: int) -> None:
    assert isinstance(decode_raw(data, max_depth=max_depth), dict)


@pytest.mark.skipif(not ALL_PB, reason="shared fixtures not present")
@settings(max_examples=200, deadline=1000)
@given(st.sampled_from(ALL_PB or [Path()]), st.data())
def test_mutated_fixtures_never_raise(path: Path, data: st.DataObject) -> None:
    raw = bytearray(path.read_bytes()[len(MAGIC) :])
    for _ in range(data.draw(st.integers(1, 8))):
        index = data.draw(st.integers(0, len(raw) - 1))
        raw[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    assert isinstance(decode_raw(bytes(raw[:cut])), dict)
