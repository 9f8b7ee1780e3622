"""Masking Secret values: every view, copy and export hides them unless the user reveals them.

A masked value keeps its key and says how many bytes it holds: ``"<masked: 12 bytes>"``. For
``data`` (base64 in Kubernetes JSON) the size is that of the decoded bytes, i.e. the secret's own
length; for ``stringData`` it is the UTF-8 length. The ``last-applied-configuration`` annotation
that ``kubectl apply`` leaves holds the whole Secret in clear, so it is masked too.
"""

from __future__ import annotations

import base64
import binascii
import copy
from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_MASKED_FIELDS = ("data", "stringData")


def mask_text(size: int) -> str:
    """The text that replaces a secret value of ``size`` bytes."""
    return f"<masked: {size} byte{'' if size == 1 else 's'}>"


def is_secret(obj: Any) -> bool:
    """Whether ``obj`` is a Secret (kind ``Secret``; any apiVersion, erring on the safe side)."""
    return isinstance(obj, dict) and obj.get("kind") == "Secret"


def mask_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` with Secret values masked; other objects are returned unchanged (a copy).

    Key order is kept, so output stays in Kubernetes' field order.
    """
    masked = copy.deepcopy(obj)
    if not is_secret(masked):
        return masked
    for name in _MASKED_FIELDS:
        values = masked.get(name)
        if isinstance(values, dict):
            is_base64 = name == "data"
            masked[name] = {k: _mask_value(v, base64_text=is_base64) for k, v in values.items()}
    metadata = masked.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if isinstance(annotations, dict) and isinstance(annotations.get(LAST_APPLIED), str):
        annotations[LAST_APPLIED] = mask_text(len(annotations[LAST_APPLIED].encode()))
    return masked


def _mask_value(value: Any, *, base64_text: bool) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        return mask_text(len(str(value).encode()))
    if base64_text:
        try:
            return mask_text(len(base64.b64decode(value, validate=True)))
        except (binascii.Error, ValueError):
            pass
    return mask_text(len(value.encode()))
