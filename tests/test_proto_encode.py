"""The encoder: round trip with the decoder, byte equality with kube-apiserver's fixtures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ketui.core.pbwire import parse_envelope
from ketui.core.proto_decode import decode_storage
from ketui.core.proto_encode import encode_object, go_json_bytes
from tests.test_fixtures_decode import FIXTURES

MASTER = FIXTURES / "master"


def _master_fixtures() -> list[Any]:
    if not MASTER.is_dir():
        return [pytest.param("", marks=pytest.mark.skip(reason=f"no fixtures at {MASTER}"))]
    # WatchEvent fixtures have no kind/apiVersion (empty envelope), so they cannot be encoded.
    return [p.stem for p in sorted(MASTER.glob("*.json")) if not p.stem.endswith(".WatchEvent")]


@pytest.mark.parametrize("stem", _master_fixtures())
def test_master_fixture_round_trip_and_bytes(stem: str) -> None:
    obj = json.loads((MASTER / f"{stem}.json").read_text(encoding="utf-8"))
    stored = encode_object(obj)
    back = decode_storage(stored)
    assert json.dumps(back) == json.dumps(obj)
    assert stored == (MASTER / f"{stem}.pb").read_bytes()  # what kube-apiserver writes


def _pod(**status: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "www", "namespace": "default", "labels": {"b": "2", "a": "1"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        "status": status,
    }


def test_zero_scalars_are_written_and_decoded() -> None:
    pod = _pod(containerStatuses=[{"name": "c", "ready": False, "restartCount": 0}])
    out = decode_storage(encode_object(pod))
    assert out is not None
    status = out["status"]["containerStatuses"][0]
    assert status["ready"] is False and status["restartCount"] == 0  # no omitempty
    assert status["state"] == {} and status["lastState"] == {}  # non-pointer structs
    assert out["metadata"]["labels"] == {"a": "1", "b": "2"}
    assert list(out["metadata"]["labels"]) == ["a", "b"]  # maps sorted
    assert list(out)[:2] == ["kind", "apiVersion"]


def test_envelope() -> None:
    stored = encode_object(_pod())
    assert stored.startswith(b"k8s\x00")
    api_version, kind, raw, encoding, content_type = parse_envelope(stored)
    assert (api_version, kind, encoding, content_type) == ("v1", "Pod", "", "")
    assert raw


def test_bytes_and_special_values() -> None:
    secret = {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "s"},
        "data": {"k": "aGVsbG8=", "empty": ""},
        "type": "Opaque",
    }
    out = decode_storage(encode_object(secret))
    assert out is not None and out["data"] == {"empty": "", "k": "aGVsbG8="}
    svc = {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": "http"}, {"port": 81, "targetPort": 8081}]},
    }
    out = decode_storage(encode_object(svc))
    assert out is not None
    assert [p["targetPort"] for p in out["spec"]["ports"]] == ["http", 8081]


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"kind": "Pod"}, "apiVersion and kind"),
        ({"kind": "Route", "apiVersion": "route.openshift.io/v1"}, "not in the protobuf schema"),
        ({"kind": "Secret", "apiVersion": "v1", "data": {"k": "!!"}}, "not base64"),
        ({"kind": "Pod", "apiVersion": "v1", "metadata": "x"}, "expected an object"),
    ],
)
def test_bad_objects_raise_value_error(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_object(obj)


def test_go_json_bytes_escapes_html() -> None:
    assert go_json_bytes({"a": "<&>\u2028"}) == b'{"a":"\\u003c\\u0026\\u003e\\u2028"}'
