#!/usr/bin/env python3
"""Generate ketui/core/k8s/protobuf/schema_data.py from the shared wire-schema.json.

Usage: scripts/gen_schema.py [WIRE_SCHEMA_JSON]   (default: ../shared/k8s-schema/wire-schema.json
relative to the repository root).

The generated module is committed so the installed package needs nothing outside itself. Layout
(all indices are positions in ``TAGS`` or ``MESSAGE_NAMES``; ``None`` means "open bound"):

- ``TAGS``: the upstream tags, oldest first (``v0.17.0`` ... ``master``).
- ``MESSAGE_NAMES``: every protobuf message name.
- ``MESSAGES``: one compact JSON text per message, same order as MESSAGE_NAMES, parsed lazily
  (a module of plain strings compiles and imports in a few milliseconds even without a .pyc):
  ``[type_meta, since, removed, fields]`` with ``fields`` a list of
  ``[number, json, order, kind, ref, flags, since, removed, history]``:
  ``kind`` is the schema kind; ``ref`` is the message index for ``message`` and, for ``map``,
  a pair ``(value_kind, value_message_index | None)``; ``flags`` is a bit set (see FLAG_* below);
  ``history`` is a list of ``[first_tag, last_tag, [[attribute, old_value], ...]]``, where a
  ``message`` attribute is a message index and flag attributes are named as in the schema.
- ``KINDS``: ``"<apiVersion> <Kind>"`` -> message index; ``KINDS_REMOVED``: -> last tag index.
- ``EVERY_GROUP_VERSION`` / ``EVERY_GROUP_VERSION_REMOVED``: the same, keyed by Kind.
- ``SPECIAL``: message index -> (form, go_kind).
"""

from __future__ import annotations

import argparse
import json
import pprint
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCHEMA = REPO.parent / "shared" / "k8s-schema" / "wire-schema.json"
OUTPUT = REPO / "ketui" / "core" / "k8s" / "protobuf" / "schema_data.py"

# Bit flags of a field; the order is part of the generated module's format.
FLAGS = (
    "repeated",
    "omitempty",
    "inline",
    "pointer",
    "alwaysWritten",
    "jsonSkip",
    "noJsonTag",
    "noGoField",
    "omitzero",
)
HISTORY_KEYS = set(FLAGS) | {"message", "json", "proto"}


def _flags(field: dict[str, Any]) -> int:
    return sum(1 << i for i, name in enumerate(FLAGS) if field.get(name))


def _check_wire_types(name: str, fields: list[dict[str, Any]]) -> None:
    """ketui declares each field number once (one protobuf descriptor for all releases): refuse a
    schema where a number is listed twice or where a release changed a field's wire type (the
    only type changes today are message -> other message, which keep the wire type)."""
    numbers = [f["number"] for f in fields]
    if len(numbers) != len(set(numbers)):
        raise SystemExit(f"{name}: a field number is listed twice")
    for f in fields:
        for entry in f.get("history", []):
            if "message" in entry and f["kind"] != "message":
                raise SystemExit(f"{name}.{f['json']}: wire type changed across releases")
            if "kind" in entry or "repeated" in entry:
                raise SystemExit(f"{name}.{f['json']}: kind changed across releases")


def build(schema: dict[str, Any]) -> dict[str, Any]:
    """Turn the wire schema into the compact tables written to the generated module."""
    tags: list[str] = schema["tags"]
    tag_index = {t: i for i, t in enumerate(tags)}
    names = sorted(schema["messages"])
    msg_index = {n: i for i, n in enumerate(names)}

    def tag(value: str | None) -> int | None:
        return None if value is None else tag_index[value]

    def history(entries: list[dict[str, Any]]) -> tuple[Any, ...]:
        out = []
        for entry in entries:
            first, _, last = entry["tags"].partition("..")
            attrs: dict[str, Any] = {}
            for key, value in entry.items():
                if key == "tags" or key == "proto":
                    continue  # the protobuf field name is irrelevant to decoding
                if key not in HISTORY_KEYS:
                    raise SystemExit(f"unknown history attribute {key!r}")
                attrs[key] = msg_index[value] if key == "message" else value
            if attrs:
                out.append(
                    (tag_index[first], tag_index[last or first], tuple(sorted(attrs.items())))
                )
        return tuple(out)

    messages = []
    for name in names:
        m = schema["messages"][name]
        _check_wire_types(name, m["fields"])
        fields = []
        for f in m["fields"]:
            ref: Any = None
            if f["kind"] == "message":
                ref = msg_index[f["message"]]
            elif f["kind"] == "map":
                if f.get("mapKey", "string") != "string":
                    raise SystemExit(f"{name}.{f['json']}: non-string map key")
                vmsg = f.get("mapValueMessage")
                ref = (f["mapValue"], None if vmsg is None else msg_index[vmsg])
            fields.append(
                (
                    f["number"],
                    f["json"],
                    f["order"],
                    f["kind"],
                    ref,
                    _flags(f),
                    tag(f.get("since")),
                    tag(f.get("removed")),
                    history(f.get("history", [])),
                )
            )
        entry = [bool(m.get("typeMeta")), tag(m.get("since")), tag(m.get("removed")), fields]
        messages.append(json.dumps(entry, separators=(",", ":"), ensure_ascii=False))
    env = schema["envelope"]
    if env["fields"] != {"typeMeta": 1, "raw": 2, "contentEncoding": 3, "contentType": 4}:
        raise SystemExit("envelope layout changed; update ketui/core/k8s/protobuf/decode.py")
    return {
        "TAGS": tuple(tags),
        "FLAGS": FLAGS,
        "MESSAGE_NAMES": tuple(names),
        "MESSAGES": tuple(messages),
        "KINDS": {k: msg_index[v] for k, v in sorted(schema["kinds"].items())},
        "KINDS_REMOVED": {k: tag_index[v] for k, v in sorted(schema["kindsRemoved"].items())},
        "EVERY_GROUP_VERSION": {
            k: msg_index[v] for k, v in sorted(schema["kindsInEveryGroupVersion"].items())
        },
        "EVERY_GROUP_VERSION_REMOVED": {
            k: tag_index[v] for k, v in sorted(schema["kindsInEveryGroupVersionRemoved"].items())
        },
        "SPECIAL": {
            msg_index[k]: (v["form"], v["goKind"]) for k, v in sorted(schema["special"].items())
        },
    }


def render(tables: dict[str, Any], source: str) -> str:
    lines = [
        f'"""GENERATED by scripts/gen_schema.py from {source}. Do not edit.',
        "",
        "Kubernetes protobuf storage schema (1.17 to master); format described in the generator.",
        '"""',
        "# fmt: off",
        "",
    ]
    for key, value in tables.items():
        text = pprint.pformat(value, width=200, compact=True, sort_dicts=False)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schema", nargs="?", type=Path, default=DEFAULT_SCHEMA)
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    schema = json.loads(args.schema.read_text(encoding="utf-8"))
    if schema.get("formatVersion") not in (1, "1"):
        print(f"note: wire-schema formatVersion {schema.get('formatVersion')!r}")
    text = render(build(schema), "k8s-schema/wire-schema.json")
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
