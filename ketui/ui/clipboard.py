"""Copying text: the system clipboard through pyperclip where there is one, OSC 52 always.

Over SSH there is usually no local clipboard tool; the OSC 52 escape (``App.copy_to_clipboard``)
asks the user's terminal emulator to copy instead. Sending both is harmless.
"""

from __future__ import annotations

import shlex
from typing import Any

import pyperclip
from textual.app import App


def copy_text(app: App[Any], text: str) -> str:
    """Copy ``text``; returns how it was copied, for the notification."""
    app.copy_to_clipboard(text)
    try:
        pyperclip.copy(text)
    except pyperclip.PyperclipException:
        return "copied via terminal (OSC 52)"
    return "copied to clipboard"


def etcdctl_command(
    key: bytes,
    *,
    endpoints: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
    revision: int | None = None,
) -> str:
    """The ``etcdctl get`` command line that reads the same value."""
    parts = ["ETCDCTL_API=3", "etcdctl"]
    if endpoints:
        parts.append("--endpoints=" + ",".join(endpoints))
    parts.extend(extra)
    parts.extend(["get", key.decode(errors="replace")])
    if revision is not None:
        parts.append(f"--rev={revision}")
    parts.append("--print-value-only")
    return " ".join(shlex.quote(p) if i > 0 else p for i, p in enumerate(parts))
