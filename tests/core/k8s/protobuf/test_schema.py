"""Release views of the schema: version parsing, since/removed/history, omitzero."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ketui.core.k8s.protobuf import schema
from ketui.core.k8s.protobuf.decode import decode_object
from ketui.core.k8s.protobuf.encode import encode_message
from ketui.core.k8s.protobuf.schema import message_for_kind, message_index, view_for

OBJECT_META = "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("1.29", "1.29"),
        ("v1.29.3", "1.29"),
        ("1.29.0-rc.1", "1.29"),
        ("v1.30.2+k3s1", "1.30"),
        ("1.17", "1.17"),
        ("1.10", "1.17"),  # older than known: oldest view, no error
        ("1.36", "1.36"),
        ("1.99", "master"),  # newer than known: master
        ("master", "master"),
    ],
)
def test_version_parsing(text: str, name: str) -> None:
    view = view_for(text)
    assert view.name == name
    assert view.explicit


@pytest.mark.parametrize("text", ["", "2.1", "one.two", "1", "v1"])
def test_bad_versions_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes version"):
        view_for(text)


def test_default_view_is_the_newest_release() -> None:
    view = view_for(None)
    assert view.name == "1.36" and view.explicit  # what kubectl against 1.36 shows
    assert not view_for(None, wire_extras=True).explicit
    assert view_for("master").explicit and view_for("master").name == "master"
    assert view_for("1.29") is view_for("v1.29.1")  # cached


def _creation_timestamp(view_name: str | None) -> dict[str, object]:
    pod = decode_object(
        "v1",
        "Pod",
        encode_message(message_index("k8s.io.api.core.v1.Pod"), {}),
        view_for(view_name),
    )
    assert pod is not None
    return pod["metadata"]


def test_creation_timestamp_null_before_1_34_and_omitted_after() -> None:
    assert _creation_timestamp("1.33") == {"creationTimestamp": None}
    assert _creation_timestamp("1.34") == {}
    assert _creation_timestamp(None) == {}


def test_field_since_and_removed() -> None:
    meta = message_index(OBJECT_META)
    old = {f.json for f in view_for("1.17").message(meta).fields}
    new = {f.json for f in view_for("master").message(meta).fields}
    assert "clusterName" in old and "clusterName" not in new  # removed in 1.25
    assert (15, "clusterName", False) in view_for(None).message(meta).dropped  # reported instead
    extras = {f.json: f for f in view_for(None, wire_extras=True).message(meta).fields}
    assert extras["clusterName"].extra  # the wire-extras view prints it when on the wire
    assert schema.release_span(meta, 15) == "1.17-1.24"


def test_history_changes_message_type() -> None:
    lifecycle = message_index("k8s.io.api.core.v1.Lifecycle")
    post_start_old = view_for("1.22").message(lifecycle).fields[0]
    post_start_new = view_for("1.23").message(lifecycle).fields[0]
    assert schema.MESSAGE_NAMES[post_start_old.message or 0].endswith("v1.Handler")
    assert schema.MESSAGE_NAMES[post_start_new.message or 0].endswith("v1.LifecycleHandler")


def test_removed_message_prints_as_last_release() -> None:
    index = message_index("k8s.io.api.batch.v2alpha1.CronJob")
    assert schema.raw_message(index).removed is not None
    assert view_for("master").message(index).fields  # no error, fields of the last release


def test_kinds() -> None:
    assert message_for_kind("v1", "Pod") == "k8s.io.api.core.v1.Pod"
    assert message_for_kind("apps/v1", "Deployment") == "k8s.io.api.apps.v1.Deployment"
    assert (
        message_for_kind("apps/v1", "WatchEvent")
        == "k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent"
    )
    assert message_for_kind("route.openshift.io/v1", "Route") is None


def test_every_message_resolves_in_every_view() -> None:
    for tag in (0, schema.MASTER):
        for extras in (False, True):
            view = schema.KubeView(tag, not extras)
            for index in range(len(schema.MESSAGE_NAMES)):
                view.message(index)


def test_import_is_fast() -> None:
    """Importing the schema (generated data included) stays well under 100 ms, even when Python
    must compile the sources (PYTHONDONTWRITEBYTECODE)."""
    code = (
        "import time; t = time.perf_counter(); import ketui.core.k8s.protobuf.schema; "
        "print(time.perf_counter() - t)"
    )
    best = min(
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    )
    assert best < 0.1
