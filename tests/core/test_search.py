"""Content search (ketui.core.search): field paths, the byte prefilter and the search itself.

The prefilter may let through values that do not match, never drop one that does: the property
tests store random text in every form a value takes (protobuf, JSON as Go writes it, a snapshot's
KeyValue record around either) and check that every pattern found in the decoded text passes.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from etcd3.etcdrpc import kv_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.k8s.shown import Decoder
from ketui.core.search import (
    WILD,
    FieldPathError,
    Prefilter,
    Query,
    SearchStats,
    parse_field_path,
    path_text,
    search,
)
from ketui.core.sources.memory import MemoryOp, MemorySource


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("spec.containers[*].image", ("spec", "containers", WILD, "image")),
        ("metadata.labels.app", ("metadata", "labels", "app")),
        ("metadata.labels['app.kubernetes.io/name']",
         ("metadata", "labels", "app.kubernetes.io/name")),
        ('metadata.annotations["a]b"]', ("metadata", "annotations", "a]b")),
        ("items[0].x", ("items", 0, "x")),
        ("metadata.labels.*", ("metadata", "labels", WILD)),
        ("[0]", (0,)),
    ],
)  # fmt: skip
def test_field_paths(text: str, segments: tuple[object, ...]) -> None:
    assert parse_field_path(text) == segments


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty field path"), ("spec.", "ends with '.'"), ("a..b", "empty name at 2"),
     ("a[x]", "is not [N], [*] or ['key']"), ("a['b'", "never closed"), ("a[0].", "ends")],
)  # fmt: skip
def test_bad_field_paths_say_where(text: str, message: str) -> None:
    with pytest.raises(FieldPathError, match=re.escape(message)):
        parse_field_path(text)


@given(st.lists(st.one_of(st.integers(0, 99), st.text(min_size=1, max_size=8)), max_size=5))
def test_printed_paths_parse_back(parts: list[int | str]) -> None:
    parts = [p for p in parts if not isinstance(p, str) or "'" not in p]
    if parts:
        assert list(parse_field_path(path_text(parts))) == [
            WILD if p == "*" else p for p in parts
        ]


def _stored_forms(text: str) -> list[tuple[bytes, int]]:
    """``(buffer, start)``: ``text`` in a ConfigMap as kube-apiserver stores it (protobuf), as a
    custom resource in JSON (Go's escaping of <, >, &; also as Go before 1.22 wrote \\b, \\f),
    and each inside a snapshot's KeyValue record, tested from just after the key as the
    snapshot source does."""
    proto = encode_object({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "c"}, "data": {"k": text}})  # fmt: skip
    doc = {"apiVersion": "example.com/v1", "kind": "W", "spec": {"k": text}}
    go_json = json.dumps(doc, ensure_ascii=False)
    for char in "<>&\u2028\u2029":
        go_json = go_json.replace(char, f"\\u{ord(char):04x}")
    old_go = go_json.replace("\\b", "\\u0008").replace("\\f", "\\u000c")  # before Go 1.22
    values = [proto, go_json.encode(), old_go.encode()]
    forms = [(value, 0) for value in values]
    key = b"/registry/configmaps/default/" + b"k" * 200
    for value in values:
        record = kv_pb2.KeyValue(
            key=key, create_revision=2**62, mod_revision=2**62, version=2**40, value=value
        )
        forms.append((record.SerializeToString(), 1 + len(key)))
    return forms


def _passes(query: Query, form: tuple[bytes, int]) -> bool:
    value, start = form
    return Prefilter(query, can_decrypt=False, stats=SearchStats()).test(value, start, len(value))


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT, st.data())
def test_the_prefilter_never_drops_a_match(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    pattern = text[start:end]
    swapped = Query(pattern.swapcase(), ignore_case=True)
    queries = [
        Query(pattern),
        swapped if swapped.compiled().search(text) else Query(pattern, ignore_case=True),
        Query(re.escape(pattern), regex=True),
        Query("(?s)." + re.escape(pattern[1:]), regex=True),
    ]  # fmt: skip
    for query in queries:
        assert query.compiled().search(text)  # the decoded text matches...
        for value in _stored_forms(text):
            assert _passes(query, value), (query, value)  # ...so its stored bytes pass


def test_the_prefilter_drops_what_cannot_match() -> None:
    forms = _stored_forms("the quick brown fox")
    for query in [Query("nginx"), Query("NGINX", ignore_case=True), Query("ngi.x", regex=True)]:
        assert not any(_passes(query, value) for value in forms[::3])  # protobuf forms
    assert _passes(Query("n.inx", regex=True), forms[1])  # a regex takes every JSON value
    # numbers, booleans and times are varints on the wire: every value is a candidate
    for pattern in ["8080", "true", "2024-05-01T10:00:00Z", "1.5"]:
        assert all(_passes(Query(pattern), value) for value in forms)
    # anchored regexes cannot be tested on bytes (the bytes before a field are not its text)
    for pattern in [r"^fox", r"fox$", r"\bfox", r"(?<=x)y"]:
        assert all(_passes(Query(pattern, regex=True), value) for value in forms)


def test_encrypted_values_are_counted_unless_they_can_be_opened() -> None:
    value = b"k8s:enc:aescbc:v1:key1:" + bytes(48)
    for pattern in ("nginx", "8080", "x.*y"):
        stats = SearchStats()
        query = Query(pattern, regex=pattern == "x.*y")
        assert not Prefilter(query, can_decrypt=False, stats=stats).test(value, 0, len(value))
        assert stats.encrypted == 1
        assert Prefilter(query, can_decrypt=True, stats=stats).test(value, 0, len(value))


def _pod(name: str, image: str) -> MemoryOp:
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns",
           "managedFields": [{"manager": "nginx-operator", "operation": "Update"}]},
           "spec": {"containers": [{"name": "c", "image": image}]}}  # fmt: skip
    return MemoryOp.put(f"/registry/pods/ns/{name}".encode(), encode_object(obj))


def test_search_in_key_order_with_progress_and_max_hits() -> None:
    async def run(query: Query, **options: object) -> tuple[list[str], SearchStats, list[int]]:
        source = MemorySource([_pod(f"p{i:02d}", f"nginx:{i}") for i in range(10)])
        stats, seen = SearchStats(), []
        hits = [
            f"{hit.key.decode()} {hit.path}={hit.value}"
            async for page in search(
                source, query, Decoder(), stats=stats,
                on_progress=lambda done, total: seen.append(done), **options,  # type: ignore[arg-type]
            )
            for hit in page
        ]  # fmt: skip
        return hits, stats, seen

    hits, stats, seen = asyncio.run(run(Query("nginx:3")))
    assert hits == ["/registry/pods/ns/p03 spec.containers[0].image=nginx:3"]
    assert (stats.scanned, stats.total, stats.candidates, stats.hits) == (10, 10, 1, 1)
    assert seen == [10]
    hits, stats, _ = asyncio.run(run(Query("nginx"), max_hits=4))
    assert len(hits) == 4 and stats.stopped_early and stats.hits == 4
    # managedFields are searched only where a field path names them
    hits, _, _ = asyncio.run(run(Query("operator")))
    assert hits == []
    field = parse_field_path("metadata.managedFields")
    hits, _, _ = asyncio.run(run(Query("operator", field=field), max_hits=1))
    assert hits == ["/registry/pods/ns/p00 metadata.managedFields[0].manager=nginx-operator"]


def test_field_lines_in_kubectl_yaml() -> None:
    from ketui.core.k8s.render import to_yaml
    from ketui.core.search import field_line

    obj = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "www", "labels": {"app": "web", "app.kubernetes.io/name": "x"},
                        "annotations": {"a: b": "1", "note": "line1\nline2"}},
           "spec": {"containers": [
               {"name": "side", "image": "busybox", "args": ["-c", "nginx"]},
               {"name": "main", "image": "nginx:1.16",
                "ports": [{"containerPort": 80}, {"containerPort": 8080}]}]}}  # fmt: skip
    text = to_yaml(obj)
    lines = text.split("\n")

    def line(path: str) -> str | None:
        number = field_line(text, tuple(
            p for p in parse_field_path(path) if isinstance(p, (str, int))))  # fmt: skip
        return None if number is None else lines[number].strip()

    assert line("spec.containers[1].image") == "- image: nginx:1.16"  # keys sorted: first
    assert line("spec.containers[0].image") == "image: busybox"
    assert line("spec.containers[0].name") == "name: side"
    assert line("spec.containers[1].ports[1].containerPort") == "- containerPort: 8080"
    assert line("spec.containers[0].args[1]") == "- nginx"
    assert line("metadata.labels['app.kubernetes.io/name']") == "app.kubernetes.io/name: x"
    assert line("metadata.annotations['a: b']") == "'a: b': \"1\""
    assert line("metadata.annotations.note") == 'note: |-'
    assert line("metadata.name") == "name: www"
    assert line("spec.containers[2].image") is None and line("status.phase") is None
