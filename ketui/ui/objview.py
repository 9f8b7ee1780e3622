"""Turn a decoded value into the texts the viewer tabs show (YAML, JSON, raw, diff).

No widgets here."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from ketui.core.k8s.decoded import Decoded
from ketui.core.k8s.objdiff import diff_objects
from ketui.core.k8s.render import hexdump, to_json, to_yaml
from ketui.core.k8s.secrets import is_secret, mask_secret
from ketui.core.source import KeyValue


@dataclass(frozen=True)
class Rendered:
    """The texts of one value, ready for the tabs."""

    yaml: str
    json: str
    raw: str
    masked: bool  # True when secret values are hidden in yaml/json


def shown_object(decoded: Decoded, *, reveal: bool) -> Any:
    """The object to display: secrets masked unless ``reveal``."""
    obj = decoded.obj
    if obj is not None and not reveal and isinstance(obj, dict) and is_secret(obj):
        return mask_secret(obj)
    return obj


def raw_text(value: bytes) -> str:
    """The value as text when it is printable UTF-8, else a hex dump."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return hexdump(value)
    if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text):
        return hexdump(value)
    return text


def render_value(kv: KeyValue, decoded: Decoded, *, reveal: bool) -> Rendered:
    """Everything the tabs need for one value."""
    obj = shown_object(decoded, reveal=reveal)
    masked = obj is not decoded.obj
    if obj is not None:
        yaml_text, json_text = to_yaml(obj), to_json(obj)
    else:
        note = describe_undecoded(decoded)
        yaml_text = json_text = note
    raw = "(value not shown: secret; press x to reveal)" if masked else raw_text(kv.value)
    return Rendered(yaml=yaml_text, json=json_text, raw=raw, masked=masked)


def describe_undecoded(decoded: Decoded) -> str:
    """A readable text for a value that is not a Kubernetes object."""
    if decoded.text is not None:
        return decoded.text
    if decoded.encryption is not None and not decoded.encryption.decrypted:
        enc = decoded.encryption
        reason = f": {enc.reason}" if enc.reason else ""
        return f"# encrypted with {enc.provider} key {enc.key_name!r}{reason}"
    if decoded.error:
        return f"# could not decode ({decoded.family.value}): {decoded.error}"
    return f"# {decoded.family.value} value of {decoded.size} bytes (see the Raw tab)"


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
