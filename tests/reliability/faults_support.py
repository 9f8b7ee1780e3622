"""Fault injection against a live 3-member etcd: a writer, a recorded watch, an independent oracle.

Used by ``tests/reliability/test_faults.py`` (the CI slice) and ``scripts/soak.py`` (the long
mode). Each scenario drives a real :class:`~tests.etcd_harness.EtcdCluster`, watches it through
:class:`~ketui.core.sources.etcd.source.EtcdSource` and returns a report with the figures that
``docs/reliability.md`` quotes.

The oracle is etcd itself, read back after the run by a different client: ``etcdctl watch --rev``
replays every event etcd recorded (with previous values) and ``etcdctl get --prefix`` gives the
final state. EtcdSource is never its own judge.

The writer talks plain gRPC (sync stubs, in threads) because EtcdSource has no write path by design.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import grpc
from etcd3.etcdrpc import rpc_pb2, rpc_pb2_grpc

from ketui.core.source import CompactedError, WatchEvent
from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.etcd.source import EtcdSource
from tests.etcd_harness import ETCDCTL, EtcdCluster

OP_DEADLINE = 60.0
"""A write that has not succeeded on any endpoint after this many seconds fails the run."""


# --------------------------------------------------------------------------- event records


class EventRecord(NamedTuple):
    """One watch event, reduced to what both EtcdSource and ``etcdctl watch -w json`` report."""

    revision: int
    key: bytes
    op: str  # "put" | "delete"
    value: bytes
    create_revision: int
    version: int
    prev_value: bytes | None
    prev_revision: int | None

    @classmethod
    def from_event(cls, event: WatchEvent) -> EventRecord:
        prev = event.prev_kv
        return cls(
            event.revision,
            event.kv.key,
            event.type.value,
            event.kv.value,
            event.kv.create_revision,
            event.kv.version,
            prev.value if prev else None,
            prev.mod_revision if prev else None,
        )

    @classmethod
    def from_etcdctl(cls, data: dict[str, Any]) -> EventRecord:
        kv = data["kv"]
        prev = data.get("prev_kv")
        return cls(
            int(kv.get("mod_revision", 0)),
            base64.b64decode(kv["key"]),
            "delete" if data.get("type") == 1 else "put",
            base64.b64decode(kv.get("value", "")),
            int(kv.get("create_revision", 0)),
            int(kv.get("version", 0)),
            base64.b64decode(prev.get("value", "")) if prev else None,
            int(prev.get("mod_revision", 0)) if prev else None,
        )


class StoredKey(NamedTuple):
    value: bytes
    mod_revision: int
    create_revision: int
    version: int


def etcd_state(cluster: EtcdCluster, prefix: bytes) -> tuple[int, dict[bytes, StoredKey]]:
    """``(store revision, every key under prefix)`` as ``etcdctl get --prefix`` reports them."""
    out = json.loads(cluster.etcdctl("get", prefix.decode(), "--prefix", "-w", "json").stdout)
    state = {
        base64.b64decode(kv["key"]): StoredKey(
            base64.b64decode(kv.get("value", "")),
            int(kv["mod_revision"]),
            int(kv["create_revision"]),
            int(kv["version"]),
        )
        for kv in out.get("kvs", [])
    }
    return int(out["header"]["revision"]), state


def etcd_events(
    cluster: EtcdCluster, prefix: bytes, start: int, end: int, timeout: float = 60.0
) -> list[EventRecord]:
    """Every event etcd recorded under ``prefix`` in revisions ``start..end``, via etcdctl watch."""
    assert ETCDCTL
    if end < start:
        return []
    live = cluster.running()
    env = live[0].etcdctl_env()
    env["ETCDCTL_ENDPOINTS"] = ",".join(m.endpoint for m in live)
    cmd = [ETCDCTL, "watch", "--prefix", prefix.decode(), "--rev", str(start), "--prev-kv"]
    proc = subprocess.Popen([*cmd, "-w", "json"], env=env, stdout=subprocess.PIPE)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    events: list[EventRecord] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            response = json.loads(line)
            events += [EventRecord.from_etcdctl(e) for e in response.get("Events") or []]
            if events and events[-1].revision >= end:
                break
        else:
            raise RuntimeError(f"etcdctl watch ended before revision {end} (timeout {timeout}s)")
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()
    return [e for e in events if e.revision <= end]


# --------------------------------------------------------------------------- verification


@dataclass
class Verdict:
    """What the watch delivered compared with what etcd recorded."""

    expected: int
    seen: int
    duplicates: int = 0
    missing: int = 0
    unexpected: int = 0
    out_of_order: int = 0
    mismatched: int = 0
    state_mismatches: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def note(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)


def fold(events: list[EventRecord], base: dict[bytes, StoredKey] | None = None) -> dict[
    bytes, StoredKey
]:
    """The keyspace that results from applying ``events`` to ``base``."""
    state = dict(base or {})
    for event in events:
        if event.op == "delete":
            state.pop(event.key, None)
        else:
            state[event.key] = StoredKey(
                event.value, event.revision, event.create_revision, event.version
            )
    return state


def verify(
    seen: list[EventRecord], truth: list[EventRecord], final: dict[bytes, StoredKey]
) -> Verdict:
    """Exactly once, in revision order, equal to etcd's own record, folding to the final state.

    ``truth`` must start at the revision the watch started from and ``final`` must be the state of
    the watched prefix (empty before the watch started) at the last revision of ``truth``.
    """
    verdict = Verdict(expected=len(truth), seen=len(seen))
    ids = [(e.revision, e.key) for e in seen]
    for ident, n in Counter(ids).items():
        if n > 1:
            verdict.duplicates += n - 1
            verdict.note(f"seen {n} times: revision {ident[0]} {ident[1]!r}")
    for before, after in zip(ids, ids[1:], strict=False):
        if after[0] < before[0]:
            verdict.out_of_order += 1
            verdict.note(f"revision {after[0]} {after[1]!r} came after revision {before[0]}")
    by_id = {(e.revision, e.key): e for e in seen}
    truth_ids = {(e.revision, e.key) for e in truth}
    for event in truth:
        got = by_id.get((event.revision, event.key))
        if got is None:
            verdict.missing += 1
            verdict.note(f"missing: revision {event.revision} {event.op} {event.key!r}")
        elif got != event:
            verdict.mismatched += 1
            verdict.note(f"differs at revision {event.revision}: {got} != {event}")
    for ident in by_id.keys() - truth_ids:
        verdict.unexpected += 1
        verdict.note(f"not recorded by etcd: revision {ident[0]} {ident[1]!r}")
    folded = fold(seen)
    for key in folded.keys() | final.keys():
        if folded.get(key) != final.get(key):
            verdict.state_mismatches += 1
            verdict.note(f"final state of {key!r}: watch {folded.get(key)} etcd {final.get(key)}")
    return verdict


# --------------------------------------------------------------------------- the writer


@dataclass
class WriteLog:
    acked: dict[tuple[bytes, bytes], float] = field(default_factory=dict)
    """(key, value) of every acknowledged put -> time.monotonic() of the acknowledgement."""
    ops: int = 0
    keys: int = 0
    retries: int = 0
    failures: list[str] = field(default_factory=list)


class Writer:
    """Writes keys under ``prefix`` at about ``rate`` operations/s from ``threads`` threads.

    A key belongs to one thread, so its operations are in order: a put, for every 5th key an
    update, for every 10th a delete; the watch sees creations, updates with previous values and
    deletes. A failed call moves that thread to the next endpoint and is retried with the same
    value; a put whose reply was lost may then be applied twice, which is fine since the oracle,
    not the writer, says what etcd recorded. ``keys=None`` writes until :meth:`stop`.
    """

    def __init__(
        self,
        endpoints: list[str],
        prefix: bytes,
        *,
        keys: int | None,
        rate: float,
        threads: int = 4,
        timeout: float = 1.0,
        value_size: int = 160,
    ) -> None:
        self.prefix = prefix
        self.keys = keys
        self.rate = rate
        self.threads = threads
        self.timeout = timeout
        self.padding = b"x" * value_size
        self.log = WriteLog()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._channels = [grpc.insecure_channel(e.split("://")[-1]) for e in endpoints]
        self._stubs = [rpc_pb2_grpc.KVStub(channel) for channel in self._channels]
        self._workers = [
            threading.Thread(target=self._work, args=(t,), name=f"writer-{t}", daemon=True)
            for t in range(threads)
        ]

    def start(self) -> Writer:
        self.started = time.monotonic()
        for worker in self._workers:
            worker.start()
        return self

    def running(self) -> bool:
        return any(worker.is_alive() for worker in self._workers)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = OP_DEADLINE + 10) -> WriteLog:
        for worker in self._workers:
            worker.join(timeout)
        for channel in self._channels:
            channel.close()
        return self.log

    def _ops(self, thread: int) -> Iterator[tuple[str, bytes, bytes]]:
        """``(op, key, value)``; the first operation on a key is always the put creating it."""
        i = thread
        while (self.keys is None or i < self.keys) and not self._stop.is_set():
            key = self.prefix + b"%06d" % i
            yield "create", key, b"%d#0|" % i + self.padding
            if i % 5 == 0:
                yield "put", key, b"%d#1|" % i + self.padding
            if i % 10 == 0:
                yield "delete", key, b""
            i += self.threads

    def _work(self, thread: int) -> None:
        current = thread % len(self._stubs)
        interval = self.threads / self.rate
        acked: dict[tuple[bytes, bytes], float] = {}
        ops = keys = retries = 0
        failure = None
        for n, (op, key, value) in enumerate(self._ops(thread)):
            delay = self.started + n * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            deadline = time.monotonic() + OP_DEADLINE
            while True:
                try:
                    stub = self._stubs[current]
                    if op != "delete":
                        stub.Put(rpc_pb2.PutRequest(key=key, value=value), timeout=self.timeout)
                    else:
                        stub.DeleteRange(rpc_pb2.DeleteRangeRequest(key=key), timeout=self.timeout)
                    break
                except grpc.RpcError as error:
                    if time.monotonic() > deadline or self._stop.is_set():
                        failure = f"{op} {key!r}: {error}"
                        break
                    retries += 1
                    current = (current + 1) % len(self._stubs)
                    time.sleep(0.05)
            if failure:
                break
            ops += 1
            if op != "delete":
                acked[(key, value)] = time.monotonic()
                keys += op == "create"
        with self._lock:
            self.log.acked.update(acked)
            self.log.ops += ops
            self.log.keys += keys
            self.log.retries += retries
            if failure:
                self.log.failures.append(failure)


# --------------------------------------------------------------------------- the recorded watch


class WatchRecorder:
    """Runs ``source.watch`` in a task and records every event with the time it arrived."""

    def __init__(self, source: EtcdSource, prefix: bytes, start_revision: int) -> None:
        self.source = source
        self.prefix = prefix
        self.start_revision = start_revision
        self.events: list[tuple[EventRecord, float]] = []
        self.error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> WatchRecorder:
        self._task = asyncio.ensure_future(self._run())
        return self

    async def _run(self) -> None:
        try:
            async for event in self.source.watch(self.prefix, start_revision=self.start_revision):
                self.events.append((EventRecord.from_event(event), time.monotonic()))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # kept for the report: a failing watch is a finding
            self.error = error

    @property
    def last_revision(self) -> int:
        return self.events[-1][0].revision if self.events else 0

    async def wait(self, *, revision: int = 0, count: int = 0, timeout: float) -> bool:
        """Until the watch reached ``revision`` and holds ``count`` events (False on timeout)."""
        deadline = time.monotonic() + timeout
        while self.last_revision < revision or len(self.events) < count:
            if self.error or time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def records(self) -> list[EventRecord]:
        return [record for record, _ in self.events]


# --------------------------------------------------------------------------- cluster helpers


def leader_index(cluster: EtcdCluster) -> int | None:
    """Index of the member that is the raft leader (None when no running member says)."""
    result = cluster.etcdctl("endpoint", "status", "-w", "json", check=False)
    try:
        statuses = json.loads(result.stdout or b"[]")
    except json.JSONDecodeError:
        return None
    for entry in statuses:
        status = entry.get("Status", {})
        if status.get("leader") and status.get("header", {}).get("member_id") == status["leader"]:
            endpoint = entry.get("Endpoint")
            if endpoint in cluster.endpoints:
                return cluster.endpoints.index(endpoint)
    return None


def heal(cluster: EtcdCluster) -> None:
    """Every member running again (SIGCONT the frozen, restart the dead)."""
    for index, member in enumerate(cluster.members):
        if member.process and member.process.poll() is None:
            cluster.resume(index)
        else:
            cluster.restart(index)
    for member in cluster.members:
        member.wait_ready()


def source_config(cluster: EtcdCluster, **overrides: Any) -> EtcdConfig:
    settings: dict[str, Any] = {"endpoints": cluster.endpoints, "command_timeout": 2.0}
    settings.update(overrides)
    return EtcdConfig(**settings)


def lags(
    records: list[tuple[EventRecord, float]], acked: dict[tuple[bytes, bytes], float]
) -> list[tuple[float, float]]:
    """``(ack time, delay until the watch delivered it)`` for every acknowledged put seen."""
    out = []
    for record, seen_at in records:
        ack = acked.get((record.key, record.value)) if record.op == "put" else None
        if ack is not None:
            out.append((ack, max(0.0, seen_at - ack)))
    return out


# --------------------------------------------------------------------------- member kills


@dataclass
class KillRecord:
    member: str
    watched: bool  # the member the watch was streaming from
    leader: bool
    at: float  # seconds after the writer started
    restart_took: float
    stall: float | None = None  # worst write-to-watch delay of puts acked until the next kill


@dataclass
class KillReport:
    keys: int
    ops_acked: int
    writer_retries: int
    write_seconds: float
    verdict: Verdict
    kills: list[KillRecord]
    median_lag: float
    max_gap: float  # longest time without any watch event while the writer ran (elections too)
    watch_error: str | None
    endpoints_used: list[str]

    @property
    def max_stall(self) -> float:
        return max((k.stall or 0.0 for k in self.kills), default=0.0)

    @property
    def max_stall_watched(self) -> float:
        return max((k.stall or 0.0 for k in self.kills if k.watched), default=0.0)

    def summary(self) -> str:
        v = self.verdict
        lines = [
            f"member kills: {len(self.kills)} (of the watched member: "
            f"{sum(k.watched for k in self.kills)}, of the leader: "
            f"{sum(k.leader for k in self.kills)})",
            f"keys written: {self.keys}, operations acknowledged: {self.ops_acked} in "
            f"{self.write_seconds:.1f}s ({self.writer_retries} writer retries)",
            f"events recorded by etcd: {v.expected}, seen by the watch: {v.seen}; duplicates "
            f"{v.duplicates}, missing {v.missing}, unexpected {v.unexpected}, out of order "
            f"{v.out_of_order}, differing {v.mismatched}, final-state mismatches "
            f"{v.state_mismatches}",
            f"watch stall after a kill: max {self.max_stall:.2f}s (watched member killed: "
            f"{self.max_stall_watched:.2f}s); median write-to-watch delay {self.median_lag:.3f}s; "
            f"longest silence of the watch while writing {self.max_gap:.2f}s",
        ]
        if self.watch_error:
            lines.append(f"watch error: {self.watch_error}")
        lines += [f"  problem: {p}" for p in v.problems]
        return "\n".join(lines)


async def run_member_kills(
    cluster: EtcdCluster,
    *,
    prefix: bytes,
    keys: int,
    rate: float,
    kill_every: float,
    down_for: float,
    config: EtcdConfig | None = None,
    catch_up: float = 30.0,
) -> KillReport:
    """Write ``keys`` keys while one member after another is killed with SIGKILL and restarted.

    Kills alternate between the member the watch streams from and the leader (or, when that is
    the same member, the next one); only one member is down at a time so the cluster keeps quorum.
    """
    source = EtcdSource(config or source_config(cluster))
    start = await source.current_revision() + 1
    recorder = WatchRecorder(source, prefix, start).start()
    writer = Writer(cluster.endpoints, prefix, keys=keys, rate=rate).start()
    kills: list[KillRecord] = []
    used: list[str] = [source.endpoint]
    try:
        while writer.running():
            next_kill = writer.started + kill_every * (len(kills) + 1)
            while writer.running() and time.monotonic() < next_kill:
                await asyncio.sleep(0.05)
                if source.endpoint != used[-1]:
                    used.append(source.endpoint)
            if not writer.running():
                break
            watched = cluster.endpoints.index(source.endpoint)
            leader = await asyncio.to_thread(leader_index, cluster)
            victim = watched if len(kills) % 2 == 0 or leader is None else leader
            if len(kills) % 2 and victim == watched:
                victim = (watched + 1) % len(cluster.members)
            at = time.monotonic()
            await asyncio.to_thread(cluster.kill, victim)
            await asyncio.sleep(down_for)
            began = time.monotonic()
            await asyncio.to_thread(cluster.restart, victim)
            kills.append(
                KillRecord(
                    cluster.members[victim].name,
                    victim == watched,
                    victim == leader,
                    at - writer.started,
                    time.monotonic() - began,
                )
            )
        log = await asyncio.to_thread(writer.join)
        write_seconds = time.monotonic() - writer.started
        end, final = await asyncio.to_thread(etcd_state, cluster, prefix)
        await recorder.wait(revision=end, timeout=catch_up)
    finally:
        writer.stop()
        await asyncio.to_thread(writer.join)
        await recorder.stop()
        await source.close()
        await asyncio.to_thread(heal, cluster)
    truth = await asyncio.to_thread(etcd_events, cluster, prefix, start, end)
    verdict = verify(recorder.records(), truth, final)
    for failure in log.failures:
        verdict.note(f"writer gave up: {failure}")
    delays = lags(recorder.events, log.acked)
    for index, kill in enumerate(kills):
        since = writer.started + kill.at
        until = writer.started + kills[index + 1].at if index + 1 < len(kills) else float("inf")
        window = [delay for ack, delay in delays if since <= ack < until]
        kill.stall = max(window, default=None)
    times = [t for _, t in recorder.events if t <= writer.started + write_seconds]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    return KillReport(
        keys=log.keys,
        ops_acked=log.ops,
        writer_retries=log.retries,
        write_seconds=write_seconds,
        verdict=verdict,
        kills=kills,
        median_lag=statistics.median([d for _, d in delays]) if delays else 0.0,
        max_gap=max(gaps, default=0.0),
        watch_error=repr(recorder.error) if recorder.error else None,
        endpoints_used=used,
    )


# --------------------------------------------------------------------------- partitions


@dataclass
class PartitionReport:
    stopped: str
    moved_to: str | None
    status_endpoint: str | None
    detection: float | None  # SIGSTOP -> the source left the frozen endpoint
    resumed: float | None  # SIGSTOP -> first event delivered from the new endpoint
    bound: float  # keepalive_time + keepalive_timeout of the config
    events_after_cont: int
    verdict: Verdict
    ops_acked: int
    watch_error: str | None

    def summary(self) -> str:
        v = self.verdict
        detection = f"{self.detection:.2f}s" if self.detection is not None else "never"
        resumed = f"{self.resumed:.2f}s" if self.resumed is not None else "never"
        lines = [
            f"SIGSTOP {self.stopped}: left it after {detection} (keepalive bound "
            f"{self.bound:.0f}s), streaming again from {self.moved_to} after {resumed}; "
            f"status().endpoint = {self.status_endpoint}",
            f"after SIGCONT: {self.events_after_cont} more events; operations acknowledged "
            f"{self.ops_acked}, events recorded by etcd {v.expected}, seen {v.seen}, duplicates "
            f"{v.duplicates}, missing {v.missing}, out of order {v.out_of_order}",
        ]
        if self.watch_error:
            lines.append(f"watch error: {self.watch_error}")
        lines += [f"  problem: {p}" for p in v.problems]
        return "\n".join(lines)


async def run_partition(
    cluster: EtcdCluster,
    *,
    prefix: bytes,
    rate: float,
    config: EtcdConfig | None = None,
    after_failover: float = 1.0,
    after_cont: float = 2.0,
    catch_up: float = 30.0,
) -> PartitionReport:
    """SIGSTOP the member the watch streams from, let the source fail over, SIGCONT it."""
    config = config or source_config(cluster)
    bound = config.keepalive_time + config.keepalive_timeout
    source = EtcdSource(config)
    start = await source.current_revision() + 1
    recorder = WatchRecorder(source, prefix, start).start()
    writer = Writer(cluster.endpoints, prefix, keys=None, rate=rate).start()
    detection = resumed = None
    moved_to = status_endpoint = None
    try:
        await recorder.wait(count=50, timeout=20)
        victim_url = source.endpoint
        victim = cluster.endpoints.index(victim_url)
        stopped_at = time.monotonic()
        cluster.kill(victim, signal.SIGSTOP)
        try:
            deadline = stopped_at + bound + 20
            while source.endpoint == victim_url and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if source.endpoint != victim_url:
                detection = time.monotonic() - stopped_at
                seen = len(recorder.events)
                if await recorder.wait(count=seen + 1, timeout=20):
                    resumed = recorder.events[seen][1] - stopped_at
                moved_to = source.endpoint
                status_endpoint = (await source.status()).endpoint
                await asyncio.sleep(after_failover)
        finally:
            cluster.resume(victim)
        continued_from = len(recorder.events)
        await asyncio.sleep(after_cont)
        writer.stop()
        log = await asyncio.to_thread(writer.join)
        end, final = await asyncio.to_thread(etcd_state, cluster, prefix)
        await recorder.wait(revision=end, timeout=catch_up)
    finally:
        writer.stop()
        await asyncio.to_thread(writer.join)
        await recorder.stop()
        await source.close()
        await asyncio.to_thread(heal, cluster)
    truth = await asyncio.to_thread(etcd_events, cluster, prefix, start, end)
    verdict = verify(recorder.records(), truth, final)
    for failure in log.failures:
        verdict.note(f"writer gave up: {failure}")
    return PartitionReport(
        stopped=cluster.members[victim].name,
        moved_to=moved_to,
        status_endpoint=status_endpoint,
        detection=detection,
        resumed=resumed,
        bound=bound,
        events_after_cont=len(recorder.events) - continued_from,
        verdict=verdict,
        ops_acked=log.ops,
        watch_error=repr(recorder.error) if recorder.error else None,
    )


# --------------------------------------------------------------------------- compaction


@dataclass
class CompactionReport:
    compacted_at: int  # the revision given to etcdctl compact
    behind_at: int  # last revision the paused watch had delivered
    error_behind: str | None  # str() of what the paused watch raised on resuming
    error_behind_revision: int | None
    error_old_start: str | None  # str() of what a watch from before the floor raised
    error_old_start_revision: int | None
    status_compact_revision: int | None
    resync_revision: int
    resync_keys: int
    events_after_resync: int
    resync_matches: bool  # relisted keys + later events == etcd's final state

    def summary(self) -> str:
        return (
            f"compacted at {self.compacted_at} while a watch was behind at "
            f"{self.behind_at}: it raised {self.error_behind!r}; a watch from before the floor "
            f"raised {self.error_old_start!r}; status().compact_revision = "
            f"{self.status_compact_revision}; resync listed {self.resync_keys} keys at "
            f"{self.resync_revision} and watched {self.events_after_resync} later events: "
            f"{'matches etcd' if self.resync_matches else 'DOES NOT match etcd'}"
        )


async def run_compaction(
    cluster: EtcdCluster, *, prefix: bytes, keys: int = 40, config: EtcdConfig | None = None
) -> CompactionReport:
    """A watch falls behind (its member dies while it is paused), history is compacted past it.

    On resuming, the watch must raise "compacted at N"; so must a new watch from an old revision.
    The same source then resyncs: list the keys at the status revision, watch from the next one.
    """
    source = EtcdSource(config or source_config(cluster))
    start = await source.current_revision() + 1
    watch = cast(AsyncGenerator[WatchEvent, None], source.watch(prefix, start_revision=start))
    victim = None
    error_behind: CompactedError | None = None
    error_old: CompactedError | None = None
    try:
        first = Writer(cluster.endpoints, prefix, keys=keys, rate=2000).start()
        await asyncio.to_thread(first.join)
        behind_at, _ = await asyncio.to_thread(etcd_state, cluster, prefix)
        while (await asyncio.wait_for(watch.__anext__(), 10)).revision < behind_at:
            pass
        # the watch is paused here; its member dies and history moves on and is compacted
        victim = cluster.endpoints.index(source.endpoint)
        cluster.kill(victim)
        more = Writer(cluster.endpoints, prefix + b"more/", keys=keys, rate=2000).start()
        await asyncio.to_thread(more.join)
        compacted_at, _ = await asyncio.to_thread(etcd_state, cluster, prefix)
        await asyncio.to_thread(cluster.etcdctl, "compact", str(compacted_at), "--physical")
        try:
            await asyncio.wait_for(watch.__anext__(), 30)
        except CompactedError as error:
            error_behind = error
        try:
            await asyncio.wait_for(source.watch(prefix, start_revision=start).__anext__(), 30)
        except CompactedError as error:
            error_old = error
        # resync without a new source: relist at the status revision, watch from the next one
        status = await source.status()
        listed = {
            info.key: info.mod_revision
            async for page in source.list_keys(prefix, revision=status.revision)
            for info in page
        }
        recorder = WatchRecorder(source, prefix, status.revision + 1).start()
        last = Writer(cluster.endpoints, prefix + b"last/", keys=keys, rate=2000).start()
        await asyncio.to_thread(last.join)
        end, final = await asyncio.to_thread(etcd_state, cluster, prefix)
        await recorder.wait(revision=end, timeout=30)
        await recorder.stop()
    finally:
        await watch.aclose()
        await source.close()
        await asyncio.to_thread(heal, cluster)
    resynced = dict(listed)
    for record in recorder.records():
        if record.op == "delete":
            resynced.pop(record.key, None)
        else:
            resynced[record.key] = record.revision
    return CompactionReport(
        compacted_at=compacted_at,
        behind_at=behind_at,
        error_behind=str(error_behind) if error_behind else None,
        error_behind_revision=error_behind.compact_revision if error_behind else None,
        error_old_start=str(error_old) if error_old else None,
        error_old_start_revision=error_old.compact_revision if error_old else None,
        status_compact_revision=status.compact_revision,
        resync_revision=status.revision,
        resync_keys=len(listed),
        events_after_resync=len(recorder.events),
        resync_matches=resynced == {k: v.mod_revision for k, v in final.items()},
    )
