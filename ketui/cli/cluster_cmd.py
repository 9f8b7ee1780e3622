"""``ketui status`` (every member of a live cluster as it answers) and ``ketui check`` (do all
members hold the same data: etcd's HashKV at one revision). Both need live etcd.

``status`` exits 1 when a member did not answer or an alarm is raised; ``check`` exits 1 when
the members' hashes differ (or a member could not be asked), naming them.
"""

from __future__ import annotations

import argparse

from ketui.cli import output
from ketui.cli.running import CliError, add_command
from ketui.core.k8s.render import human_bytes
from ketui.core.source import Source
from ketui.core.sources.etcd.cluster import ClusterReport, check_consistency, cluster_report
from ketui.core.sources.etcd.source import EtcdSource
from ketui.core.sources.open import SourceSpec


def _live(source: Source, command: str) -> EtcdSource:
    if not isinstance(source, EtcdSource):
        raise CliError(f"{command} asks the members of a live cluster: give --endpoints (a dump "
                       "or snapshot has no members to ask)")  # fmt: skip
    return source


def _size(value: int | None) -> str:
    return human_bytes(value) if value is not None else "?"


def _print_report(report: ClusterReport) -> None:
    rows: list[list[object]] = [
        ["NAME", "ID", "ENDPOINT", "PEER URLS", "ROLE", "VERSION", "DB", "IN USE", "TERM",
         "INDEX", "APPLIED", "LATENCY", "ERROR"],
    ]  # fmt: skip
    for m in report.members:
        role = "leader" if m.is_leader else "learner" if m.is_learner else "follower"
        rows.append([
            m.name or "?", f"{m.id:x}" if m.id is not None else "?", m.endpoint,
            ",".join(m.peer_urls) or "?", role if m.error is None else "?", m.version or "?",
            _size(m.db_size),
            _size(m.db_size_in_use), m.raft_term if m.raft_term is not None else "?",
            m.raft_index if m.raft_index is not None else "?",
            m.raft_applied_index if m.raft_applied_index is not None else "?",
            f"{m.latency * 1000:.1f} ms" if m.latency is not None else "?", m.error or "",
        ])  # fmt: skip
    output.table(rows)
    for alarm in report.alarms:
        output.line(f"alarm: {alarm}")
    for note in report.notes:
        output.note(note)


async def _run_status(source: Source, args: argparse.Namespace, spec: SourceSpec) -> int:
    report = await cluster_report(_live(source, "status"))
    if args.output == "json":
        output.print_json(report.as_json())
    else:
        _print_report(report)
    return 0 if report.healthy else 1


async def _run_check(source: Source, args: argparse.Namespace, spec: SourceSpec) -> int:
    live = _live(source, "check")
    report = await cluster_report(live)
    result = await check_consistency(live, report)
    if args.output == "json":
        output.print_json(result.as_json())
    else:
        rows: list[list[object]] = [["NAME", "ID", "ENDPOINT", "HASH", "COMPACTED AT", ""]]
        for h in result.hashes:
            member = h.member
            rows.append([
                member.name or "?", f"{member.id:x}" if member.id is not None else "?",
                member.endpoint, h.hash if h.hash is not None else "?",
                h.compact_revision if h.compact_revision is not None else "?",
                h.error or ("DIFFERS" if member in result.differing else "ok"),
            ])  # fmt: skip
        output.table(rows)
    for note in report.notes:
        output.note(note)
    if result.consistent:
        output.note(f"consistent: {len(result.hashes)} members hold the same data at revision "
                    f"{result.revision}")  # fmt: skip
        return 0
    if result.differing:
        names = ", ".join(f"{m.name or '?'} ({m.endpoint})" for m in result.differing)
        output.note(f"INCONSISTENT at revision {result.revision}: {names} differ")
    else:
        output.note("not every member could be checked (see the errors above)")
    return 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``status`` and ``check``."""
    status = add_command(
        subparsers, "status", "the members of a live cluster: role, raft, db size, health",
        _run_status,
        "Every endpoint given and every member of the member list is asked on its own; one that "
        "does not answer is listed with its error. Exit code 1 when a member did not answer or "
        "an alarm is raised.",
    )  # fmt: skip
    status.add_argument("-o", "--output", choices=("table", "json"), default="table")
    check = add_command(
        subparsers, "check", "do all members hold the same data (HashKV at one revision)",
        _run_check,
        "etcd's own consistency mechanism: the hash of every member's key-value store at the "
        "oldest of their current revisions. Read-only. Exit code 1 when hashes differ, naming "
        "the members off the majority.",
    )  # fmt: skip
    check.add_argument("-o", "--output", choices=("table", "json"), default="table")
