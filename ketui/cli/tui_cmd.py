"""Placeholder: filled in by its owner (the TUI: `ketui`, `ketui open`, `ketui demo`)."""

import argparse


def register(
    parser: argparse.ArgumentParser,
    subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    """Set the default action of a bare `ketui` and add `open` and `demo`."""
    parser.set_defaults(func=lambda args: parser.print_help() or 0)
