"""Field-level differences between two decoded objects (``status.phase: Pending → Running``).

Paths use kubectl's JSONPath-like spelling: ``spec.containers[0].image``; map keys that are not
plain identifiers are quoted the way ``kubectl get -o jsonpath`` wants them
(``metadata.labels["app.kubernetes.io/name"]``). Lists are compared index by index; a changed
scalar, an added or a removed field is one :class:`FieldChange` each (a whole added subtree is one
change, not one per leaf).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from ketui.core.k8s.render import to_yaml

_BARE = re.compile(r"^[^\s\"'\[\]{},:]+(?: [^\s\"'\[\]{},:]+)*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One difference. ``old`` is :data:`MISSING` for an added field, ``new`` for a removed one."""

    path: str
    old: Any
    new: Any

    @property
    def added(self) -> bool:
        return self.old is MISSING

    @property
    def removed(self) -> bool:
        return self.new is MISSING

    def __str__(self) -> str:
        if self.added:
            return f"{self.path}: + {format_value(self.new)}"
        if self.removed:
            return f"{self.path}: - {format_value(self.old)}"
        return f"{self.path}: {format_value(self.old)} → {format_value(self.new)}"


class _Missing:
    """Marks the absent side of an added or removed field."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def format_value(value: Any, limit: int = 80) -> str:
    """A one-line rendering of a value for diff lines, shortened to ``limit`` characters.

    Plain one-line strings print bare (``Running``); anything else prints as JSON, including
    strings that would read as another type (``"3"``, ``"true"``).
    """
    if isinstance(value, str) and _BARE.match(value) and not _looks_typed(value):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _looks_typed(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _child_path(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def diff_objects(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Every difference between ``old`` and ``new``, in field order (``old``'s, then ``new``'s)."""
    changes: list[FieldChange] = []
    _diff(old, new, path, changes)
    return changes


def _diff(old: Any, new: Any, path: str, out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key, value in old.items():
            child = _child_path(path, str(key))
            if key in new:
                _diff(value, new[key], child, out)
            else:
                out.append(FieldChange(child, value, MISSING))
        for key, value in new.items():
            if key not in old:
                out.append(FieldChange(_child_path(path, str(key)), MISSING, value))
        return
    if isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            child = f"{path}[{index}]"
            if index >= len(new):
                out.append(FieldChange(child, old[index], MISSING))
            elif index >= len(old):
                out.append(FieldChange(child, MISSING, new[index]))
            else:
                _diff(old[index], new[index], child, out)
        return
    if type(old) is not type(new) or old != new:
        out.append(FieldChange(path or ".", old, new))


def diff_text(
    before: Any, after: Any, *, before_label: str = "before", after_label: str = "after"
) -> str:
    """Field diffs (``status.phase: Pending → Running``) followed by a unified YAML diff."""
    lines: list[str] = []
    if isinstance(before, dict) and isinstance(after, dict):
        lines.extend(str(change) for change in diff_objects(before, after))
    before_yaml = to_yaml(before).splitlines() if before is not None else []
    after_yaml = to_yaml(after).splitlines() if after is not None else []
    unified = list(
        difflib.unified_diff(before_yaml, after_yaml, before_label, after_label, lineterm="")
    )
    if not lines and not unified:
        return "(no difference)"
    if unified:
        lines.append("")
        lines.extend(unified)
    return "\n".join(lines)
