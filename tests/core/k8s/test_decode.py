"""decode_value: every value family, and bad bytes never raise (property tests)."""

from __future__ import annotations

import time

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketui.core.k8s.decode import decode_value, parse_envelope
from ketui.core.k8s.decoded import Family
from ketui.core.k8s.encryption import Keyring, encrypt_value
from ketui.core.k8s.render import to_json, to_yaml
from ketui.core.pbwire import len_field
from tests.k8s_values import envelope, pod_value, secret_value


def test_protobuf_pod() -> None:
    decoded = decode_value(pod_value(), key=b"/registry/pods/default/www")
    assert decoded.ok, decoded.error
    assert decoded.family is Family.PROTOBUF
    assert (decoded.api_version, decoded.kind) == ("v1", "Pod")
    assert decoded.message == "k8s.io.api.core.v1.Pod"
    assert decoded.content_type == "application/vnd.kubernetes.protobuf"
    assert decoded.size == len(pod_value())
    assert list(decoded.obj)[:3] == ["kind", "apiVersion", "metadata"]
    assert decoded.obj["metadata"] == {"name": "www", "namespace": "default"}
    assert not decoded.schemaless and decoded.kube_version is None


def test_release_view_changes_output() -> None:
    """1.29's ObjectMeta prints a zero creationTimestamp as null; the newest omits it."""
    old = decode_value(pod_value(), kube_version="v1.29.3")
    assert old.ok and old.kube_version == "1.29"
    assert old.obj["metadata"] == {"name": "www", "namespace": "default", "creationTimestamp": None}


def test_bad_kube_version_is_an_error_not_an_exception() -> None:
    decoded = decode_value(pod_value(), kube_version="banana")
    assert decoded.error is not None and "banana" in decoded.error


def test_envelope_fields() -> None:
    value = pod_value()[:-2] + len_field(4, b"application/vnd.kubernetes.protobuf")
    env = parse_envelope(value)
    assert (env.api_version, env.kind, env.content_type) == (
        "v1",
        "Pod",
        "application/vnd.kubernetes.protobuf",
    )


def test_truncated_protobuf_is_an_error() -> None:
    decoded = decode_value(pod_value()[:-5])
    assert decoded.family is Family.PROTOBUF
    assert decoded.error is not None and decoded.error.startswith("malformed protobuf envelope")


def test_trailing_newline_breaks_protobuf() -> None:
    """etcdctl appends a newline; the envelope length makes that detectable (the CLI retries)."""
    assert decode_value(pod_value() + b"\n").error is not None


def test_malformed_object_inside_valid_envelope() -> None:
    decoded = decode_value(envelope("v1", "Pod", b"\x0a\x05ab"))
    assert decoded.error is not None and decoded.error.startswith("malformed Pod protobuf")


def test_unknown_kind_is_schemaless() -> None:
    raw = len_field(1, len_field(1, b"route-a")) + len_field(2, len_field(1, b"example.com"))
    decoded = decode_value(envelope("route.openshift.io/v1", "Route", raw))
    assert decoded.ok, decoded.error
    assert decoded.schemaless
    assert (decoded.api_version, decoded.kind) == ("route.openshift.io/v1", "Route")
    assert decoded.warnings == [
        "apiVersion route.openshift.io/v1 kind Route is not in ketui's schema: "
        "showing raw protobuf fields"
    ]
    assert isinstance(decoded.obj, dict) and decoded.obj
    assert "route-a" in repr(decoded.obj)


def test_envelope_without_kind_is_schemaless() -> None:
    decoded = decode_value(envelope("", "", len_field(1, b"x")))
    assert decoded.ok and decoded.schemaless and decoded.kind is None
    assert "names no kind" in decoded.warnings[0]


def test_json_keeps_key_order() -> None:
    value = b'  \n{"kind":"Widget","apiVersion":"example.com/v1","spec":{"z":1,"a":2}}'
    decoded = decode_value(value)
    assert decoded.ok and decoded.family is Family.JSON
    assert (decoded.api_version, decoded.kind) == ("example.com/v1", "Widget")
    assert list(decoded.obj["spec"]) == ["z", "a"]
    assert decoded.content_type == "application/json"


@pytest.mark.parametrize("value", [b"{", b'{"a": NaN}', b'{"a": 1} x', b"{" * 5000])
def test_malformed_json_is_an_error(value: bytes) -> None:
    decoded = decode_value(value)
    assert decoded.family is Family.JSON
    assert decoded.error is not None and decoded.error.startswith("malformed JSON")


def test_cbor() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": 3}}
    decoded = decode_value(cbor2.dumps(cbor2.CBORTag(55799, obj)))
    assert decoded.ok, decoded.error
    assert decoded.family is Family.CBOR
    assert (decoded.api_version, decoded.kind) == ("example.com/v1", "Widget")
    assert decoded.obj["spec"] == {"size": 3}


def test_malformed_cbor_is_an_error() -> None:
    decoded = decode_value(b"\xd9\xd9\xf7\xa1")
    assert decoded.family is Family.CBOR and decoded.error is not None


def test_text_and_binary() -> None:
    text = decode_value("leader: node-1 ✓".encode())
    assert text.ok and text.family is Family.TEXT and text.text == "leader: node-1 ✓"
    binary = decode_value(b"\x00\xff\xfe")
    assert binary.ok and binary.family is Family.BINARY and binary.obj is None
    nuls = decode_value(b"\x00" * 8)  # valid UTF-8, but control characters: binary
    assert nuls.family is Family.BINARY
    empty = decode_value(b"")
    assert empty.family is Family.TEXT and empty.size == 0


def test_secret_values_come_out_base64() -> None:
    decoded = decode_value(secret_value(data={"token": b"\x00\x01"}))
    assert decoded.obj["data"] == {"token": "AAE="}


# --- property tests: never raise, never hang ---------------------------------------------------

KEY = bytes(range(32))
KEYRING = Keyring.from_yaml(
    "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
    "- resources: [secrets]\n  providers:\n"
    "  - aescbc: {keys: [{name: k, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}]}\n"
)
SEEDS = [
    pod_value(),
    secret_value(data={"a": b"b"}),
    envelope("route.openshift.io/v1", "Route", len_field(1, len_field(1, b"r"))),
    b'{"kind":"Widget","apiVersion":"example.com/v1","spec":{"a":[1,2,{"b":null}]}}',
    cbor2.dumps(cbor2.CBORTag(55799, {"kind": "Widget", "spec": [1, 2.5, "x"]})),
    encrypt_value(pod_value(), provider="aescbc", key_name="k", secret=KEY),
    b"k8s:enc:kms:v2:vault:" + len_field(2, b"id"),
]


def _check(value: bytes) -> None:
    start = time.monotonic()
    decoded = decode_value(value, key=b"/registry/secrets/default/a", keyring=KEYRING)
    assert time.monotonic() - start < 2.0
    assert decoded.size == len(value)
    assert decoded.error is None or "\n" not in decoded.error


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_random_bytes_never_raise(value: bytes) -> None:
    _check(value)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([b"k8s\x00", b"k8s:enc:aescbc:v1:k:", b"\xd9\xd9\xf7", b"{"]), st.binary())
def test_random_bytes_after_each_magic_never_raise(magic: bytes, rest: bytes) -> None:
    _check(magic + rest)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if action == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif action == "cut":
            del data[pos:]
        elif action == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[pos : pos + draw(st.integers(1, 8))]
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(mutated())
def test_mutated_values_never_raise(value: bytes) -> None:
    _check(value)


def test_deep_nesting_is_bounded() -> None:
    """A protobuf nested a thousand levels deep, and the same in JSON, decode or fail quickly."""
    nested = b"x"
    for _ in range(1000):
        nested = len_field(1, nested)
    for value in (
        envelope("route.openshift.io/v1", "Route", nested),
        envelope("v1", "Pod", nested),
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    ):
        _check(value)


def test_embedded_json_keeps_its_number_texts() -> None:
    """Found by the upstream oracle: encoding/json copies a RawExtension's bytes through, so
    ``-o json`` shows 1.0, -0 and 1E-7 as stored; sigs.k8s.io/yaml reads them as numbers again
    for ``-o yaml``. Upstream's output for this value, recorded from the oracle."""
    raw = b'{"a":1.0,"b":-0,"c":1E-7,"d":12345678901234567890,"e":[0.1,1e21,-2.5E+10],"f":100}'
    metadata = len_field(1, len_field(1, b"r") + len_field(3, b"default"))
    value = envelope("apps/v1", "ControllerRevision", metadata + len_field(2, len_field(1, raw)))
    decoded = decode_value(value)
    assert decoded.obj is not None
    assert to_json(decoded.obj["data"], indent=None) == raw.decode()
    assert to_yaml(decoded.obj["data"]) == (
        "a: 1\nb: 0\nc: 1e-07\nd: 12345678901234567890\ne:\n- 0.1\n- 1e+21\n- -2.5e+10\nf: 100\n"
    )


def test_empty_bytes_are_omitted_where_omitempty() -> None:
    """Found by the upstream oracle: a ``[]byte`` field with omitempty (CSR status.certificate)
    present on the wire but empty is left out, as Go's omitempty drops an empty slice; one
    without omitempty (spec.request) prints ""."""
    spec = len_field(1, b"") + len_field(7, b"x/y")
    raw = len_field(1, len_field(1, b"c")) + len_field(2, spec) + len_field(3, len_field(2, b""))
    decoded = decode_value(envelope("certificates.k8s.io/v1", "CertificateSigningRequest", raw))
    assert decoded.obj is not None
    assert decoded.obj["spec"] == {"request": "", "signerName": "x/y"}
    assert decoded.obj["status"] == {}
