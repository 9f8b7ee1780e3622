"""Entry point of the ``ketui`` command: parses arguments and dispatches to a command module.

Each command module exposes ``register(subparsers)``, which adds its sub-command and sets
``func`` (``(args) -> int`` exit code) as the parser default.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ketui import __version__
from ketui.cli import cluster_cmd, commands, decode_cmd, grep_cmd, output, tui_cmd
from ketui.cli.config_file import ConfigError, apply_config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ketui",
        description="Explore the etcd store behind a Kubernetes cluster: decoded values, "
        "key tree, live watch feed; live etcd, etcdctl JSON dumps and snapshot files.",
    )
    parser.add_argument("--version", action="version", version=f"ketui {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    tui_cmd.register(parser, subparsers)
    decode_cmd.register(subparsers)
    commands.register(subparsers)
    grep_cmd.register(subparsers)
    cluster_cmd.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        used = apply_config(args)
    except ConfigError as error:
        output.note(str(error))
        return 2
    if used and getattr(args, "context", None) is None:
        output.note(f"no source given: using the default {used}")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `ketui get ... | head`: the reader went away; say nothing.
        sys.stderr.close()
        return 0
