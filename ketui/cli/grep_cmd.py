"""``ketui grep``: content search over every decoded value of a source (:mod:`ketui.core.search`).

Output: one line per hit, ``KEY  PATH: VALUE`` (the match in bold red on a terminal; a long value
cut around its first match), or with ``-o json`` one JSON document per hit ``{"key", "revision",
"path", "value"}``. A summary goes to stderr. Exit code 0 with hits, 1 without (as grep) or on an
error.
"""

from __future__ import annotations

import argparse
import re
import sys
import time

from ketui.cli import output
from ketui.cli.running import (
    CliError,
    add_command,
    add_decode_options,
    decoder_for,
    key_text,
    show_secrets,
)
from ketui.core.search import (
    FieldPathError,
    Query,
    SearchStats,
    excerpt,
    parse_field_path,
    search,
)
from ketui.core.source import Source
from ketui.core.sources.open import SourceSpec

CONTEXT = 60
"""Characters shown on each side of the first match of a long value in line output."""

_PROGRESS_EVERY = 0.2  # seconds between progress lines on a terminal


def _query(args: argparse.Namespace) -> Query:
    try:
        field = parse_field_path(args.field) if args.field is not None else None
    except FieldPathError as error:
        raise CliError(str(error)) from None
    if not args.pattern:
        raise CliError("empty PATTERN: give a text to look for")
    query = Query(
        args.pattern, regex=args.regex, ignore_case=args.ignore_case, field=field,
        reveal_secrets=show_secrets(args),
    )  # fmt: skip
    try:
        query.compiled()
    except re.error as error:
        raise CliError(f"bad regular expression {args.pattern!r}: {error}") from None
    return query


def _summary(stats: SearchStats, keys: int, *, keyring: bool) -> str:
    hits = f"{stats.hits} hit{'' if stats.hits == 1 else 's'}"
    text = f"{hits} in {keys} of {stats.total} keys searched ({stats.candidates} decoded)"
    if stats.stopped_early:
        text += "; stopped at --max-hits"
    if stats.encrypted:
        why = "" if keyring else ", --encryption-config FILE"
        text += f"; {stats.encrypted} not searchable (encrypted{why})"
    if stats.undecodable:
        text += f"; {stats.undecodable} not decodable"
    return text


async def _run_grep(source: Source, args: argparse.Namespace, spec: SourceSpec) -> int:
    query = _query(args)
    if args.max_hits is not None and args.max_hits < 1:
        raise CliError("--max-hits must be at least 1")
    decoder = decoder_for(args, live=source.live)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    stats = SearchStats()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY:
            last[0] = now
            output.progress(f"searched {done:,} of {total:,} keys, {stats.hits} hits")

    on_progress = progress if sys.stderr.isatty() else None
    keys: set[bytes] = set()
    prefix = args.prefix.encode("utf-8", "surrogateescape")
    try:
        async for hits in search(
            source, query, decoder, prefix=prefix, max_hits=args.max_hits, stats=stats,
            on_progress=on_progress,
        ):  # fmt: skip
            if on_progress is not None:
                output.progress("")
            for hit in hits:
                keys.add(hit.key)
                if args.output == "json":
                    output.print_json(
                        {"key": key_text(hit.key), "revision": hit.revision, "path": hit.path,
                         "value": hit.value}  # fmt: skip
                    )
                else:
                    head = f"{key_text(hit.key)}  {hit.path + ': ' if hit.path else ''}"
                    output.marked_line([(head, False), *excerpt(hit, CONTEXT)], color=color)
    finally:
        if on_progress is not None:
            output.progress("")
    output.note(_summary(stats, len(keys), keyring=decoder.keyring is not None))
    return 0 if stats.hits else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``grep``."""
    grep = add_command(
        subparsers, "grep", "search the decoded values for a text", _run_grep,
        "Matches every string (and number) of every decoded object, as kubectl shows them, and "
        "prints the key, the field path and the value. Secret data only with --show-secrets; "
        "values encrypted at rest only with --encryption-config. Exit code 0 with hits, 1 without.",
    )  # fmt: skip
    grep.add_argument("pattern", metavar="PATTERN", help="the text to look for (a literal)")
    grep.add_argument(
        "prefix", nargs="?", default="", metavar="PREFIX",
        help="search only keys under this prefix, e.g. /registry/pods/ (default: everything)",
    )  # fmt: skip
    grep.add_argument(
        "-E", "--regexp", dest="regex", action="store_true",
        help="PATTERN is a (Python) regular expression",
    )  # fmt: skip
    grep.add_argument("-i", "--ignore-case", action="store_true", help="ignore case")
    grep.add_argument(
        "--field", metavar="PATH",
        help="match only at or under this field path, e.g. 'spec.containers[*].image', "
        "metadata.labels.app, \"metadata.labels['app.kubernetes.io/name']\"",
    )  # fmt: skip
    grep.add_argument("--max-hits", type=int, metavar="N", help="stop after N hits")
    grep.add_argument("-o", "--output", choices=("line", "json"), default="line")
    grep.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto",
        help="mark the match in bold red (auto: when stdout is a terminal)",
    )  # fmt: skip
    add_decode_options(grep)
