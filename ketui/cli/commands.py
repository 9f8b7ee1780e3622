"""The headless commands ``ls``, ``get``, ``history``, ``watch``, ``diff``, ``stats``, ``export``.

Every command takes the source options of :mod:`ketui.cli.source_options`. Output on stdout is
stable and scriptable (the ``-o json`` forms are a contract); notes and errors go to stderr, errors
with exit code 1 and never a traceback for a user error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ketui.cli import output
from ketui.cli.running import (
    CliError,
    add_command,
    add_decode_options,
    decoder_for,
    guarded,
    key_text,
    printable,
    report_warnings,
    show_secrets,
    why_not,
)
from ketui.cli.source_options import source_spec_from_args
from ketui.core.index.keyindex import IndexNode, KeyIndex
from ketui.core.index.sourcediff import KeyDiff, Side, diff_sources
from ketui.core.k8s.decoded import Decoded
from ketui.core.k8s.keys import DEFAULT_PREFIX, detect_prefix, parse_key
from ketui.core.k8s.render import human_bytes
from ketui.core.k8s.shown import (
    Decoder,
    dropped_note,
    is_masked,
    is_object,
    shown_object,
)
from ketui.core.relations import ObjectRef, age, events_of
from ketui.core.source import (
    EventType,
    KeyInfo,
    KeyValue,
    ListsValues,
    Source,
)
from ketui.core.sources.open import SourceSpec, open_paths, open_source


async def _sized_infos(source: Source, prefix: bytes) -> AsyncIterator[list[KeyInfo]]:
    """Keys under ``prefix`` with value sizes: keys-only listings of live etcd leave sizes out, so
    live etcd sends the values (paged) and only their lengths are kept."""
    if source.live and isinstance(source, ListsValues):
        async for values in source.list_values(prefix):
            yield [
                KeyInfo(kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.lease, kv.size)
                for kv in values
            ]
        return
    async for page in source.list_keys(prefix):
        yield page


def _every_value(buffer: object, start: int, end: int) -> bool:
    return True


async def _values(source: Source, prefix: bytes) -> AsyncIterator[KeyValue]:
    """Every key with its value under ``prefix``, in key order (the sources read them in pages:
    :meth:`~ketui.core.source.Source.filter_values` keeping every value)."""
    async for values in source.filter_values(prefix, _every_value):
        for kv in values:
            yield kv


async def _index(source: Source, prefix: bytes) -> KeyIndex:
    index = KeyIndex()
    async for page in _sized_infos(source, prefix):
        index.add_many(page)
    return index


def _kube_prefix(spec: SourceSpec | None, keys: Iterable[bytes]) -> str:
    if spec is not None and spec.prefix:
        return spec.prefix.rstrip("/") or DEFAULT_PREFIX
    return detect_prefix(keys)


def _tree_path(prefix: str) -> str:
    """A user's prefix as a key-tree path: no trailing slash (``""`` is the root)."""
    return prefix.rstrip("/")


# ----------------------------------------------------------------------------- ls


def _node_json(node: IndexNode) -> dict[str, Any]:
    return {"name": printable(node.name), "count": node.count, "bytes": node.bytes}


async def _run_ls(source: Source, args: argparse.Namespace, spec: SourceSpec) -> int:
    prefix = args.prefix or ""
    path = _tree_path(prefix)
    path_bytes = path.encode("utf-8", "surrogateescape")
    if args.count:
        count = await source.count(path_bytes + b"/") if path else await source.count(b"")
        if path and await source.get(path_bytes) is not None:
            count += 1
        if args.output == "json":
            output.print_json({"prefix": printable(prefix), "count": count})
        else:
            output.line(str(count))
        return 0
    index = await _index(source, path_bytes)
    node = index.node(path) if path else index.total()
    children = index.children(path) if node is not None else []
    count, size = (node.count, node.bytes) if node is not None else (0, 0)
    if args.output == "json":
        output.print_json(
            {
                "prefix": printable(prefix),
                "count": count,
                "bytes": size,
                "children": [_node_json(child) for child in children],
            }
        )
        return 0
    rows: list[list[object]] = [["NAME", "COUNT", "BYTES"]]
    for child in children:
        name = printable(child.name) + ("" if child.is_leaf else "/")
        rows.append([name, child.count, human_bytes(child.bytes)])
    rows.append([f"total {printable(path) or '/'}", count, human_bytes(size)])
    output.table(rows, right=(1, 2))
    return 0


# ----------------------------------------------------------------------------- get


def _holds_secret(kv: KeyValue, decoded: Decoded, spec: SourceSpec) -> bool:
    """Whether ``kv`` is a Secret: by its key (also when encrypted or undecodable) or its kind."""
    from ketui.core.k8s.secrets import is_secret

    parts = parse_key(kv.key, _kube_prefix(spec, [kv.key]))
    return parts.resource == "secrets" or is_secret(decoded.obj)


async def _run_get(source: Source, args: argparse.Namespace, spec: SourceSpec) -> int:
    key = args.key.encode("utf-8", "surrogateescape")
    kv = await source.get(key, revision=args.rev)
    if kv is None:
        at = f" at revision {args.rev}" if args.rev is not None else ""
        raise CliError(f"key not found{at}: {args.key}")
    decoder = decoder_for(args, live=source.live)
    decoded = decoder(kv)
    if args.events:
        return await _print_events(source, kv, decoded, args, spec)
    if args.output == "raw":
        if sys.stdout.isatty() and not args.force:
            raise CliError(
                f"{args.key}: -o raw writes the stored bytes as they are, which may hold terminal "
                "control sequences: redirect it to a file or a pipe (or add --force)"
            )
        if not show_secrets(args) and _holds_secret(kv, decoded, spec):
            raise CliError(
                f"{args.key}: is a Secret: -o raw prints its data unmasked; add --show-secrets"
            )
        sys.stdout.buffer.write(kv.value)
        sys.stdout.flush()
        return 0
    for warning in decoded.warnings:
        output.note(warning)
    dropped = dropped_note(decoded)
    if dropped:
        output.note(dropped)
    if decoded.obj is not None:
        from ketui.core.k8s.render import to_json, to_yaml

        obj = shown_object(
            decoded, revision=kv.mod_revision, reveal=show_secrets(args),
            managed_fields=args.show_managed_fields,
        )  # fmt: skip
        output.text(to_json(obj) if args.output == "json" else to_yaml(obj))
        return 0
    if decoded.text is not None:
        output.text(decoded.text)
        return 0
    why = why_not(decoded, decoder)
    raise CliError(f"{args.key}: cannot decode: {why}; -o raw prints the bytes")


async def _print_events(
    source: Source, kv: KeyValue, decoded: Decoded, args: argparse.Namespace, spec: SourceSpec
) -> int:
    """``get KEY --events``: the Events about the object, newest first, as kubectl describe
    lists them (``-o json``: a JSON array)."""
    ref = ObjectRef.of(decoded.obj) if is_object(decoded) else None
    if ref is None:
        raise CliError(f"{args.key}: not a Kubernetes object with a name: it has no events")
    decoder = decoder_for(args, live=source.live)
    events = await events_of(source, ref, decoder, prefix=_kube_prefix(spec, [kv.key]))
    if args.output == "json":
        output.print_json([event.as_json() for event in events])
        return 0
    if not events:
        output.note(f"no events about {ref.kind} {ref.name} (events expire after an hour)")
        return 0
    now = datetime.now(timezone.utc)
    rows: list[list[object]] = [["TYPE", "REASON", "AGE", "FROM", "MESSAGE"]]
    for event in events:
        seen = age(event.last_seen, now)
        if event.count > 1:
            seen += f" (x{event.count} over {age(event.first_seen, now)})"
        rows.append([event.type, event.reason, seen, event.source, event.message])
    output.table(rows)
    return 0


# ----------------------------------------------------------------------------- history


async def _run_history(source: Source, args: argparse.Namespace, spec: SourceSpec) -> int:
    history = await source.history(args.key.encode("utf-8", "surrogateescape"))
    rows = [
        {
            "revision": entry.kv.mod_revision,
            "create_revision": entry.kv.create_revision,
            "version": entry.kv.version,
            "op": entry.type.value,
            "size": entry.kv.size,
        }
        for entry in history.revisions
    ]
    if args.output == "json":
        output.print_json(rows)
        return 0
    if not rows:
        output.note(f"no history for {args.key} (compaction revision {history.compact_revision})")
        return 0
    table: list[list[object]] = [["REVISION", "OP", "CREATE_REVISION", "VERSION", "SIZE"]]
    table += [[r["revision"], r["op"], r["create_revision"], r["version"], r["size"]] for r in rows]
    output.table(table, right=(0, 2, 3, 4))
    output.line(f"compaction revision: {history.compact_revision}")
    return 0


# ----------------------------------------------------------------------------- watch


def describe_event(op: EventType, kv: KeyValue, prev: KeyValue | None, decoder: Decoder,
                   kube_prefix: str | None) -> dict[str, Any]:  # fmt: skip
    """The ``watch -o json`` record of one event; kind comes from the value (the previous value
    for a delete), namespace and name from the object's metadata or else from the key."""
    shown = kv if op is EventType.PUT else prev
    kind = namespace = name = None
    if shown is not None and shown.value:
        decoded = decoder(shown)
        kind = decoded.kind
        metadata = decoded.obj.get("metadata") if is_object(decoded) else None
        if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
            name = metadata["name"]
            namespace = metadata.get("namespace") or None
    if name is None:
        parts = parse_key(kv.key, kube_prefix or detect_prefix([kv.key]))
        namespace, name = parts.namespace, parts.name
    return {
        "op": op.value,
        "key": key_text(kv.key),
        "revision": kv.mod_revision,
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "size": kv.size if op is EventType.PUT else 0,
    }


async def _run_watch(source: Source, args: argparse.Namespace, spec: SourceSpec) -> int:
    decoder = decoder_for(args, live=source.live)
    prefix = (args.prefix or "").encode("utf-8", "surrogateescape")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout if args.timeout is not None else None
    seen = 0
    if args.max_events is not None and args.max_events <= 0:
        return 0
    events = source.watch(prefix, start_revision=args.rev).__aiter__()
    try:
        while True:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            try:
                event = await asyncio.wait_for(events.__anext__(), remaining)
            except (StopAsyncIteration, asyncio.TimeoutError):
                break
            record = describe_event(event.type, event.kv, event.prev_kv, decoder, spec.prefix)
            if args.output == "json":
                output.print_json(record)
            else:
                target = "/".join(p for p in (record["namespace"], record["name"]) if p) or "-"
                output.line(
                    f"{record['revision']} {record['op'].upper()} {record['key']} "
                    f"{record['kind'] or '-'} {target} {record['size']}"
                )
            sys.stdout.flush()
            seen += 1
            if args.max_events is not None and seen >= args.max_events:
                break
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
    return 0


# ----------------------------------------------------------------------------- diff


def _run_diff(args: argparse.Namespace) -> int:
    async def main() -> int:
        shared: Source | None = None
        opened: list[Source] = []
        spec: SourceSpec | None = None

        def side(text: str) -> Side:
            nonlocal shared, spec
            if text.startswith("@"):
                rev = text[1:]
                if shared is None:
                    spec = source_spec_from_args(args)
                    shared = open_source(spec, inform=output.note)
                    opened.append(shared)
                return Side(shared, int(rev) if rev else None)
            source = open_paths([text])
            opened.append(source)
            return Side(source)

        for text in (args.source_a, args.source_b):  # before any source is opened
            if text.startswith("@") and text[1:] and not text[1:].isdigit():
                raise CliError(f"bad revision {text!r}: expected @REV, e.g. @1234")
        try:
            old, new = side(args.source_a), side(args.source_b)
            prefix = (args.prefix or "").encode("utf-8", "surrogateescape")
            result = await diff_sources(old, new, prefix, exact=args.exact)
            if args.output == "json":
                output.print_json(
                    {
                        "added": [key_text(k) for k in result.added],
                        "removed": [key_text(k) for k in result.removed],
                        "changed": [key_text(k) for k in result.changed],
                    }
                )
                return 0
            await _print_diff_table(old, new, result, args)
            return 0
        finally:
            for source in opened:
                report_warnings(source)
                await source.close()

    return guarded(main)


async def _print_diff_table(
    old: Side, new: Side, result: KeyDiff, args: argparse.Namespace
) -> None:
    """``+``/``-``/``~`` per key in key order; field-level changes under each changed object."""
    from ketui.core.k8s.objdiff import diff_objects

    decoder = decoder_for(args, live=old.source.live or new.source.live)
    added, removed, changed = result.added, result.removed, result.changed
    lines = [(k, "+") for k in added] + [(k, "-") for k in removed] + [(k, "~") for k in changed]
    for key, mark in sorted(lines):
        output.line(f"{mark} {key_text(key)}")
        if mark != "~":
            continue
        a = await old.source.get(key, revision=old.revision)
        b = await new.source.get(key, revision=new.revision)
        if a is None or b is None:
            continue
        da, db = decoder(a), decoder(b)
        if is_object(da) and is_object(db):
            reveal = show_secrets(args)
            obj_a = shown_object(da, revision=None, reveal=reveal)
            obj_b = shown_object(db, revision=None, reveal=reveal)
            for change in diff_objects(obj_a, obj_b):
                output.line(f"    {change}")
        else:
            output.line(f"    value: {a.size} → {b.size} bytes")
    output.line(f"{len(added)} added, {len(removed)} removed, {len(changed)} changed")


# ----------------------------------------------------------------------------- stats


async def _run_stats(source: Source, args: argparse.Namespace, spec: SourceSpec) -> int:
    prefix = args.prefix or ""
    index = KeyIndex()
    sample: list[bytes] = []  # keys to detect the Kubernetes prefix from
    async for page in _sized_infos(source, prefix.encode("utf-8", "surrogateescape")):
        index.add_many(page)
        sample.extend(info.key for info in page[: 1000 - len(sample)])
    kube_prefix = _kube_prefix(spec, sample)
    stats = index.stats(prefix, kube_prefix=kube_prefix, largest=args.top)
    resources = sorted(stats.by_resource.items(), key=lambda item: (-item[1].bytes, item[0]))
    if args.output == "json":
        output.print_json(
            {
                "prefix": printable(prefix),
                "count": stats.total.count,
                "bytes": stats.total.bytes,
                "resources": [
                    {"resource": printable(name), "count": agg.count, "bytes": agg.bytes}
                    for name, agg in resources
                ],
                "largest": [{"key": key_text(i.key), "size": i.size} for i in stats.largest],
                "leased": {
                    "count": stats.leased.count,
                    "bytes": stats.leased.bytes,
                    "leases": len(stats.by_lease),
                },
            }
        )
        return 0
    rows: list[list[object]] = [["RESOURCE", "COUNT", "BYTES"]]
    rows += [[printable(name), agg.count, human_bytes(agg.bytes)] for name, agg in resources]
    rows.append(["total", stats.total.count, human_bytes(stats.total.bytes)])
    output.table(rows, right=(1, 2))
    output.line()
    output.line(f"largest {len(stats.largest)} objects:")
    output.table([[human_bytes(i.size or 0), key_text(i.key)] for i in stats.largest], right=(0,))
    output.line()
    output.line(
        f"keys with a lease: {stats.leased.count} ({human_bytes(stats.leased.bytes)}) "
        f"on {len(stats.by_lease)} lease(s)"
    )
    return 0


# ----------------------------------------------------------------------------- export


async def _run_export(source: Source, args: argparse.Namespace, spec: SourceSpec) -> int:
    from ketui.cli.export_files import ExportWriter, Refused
    from ketui.core.k8s.render import to_yaml
    from ketui.core.k8s.secrets import is_secret
    from ketui.core.k8s.served import strip_for_export

    decoder = decoder_for(args, live=source.live)
    target = Path(args.dir)
    try:
        writer = ExportWriter(target, force=args.force)
    except OSError as exc:
        raise CliError(f"cannot write to {target}: {exc.strerror or exc}") from exc
    prefix = args.prefix.encode("utf-8", "surrogateescape")
    written = skipped = refused = masked = 0
    try:
        async for kv in _values(source, prefix):
            decoded = decoder(kv)
            # surrogateescape: every byte of the key reaches the file name (encoded), none is lost
            key_name = kv.key.decode("utf-8", "surrogateescape")
            parts = parse_key(key_name, _kube_prefix(spec, [kv.key]))
            if not is_object(decoded) or parts.name is None or parts.resource is None:
                skipped += 1
                output.note(f"skipped {key_text(kv.key)}: {why_not(decoded, decoder)}")
                continue
            reveal = show_secrets(args)
            obj = strip_for_export(shown_object(decoded, revision=None, reveal=reveal))
            directories = [parts.qualified_resource or parts.resource]
            if parts.namespace is not None:
                directories.append(parts.namespace)
            raw = [text.encode("utf-8", "surrogateescape") for text in directories]
            path = writer.path_for(raw, parts.name.encode("utf-8", "surrogateescape"))
            try:
                written_at = writer.write(
                    path, to_yaml(obj).encode("utf-8"), private=is_secret(decoded.obj)
                )
            except Refused as why:
                refused += 1
                output.note(f"not written {key_text(kv.key)}: {why}")
                continue
            output.line(str(written_at))
            written += 1
            masked += is_masked(decoded, reveal=reveal)
    finally:
        writer.close()
    summary = f"exported {written} object(s) to {target}"
    if skipped:
        summary += f", skipped {skipped} value(s) that gave no Kubernetes object (reasons above)"
    if refused:
        summary += f", {refused} file(s) not written (reasons above)"
    if masked:
        summary += f"; {masked} Secret(s) masked (--show-secrets to export their data)"
    output.note(summary)
    return 1 if refused else 0


# ----------------------------------------------------------------------------- registration


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ls``, ``get``, ``history``, ``watch``, ``diff``, ``stats`` and ``export``."""
    ls = add_command(
        subparsers, "ls", "list the key tree: counts and bytes per level", _run_ls,
        "Byte counts of live etcd need the values, which are read in pages; --count only counts.",
    )  # fmt: skip
    ls.add_argument(
        "prefix", nargs="?", default="", metavar="PREFIX",
        help="key-tree level to list, e.g. /registry/pods (default: the root)",
    )  # fmt: skip
    ls.add_argument(
        "--count", action="store_true", help="only count the keys (no values transferred)"
    )
    ls.add_argument("-o", "--output", choices=("table", "json"), default="table")

    get = add_command(subparsers, "get", "print one key's value, decoded", _run_get)
    get.add_argument("key", metavar="KEY", help="the full etcd key")
    get.add_argument("--rev", type=int, metavar="N", help="read at this revision")
    get.add_argument("-o", "--output", choices=("yaml", "json", "raw"), default="yaml")
    get.add_argument(
        "--force", action="store_true", help="-o raw: write the bytes to a terminal all the same"
    )
    get.add_argument(
        "--show-managed-fields", action="store_true",
        help="print metadata.managedFields too (hidden by default, as kubectl does)",
    )  # fmt: skip
    get.add_argument(
        "--events", action="store_true",
        help="print the Events about the object instead (newest first; -o json: an array)",
    )  # fmt: skip
    add_decode_options(get)

    history = add_command(subparsers, "history", "every revision of one key", _run_history)
    history.add_argument("key", metavar="KEY", help="the full etcd key")
    history.add_argument("-o", "--output", choices=("table", "json"), default="table")

    watch = add_command(subparsers, "watch", "stream changes under a prefix", _run_watch)
    watch.add_argument(
        "prefix", nargs="?", default="", metavar="PREFIX", help="key prefix (default: everything)"
    )
    watch.add_argument("--rev", type=int, metavar="N", help="start at this revision")
    watch.add_argument("--max-events", type=int, metavar="N", help="stop after N events")
    watch.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    watch.add_argument("-o", "--output", choices=("line", "json"), default="line")
    add_decode_options(watch, secrets=False)

    diff = add_command(
        subparsers, "diff", "keys added, removed and changed between two sources", None
    )
    diff.add_argument(
        "source_a", metavar="SOURCE_A", help="dump/snapshot file, or @REV: the source options' "
        "source at revision REV (@ alone: its latest)",
    )  # fmt: skip
    diff.add_argument("source_b", metavar="SOURCE_B", help="the same forms as SOURCE_A")
    diff.add_argument(
        "prefix", nargs="?", default="", metavar="PREFIX", help="key prefix (default: everything)"
    )
    diff.add_argument("-o", "--output", choices=("table", "json"), default="table")
    diff.add_argument(
        "--exact", action="store_true", help="compare every value, not only differing metadata"
    )
    add_decode_options(diff)
    diff.set_defaults(func=_run_diff)

    stats = add_command(
        subparsers, "stats", "count and bytes per resource, largest objects, leased keys",
        _run_stats, "On live etcd the values are read in pages to measure them.",
    )  # fmt: skip
    stats.add_argument(
        "prefix", nargs="?", default="", metavar="PREFIX", help="key prefix (default: everything)"
    )
    stats.add_argument("--top", type=int, default=20, metavar="N", help="largest objects shown")
    stats.add_argument("-o", "--output", choices=("table", "json"), default="table")

    export = add_command(
        subparsers, "export", "write one kubectl-ready YAML file per object", _run_export
    )
    export.add_argument("prefix", metavar="PREFIX", help="key prefix, e.g. /registry/")
    export.add_argument(
        "dir", metavar="DIR", help="written as DIR/<resource>/[<namespace>/]<name>.yaml"
    )
    export.add_argument(
        "--force", action="store_true", help="overwrite files that exist (never through a link)"
    )
    add_decode_options(export)
