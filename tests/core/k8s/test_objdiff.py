"""Field-level object differences."""

from __future__ import annotations

from ketui.core.k8s.objdiff import MISSING, FieldChange, diff_objects, format_value


def test_scalar_change_reads_like_kubectl_paths() -> None:
    old = {"status": {"phase": "Pending"}}
    new = {"status": {"phase": "Running"}}
    changes = diff_objects(old, new)
    assert changes == [FieldChange("status.phase", "Pending", "Running")]
    assert str(changes[0]) == "status.phase: Pending → Running"


def test_added_and_removed_fields_are_one_change_each() -> None:
    old = {"metadata": {"labels": {"app.kubernetes.io/name": "web", "tier": "a"}}}
    new = {"metadata": {"labels": {"tier": "a"}, "annotations": {"x": "1", "y": "2"}}}
    changes = diff_objects(old, new)
    assert changes == [
        FieldChange('metadata.labels["app.kubernetes.io/name"]', "web", MISSING),
        FieldChange("metadata.annotations", MISSING, {"x": "1", "y": "2"}),
    ]
    assert changes[0].removed and not changes[0].added
    assert changes[1].added
    assert str(changes[1]) == 'metadata.annotations: + {"x": "1", "y": "2"}'


def test_lists_compare_by_index() -> None:
    old = {"spec": {"containers": [{"image": "nginx:1"}, {"image": "sidecar"}]}}
    new = {"spec": {"containers": [{"image": "nginx:2"}]}}
    assert [str(c) for c in diff_objects(old, new)] == [
        'spec.containers[0].image: "nginx:1" → "nginx:2"',
        'spec.containers[1]: - {"image": "sidecar"}',
    ]


def test_type_changes_are_visible() -> None:
    changes = diff_objects({"a": 3, "b": True}, {"a": "3", "b": 1})
    assert [str(c) for c in changes] == ['a: 3 → "3"', "b: true → 1"]


def test_equal_objects_have_no_changes() -> None:
    obj = {"kind": "Pod", "spec": {"containers": [{"name": "a", "ports": [80]}]}}
    assert diff_objects(obj, {**obj}) == []


def test_whole_value_change_has_root_path() -> None:
    assert diff_objects("a", "b") == [FieldChange(".", "a", "b")]


def test_format_value_shortens_long_values() -> None:
    text = format_value({"data": "x" * 500}, limit=40)
    assert len(text) == 40 and text.endswith("…")
    assert format_value("plain words") == "plain words"
    assert format_value("") == '""'
    assert format_value(None) == "null"
