"""Stored quantities as kube-apiserver prints them (``ketui.core.k8s.quantity``).

The expected texts are upstream's own answers: what the test oracle (tests/oracle, built from
Kubernetes 0.36.4's apimachinery) printed for each stored text; None where it refused the object.
tests/oracle/test_oracle.py asks the oracle again for these and 2,000 random ones.
"""

from __future__ import annotations

import time

import pytest

from ketui.core.k8s.decode import decode_value
from ketui.core.k8s.quantity import canonical_quantity
from ketui.core.pbwire import len_field
from tests.k8s_values import envelope

UPSTREAM = [
    ("0", "0"), ("1", "1"), ("+1", "+1"), ("-1", "-1"), ("01", "01"), ("0001Mi", "0001Mi"),
    ("1.", "1."), (".5", "500m"), (".", "0"), ("-0", "0"), ("0.0", "0"), ("1.000", "1"),
    ("1.5", "1500m"), ("100m", "100m"), ("1500m", "1500m"), ("1000m", "1"),
    ("324832000", "324832k"), ("1024Ki", "1Mi"), ("1025Ki", "1025Ki"), ("8Ki", "8Ki"),
    ("1.5Gi", "1536Mi"), ("-1.5Gi", "-1536Mi"), ("0.5Ki", "512"), ("1023", "1023"),
    ("1024", "1024"), ("2048", "2048"), ("1000E", "1"), ("1e21", "1e21"), ("1e3", "1e3"),
    ("12e3", "12e3"), ("1E3", "1E3"), ("5e-3", "5e-3"), ("1.5n", "2n"), ("0.1n", "1n"),
    ("-0.1n", "-1n"), ("1u", "1u"), ("1k", "1k"), ("1M", "1M"), ("1G", "1G"), ("1T", "1T"),
    ("1P", "1P"), ("1E", "1E"), ("1Ei", "1Ei"), ("8Ei", "9223372036854775807"),
    ("9Ei", "9223372036854775807"), ("1Pi", "1Pi"), ("1.5Ki", "1536"),
    ("9223372036854775807", "9223372036854775807"),
    ("9223372036854775808", "9223372036854775808"),
    ("99999999999999999999Ei", "9223372036854775807"),
    ("-9999999999Ei", "-9223372036854775807"),
    ("123456789012345678", "123456789012345678"),
    ("1234567890123456789", "1234567890123456789"), ("0.000000001", "1n"),
    ("0.0000000001", "1n"), ("1e+3", "1e+3"), ("1e-0", "1e-0"), ("abc", None), ("", None),
    ("1Z", None), ("1ki", None), ("1e", None), ("1.2.3", None), ("--1", None), ("1 ", None),
    ("½", None), ("1e3.5", None), ("100Mi", "100Mi"), ("1.1Mi", "1153433600m"),
    ("3.14159", "3141590u"), ("7e-10", "1e-9"),
]  # fmt: skip


@pytest.mark.parametrize(("stored", "printed"), UPSTREAM)
def test_printed_as_upstream_prints_it(stored: str, printed: str | None) -> None:
    assert canonical_quantity(stored) == printed


@pytest.mark.parametrize(
    ("stored", "printed"),
    [("1e999999999999", "1e-9"), ("1e-999999999", "1e-9"), ("1e2147483648", "1e-9")],
)
def test_giant_exponents_answer_at_once(stored: str, printed: str) -> None:
    """Upstream's inf.Dec arithmetic stalls on these (the oracle gave no answer in minutes):
    ketui keeps exponents as numbers and answers at once, with the value Go's int32 exponent
    wrap gives: 1e999999999999 is 1e-727379969 and 1e2147483648 is 1e-2147483648, which round
    up to a nano and print in their exponent form, as 7e-10 prints 1e-9 upstream."""
    start = time.perf_counter()
    assert canonical_quantity(stored) == printed
    assert time.perf_counter() - start < 0.5


def test_decoded_objects_print_the_canonical_text() -> None:
    """A ResourceQuota stored with hard.cpu "1.5" and memory "1024Ki" prints 1500m and 1Mi, as
    kubectl shows it; text Go cannot parse is shown as stored."""
    def entry(name: bytes, quantity: bytes) -> bytes:
        return len_field(1, len_field(1, name) + len_field(2, len_field(1, quantity)))

    spec = entry(b"cpu", b"1.5") + entry(b"memory", b"1024Ki") + entry(b"odd", b"1Z")
    value = envelope("v1", "ResourceQuota", len_field(1, len_field(1, b"q")) + len_field(2, spec))
    decoded = decode_value(value)
    assert decoded.obj is not None
    assert decoded.obj["spec"]["hard"] == {"cpu": "1500m", "memory": "1Mi", "odd": "1Z"}
