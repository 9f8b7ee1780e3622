"""Keys-only listings decoded as columns: same KeyInfo as a field-by-field decode, leases or not."""

from __future__ import annotations

import base64
import gc
import json

import pytest
from etcd3.etcdrpc import kv_pb2, rpc_pb2

from ketui.core.bulk import gc_paused
from ketui.core.source import KeyInfo
from ketui.core.sources.etcd import source as etcd_module
from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.etcd.keys_only import parse_keys_only
from ketui.core.sources.etcd.source import EtcdSource
from tests.etcd_harness import EtcdServer


def reply(*kvs: kv_pb2.KeyValue, revision: int = 42, more: bool = False) -> bytes:
    """A keys-only RangeResponse as etcd puts it on the wire."""
    header = rpc_pb2.ResponseHeader(cluster_id=1, member_id=2, revision=revision, raft_term=3)
    response = rpc_pb2.RangeResponse(header=header, kvs=kvs, more=more, count=len(kvs) + 5)
    return response.SerializeToString()


def kv(key: bytes, rev: int, version: int = 1, lease: int = 0) -> kv_pb2.KeyValue:
    return kv_pb2.KeyValue(
        key=key, create_revision=rev - version + 1, mod_revision=rev, version=version, lease=lease
    )


def expected(*kvs: kv_pb2.KeyValue) -> list[KeyInfo]:
    return [KeyInfo(k.key, k.create_revision, k.mod_revision, k.version, k.lease) for k in kvs]


@pytest.mark.parametrize(
    "leases",
    [[0, 0, 0], [7, 8, 9], [0, 7, 0], [7, 0, 0]],
    ids=["no-leases", "all-leased", "some-leased", "first-leased"],
)
def test_columns_line_up_with_and_without_leases(leases: list[int]) -> None:
    kvs = [
        kv(f"/registry/events/ns/e{i}".encode(), 10 + i, i + 1, lease)
        for i, lease in enumerate(leases)
    ]
    page = parse_keys_only(reply(*kvs, revision=99, more=True))
    assert (page.revision, page.more, page.last_key) == (99, True, kvs[-1].key)
    assert page.infos() == expected(*kvs)
    assert all(info.size is None for info in page.infos())


def test_zero_fields_fall_back_to_a_field_by_field_decode() -> None:
    # etcd never sends these for existing keys; the decoder must still not misalign columns.
    kvs = [kv(b"/a", 5), kv_pb2.KeyValue(key=b"/b", mod_revision=6), kv(b"/c", 7, lease=3)]
    page = parse_keys_only(reply(*kvs))
    assert page.infos() == expected(*kvs)
    assert page.infos()[1] == KeyInfo(b"/b", 0, 6, 0, 0)


def test_empty_reply() -> None:
    page = parse_keys_only(reply(revision=5))
    assert (page.revision, page.more, page.last_key, page.infos()) == (5, False, None, [])


@pytest.mark.etcd
async def test_listing_matches_etcdctl_with_leased_and_updated_keys(
    etcd: EtcdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(etcd_module, "KEYS_ONLY_FETCH", 4)  # fetches re-cut into pages of 3
    lease = json.loads(etcd.etcdctl("lease", "grant", "600", "-w", "json").stdout)["ID"]
    for i in range(10):
        extra = [f"--lease={lease:x}"] if i % 3 == 0 else []
        etcd.etcdctl("put", f"/registry/events/ns/e{i}", f"v{i}", *extra)
    etcd.put("/registry/events/ns/e4", "again")
    etcd.put("/registry/other", "x")
    out = json.loads(etcd.etcdctl("get", "/registry/events/", "--prefix", "-w", "json").stdout)
    want = [
        KeyInfo(
            base64.b64decode(item["key"]),
            item["create_revision"],
            item["mod_revision"],
            item["version"],
            item.get("lease", 0),
        )
        for item in out["kvs"]
    ]
    source = EtcdSource(EtcdConfig(endpoints=[etcd.endpoint], command_timeout=5.0))
    async with source:
        pages = [page async for page in source.list_keys(b"/registry/events/", page_size=3)]
    assert [len(page) for page in pages] == [3, 3, 3, 1]
    assert [info for page in pages for info in page] == want
    assert sum(1 for info in want if info.lease == lease) == 4


def test_gc_paused_restores_the_collector_state() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # the application's choice is kept
    finally:
        gc.enable()
