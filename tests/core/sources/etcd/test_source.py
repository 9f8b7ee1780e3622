"""EtcdSource against real etcd: paging, history, watches, failover, TLS, auth, read-only."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from itertools import pairwise
from typing import Any

import pytest

from ketui.core.source import CompactedError, EventType, Source, SourceError, WatchEvent
from ketui.core.sources.etcd import channel
from ketui.core.sources.etcd import source as etcd_module
from ketui.core.sources.etcd.channel import READ_ONLY_RPCS
from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.etcd.source import EtcdSource, listing_ranges
from tests.etcd_harness import EtcdCluster, EtcdServer, make_tls_files
from tests.paths import REPO

pytestmark = pytest.mark.etcd


def source_for(server: EtcdServer, **overrides: object) -> EtcdSource:
    settings: dict[str, object] = {"endpoints": [server.endpoint], "command_timeout": 3.0}
    if server.tls:
        settings.update(
            cacert=str(server.tls.ca),
            cert=str(server.tls.client_cert),
            key=str(server.tls.client_key),
        )
    settings.update(overrides)
    return EtcdSource(EtcdConfig(**settings))  # type: ignore[arg-type]


def revision_of(server: EtcdServer) -> int:
    out = json.loads(server.etcdctl("get", "x", "-w", "json").stdout)
    return int(out["header"]["revision"])


def put_many(server: EtcdServer, items: dict[str, str]) -> None:
    """Many puts in one etcdctl txn (one revision) to keep tests fast."""
    script = "\n" + "\n".join(f'put {k} "{v}"' for k, v in items.items()) + "\n\n\n"
    server.etcdctl("txn", input=script.encode())


async def test_implements_source_protocol(etcd: EtcdServer) -> None:
    async with source_for(etcd) as source:
        assert isinstance(source, Source)
        assert source.live


@pytest.mark.parametrize("values", [False, True], ids=["keys-only", "with-values"])
async def test_listing_pages_stay_at_the_first_revision_while_writes_go_on(
    etcd: EtcdServer, monkeypatch: pytest.MonkeyPatch, values: bool
) -> None:
    monkeypatch.setattr(etcd_module, "KEYS_ONLY_FETCH", 7)  # one Range per 7 keys
    monkeypatch.setattr(etcd_module, "KEYS_ONLY_REST_FETCH", 7)
    monkeypatch.setattr(etcd_module, "VALUES_FETCH", 7)
    put_many(etcd, {f"/registry/pods/ns/p{i:03d}": f"v{i}" for i in range(50)})
    first_revision = revision_of(etcd)
    async with source_for(etcd) as source:
        listing = (
            source.list_values(b"/registry/pods/", page_size=7)
            if values
            else source.list_keys(b"/registry/pods/", page_size=7)
        )
        seen: list[bytes] = []
        pages = 0
        async for page in listing:
            pages += 1
            seen += [info.key for info in page]
            assert all(info.mod_revision <= first_revision for info in page)
            if not values:
                assert all(info.size is None for info in page)
            if pages == 2:  # keys sorting inside later pages, and changes to listed ones
                put_many(etcd, {"/registry/pods/ns/p0405": "new", "/registry/pods/ns/p049": "x"})
                etcd.etcdctl("del", "/registry/pods/ns/p045")
        assert pages == 8
        assert seen == [f"/registry/pods/ns/p{i:03d}".encode() for i in range(50)]
        assert await source.count(b"/registry/pods/") == 50  # 50 + 1 new - 1 deleted
        now = [kv.key async for page in source.list_values(b"/registry/") for kv in page]
        assert b"/registry/pods/ns/p0405" in now and b"/registry/pods/ns/p045" not in now


async def test_pages_over_the_receive_limit_are_fetched_smaller(
    etcd: EtcdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channel, "MAX_RECEIVE_BYTES", 64 * 1024)
    monkeypatch.setattr(etcd_module, "VALUES_FETCH", 30)
    put_many(etcd, {f"/big/{i:02d}": "x" * 10_000 for i in range(30)})
    replies: list[int] = []
    original = EtcdSource._range_page

    async def range_page(self: EtcdSource, *args: Any) -> Any:
        page = await original(self, *args)
        replies.append(len(page.items()))
        return page

    monkeypatch.setattr(EtcdSource, "_range_page", range_page)
    async with source_for(etcd) as source:
        pages = [page async for page in source.list_values(b"/big/", page_size=30)]
        assert [kv.key for kv in pages[0]] == [f"/big/{i:02d}".encode() for i in range(30)]
        assert sum(replies) == 30 and max(replies) < 7  # each fetch halved until its reply fits
        etcd.put("/big/huge", b"y" * 100_000)
        with pytest.raises(SourceError, match="/big/huge.* is over 65536 bytes"):
            await anext(aiter(source.list_values(b"/big/huge")))


def test_listing_ranges_cut_kubernetes_listings_before_each_letter() -> None:
    whole = listing_ranges(b"")
    assert whole[0] == (b"\0", b"/registry/b") and whole[-1] == (b"/registry/z", b"\0")
    assert len(whole) == 26 and all(a[1] == b[0] for a, b in pairwise(whole))
    assert listing_ranges(b"/registry/") == [
        (b"/registry/", b"/registry/b"),
        *whole[1:-1],
        (b"/registry/z", b"/registry0"),
    ]
    pods = listing_ranges(b"/registry/pods")
    assert pods[0] == (b"/registry/pods", b"/registry/pods/b")
    assert pods[-1] == (b"/registry/pods/z", b"/registry/podt") and len(pods) == 26
    assert listing_ranges(b"/registry/pods/default/") == [
        (b"/registry/pods/default/", b"/registry/pods/default0")
    ]
    assert listing_ranges(b"/other/") == [(b"/other/", b"/other0")]
    assert listing_ranges(b"/registry/pods/default/www") == [
        (b"/registry/pods/default/www", b"/registry/pods/default/wwx")
    ]


async def test_cut_listings_give_every_key_in_order_at_one_revision(
    etcd: EtcdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys on both sides of every cut, outside /registry and not lower case, pages over parts."""
    names = ["a", "b", "bz", "c0", "m", "y", "z", "zz", "~", "A", "0", "\u00e9t\u00e9"]
    keys = [f"/registry/{n}/ns/x" for n in names] + [f"/registry/{n}" for n in ("b", "z")]
    keys += ["/aaa", "/registry", "/registry0", "/s", "compact_rev_key", "/registry/pods/q/1"]
    put_many(etcd, {k: "v" for k in keys})
    before = revision_of(etcd)
    monkeypatch.setattr(etcd_module, "KEYS_ONLY_FETCH", 2)
    monkeypatch.setattr(etcd_module, "FIRST_FETCH", 1)
    want = sorted(k.encode() for k in keys)
    async with source_for(etcd) as source:
        listing = source.list_keys(b"", page_size=3)
        first = await anext(listing)
        etcd.put("/registry/m/ns/late", "written while listing")
        got = [*first, *[info async for page in listing for info in page]]
        assert [info.key for info in got] == want
        assert all(info.mod_revision <= before for info in got)
        assert [len(page) async for page in source.list_keys(b"", page_size=3)][:2] == [3, 3]
        pods = [info.key async for page in source.list_keys(b"/registry/pods/") for info in page]
        assert pods == [b"/registry/pods/q/1"]


def _recorded_ranges(
    monkeypatch: pytest.MonkeyPatch, requests: list[tuple[bytes, bytes, int]]
) -> None:
    """Record (key, range_end, limit) of every Range a listing asks for."""
    original = EtcdSource._range_page

    async def range_page(
        self: EtcdSource, key: bytes, end: bytes, revision: int, limit: int, keys_only: bool
    ) -> Any:
        requests.append((key, end, limit))
        return await original(self, key, end, revision, limit, keys_only)

    monkeypatch.setattr(EtcdSource, "_range_page", range_page)


async def test_the_rest_of_a_part_comes_in_one_range_sized_by_its_count(
    etcd: EtcdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every limited Range walks the rest of its range, so after a part's first page the rest
    is fetched in one Range of the size the reply's count gives (up to KEYS_ONLY_REST_FETCH),
    and pages of the caller's size are cut from it."""
    monkeypatch.setattr(etcd_module, "KEYS_ONLY_FETCH", 5)
    put_many(etcd, {f"/registry/pods/ns/p{i:03d}": "v" for i in range(40)})
    put_many(etcd, {f"/registry/secrets/ns/s{i}": "v" for i in range(3)})
    want = sorted([f"/registry/pods/ns/p{i:03d}" for i in range(40)] +
                  [f"/registry/secrets/ns/s{i}" for i in range(3)])  # fmt: skip
    for rest_fetch, limits in ((250_000, [5, 35]), (15, [5, 15, 15, 5])):
        monkeypatch.setattr(etcd_module, "KEYS_ONLY_REST_FETCH", rest_fetch)
        requests: list[tuple[bytes, bytes, int]] = []
        with monkeypatch.context() as patched:
            _recorded_ranges(patched, requests)
            async with source_for(etcd) as source:
                pages = [page async for page in source.list_keys(b"/registry/", page_size=5)]
        assert [len(page) for page in pages] == [5] * 8 + [3]
        assert [info.key.decode() for page in pages for info in page] == want
        pods_part = [limit for key, _end, limit in requests if key.startswith(b"/registry/p")]
        assert pods_part == limits


async def test_a_big_part_s_values_come_in_slices_that_walk_only_themselves(
    etcd: EtcdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paging a range with values would walk the rest of it once per page: after the first page,
    the rest is fetched by ranges bounded by every VALUES_FETCH-th key (read keys-only first),
    each holding at most one page; the values stay at the listing's revision."""
    monkeypatch.setattr(etcd_module, "VALUES_FETCH", 6)
    monkeypatch.setattr(etcd_module, "KEYS_ONLY_FETCH", 4)  # the bounds come in several pages
    monkeypatch.setattr(etcd_module, "KEYS_ONLY_REST_FETCH", 4)
    keys = [f"/registry/pods/ns/p{i:03d}" for i in range(40)]
    put_many(etcd, {key: f"v{i}" for i, key in enumerate(keys)})
    requests: list[tuple[bytes, bytes, int]] = []
    _recorded_ranges(monkeypatch, requests)
    async with source_for(etcd) as source:
        listing = source.list_values(b"/registry/pods/", page_size=6)
        first = await anext(listing)
        etcd.put("/registry/pods/ns/p0005", "written while listing")
        got = [*first, *[kv async for page in listing for kv in page]]
    assert [kv.key.decode() for kv in got] == keys
    assert [kv.value for kv in got] == [f"v{i}".encode() for i in range(40)]

    def held(key: bytes, end: bytes) -> int:
        return sum(key <= k.encode() < end for k in keys)

    holding = [held(key, end) for key, end, _ in requests if held(key, end)]
    assert holding == [40] + [6] * 5 + [4]  # the part's first page (the one Range over all of
    # it), then 6 slices of the 34 keys left


async def test_the_next_parts_are_requested_before_the_first_page_is_handed_over(
    etcd: EtcdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """etcd walks the next PARTS_AHEAD parts while the caller reads the current one."""
    put_many(etcd, {"/registry/apiregistration.k8s.io/apiservices/v1.": "v", "/registry/c/x": "v"})
    requests: list[tuple[bytes, bytes, int]] = []
    _recorded_ranges(monkeypatch, requests)
    ranges = listing_ranges(b"/registry/")
    async with source_for(etcd) as source:
        listing = source.list_keys(b"/registry/", page_size=1)
        first = await anext(listing)
        assert [info.key for info in first] == [b"/registry/apiregistration.k8s.io/apiservices/v1."]
        assert [(key, end) for key, end, _ in requests] == ranges[: 1 + etcd_module.PARTS_AHEAD]
        rest = [info.key async for page in listing for info in page]
        assert rest == [b"/registry/c/x"]
    assert [(key, end) for key, end, _ in requests] == ranges  # each part once, in order


async def test_count_and_get_now_and_at_a_revision(etcd: EtcdServer) -> None:
    etcd.put("/registry/configmaps/a/one", b"\x00first")
    before = revision_of(etcd)
    etcd.put("/registry/configmaps/a/one", b"second")
    etcd.put("/registry/configmaps/a/two", b"2")
    etcd.put("/registry/secrets/a/s", b"s")
    async with source_for(etcd) as source:
        assert await source.count(b"/registry/configmaps/") == 2
        assert await source.count() == 3
        assert (await source.status()).key_count == 3
        assert (await source.status(count_keys=False)).key_count is None
        now = await source.get(b"/registry/configmaps/a/one")
        assert now is not None and now.value == b"second" and now.version == 2
        old = await source.get(b"/registry/configmaps/a/one", revision=before)
        assert old is not None and old.value == b"\x00first" and old.version == 1
        assert await source.get(b"/registry/none") is None
        with pytest.raises(SourceError, match="future revision"):
            await source.get(b"/registry/configmaps/a/one", revision=before + 1000)


async def test_get_below_the_compaction_floor_raises_compacted(etcd: EtcdServer) -> None:
    for i in range(5):
        etcd.put("/k", str(i))
    head = revision_of(etcd)
    etcd.etcdctl("compact", str(head - 1))
    async with source_for(etcd) as source:
        assert await source.compact_revision() == head - 1
        with pytest.raises(CompactedError, match=f"^compacted at {head - 1}$") as caught:
            await source.get(b"/k", revision=2)
        assert caught.value.compact_revision == head - 1
        kv = await source.get(b"/k", revision=head - 1)  # the floor itself is still readable
        assert kv is not None and kv.value == b"3"
        status = await source.status()
        assert status.compact_revision == head - 1 and status.revision == head


async def test_history_includes_deletions_recreations_and_the_floor(etcd: EtcdServer) -> None:
    key = "/registry/pods/ns/web"
    etcd.put(key, "a")
    etcd.put("/other", "x")
    etcd.put(key, "b")
    etcd.etcdctl("del", key)
    etcd.put(key, "c")
    async with source_for(etcd) as source:
        history = await source.history(key.encode())
        assert history.compact_revision == 0
        ops = [(r.type, r.kv.value, r.kv.version) for r in history.revisions]
        assert ops == [
            (EventType.PUT, b"a", 1),
            (EventType.PUT, b"b", 2),
            (EventType.DELETE, b"", 0),
            (EventType.PUT, b"c", 1),
        ]
        revs = [r.kv.mod_revision for r in history.revisions]
        assert revs == sorted(revs) and revs[-1] == revision_of(etcd)

        etcd.etcdctl("del", key)  # history of a key that is gone now
        gone = await source.history(key.encode())
        assert [r.type for r in gone.revisions][-2:] == [EventType.PUT, EventType.DELETE]

        # compaction keeps the value alive at the floor and drops what was before it
        etcd.put(key, "d")
        floor = revision_of(etcd) - 1  # the delete above
        etcd.put(key, "e")
        etcd.etcdctl("compact", str(floor))
        after = await source.history(key.encode())
        assert after.compact_revision == floor
        assert [(r.type, r.kv.value) for r in after.revisions] == [
            (EventType.PUT, b"d"),
            (EventType.PUT, b"e"),
        ]
        never = await source.history(b"/never/existed")
        assert never.revisions == []


async def test_watch_delivers_puts_and_deletes_with_previous_values(etcd: EtcdServer) -> None:
    etcd.put("/registry/a", "1")
    start = revision_of(etcd) + 1
    etcd.put("/registry/a", "2")
    etcd.put("/outside", "x")
    etcd.etcdctl("del", "/registry/a")
    async with source_for(etcd) as source:
        events: list[WatchEvent] = []
        async for event in source.watch(b"/registry/", start_revision=start):
            events.append(event)
            if len(events) == 2:
                break
        assert [(e.type, e.kv.value) for e in events] == [
            (EventType.PUT, b"2"),
            (EventType.DELETE, b""),
        ]
        assert events[0].prev_kv is not None and events[0].prev_kv.value == b"1"
        assert events[1].prev_kv is not None and events[1].prev_kv.value == b"2"
        assert events[1].revision == revision_of(etcd)

        # without start_revision: only what happens after the watch starts
        live = source.watch(b"/registry/")
        first = asyncio.ensure_future(live.__anext__())
        await asyncio.sleep(0.3)
        etcd.put("/registry/b", "new")
        event = await asyncio.wait_for(first, 5)
        assert event.kv.key == b"/registry/b" and event.prev_kv is None
        await live.aclose()


async def test_watch_from_a_compacted_revision_says_compacted_at_n(etcd: EtcdServer) -> None:
    for i in range(6):
        etcd.put("/registry/x", str(i))
    floor = revision_of(etcd) - 2
    etcd.etcdctl("compact", str(floor))
    async with source_for(etcd) as source:
        with pytest.raises(CompactedError, match=f"compacted at {floor}"):
            async for _ in source.watch(b"/registry/", start_revision=2):
                pass
        events = []
        async for event in source.watch(b"/registry/", start_revision=floor):
            events.append(event.kv.value)
            if len(events) == 3:
                break
        assert events == [b"3", b"4", b"5"]


async def test_watch_survives_kill_and_restart_of_its_member(etcd_cluster: EtcdCluster) -> None:
    """kill -9 of the member a watch streams from: every event exactly once, in order."""
    cluster = etcd_cluster
    cluster.etcdctl("put", "/registry/w/start", "0")
    start = int(json.loads(cluster.etcdctl("get", "x", "-w", "json").stdout)["header"]["revision"])
    total = 45
    config = EtcdConfig(endpoints=cluster.endpoints, command_timeout=3.0, keepalive_time=6.0)
    async with EtcdSource(config) as source:
        await source.count()
        victim = cluster.endpoints.index(source.endpoint)

        def writer() -> None:
            for i in range(total):
                script = f'\nput /registry/w/{i:03d} "v{i}"\n\n\n'
                for _attempt in range(20):  # a put may hit the dying member: retry
                    if cluster.etcdctl("txn", input=script.encode(), check=False).returncode == 0:
                        break
                if i == 15:
                    cluster.kill(victim)
                if i == 30:
                    cluster.restart(victim)

        async def consume() -> list[WatchEvent]:
            got: list[WatchEvent] = []
            async for event in source.watch(b"/registry/w/", start_revision=start + 1):
                got.append(event)
                if event.kv.key == f"/registry/w/{total - 1:03d}".encode():
                    return got
            return got

        consumer = asyncio.ensure_future(consume())
        await asyncio.to_thread(writer)
        events = await asyncio.wait_for(consumer, 40)
        assert source.endpoint != cluster.endpoints[victim]  # the stream moved to another member

    async with EtcdSource(EtcdConfig(endpoints=cluster.endpoints)) as fresh:
        expected = []
        async for event in fresh.watch(b"/registry/w/", start_revision=start + 1):
            expected.append((event.revision, event.kv.key, event.kv.value))
            if event.kv.key == f"/registry/w/{total - 1:03d}".encode():
                break
    got = [(e.revision, e.kv.key, e.kv.value) for e in events]
    assert got == expected
    revisions = [r for r, _, _ in got]
    assert revisions == sorted(set(revisions))
    assert {k for _, k, _ in got} == {f"/registry/w/{i:03d}".encode() for i in range(total)}


async def test_watch_notices_a_frozen_member_by_keepalive(etcd_cluster: EtcdCluster) -> None:
    """SIGSTOP: the TCP connection stays open and silent; keepalive pings find it dead."""
    cluster = etcd_cluster
    config = EtcdConfig(endpoints=cluster.endpoints, keepalive_time=5.0, keepalive_timeout=1.0)
    async with EtcdSource(config) as source:
        watch = source.watch(b"/registry/")
        first = asyncio.ensure_future(anext(watch))
        await asyncio.sleep(0.3)
        cluster.etcdctl("put", "/registry/a", "1")
        assert (await asyncio.wait_for(first, 5)).kv.value == b"1"
        frozen = cluster.endpoints.index(source.endpoint)
        started = time.monotonic()
        cluster.kill(frozen, signal.SIGSTOP)
        try:
            for _attempt in range(5):  # the frozen member may be the leader: wait for a new one
                if cluster.etcdctl("put", "/registry/a", "2", check=False).returncode == 0:
                    break
            event = await asyncio.wait_for(anext(watch), 20)
            assert event.kv.value == b"2" and event.prev_kv and event.prev_kv.value == b"1"
            assert time.monotonic() - started < 5.0 + 1.0 + 5.0
            assert source.endpoint != cluster.endpoints[frozen]
        finally:
            cluster.resume(frozen)
            await watch.aclose()


async def test_failover_to_the_next_endpoint(etcd_cluster: EtcdCluster) -> None:
    cluster = etcd_cluster
    cluster.etcdctl("put", "/k", "v")
    config = EtcdConfig(endpoints=cluster.endpoints, command_timeout=1.5)
    async with EtcdSource(config) as source:
        assert (await source.status()).endpoint == cluster.endpoints[0]
        cluster.kill(0, signal.SIGSTOP)  # frozen: accepts connections, answers nothing
        try:
            started = time.monotonic()
            kv = await source.get(b"/k")
            assert time.monotonic() - started < 2 * config.command_timeout
            assert kv is not None and kv.value == b"v"
            assert source.endpoint != cluster.endpoints[0]
        finally:
            cluster.resume(0)
        used = cluster.endpoints.index(source.endpoint)
        cluster.kill(used)  # kill -9
        assert await source.count() == 1
        status = await source.status()
        assert status.endpoint not in (cluster.endpoints[used], None)
        assert len(status.members) == 3 and status.leader
        assert sum(m.is_leader for m in status.members) == 1


async def test_unreachable_endpoints_give_one_clear_error() -> None:
    config = EtcdConfig(endpoints=["http://127.0.0.1:1", "127.0.0.1:2"], command_timeout=2.0)
    async with EtcdSource(config) as source:
        with pytest.raises(SourceError, match=r"cannot reach etcd: http://127\.0\.0\.1:1: .*:2"):
            await source.count()


async def test_tls_with_client_certificates(etcd_tls: EtcdServer) -> None:
    etcd_tls.put("/registry/pods/a/b", "tls")
    async with source_for(etcd_tls) as source:
        kv = await source.get(b"/registry/pods/a/b")
        assert kv is not None and kv.value == b"tls"
        assert (await source.status()).endpoint == etcd_tls.endpoint

    async with source_for(etcd_tls, cert=None, key=None) as no_cert:
        with pytest.raises(SourceError, match="client certificate"):
            await no_cert.count()

    other = make_tls_files(etcd_tls.data_dir / "other-ca")
    async with source_for(etcd_tls, cacert=str(other.ca)) as wrong_ca:
        with pytest.raises(SourceError, match="TLS failed"):
            await wrong_ca.count()

    async with source_for(etcd_tls, cacert=None, insecure_skip_tls_verify=True) as skip:
        assert await skip.count() == 1

    async with source_for(etcd_tls, cacert="/nonexistent/ca.crt") as missing:
        with pytest.raises(SourceError, match="cannot read --cacert /nonexistent/ca.crt"):
            await missing.count()


def enable_auth_with_reader(server: EtcdServer) -> None:
    """root + a user ``reader`` whose only role may read every key."""
    server.etcdctl("user", "add", "root", "--new-user-password=rootpw")
    server.etcdctl("role", "add", "readonly")
    server.etcdctl("role", "grant-permission", "readonly", "read", "--prefix", "")
    server.etcdctl("user", "add", "reader", "--new-user-password=readpw")
    server.etcdctl("user", "grant-role", "reader", "readonly")
    server.etcdctl("auth", "enable")


async def test_read_role_is_enough_for_every_method() -> None:
    """Read-only proof: a user that can only read runs every EtcdSource method, but cannot put."""
    server = EtcdServer(extra_args=["--auth-token-ttl", "1"]).start()
    try:
        server.put("/registry/configmaps/ns/cm", "v1")
        lease = json.loads(server.etcdctl("lease", "grant", "600", "-w", "json").stdout)["ID"]
        server.etcdctl("put", "/registry/events/ns/e", "ev", f"--lease={lease:x}")
        server.put("/registry/configmaps/ns/cm", "v2")
        enable_auth_with_reader(server)
        root = ["--user", "root:rootpw"]
        server.etcdctl(*root, "compact", str(revision_of_auth(server) - 1))

        denied = server.etcdctl("--user", "reader:readpw", "put", "/registry/x", "y", check=False)
        assert denied.returncode != 0 and b"permission denied" in denied.stderr

        source = source_for(server, user="reader", password="readpw")
        async with source:
            status = await source.status()
            assert status.key_count == 2 and status.compact_revision
            assert [k.key async for page in source.list_keys(b"/registry/") for k in page]
            assert [kv async for page in source.list_values(b"/registry/") for kv in page]
            assert await source.count(b"/registry/configmaps/") == 1
            kv = await source.get(b"/registry/events/ns/e")
            assert kv is not None and kv.lease == lease
            ttl = await source.lease_ttl(kv.lease)
            assert ttl is not None and 0 < ttl[0] <= ttl[1] == 600
            await asyncio.sleep(2.5)  # the simple token expires: the source logs in again
            history = await source.history(b"/registry/configmaps/ns/cm")
            assert history.revisions[-1].kv.value == b"v2"
            with pytest.raises(CompactedError):
                await source.get(b"/registry/configmaps/ns/cm", revision=2)
            watch = source.watch(b"/registry/", start_revision=history.compact_revision)
            event = await asyncio.wait_for(watch.__anext__(), 5)
            assert event.kv.key.startswith(b"/registry/")
            await watch.aclose()

        narrow = ("--user", "root:rootpw")
        server.etcdctl(*narrow, "role", "add", "cm-only")
        server.etcdctl(
            *narrow,
            "role",
            "grant-permission",
            "cm-only",
            "read",
            "--prefix",
            "/registry/configmaps/",
        )
        server.etcdctl(*narrow, "user", "add", "narrow", "--new-user-password=npw")
        server.etcdctl(*narrow, "user", "grant-role", "narrow", "cm-only")
        async with source_for(server, user="narrow", password="npw") as limited:
            assert await limited.get(b"/registry/configmaps/ns/cm") is not None
            with pytest.raises(SourceError, match="permission denied"):
                await limited.get(b"/registry/events/ns/e")
            with pytest.raises(SourceError, match="permission denied"):  # not retried for 60 s
                await asyncio.wait_for(anext(aiter(limited.watch(b"/registry/"))), 5)

        async with source_for(server, user="reader", password="wrong") as bad:
            with pytest.raises(SourceError, match="login as 'reader' failed"):
                await bad.count()
    finally:
        server.cleanup()


def revision_of_auth(server: EtcdServer) -> int:
    out = server.etcdctl("--user", "root:rootpw", "get", "x", "-w", "json").stdout
    return int(json.loads(out)["header"]["revision"])


def test_only_read_rpcs_exist() -> None:
    """The module can only build calls from READ_ONLY_RPCS, and that table has no writes."""
    allowed = {
        ("KV", "Range"),
        ("Watch", "Watch"),
        ("Maintenance", "Status"),
        ("Cluster", "MemberList"),
        ("Auth", "Authenticate"),
        ("Lease", "LeaseTimeToLive"),
        ("Maintenance", "HashKV"),
        ("Lease", "LeaseLeases"),
    }
    assert set(READ_ONLY_RPCS) == allowed
    for source in (REPO / "ketui" / "core" / "sources" / "etcd").glob("*.py"):
        text = source.read_text()
        writes = r"\b(PutRequest|DeleteRangeRequest|TxnRequest|CompactionRequest)\b"
        assert not re.search(writes, text), source
        assert "rpc_pb2_grpc" not in text  # the full stubs are never imported


async def test_status_has_what_newer_servers_say(etcd: EtcdServer) -> None:
    """Fields newer than the stubs (raftAppliedIndex, dbSizeInUse; isLearner of members) are read
    from the reply's bytes, on 3.4 and 3.5 alike."""
    async with EtcdSource(EtcdConfig(endpoints=[etcd.endpoint])) as source:
        status = await source.status()
    assert int(status.extra["db_size_in_use"]) > 0
    assert int(status.extra["raft_applied_index"]) >= 1
    assert [m.is_learner for m in status.members] == [False]


def test_a_learner_member_is_recognised() -> None:
    from etcd3.etcdrpc import rpc_pb2

    from ketui.core.pbwire import len_field, varint_field
    from ketui.core.sources.etcd.source import _newer_fields

    raw = varint_field(1, 7) + len_field(2, b"m2") + varint_field(5, 1)  # Member.isLearner = 5
    assert _newer_fields(rpc_pb2.Member.FromString(raw)) == {5: 1}
    assert _newer_fields(rpc_pb2.Member.FromString(raw[:-2])) == {}
