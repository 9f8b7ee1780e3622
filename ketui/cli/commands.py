"""Placeholder: filled in by its owner."""

import argparse


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add this module's sub-commands."""
