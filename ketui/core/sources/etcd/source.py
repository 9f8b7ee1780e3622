"""Live etcd over gRPC (``grpc.aio``), strictly read-only.

Every call goes through the call objects :mod:`.channel` builds from its table of read-only RPCs
(:data:`~ketui.core.sources.etcd.channel.READ_ONLY_RPCS`): no code path can write to etcd.

Behaviour worth knowing:

* Several endpoints: calls go to the endpoint that last worked; on UNAVAILABLE or a deadline the
  next one is tried. ``status().endpoint`` says which one is in use.
* Big ranges are paged with ``limit`` and continue from ``last key + \\0``, every page read at the
  first page's header revision, so a listing is one consistent snapshot even while writes go on.
  gRPC's receive limit is raised to 256 MiB; a reply over it is asked for again, smaller.
  Keys-only replies are decoded column-wise straight into KeyInfo lists (:mod:`.keys_only`).
* The compaction floor is not in any Range or Status reply. A Range at revision 1 tells whether
  anything was compacted; if so, a watch from revision 1 is refused by etcd with the exact
  ``compact_revision`` (that is how etcd clients learn it), and the watch is cancelled at once.
* History of a key: the value alive at the floor (a Range at the floor), then a watch on that one
  key replays every later put and delete, the only read API that shows deletions.
* Watches resume after a broken stream at last seen revision + 1 on whichever endpoint answers.
  Keepalive pings (``keepalive_time``/``keepalive_timeout``) notice a frozen member in seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

import grpc
import grpc.aio
from etcd3.etcdrpc import kv_pb2, rpc_pb2
from google.protobuf import empty_pb2

from ketui.core.k8s.keys import DEFAULT_PREFIX
from ketui.core.pbwire import WireError, iter_fields
from ketui.core.source import (
    CompactedError,
    EventType,
    History,
    KeyInfo,
    KeyValue,
    LeaseInfo,
    Member,
    ProgressCallback,
    Revision,
    SourceError,
    SourceStatus,
    ValueTest,
    WatchEvent,
)
from ketui.core.sources.etcd import channel
from ketui.core.sources.etcd.channel import KEYS_ONLY_RANGE, Endpoint
from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.ranges import etcd_range

WATCH_RECONNECT_TIMEOUT = 60.0
"""A watch gives up (SourceError) after this many seconds without any endpoint answering."""

HISTORY_IDLE_TIMEOUT = 1.0
"""How long a history replay of a key that no longer exists waits for (more) events; etcd syncs
lagging watchers every 100 ms, so a quiet second means the replay is over."""

KEYS_ONLY_FETCH = 50_000
"""Keys fetched per keys-only Range whatever the page size asked for (~2.5 MB). etcd 3.4 walks
its whole index range for every limited Range, so many small requests cost far more than few
big ones; pages of the requested size are cut from each fetch, and the next fetch is already
under way while the caller works on the current one."""

KEYS_ONLY_REST_FETCH = 250_000
"""At most this many keys in the one Range that fetches the rest of a listing's part (~12 MB;
its decoding holds the interpreter lock for about 10 ms)."""

PARTS_AHEAD = 4
"""Parts of a listing whose first page is requested while an earlier part is read."""

LEASES_IN_FLIGHT = 16
"""LeaseTimeToLive calls at a time when every lease is listed."""

SLICES_AHEAD = 3
"""Slices of a big part's values fetched at a time (:meth:`EtcdSource._value_slices`)."""

FIRST_FETCH = 10_000
"""At most this many keys in a listing's first Range: the first page (the UI's first paint) then
takes about half as long as a full fetch."""

LISTING_SPLITS = b"bcdefghijklmnopqrstuvwxyz"
"""Letters before which a big listing is cut into parts requested apart (:func:`listing_ranges`)."""

VALUES_FETCH = 5_000
"""Keys with values fetched per Range (~10 MB of typical Kubernetes objects); a reply over
MAX_RECEIVE_BYTES is asked for again with half the limit."""

_WATCH_BATCH_MAX_REVS = 1000  # etcd's watchBatchMaxRevs: a fuller response may continue
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
_PROGRESS_REQUEST = rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest())

T = TypeVar("T")


def listing_ranges(prefix: bytes) -> list[tuple[bytes, bytes]]:
    """The ``(key, range_end)`` parts a listing of ``prefix`` is requested in, in key order.

    etcd 3.4 collects every revision in ``[key, range_end)`` before it applies a Range's limit,
    so the first page of a million keys costs half a second and paging through them costs time
    proportional to the keys left, page after page. Kubernetes names resources and namespaces in
    lower case, so a listing of the whole store, of the storage prefix or of one resource (or
    namespace) is cut before each letter of the next path segment (:data:`LISTING_SPLITS`):
    every part is walked on its own, and the first page arrives after a walk of one part. An
    empty part costs one small Range. Other prefixes are listed in one range.
    """
    key, end = etcd_range(prefix)
    root = DEFAULT_PREFIX.encode() + b"/"
    if root.startswith(prefix):
        base = root
    elif prefix.startswith(root) and prefix.count(b"/", len(root)) <= 1:
        base = prefix if prefix.endswith(b"/") else prefix + b"/"
    else:
        return [(key, end)]
    cuts = [base + bytes([letter]) for letter in LISTING_SPLITS]
    bounds = [key, *(cut for cut in cuts if key < cut and (end == b"\0" or cut < end)), end]
    return list(pairwise(bounds))


#: StatusResponse fields newer than python3-etcd3's stubs (etcd's rpc.proto numbers), read from
#: the reply's bytes: raftAppliedIndex (3.4), dbSizeInUse (3.4), isLearner (3.4),
#: storageVersion (3.6), dbSizeQuota (3.6).
_STATUS_FIELDS = {7: "raft_applied_index", 9: "db_size_in_use", 10: "is_learner",
                  11: "storage_version", 12: "db_size_quota"}  # fmt: skip
_MEMBER_IS_LEARNER = 5  # Member.isLearner (3.4)
_STATUS_ERRORS = 8  # StatusResponse.errors (3.4): raised alarms


def _newer_fields(message: Any) -> dict[int, int | bytes]:
    """Fields of a reply that the stubs do not know (kept as unknown fields, re-serialized)."""
    known = {f.number for f in message.DESCRIPTOR.fields}
    try:
        fields = iter_fields(message.SerializeToString())
    except WireError:
        return {}
    return {number: value for number, _wire, value in fields if number not in known}


def member_is_learner(member: Any) -> bool:
    """Member.isLearner (etcd 3.4+; newer than the stubs)."""
    return bool(_newer_fields(member).get(_MEMBER_IS_LEARNER, 0))


def status_errors(status: Any) -> list[str]:
    """StatusResponse.errors (etcd 3.4+, newer than the stubs): the raised alarms, as etcd
    words them (``memberID:1234 alarm:NOSPACE``). Read from Status: the Alarm call that lists
    them also raises and disarms them, so ketui never makes it."""
    try:
        fields = iter_fields(status.SerializeToString())
    except WireError:
        return []
    return [
        value.decode(errors="replace")
        for number, _wire, value in fields
        if number == _STATUS_ERRORS and isinstance(value, bytes)
    ]


def newer_status(status: Any) -> dict[str, str]:
    """What a 3.4+ server says beyond the stubs' fields (absent ones are left out)."""
    out = {}
    for number, value in _newer_fields(status).items():
        name = _STATUS_FIELDS.get(number)
        if name is None:
            continue
        if name == "is_learner":
            out[name] = "true" if value else "false"
        else:
            out[name] = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return out


def _key_value(kv: kv_pb2.KeyValue) -> KeyValue:
    return KeyValue(kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)


def _kept_values(chunk: Any, keep: ValueTest) -> list[KeyValue]:
    """The KeyValues of a Range reply's ``kvs`` whose value passes ``keep``."""
    kept = []
    for kv in chunk:
        value = kv.value
        if keep(value, 0, len(value)):
            kept.append(_key_value(kv))
    return kept


async def _repaged(pages: AsyncIterator[list[T]], size: int) -> AsyncIterator[list[T]]:
    """Pages of ``size`` items (the last one shorter) cut from pages of any size, in order."""
    left: list[T] = []  # items of the last page that did not fill a page of their own
    async for page in pages:
        if left:
            page = left + page
        full = len(page) - len(page) % size
        for start in range(0, full, size):
            yield page[start : start + size]
        left = page[full:]
    if left:
        yield left


@dataclass(slots=True)
class _Page:
    """One Range reply of a listing: where the listing goes on, and its items on demand."""

    revision: int
    more: bool
    last_key: bytes | None
    left: int  # keys of the requested range after this page
    items: Callable[[], Any]


def _ready(items: T) -> Callable[[], T]:
    """Already decoded items in the shape of a page that decodes on demand."""
    return lambda: items


def _is_compacted(error: grpc.aio.AioRpcError) -> bool:
    return "required revision has been compacted" in (error.details() or "")


class EtcdSource:
    """Read-only :class:`ketui.core.source.Source` over a live etcd cluster."""

    def __init__(self, config: EtcdConfig) -> None:
        self.config = config
        self._endpoints: dict[str, Endpoint] = {}
        self._current = 0
        self._channels = channel.Channels(config)
        self._auth_lock = asyncio.Lock()

    # ------------------------------------------------------------------ protocol

    @property
    def live(self) -> bool:
        return True

    @property
    def endpoint(self) -> str:
        """The endpoint calls currently go to."""
        return self.config.endpoints[self._current]

    async def status(self, *, count_keys: bool = True) -> SourceStatus:
        status = await self._unary(("Maintenance", "Status"), rpc_pb2.StatusRequest())
        members_resp = await self._unary(("Cluster", "MemberList"), rpc_pb2.MemberListRequest())
        count = await self.count(b"") if count_keys else None
        compact = await self.compact_revision()
        members = tuple(
            Member(
                m.ID, m.name, tuple(m.clientURLs), is_leader=m.ID == status.leader,
                is_learner=member_is_learner(m),
            )
            for m in members_resp.members
        )  # fmt: skip
        leader = next((m.name or f"{m.id:x}" for m in members if m.is_leader), None)
        return SourceStatus(
            kind="etcd",
            description=", ".join(self.config.endpoints),
            revision=status.header.revision,
            compact_revision=compact,
            db_size=status.dbSize,
            version=status.version,
            endpoint=self.endpoint,
            leader=leader,
            members=members,
            key_count=count,
            read_only=True,
            extra={
                "member_id": f"{status.header.member_id:x}",
                "cluster_id": f"{status.header.cluster_id:x}",
                "raft_index": str(status.raftIndex),
                "raft_term": str(status.raftTerm),
                **newer_status(status),
            },
        )

    async def list_keys(
        self, prefix: bytes = b"", *, revision: int | None = None, page_size: int = 10_000
    ) -> AsyncIterator[list[KeyInfo]]:
        """Keys only; etcd does not send value sizes in keys-only mode, so ``size`` is ``None``."""
        fetch = max(page_size, KEYS_ONLY_FETCH)
        pages = self._range_pages(prefix, revision, fetch, keys_only=True)
        async for infos in _repaged(pages, page_size):
            yield infos

    async def list_values(
        self, prefix: bytes = b"", *, revision: int | None = None, page_size: int = 1_000
    ) -> AsyncIterator[list[KeyValue]]:
        """Keys with values, paged like :meth:`list_keys` (for byte counts and full reads)."""
        fetch = max(page_size, VALUES_FETCH)
        chunks = self._range_pages(prefix, revision, fetch, keys_only=False)
        pages = ([_key_value(kv) for kv in chunk] async for chunk in chunks)
        async for values in _repaged(pages, page_size):
            yield values

    async def filter_values(
        self, prefix: bytes, keep: ValueTest, *, on_progress: ProgressCallback | None = None
    ) -> AsyncGenerator[list[KeyValue], None]:
        """Values come in the listing's pages (:data:`VALUES_FETCH` keys a Range) and are tested
        in a thread while etcd sends the next page."""
        total = await self.count(prefix) if on_progress is not None else 0
        done = 0
        pages = self._range_pages(prefix, None, VALUES_FETCH, keys_only=False)
        async with aclosing(pages):
            async for chunk in pages:
                kept = await asyncio.to_thread(_kept_values, chunk, keep)
                done += len(chunk)
                if on_progress is not None:
                    on_progress(done, max(total, done))
                if kept:
                    yield kept

    async def count(self, prefix: bytes = b"") -> int:
        key, end = etcd_range(prefix)
        resp = await self._range(rpc_pb2.RangeRequest(key=key, range_end=end, count_only=True))
        return int(resp.count)

    @property
    def warnings(self) -> tuple[str, ...]:
        return ()

    async def current_revision(self) -> int:
        """The header of a cheap count-only range: no key is counted or sent."""
        resp = await self._range(rpc_pb2.RangeRequest(key=b"\0", count_only=True))
        return int(resp.header.revision)

    async def get(self, key: bytes, *, revision: int | None = None) -> KeyValue | None:
        resp = await self._range(rpc_pb2.RangeRequest(key=key, revision=revision or 0))
        return _key_value(resp.kvs[0]) if resp.kvs else None

    async def lease_ttl(self, lease_id: int) -> tuple[int, int] | None:
        """``(remaining ttl, granted ttl)`` in seconds, or ``None`` when the lease is gone."""
        if not lease_id:
            return None
        resp = await self._unary(
            ("Lease", "LeaseTimeToLive"), rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id)
        )
        if resp.TTL < 0:
            return None
        return int(resp.TTL), int(resp.grantedTTL)

    async def leases(self) -> list[LeaseInfo]:
        """Every lease (LeaseLeases) with its TTLs, asked :data:`LEASES_IN_FLIGHT` at a time; a
        lease that expires meanwhile is left out."""
        ids = await self._unary(("Lease", "LeaseLeases"), empty_pb2.Empty())
        limit = asyncio.Semaphore(LEASES_IN_FLIGHT)

        async def info(lease_id: int) -> LeaseInfo | None:
            async with limit:
                ttl = await self.lease_ttl(lease_id)
            return None if ttl is None else LeaseInfo(lease_id, ttl[1], ttl[0])

        found = await asyncio.gather(*(info(lease_id) for lease_id in ids))
        return [lease for lease in found if lease is not None]

    async def compact_revision(self) -> int:
        """The compaction floor: revisions below it are gone (0 when nothing was compacted)."""
        try:
            await self._unary(
                ("KV", "Range"), rpc_pb2.RangeRequest(key=b"\0", revision=1, count_only=True)
            )
            return 0
        except _Compacted:
            pass
        # A watch from revision 1 is refused with the exact compaction revision.
        try:
            call = await self._open_watch(b"\0", b"", 1, prev_kv=False)
        except CompactedError as error:
            return error.compact_revision
        try:
            while True:
                resp = await asyncio.wait_for(call.read(), self.config.command_timeout)
                if resp is grpc.aio.EOF:
                    break
                if resp.compact_revision:
                    return int(resp.compact_revision)
        except asyncio.TimeoutError:
            pass
        finally:
            call.cancel()
        raise SourceError("etcd reports compacted history but did not say up to which revision")

    async def history(self, key: bytes) -> History:
        """Every revision of ``key`` since the compaction floor, oldest first, deletions included.

        The value alive at the floor comes from a Range at the floor; everything after it is
        replayed by a watch on the single key, which is the only read API that returns deletions.
        """
        now = await self._range(rpc_pb2.RangeRequest(key=key))
        head = int(now.header.revision)
        current = _key_value(now.kvs[0]) if now.kvs else None
        floor = await self.compact_revision()
        revisions: list[Revision] = []
        if floor:
            at_floor = await self._range(rpc_pb2.RangeRequest(key=key, revision=floor))
            if at_floor.kvs:
                revisions.append(Revision(EventType.PUT, _key_value(at_floor.kvs[0])))
        start = floor + 1 if floor else 1
        if start <= head and not (current and current.mod_revision < start):
            stop_at = current.mod_revision if current else None
            async for event in self._replay_key(key, start, head, stop_at):
                revisions.append(Revision(event.type, event.kv))
        return History(key=key, revisions=revisions, compact_revision=floor)

    async def watch(
        self, prefix: bytes = b"", *, start_revision: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        next_rev = start_revision if start_revision else await self.current_revision() + 1
        key, end = etcd_range(prefix)
        down_since: float | None = None
        while True:
            call = None
            try:
                call = await self._open_watch(key, end, next_rev, prev_kv=True)
                down_since = None
                while True:
                    resp = await self._read_watch(call)
                    if resp is grpc.aio.EOF:
                        raise _Unavailable("the watch stream ended")
                    self._check_watch_response(resp, next_rev)
                    for ev in resp.events:
                        if ev.kv.mod_revision >= next_rev:  # never yield anything twice
                            yield self._event(ev)
                    if resp.events:
                        next_rev = max(next_rev, resp.events[-1].kv.mod_revision + 1)
            except (grpc.aio.AioRpcError, _Unavailable, _Unreachable) as error:
                if isinstance(error, grpc.aio.AioRpcError) and error.code() not in _RETRYABLE:
                    raise self._translate(error) from None
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > WATCH_RECONNECT_TIMEOUT:
                    raise SourceError(
                        f"lost the watch on etcd ({', '.join(self.config.endpoints)}): {error}"
                    ) from None
                self._advance()
                await asyncio.sleep(0.2)
            finally:
                if call is not None:
                    call.cancel()

    async def close(self) -> None:
        endpoints, self._endpoints = list(self._endpoints.values()), {}
        for endpoint in endpoints:
            await endpoint.channel.close()

    async def __aenter__(self) -> EtcdSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ ranges

    async def _range(
        self, request: rpc_pb2.RangeRequest, rpc: tuple[str, str] = ("KV", "Range")
    ) -> Any:
        """A Range reply (a :class:`KeysPage` for the keys-only call)."""
        try:
            return await self._unary(rpc, request)
        except _Compacted:
            floor = await self.compact_revision()
            raise CompactedError(floor, request.revision or None) from None

    async def _range_pages(
        self, prefix: bytes, revision: int | None, limit: int, *, keys_only: bool
    ) -> AsyncGenerator[Any, None]:
        """Each page, all at one revision: a list of KeyInfo (keys-only) or the raw ``kvs``.

        Every limited Range walks the rest of its range (etcd 3.4 collects it, 3.5 counts it), so
        a listing is never paged through one big range. It is requested in the parts
        :func:`listing_ranges` cuts it into, yielded in key order; the first pages of the next
        :data:`PARTS_AHEAD` parts are requested while a part is read, so etcd walks several parts
        at once (on as many cores as it has). Within a part, see :meth:`_part_pages`.
        """
        ranges = listing_ranges(prefix)
        first = await self._range_page(
            *ranges[0], revision or 0, min(limit, FIRST_FETCH), keys_only
        )
        rev = revision or first.revision
        spans = self._spans_in_order(ranges, first, rev, limit, limit, keys_only, PARTS_AHEAD)
        async with aclosing(spans) as pages:
            async for items in pages:
                yield items

    async def _spans_in_order(
        self,
        spans: list[tuple[bytes, bytes]],
        first: _Page | None,
        rev: int,
        first_fetch: int,
        limit: int,
        keys_only: bool,
        ahead: int,
    ) -> AsyncGenerator[Any, None]:
        """The pages of every ``(key, end)`` span in order (:meth:`_part_pages`), the first
        pages (of ``first_fetch`` keys) of the next ``ahead`` spans requested while one is read;
        ``first`` is the first span's first page where it is already in."""
        fetches: dict[int, asyncio.Future[_Page]] = {}
        try:
            for index, (_start, end) in enumerate(spans):
                for later in range(index, min(len(spans), index + 1 + ahead)):
                    if later not in fetches and (later > 0 or first is None):
                        fetches[later] = asyncio.ensure_future(
                            self._range_page(*spans[later], rev, first_fetch, keys_only)
                        )
                page = first if index == 0 and first is not None else await fetches.pop(index)
                async with aclosing(self._part_pages(page, end, rev, limit, keys_only)) as pages:
                    async for items in pages:
                        yield items
        finally:
            for future in fetches.values():
                future.cancel()

    async def _part_pages(
        self, page: _Page, end: bytes, rev: int, limit: int, keys_only: bool
    ) -> AsyncGenerator[Any, None]:
        """The pages of one part from its first ``page``.

        Keys-only, the rest comes in one Range of the size the reply's count says (up to
        :data:`KEYS_ONLY_REST_FETCH`). With values, a rest of more than one page is fetched in
        slices bounded by its keys (:meth:`_value_slices`), not page after page. The next page is
        asked for before the current one is decoded into Python objects; keys-only pages are
        decoded in a thread, so the event loop stays free.
        """
        pending: asyncio.Future[_Page] | None = None
        slices = False
        try:
            while True:
                if page.more and page.last_key is not None:
                    start = page.last_key + b"\0"
                    if keys_only:
                        fetch = min(max(page.left, limit), KEYS_ONLY_REST_FETCH)
                        pending = asyncio.ensure_future(
                            self._range_page(start, end, rev, fetch, True)
                        )
                    elif page.left > limit:
                        slices = True
                    else:
                        pending = asyncio.ensure_future(
                            self._range_page(start, end, rev, limit, False)
                        )
                # Two loop steps hand the requests to gRPC's core (the task above, then the
                # call's own task) before the CPU-bound decoding below (measured: about 20 %
                # faster keys-only listings of 110k keys than decoding first).
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                items = await asyncio.to_thread(page.items) if keys_only else page.items()
                if items:
                    yield items
                if slices:
                    assert page.last_key is not None
                    rest = self._value_slices(page.last_key + b"\0", end, rev, page.left, limit)
                    async with aclosing(rest) as pages:
                        async for items in pages:
                            yield items
                    return
                if pending is None:
                    return
                page, pending = await pending, None
        finally:
            if pending is not None:
                pending.cancel()

    async def _value_slices(
        self, start: bytes, end: bytes, rev: int, left: int, limit: int
    ) -> AsyncGenerator[Any, None]:
        """The values of ``[start, end)`` (``left`` keys) in slices of ``limit`` keys, each one
        Range that walks only its own slice; :data:`SLICES_AHEAD` are fetched at a time.

        The slices' bounds are every ``limit``-th key, read first with keys-only Ranges (a
        million keys cost about a second; paging through them with values would walk the
        rest of the range once per page).
        """
        bounds = [start]
        seen, key = 0, start
        fetch = min(max(left, KEYS_ONLY_FETCH), KEYS_ONLY_REST_FETCH)
        while True:
            request = rpc_pb2.RangeRequest(
                key=key, range_end=end, limit=fetch, revision=rev, keys_only=True
            )
            keys_page = await self._range(request, KEYS_ONLY_RANGE)
            names = keys_page.keys()
            # keys number limit, 2 * limit, ... of the range start the slices after the first
            first_bound = max(-(-seen // limit), 1) * limit
            bounds += names[first_bound - seen :: limit]
            seen += len(names)
            if not keys_page.more or keys_page.last_key is None:
                break
            key = keys_page.last_key + b"\0"
            fetch = min(max(keys_page.left, KEYS_ONLY_FETCH), KEYS_ONLY_REST_FETCH)
        spans = list(pairwise([*bounds, end]))
        pages = self._spans_in_order(spans, None, rev, limit + 1, limit, False, SLICES_AHEAD - 1)
        async with aclosing(pages):
            async for items in pages:
                yield items

    async def _range_page(
        self, key: bytes, end: bytes, revision: int, limit: int, keys_only: bool
    ) -> _Page:
        """One page, its items decoded on demand; a reply over the receive limit is asked for
        again with half the limit."""
        while True:
            request = rpc_pb2.RangeRequest(
                key=key, range_end=end, limit=limit, revision=revision, keys_only=keys_only
            )
            try:
                if keys_only:
                    keys = await self._range(request, KEYS_ONLY_RANGE)
                    return _Page(keys.revision, keys.more, keys.last_key, keys.left, keys.infos)
                resp = await self._range(request)
                last = resp.kvs[-1].key if resp.kvs else None
                left = max(int(resp.count) - len(resp.kvs), 0)
                return _Page(int(resp.header.revision), resp.more, last, left, _ready(resp.kvs))
            except _TooLarge:
                if limit <= 1:
                    raise SourceError(
                        f"the etcd value at or after {key!r} is over "
                        f"{channel.MAX_RECEIVE_BYTES} bytes"
                    ) from None
                limit //= 2

    # ------------------------------------------------------------------ watches

    @staticmethod
    def _event(ev: Any) -> WatchEvent:
        kind = EventType.DELETE if ev.type == kv_pb2.Event.DELETE else EventType.PUT
        prev = _key_value(ev.prev_kv) if ev.HasField("prev_kv") else None
        return WatchEvent(kind, _key_value(ev.kv), prev)

    async def _read_watch(self, call: Any) -> Any:
        """The next response of a watch stream, or :class:`_Unavailable` if the member froze.

        gRPC's transport pings do not reliably notice a frozen member (SIGSTOP, a hung host) on a
        busy watch stream (tests/reliability/test_faults.py saw a watch stay on one for 30 s), so
        a stream silent for ``keepalive_time`` is asked for a progress report, which etcd answers
        at once on a live stream; no answer within ``keepalive_timeout`` means the member is gone.
        """
        read = asyncio.ensure_future(call.read())
        try:
            done, _ = await asyncio.wait({read}, timeout=self.config.keepalive_time)
            if not done:
                try:
                    await asyncio.wait_for(
                        call.write(_PROGRESS_REQUEST), self.config.keepalive_timeout
                    )
                except asyncio.TimeoutError:
                    pass  # the read below decides
                done, _ = await asyncio.wait({read}, timeout=self.config.keepalive_timeout)
                if not done:
                    raise _Unavailable(f"{self.endpoint}: the watch stream stopped answering")
            return read.result()
        finally:
            if not read.done():
                read.cancel()

    @staticmethod
    def _check_watch_response(resp: Any, requested: int) -> None:
        if resp.compact_revision:
            raise CompactedError(int(resp.compact_revision), requested)
        if resp.canceled:
            reason = resp.cancel_reason or "no reason given"
            raise SourceError(f"etcd cancelled the watch: {reason}")

    async def _open_watch(
        self, key: bytes, end: bytes, start_revision: int, *, prev_kv: bool
    ) -> Any:
        """A watch stream whose creation etcd confirmed, on the first endpoint that answers."""
        create = rpc_pb2.WatchCreateRequest(
            key=key, range_end=end, start_revision=start_revision, prev_kv=prev_kv
        )
        request = rpc_pb2.WatchRequest(create_request=create)

        async def attempt(endpoint: Endpoint) -> Any:
            # "hasleader" (as etcd's Go client sends it): a member cut off from its cluster ends the
            # watch with "no leader" instead of going silent, so the retry moves on.
            metadata = (*(self._metadata(endpoint) or ()), ("hasleader", "true"))
            call = endpoint.calls[("Watch", "Watch")](metadata=metadata)
            try:
                await asyncio.wait_for(call.write(request), self.config.command_timeout)
                resp = await asyncio.wait_for(call.read(), self.config.command_timeout)
                if resp is grpc.aio.EOF:
                    raise _Unavailable(f"{endpoint.url}: watch stream closed")
                self._check_watch_response(resp, start_revision)
            except asyncio.TimeoutError:
                call.cancel()
                raise _Unavailable(f"{endpoint.url}: no answer to a watch request") from None
            except BaseException:
                call.cancel()
                raise
            return call

        return await self._with_failover(attempt)

    async def _replay_key(
        self, key: bytes, start: int, head: int, stop_at: int | None
    ) -> AsyncIterator[WatchEvent]:
        """Events of one key from ``start`` up to the store revision ``head``.

        With ``stop_at`` (the key's current mod_revision) the replay ends at that event. For a key
        that is gone, etcd's batching is used: a reply covering the store up to ``head`` with fewer
        than 1000 events is complete; if no reply comes at all the key had no events.
        """
        call = await self._open_watch(key, b"", start, prev_kv=False)
        try:
            while True:
                try:
                    timeout = self.config.command_timeout if stop_at else HISTORY_IDLE_TIMEOUT
                    resp = await asyncio.wait_for(call.read(), timeout)
                except asyncio.TimeoutError:
                    if stop_at:
                        raise SourceError(f"timed out reading the history of {key!r}") from None
                    return
                if resp is grpc.aio.EOF:
                    raise SourceError(f"history stream for {key!r} closed early")
                self._check_watch_response(resp, start)
                for ev in resp.events:
                    if ev.kv.mod_revision > head:
                        return
                    yield self._event(ev)
                    if stop_at and ev.kv.mod_revision >= stop_at:
                        return
                if (
                    not stop_at
                    and resp.header.revision >= head
                    and len(resp.events) < _WATCH_BATCH_MAX_REVS
                ):
                    return
        finally:
            call.cancel()

    # ------------------------------------------------------------------ calls, failover, auth

    async def members(self) -> list[Any]:
        """The member list (``etcdserverpb.Member`` messages; see :func:`member_is_learner`)."""
        reply = await self._unary(("Cluster", "MemberList"), rpc_pb2.MemberListRequest())
        return list(reply.members)

    async def call_endpoint(self, url: str, rpc: tuple[str, str], request: Any) -> Any:
        """One read-only call at one endpoint, no failover (what a member says of itself);
        errors as :class:`SourceError` naming the endpoint."""
        try:
            endpoint = await self._connect(url)
            call = endpoint.calls[rpc]
            return await call(
                request, timeout=self.config.command_timeout, metadata=self._metadata(endpoint)
            )
        except _Unavailable as error:
            raise SourceError(str(error)) from None
        except grpc.aio.AioRpcError as error:
            details = error.details() or error.code().name
            if error.code() == grpc.StatusCode.PERMISSION_DENIED:
                details += " (needs the root role where auth is enabled)"
            raise SourceError(f"{url}: {details}") from None

    async def _unary(self, rpc: tuple[str, str], request: Any) -> Any:
        async def attempt(endpoint: Endpoint) -> Any:
            call = endpoint.calls[rpc]
            return await call(
                request, timeout=self.config.command_timeout, metadata=self._metadata(endpoint)
            )

        return await self._with_failover(attempt)

    async def _with_failover(self, attempt: Callable[[Endpoint], Awaitable[T]]) -> T:
        """Run ``attempt`` on the current endpoint, then on the others while unreachable."""
        errors: list[str] = []
        for _ in range(len(self.config.endpoints)):
            url = self.endpoint
            try:
                endpoint = await self._connect(url)
                try:
                    return await attempt(endpoint)
                except grpc.aio.AioRpcError as error:
                    if not self._token_expired(error):
                        raise
                    endpoint.token = None  # expired or issued by a restarted member: log in again
                    await self._authenticate(endpoint)
                    return await attempt(endpoint)
            except _Unavailable as error:
                errors.append(str(error))
            except grpc.aio.AioRpcError as error:
                if _is_compacted(error):
                    raise _Compacted(error.details()) from None
                if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise _TooLarge(error.details()) from None
                if error.code() not in _RETRYABLE:
                    raise self._translate(error) from None
                errors.append(f"{url}: {error.code().name}: {error.details()}")
            self._advance()
        raise _Unreachable(self._unreachable_message(errors))

    def _advance(self) -> None:
        self._current = (self._current + 1) % len(self.config.endpoints)

    def _unreachable_message(self, errors: list[str]) -> str:
        text = "cannot reach etcd: " + "; ".join(errors)
        lowered = text.lower()
        # How BoringSSL/OpenSSL say the server's certificate chain did not verify against the CA.
        untrusted = (
            "certificate_verify_failed", "certificate verify failed", "unable to get local issuer",
            "certificate signature failure", "self signed certificate", "self-signed certificate",
        )  # fmt: skip
        if any(word in lowered for word in untrusted):
            text += " (TLS failed: the server's certificate is not trusted: check --cacert)"
        elif any(word in lowered for word in ("ssl", "handshake", "certificate", "tls", "tsi_")):
            if self.config.cert:
                text += " (TLS failed: check --cacert, --cert and --key)"
            else:
                text += " (TLS failed: the server may require a client certificate: --cert/--key)"
        return text

    @staticmethod
    def _token_expired(error: grpc.aio.AioRpcError) -> bool:
        details = error.details() or ""
        return error.code() == grpc.StatusCode.UNAUTHENTICATED and "invalid auth token" in details

    def _translate(self, error: grpc.aio.AioRpcError) -> SourceError:
        details = error.details() or error.code().name
        if error.code() == grpc.StatusCode.PERMISSION_DENIED:
            return SourceError(f"etcd refused: {details} (the user lacks a read role)")
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT and "user name" in details:
            return SourceError(f"etcd login failed: {details}")
        return SourceError(f"etcd error from {self.endpoint}: {details}")

    def _metadata(self, endpoint: Endpoint) -> tuple[tuple[str, str], ...] | None:
        return (("token", endpoint.token),) if endpoint.token else None

    async def _authenticate(self, endpoint: Endpoint) -> None:
        """Log in with user/password; etcd without auth enabled is accepted as etcdctl does."""
        if not self.config.user or endpoint.token:
            return
        async with self._auth_lock:
            if endpoint.token:
                return
            request = rpc_pb2.AuthenticateRequest(
                name=self.config.user, password=self.config.password or ""
            )
            try:
                resp = await endpoint.calls[("Auth", "Authenticate")](
                    request, timeout=self.config.command_timeout
                )
            except grpc.aio.AioRpcError as error:
                if "authentication is not enabled" in (error.details() or ""):
                    return
                if error.code() in _RETRYABLE:
                    raise _Unavailable(
                        f"{endpoint.url}: {error.code().name}: {error.details()}"
                    ) from None
                raise SourceError(
                    f"etcd login as {self.config.user!r} failed: {error.details()}"
                ) from None
            endpoint.token = resp.token

    async def _connect(self, url: str) -> Endpoint:
        endpoint = self._endpoints.get(url)
        if endpoint is None:
            endpoint = await self._channels.open(url)
            self._endpoints[url] = endpoint
        await self._authenticate(endpoint)
        return endpoint

class _Unavailable(Exception):
    """An endpoint did not answer (internal: triggers failover)."""


class _Unreachable(SourceError):
    """No endpoint answered (a watch keeps trying; everything else reports it)."""


class _TooLarge(Exception):
    """A reply exceeded the receive limit (internal: the page is fetched again, smaller)."""


class _Compacted(Exception):
    """A Range asked for a compacted revision (internal: the floor is looked up by the caller)."""


