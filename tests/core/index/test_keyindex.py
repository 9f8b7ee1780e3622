"""KeyIndex: counts and bytes per branch, lazy children, incremental updates equal a rebuild."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ketui.core.index.keyindex import OTHER, KeyIndex
from ketui.core.source import EventType, KeyInfo, KeyValue, WatchEvent


def info(key: str, size: int | None = 10, lease: int = 0, rev: int = 1) -> KeyInfo:
    return KeyInfo(key.encode(), rev, rev, 1, lease, size)


def dump(index: KeyIndex, path: str = "") -> list[Any]:
    """The whole tree as plain data, through the public API only."""
    out: list[Any] = []
    for node in index.children(path):
        out.append((node.path, node.name, node.count, node.bytes, node.unknown, node.is_leaf))
        out.append(node.info)
        if not node.is_leaf:
            out.append(dump(index, node.path))
    return out


CLUSTER = [
    info("/registry/pods/default/www", 100),
    info("/registry/pods/kube-system/coredns-a", 200),
    info("/registry/pods/kube-system/coredns-b", None),
    info("/registry/minions/node-1", 1000),
    info("/registry/events/default/www.1", 50, lease=7),
    info("/registry/events/default/www.2", 60, lease=7),
    info("compact_rev_key", 5),
]


def test_counts_and_bytes_on_every_branch() -> None:
    index = KeyIndex(CLUSTER)
    assert len(index) == 7
    total = index.total()
    assert (total.count, total.bytes, total.unknown) == (7, 1415, 1)
    assert [n.name for n in index.children()] == ["/registry", "compact_rev_key"]
    registry = index.node("/registry")
    assert registry is not None and (registry.count, registry.bytes) == (6, 1410)
    pods = index.node("/registry/pods")
    assert pods is not None and (pods.count, pods.bytes, pods.unknown) == (3, 300, 1)
    names = [(n.name, n.count, n.is_leaf) for n in index.children("/registry/pods/kube-system")]
    assert names == [("coredns-a", 1, True), ("coredns-b", 1, True)]
    leaf = index.node("/registry/pods/default/www")
    assert leaf is not None and leaf.is_leaf and leaf.info == CLUSTER[0]
    assert index.node("/registry/nope") is None
    assert index.children("/registry/nope") == []
    assert index.get(b"/registry/minions/node-1") == CLUSTER[3]


def test_children_slices_and_count() -> None:
    index = KeyIndex(info(f"/r/x/{i:03d}") for i in range(50))
    assert index.child_count("/r/x") == 50
    page = index.children("/r/x", 10, 13)
    assert [n.name for n in page] == ["010", "011", "012"]


def test_watch_events_update_sizes_up_the_path() -> None:
    index = KeyIndex(CLUSTER)
    key = b"/registry/pods/default/www"
    index.apply(WatchEvent(EventType.PUT, KeyValue(key, b"x" * 150, 5, 9, 2)))
    pods = index.node("/registry/pods")
    assert pods is not None and (pods.count, pods.bytes) == (3, 350)
    index.apply(
        WatchEvent(EventType.PUT, KeyValue(b"/registry/pods/default/new", b"y" * 5, 10, 10, 1))
    )
    assert index.node("/registry/pods/default").count == 2  # type: ignore[union-attr]
    index.apply(WatchEvent(EventType.DELETE, KeyValue(key, b"", 5, 11, 0)))
    index.apply(
        WatchEvent(EventType.DELETE, KeyValue(b"/registry/pods/default/new", b"", 10, 12, 0))
    )
    assert index.node("/registry/pods/default") is None  # empty branches disappear
    pods = index.node("/registry/pods")
    assert pods is not None and (pods.count, pods.bytes, pods.unknown) == (2, 200, 1)
    assert not index.delete(b"/registry/pods/default/new")


def test_key_that_is_also_a_prefix() -> None:
    index = KeyIndex([info("/a", 1), info("/a/b", 2)])
    node = index.node("/a")
    assert node is not None and not node.is_leaf and node.info == info("/a", 1)
    assert (node.count, node.bytes) == (2, 3)
    index.delete(b"/a/b")
    node = index.node("/a")
    assert node is not None and node.is_leaf and node.count == 1


def test_find_and_infos() -> None:
    index = KeyIndex(CLUSTER)
    assert [i.key for i in index.find("www")] == [
        b"/registry/events/default/www.1",
        b"/registry/events/default/www.2",
        b"/registry/pods/default/www",
    ]
    assert [i.key for i in index.find("WWW", "/registry/pods", ignore_case=True)] == [
        b"/registry/pods/default/www"
    ]
    assert [i.key for i in index.infos("/registry/pods/kube")] == [
        b"/registry/pods/kube-system/coredns-a",
        b"/registry/pods/kube-system/coredns-b",
    ]


def test_stats() -> None:
    stats = KeyIndex(CLUSTER).stats(largest=2)
    assert stats.total.count == 7
    assert stats.by_resource["pods"].count == 3 and stats.by_resource["pods"].unknown == 1
    assert stats.by_resource["nodes"].bytes == 1000
    assert stats.by_resource[OTHER].count == 1
    assert stats.by_namespace["kube-system"].count == 2
    assert stats.by_namespace[""].count == 2  # the node and compact_rev_key
    assert stats.by_resource_namespace[("events", "default")].bytes == 110
    assert [i.key for i in stats.largest] == [
        b"/registry/minions/node-1",
        b"/registry/pods/kube-system/coredns-a",
    ]
    assert stats.leased.count == 2 and stats.by_lease[7].bytes == 110
    pods_only = KeyIndex(CLUSTER).stats("/registry/pods/")
    assert pods_only.total.count == 3 and set(pods_only.by_resource) == {"pods"}


SEGMENTS = st.sampled_from(["a", "b", "", "c.d"])
KEYS = st.one_of(
    st.lists(SEGMENTS, min_size=1, max_size=4).map(lambda segs: "/" + "/".join(segs)),
    st.sampled_from(["x", "x/y", "/"]),
)
OPS = st.lists(
    st.tuples(st.booleans(), KEYS, st.one_of(st.none(), st.integers(0, 1000))), max_size=40
)


@settings(max_examples=300, deadline=None)
@given(initial=st.lists(st.tuples(KEYS, st.one_of(st.none(), st.integers(0, 100)))), ops=OPS)
def test_incremental_updates_equal_a_rebuild(
    initial: list[tuple[str, int | None]], ops: list[tuple[bool, str, int | None]]
) -> None:
    state: dict[bytes, KeyInfo] = {}
    index = KeyIndex()
    first = [info(key, size) for key, size in initial]
    index.add_many(first)
    for item in first:
        state[item.key] = item
    for rev, (is_put, key, size) in enumerate(ops, start=2):
        raw = key.encode()
        if is_put and size is not None:
            index.apply(WatchEvent(EventType.PUT, KeyValue(raw, b"v" * size, 1, rev, 1)))
            state[raw] = KeyInfo(raw, 1, rev, 1, 0, size)
        elif is_put:
            index.put(info(key, None, rev=rev))
            state[raw] = info(key, None, rev=rev)
        else:
            assert index.delete(raw) == (raw in state)
            state.pop(raw, None)
    rebuilt = KeyIndex(sorted(state.values(), key=lambda i: i.key))
    assert dump(index) == dump(rebuilt)
    assert dump(KeyIndex(reversed(list(state.values())))) == dump(rebuilt)
    assert len(index) == len(state)
    assert [i.key for i in index.infos()] == sorted(state)


NEEDLES = st.sampled_from(["", "a", "A", "b/c", "/", "c.d", "x/y", "/a", "d/", "zz"])
PREFIXES = st.sampled_from(["", "/", "/a", "/a/", "/b/c", "x"])


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(KEYS), needle=NEEDLES, prefix=PREFIXES, ignore_case=st.booleans())
def test_find_equals_a_scan(keys: list[str], needle: str, prefix: str, ignore_case: bool) -> None:
    index = KeyIndex(info(key) for key in keys)
    fold = str.lower if ignore_case else str
    expected = sorted({k for k in keys if k.startswith(prefix) and fold(needle) in fold(k)})
    found = [i.key.decode() for i in index.find(needle, prefix, ignore_case=ignore_case)]
    assert found == expected
