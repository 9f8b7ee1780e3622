"""The encoder: round trip with the decoder, byte equality with kube-apiserver's fixtures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ketui.core.k8s.protobuf.decode import decode_storage
from ketui.core.k8s.protobuf.encode import encode_message, encode_object, go_json_bytes
from ketui.core.k8s.protobuf.schema import message_index, view_for
from ketui.core.k8s.render import to_json
from ketui.core.pbwire import len_field, parse_envelope
from tests.core.k8s.test_fixtures_decode import FIXTURES

MASTER = FIXTURES / "master"
_PROPS = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"


def _master_fixtures() -> list[Any]:
    if not MASTER.is_dir():
        return [pytest.param("", marks=pytest.mark.skip(reason=f"no fixtures at {MASTER}"))]
    # WatchEvent fixtures have no kind/apiVersion (empty envelope), so they cannot be encoded.
    return [p.stem for p in sorted(MASTER.glob("*.json")) if not p.stem.endswith(".WatchEvent")]


@pytest.mark.parametrize("stem", _master_fixtures())
def test_master_fixture_round_trip_and_bytes(stem: str) -> None:
    obj = json.loads((MASTER / f"{stem}.json").read_text(encoding="utf-8"))
    stored = encode_object(obj)
    back = decode_storage(stored, view_for("master"))  # master fixtures: master's fields
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


# A controller-gen style CRD: additionalProperties as a schema and as booleans, items as a schema
# and as an array, x-kubernetes-* extensions (kube-apiserver's fixture has only the simplest forms).
CRD: dict[str, Any] = {
    "kind": "CustomResourceDefinition",
    "apiVersion": "apiextensions.k8s.io/v1",
    "metadata": {
        "name": "widgets.example.com",
        "uid": "0b0c6c3e-2f5a-4d8e-9d37-6f1f3c1e9a10",
        "generation": 1,
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "annotations": {"controller-gen.kubebuilder.io/version": "v0.14.0"},
    },
    "spec": {
        "group": "example.com",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "shortNames": ["wg"],
            "kind": "Widget",
            "listKind": "WidgetList",
        },
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "description": "Widget is a test resource.",
                        "type": "object",
                        "required": ["spec"],
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "labels": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                        "x-kubernetes-map-type": "atomic",
                                    },
                                    "limits": {
                                        "type": "object",
                                        "additionalProperties": {
                                            "anyOf": [{"type": "integer"}, {"type": "string"}],
                                            "pattern": "^[0-9]+m?$",
                                            "x-kubernetes-int-or-string": True,
                                        },
                                    },
                                    "strict": {
                                        "type": "object",
                                        "properties": {"name": {"type": "string"}},
                                        "additionalProperties": False,
                                    },
                                    "ports": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["port"],
                                            "properties": {
                                                "name": {"type": "string", "maxLength": 15},
                                                "port": {
                                                    "type": "integer",
                                                    "format": "int32",
                                                    "minimum": 1,
                                                    "maximum": 65535,
                                                },
                                            },
                                        },
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["port"],
                                    },
                                    "pair": {
                                        "type": "array",
                                        "items": [{"type": "string"}, {"type": "integer"}],
                                    },
                                    "template": {
                                        "type": "object",
                                        "x-kubernetes-embedded-resource": True,
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                    "mode": {
                                        "type": "string",
                                        "default": "fast",
                                        "enum": ["fast", "safe"],
                                    },
                                },
                                "x-kubernetes-validations": [
                                    {
                                        "rule": "self.mode != 'safe' || has(self.strict)",
                                        "message": "safe mode needs strict",
                                    }
                                ],
                            },
                            "status": {
                                "type": "object",
                                "additionalProperties": True,
                            },
                        },
                    }
                },
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"}
                ],
            }
        ],
        "conversion": {"strategy": "None"},
    },
    "status": {
        "conditions": [
            {
                "type": "Established",
                "status": "True",
                "lastTransitionTime": "2024-05-01T10:00:01Z",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            }
        ],
        "acceptedNames": {
            "plural": "widgets",
            "singular": "widget",
            "shortNames": ["wg"],
            "kind": "Widget",
            "listKind": "WidgetList",
        },
        "storedVersions": ["v1"],
    },
}


def test_crd_schema_or_forms_round_trip() -> None:
    stored = encode_object(CRD)
    back = decode_storage(stored)
    assert back == CRD
    text = to_json(back)
    assert json.loads(text) == CRD and '"maximum": 65535,' in text  # float64, printed as Go does
    assert encode_object(back) == stored
    spec = back["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    assert spec["properties"]["strict"]["additionalProperties"] is False
    # JSONSchemaPropsOrBool on the wire, as Go writes it: the bool "allows" (field 1), then the
    # schema (field 2) when there is one
    labels_schema = encode_message(message_index(_PROPS), {"type": "string"})
    assert len_field(30, b"\x08\x01" + len_field(2, labels_schema)) in stored


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
