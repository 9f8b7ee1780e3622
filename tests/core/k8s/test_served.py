"""resourceVersion as kube-apiserver serves it, and the server-owned fields an export drops."""

from __future__ import annotations

from ketui.core.k8s.served import strip_for_export, with_resource_version


def test_resource_version_goes_after_uid_in_go_field_order() -> None:
    obj = {
        "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "n", "uid": "u", "creationTimestamp": "t"},
    }
    served = with_resource_version(obj, 42)
    assert list(served["metadata"]) == ["name", "namespace", "uid", "resourceVersion",
                                        "creationTimestamp"]  # fmt: skip
    assert served["metadata"]["resourceVersion"] == "42"
    assert "resourceVersion" not in obj["metadata"]  # the input is left alone


def test_resource_version_placement_without_identity_fields() -> None:
    assert list(with_resource_version({"metadata": {"labels": {}}}, 7)["metadata"]) == [
        "resourceVersion",
        "labels",
    ]
    named = with_resource_version({"metadata": {"generateName": "x-", "labels": {}}}, 7)
    assert list(named["metadata"]) == ["generateName", "resourceVersion", "labels"]


def test_existing_resource_version_and_non_objects_are_kept() -> None:
    obj = {"metadata": {"name": "a", "resourceVersion": "5"}}
    assert with_resource_version(obj, 9) == obj
    assert with_resource_version({"kind": "X"}, 9) == {"kind": "X"}
    assert with_resource_version("text", 9) == "text"


def test_strip_for_export() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": "n",
            "uid": "u",
            "resourceVersion": "1",
            "generation": 2,
            "creationTimestamp": "t",
            "selfLink": "/api/v1/x",
            "managedFields": [],
            "labels": {"a": "b"},
        },
        "spec": {"containers": []},
        "status": {"phase": "Running"},
    }
    assert strip_for_export(obj) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "n", "labels": {"a": "b"}},
        "spec": {"containers": []},
    }
    assert obj["status"] == {"phase": "Running"}
