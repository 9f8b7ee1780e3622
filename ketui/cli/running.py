"""What every headless command shares: the source options, opening the source, running the
command on it, mapping errors to exit codes, and the decoding options.

Output on stdout is stable and scriptable (the ``-o json`` forms are a contract); notes and
errors go to stderr, errors with exit code 1 and never a traceback for a user error.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ketui.cli import output
from ketui.cli.source_options import add_source_arguments, source_spec_from_args
from ketui.cli.view_options import add_view_arguments, decoder_from_args, manifests_dir
from ketui.core.k8s.decoded import Decoded
from ketui.core.k8s.shown import Decoder, why_not_decoded
from ketui.core.source import CompactedError, Source, SourceError
from ketui.core.sources.open import SourceSpec, open_source

Runner = Callable[[Source, argparse.Namespace, SourceSpec], Awaitable[int]]


class CliError(Exception):
    """A user error: printed as ``ketui: <message>``, exit code 1."""


def key_text(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


def printable(text: str) -> str:
    """Key-tree text (decoded with ``surrogateescape``) with bad bytes as ``\\xNN``, like
    :func:`key_text`: surrogates cannot be written to a UTF-8 stdout."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def error_message(error: BaseException) -> str:
    if isinstance(error, CompactedError) and error.requested is not None:
        return (
            f"revision {error.requested} is not available "
            f"(compacted: the oldest readable revision is {error.compact_revision})"
        )
    return str(error)


def report_warnings(source: Source) -> None:
    """What the source found wrong with its files (an incomplete ``--limit`` dump, dumps of
    different clusters...): the output is still printed, but may not be what the user thinks."""
    for warning in source.warnings:
        output.note(f"warning: {warning}")


def execute(args: argparse.Namespace, run: Runner) -> int:
    """Open the source the options name, run one command on it, map errors to exit codes."""

    async def main() -> int:
        spec = source_spec_from_args(args)
        source = open_source(spec, inform=output.note)
        try:
            return await run(source, args, spec)
        finally:
            report_warnings(source)
            await source.close()

    return guarded(main)


def guarded(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    try:
        return asyncio.run(main())
    except (SourceError, CliError) as error:
        output.note(error_message(error))
        return 1


def add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    run: Runner | None,
    details: str = "",
) -> argparse.ArgumentParser:
    description = f"{summary[0].upper()}{summary[1:]}. {details}".strip()
    parser = subparsers.add_parser(name, help=summary, description=description)
    add_source_arguments(parser)
    if run is not None:
        parser.set_defaults(func=lambda args: execute(args, run))
    return parser


def add_decode_options(parser: argparse.ArgumentParser, *, secrets: bool = True) -> None:
    add_view_arguments(parser)
    if secrets:
        parser.add_argument(
            "--show-secrets", action="store_const", const=True, default=argparse.SUPPRESS,
            help="print Secret values instead of masking them",
        )  # fmt: skip


def show_secrets(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "show_secrets", False))


def decoder_for(args: argparse.Namespace, *, live: bool) -> Decoder:
    """The command's --kube-version and --encryption-config as a :class:`Decoder`.

    Without --kube-version the release is detected from the kubeadm manifests (the directory of
    ``--kubeadm=MANIFEST``, else this node's), but only for live etcd: a dump or snapshot may come
    from any cluster.
    """
    try:
        return decoder_from_args(args, detect_in=manifests_dir(args) if live else None)
    except ValueError as exc:  # bad --kube-version or --encryption-config: one line
        raise CliError(str(exc)) from None


def why_not(decoded: Decoded, decoder: Decoder) -> str:
    return why_not_decoded(decoded, keyring_given=decoder.keyring is not None)
