"""The etcd cluster itself: what each member says of itself, and whether members hold the same data.

Every endpoint given and every member's client URL is asked on its own (Status, with the time
it took to answer): a member that does not answer is reported with its error, never hiding the
others. Endpoints of different clusters given together are reported as such (their cluster ids
differ). The consistency check is etcd's own mechanism: ``HashKV`` of every member at one
revision (the oldest current revision of those that answer); members whose hash differs from the
majority's are named. Raised alarms (NOSPACE, CORRUPT) are what every member's Status says. All of
it is read-only.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from etcd3.etcdrpc import rpc_pb2

from ketui.core.source import SourceError
from ketui.core.sources.etcd.source import (
    EtcdSource,
    member_is_learner,
    newer_status,
    status_errors,
)

__all__ = ["ClusterReport", "Consistency", "MemberReport", "check_consistency", "cluster_report"]


@dataclass(frozen=True, slots=True)
class MemberReport:
    """One member as it answered (or did not) at one endpoint."""

    endpoint: str
    id: int | None = None
    name: str = ""
    cluster_id: int | None = None
    peer_urls: tuple[str, ...] = ()
    client_urls: tuple[str, ...] = ()
    is_learner: bool = False
    is_leader: bool = False
    version: str | None = None
    db_size: int | None = None
    db_size_in_use: int | None = None
    raft_term: int | None = None
    raft_index: int | None = None
    raft_applied_index: int | None = None
    revision: int | None = None
    latency: float | None = None  # seconds the Status call took
    error: str | None = None
    alarms: tuple[str, ...] = ()  # the raised alarms this member reports

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint, "id": f"{self.id:x}" if self.id is not None else None,
            "name": self.name, "clusterId": f"{self.cluster_id:x}" if self.cluster_id else None,
            "peerURLs": list(self.peer_urls), "clientURLs": list(self.client_urls),
            "isLearner": self.is_learner, "isLeader": self.is_leader, "version": self.version,
            "dbSize": self.db_size, "dbSizeInUse": self.db_size_in_use,
            "raftTerm": self.raft_term, "raftIndex": self.raft_index,
            "raftAppliedIndex": self.raft_applied_index, "revision": self.revision,
            "latencySeconds": round(self.latency, 6) if self.latency is not None else None,
            "alarms": list(self.alarms), "error": self.error,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class ClusterReport:
    members: tuple[MemberReport, ...]
    alarms: tuple[str, ...] = ()  # as etcd words them: "memberID:1234 alarm:NOSPACE"
    notes: tuple[str, ...] = ()  # what the user should know (clusters mixed, no member list)

    @property
    def healthy(self) -> bool:
        return all(m.error is None for m in self.members) and not self.alarms

    def as_json(self) -> dict[str, Any]:
        return {
            "members": [m.as_json() for m in self.members],
            "alarms": list(self.alarms),
            "notes": list(self.notes), "healthy": self.healthy,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class MemberHash:
    member: MemberReport
    hash: int | None = None
    compact_revision: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Consistency:
    """HashKV of every member at one revision; ``differing`` are those off the majority."""

    revision: int | None
    hashes: tuple[MemberHash, ...]
    differing: tuple[MemberReport, ...] = field(default=())

    @property
    def consistent(self) -> bool:
        answered = [h for h in self.hashes if h.hash is not None]
        return bool(answered) and not self.differing and all(h.error is None for h in self.hashes)

    def as_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision, "consistent": self.consistent,
            "members": [
                {"endpoint": h.member.endpoint, "name": h.member.name,
                 "id": f"{h.member.id:x}" if h.member.id is not None else None,
                 "hash": h.hash, "compactRevision": h.compact_revision, "error": h.error,
                 "differs": h.member in self.differing}
                for h in self.hashes
            ],
        }  # fmt: skip


async def _member_status(source: EtcdSource, url: str) -> MemberReport:
    started = time.perf_counter()
    try:
        status = await source.call_endpoint(url, ("Maintenance", "Status"), rpc_pb2.StatusRequest())
    except SourceError as error:
        return MemberReport(url, error=str(error))
    latency = time.perf_counter() - started
    newer = newer_status(status)
    header = status.header
    return MemberReport(
        url, id=header.member_id, cluster_id=header.cluster_id, version=status.version,
        db_size=status.dbSize, db_size_in_use=_int(newer.get("db_size_in_use")),
        raft_term=status.raftTerm, raft_index=status.raftIndex,
        raft_applied_index=_int(newer.get("raft_applied_index")),
        is_leader=status.leader == header.member_id,
        is_learner=newer.get("is_learner") == "true",
        revision=header.revision, latency=latency, alarms=tuple(status_errors(status)),
    )  # fmt: skip


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


async def cluster_report(source: EtcdSource) -> ClusterReport:
    """Every member (those of the member list and every endpoint given), each asked on its own."""
    notes: list[str] = []
    listed: dict[int, Any] = {}
    try:
        members = await source.members()
        listed = {m.ID: m for m in members}
    except SourceError as error:
        notes.append(f"no member list: {error}")
    member_urls = [m.clientURLs[0] for m in listed.values() if m.clientURLs]
    urls = list(dict.fromkeys([*source.config.endpoints, *member_urls]))
    answers = await asyncio.gather(*(_member_status(source, url) for url in urls))
    for report in answers:  # an endpoint of another cluster: its own member list names it
        if report.id is not None and report.id not in listed:
            try:
                reply = await source.call_endpoint(
                    report.endpoint, ("Cluster", "MemberList"), rpc_pb2.MemberListRequest()
                )
            except SourceError:
                continue
            listed.update({m.ID: m for m in reply.members if m.ID == report.id})
    reports: dict[object, MemberReport] = {}
    by_url = {url: m for m in listed.values() for url in m.clientURLs}
    for report in answers:
        member = listed.get(report.id) if report.id is not None else by_url.get(report.endpoint)
        if member is not None:
            report = _with_listing(report, member)
        key: object = report.id if report.id is not None else report.endpoint
        if key not in reports or reports[key].error is not None:
            reports[key] = report
    for member_id, member in listed.items():  # listed, but no URL of it answered or was asked
        if member_id not in reports and not member.clientURLs:
            reports[member_id] = _with_listing(MemberReport("", error="no client URL"), member)
    clusters = {r.cluster_id for r in reports.values() if r.cluster_id}
    if len(clusters) > 1:
        ids = ", ".join(f"{c:x}" for c in sorted(clusters))
        notes.append(f"the endpoints belong to {len(clusters)} different clusters ({ids})")
    alarms = tuple(dict.fromkeys(a for r in reports.values() for a in r.alarms))
    ordered = sorted(reports.values(), key=lambda r: (r.name or r.endpoint, r.endpoint))
    return ClusterReport(tuple(ordered), alarms, tuple(notes))


def _with_listing(report: MemberReport, member: Any) -> MemberReport:
    return replace(
        report, id=member.ID, name=member.name, peer_urls=tuple(member.peerURLs),
        client_urls=tuple(member.clientURLs),
        is_learner=report.is_learner or member_is_learner(member),
    )  # fmt: skip


async def check_consistency(source: EtcdSource, report: ClusterReport | None = None) -> Consistency:
    """HashKV of every member that answers, at the oldest of their current revisions."""
    report = report or await cluster_report(source)
    answering = [m for m in report.members if m.error is None and m.revision is not None]
    if not answering:
        return Consistency(None, tuple(MemberHash(m, error=m.error) for m in report.members))
    revision = min(m.revision for m in answering if m.revision is not None)

    async def hash_of(member: MemberReport) -> MemberHash:
        if member.error is not None:
            return MemberHash(member, error=member.error)
        try:
            reply = await source.call_endpoint(
                member.endpoint, ("Maintenance", "HashKV"), rpc_pb2.HashKVRequest(revision=revision)
            )
        except SourceError as error:
            return MemberHash(member, error=str(error))
        return MemberHash(member, reply.hash, reply.compact_revision)

    hashes = await asyncio.gather(*(hash_of(m) for m in report.members))
    counts = Counter(h.hash for h in hashes if h.hash is not None)
    differing: tuple[MemberReport, ...] = ()
    if len(counts) > 1:
        top = counts.most_common()
        tied = top[0][1] == top[1][1]
        majority = None if tied else top[0][0]
        differing = tuple(h.member for h in hashes if h.hash is not None and h.hash != majority)
    return Consistency(revision, tuple(hashes), differing)
