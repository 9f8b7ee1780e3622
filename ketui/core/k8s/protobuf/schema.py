"""Release views of the Kubernetes protobuf storage schema.

The generated :mod:`ketui.core.k8s.protobuf.schema_data` holds every message and field of Kubernetes
1.17 to master with ``since``/``removed``/``history``. A :class:`KubeView` resolves it for one
release (rule 9 of the schema README): which fields exist there and with which attributes.
Per-message resolution is lazy and cached, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from ketui.core.k8s.protobuf import schema_data as data

__all__ = [
    "FieldSpec",
    "KubeView",
    "MessageSpec",
    "RawField",
    "RawMessage",
    "kind_message_index",
    "message_for_kind",
    "message_index",
    "parse_kube_version",
    "raw_message",
    "special_form",
    "view_for",
]

TAGS: tuple[str, ...] = data.TAGS
MASTER = len(TAGS) - 1
#: The newest released Kubernetes the schema knows (the tag before master): the default view.
NEWEST_RELEASE = MASTER - 1
MESSAGE_NAMES: tuple[str, ...] = data.MESSAGE_NAMES
_FLAG_BIT = {name: 1 << i for i, name in enumerate(data.FLAGS)}
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:[.+-].*)?$")


@dataclass(frozen=True, slots=True)
class RawField:
    """One field as stored in the schema, attributes of the newest release that has it."""

    number: int
    json: str
    order: float
    kind: str
    ref: Any  # message index, (map value kind, value message index | None), or None
    flags: int
    since: int | None
    removed: int | None
    history: tuple[tuple[int, int, tuple[tuple[str, Any], ...]], ...]

    def exists_at(self, tag: int) -> bool:
        return (self.since is None or self.since <= tag) and (
            self.removed is None or tag <= self.removed
        )


@dataclass(frozen=True, slots=True)
class RawMessage:
    name: str
    type_meta: bool
    since: int | None
    removed: int | None
    fields: tuple[RawField, ...]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A field resolved for one release. ``extra`` marks a field this release does not have but
    that is printed when present on the wire (newest view, rule 9 last sentence)."""

    number: int
    json: str
    kind: str  # string, bytes, bool, int32, int64, double, float, message, map
    message: int | None  # message index (kind message) or map value message index
    map_value: str | None  # map value kind
    repeated: bool
    omitempty: bool
    omitzero: bool
    inline: bool
    pointer: bool
    always_written: bool
    json_skip: bool
    extra: bool = False


@dataclass(frozen=True, slots=True)
class MessageSpec:
    index: int
    name: str
    type_meta: bool
    special: str | None  # the special form (``time``, ``quantity``, ...) or None
    fields: tuple[FieldSpec, ...]  # Go struct order
    #: ``(number, json name, repeated)`` of the fields other releases have and this view does not
    #: print (explicit views only): the decoder reports them when they are on the wire.
    dropped: tuple[tuple[int, str, bool], ...] = ()


def message_index(name: str) -> int:
    """Index of a message by full protobuf name (KeyError when unknown)."""
    return _name_index()[name]


@lru_cache(maxsize=1)
def _name_index() -> dict[str, int]:
    return {n: i for i, n in enumerate(MESSAGE_NAMES)}


@cache
def raw_message(index: int) -> RawMessage:
    """The stored (release-independent) description of one message, parsed on first use."""
    type_meta, since, removed, fields = json.loads(data.MESSAGES[index])
    raw_fields = []
    for number, jname, order, kind, ref, flags, fsince, fremoved, hist in fields:
        if kind == "map":
            ref = (ref[0], ref[1])
        history = tuple((a, b, tuple((k, v) for k, v in attrs)) for a, b, attrs in hist)
        raw_fields.append(
            RawField(number, jname, order, kind, ref, flags, fsince, fremoved, history)
        )
    return RawMessage(MESSAGE_NAMES[index], type_meta, since, removed, tuple(raw_fields))


def schema_or_props(index: int) -> int:
    """The JSONSchemaProps message a ``schemaOr*`` wrapper holds: the type of its message fields
    (field 1 of JSONSchemaPropsOrArray/OrStringArray, also field 2 of OrArray; but field 2 of
    JSONSchemaPropsOrBool, whose field 1 is the boolean)."""
    ref = next(f.ref for f in raw_message(index).fields if f.kind == "message")
    assert isinstance(ref, int)  # a message field's ref is its message index
    return ref


def special_form(index: int) -> tuple[str, str] | None:
    """(form, goKind) of a special message, or None for a field-by-field message."""
    return data.SPECIAL.get(index)


def message_for_kind(api_version: str, kind: str) -> str | None:
    """Full protobuf message name of an apiVersion and kind, or None when not in the schema."""
    index = kind_message_index(api_version, kind)
    return None if index is None else MESSAGE_NAMES[index]


def kind_message_index(api_version: str, kind: str) -> int | None:
    index = data.KINDS.get(f"{api_version} {kind}")
    if index is None:
        index = data.EVERY_GROUP_VERSION.get(kind)
    return index


def _attrs_at(field: RawField, tag: int) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "json": field.json,
        "message": field.ref if field.kind == "message" else None,
    }
    for name, bit in _FLAG_BIT.items():
        attrs[name] = bool(field.flags & bit)
    for first, last, old in field.history:
        if first <= tag <= last:
            attrs.update(old)
    return attrs


def _field_spec(field: RawField, tag: int, extra: bool) -> FieldSpec:
    a = _attrs_at(field, tag)
    map_value = map_message = None
    if field.kind == "map":
        map_value, map_message = field.ref
    return FieldSpec(
        number=field.number,
        json=a["json"],
        kind=field.kind,
        message=a["message"] if field.kind == "message" else map_message,
        map_value=map_value,
        repeated=a["repeated"],
        omitempty=a["omitempty"],
        omitzero=a["omitzero"],
        inline=a["inline"],
        pointer=a["pointer"],
        always_written=a["alwaysWritten"],
        json_skip=a["jsonSkip"],
        extra=extra,
    )


class KubeView:
    """What one Kubernetes release's Go code prints. Use :func:`view_for` to get one.

    ``explicit`` is False only for a view with wire extras (``view_for(..., wire_extras=True)``),
    which also prints the fields on the wire that this release does not have; explicit views
    list those in :attr:`MessageSpec.dropped` instead.
    """

    __slots__ = ("tag", "explicit", "_messages", "__weakref__")

    def __init__(self, tag: int, explicit: bool) -> None:
        self.tag = tag
        self.explicit = explicit
        self._messages: dict[int, MessageSpec] = {}

    @property
    def tag_name(self) -> str:
        return TAGS[self.tag]

    @property
    def name(self) -> str:
        """``"1.29"`` style name, ``"master"`` for the development branch."""
        tag = TAGS[self.tag]
        return "master" if tag == "master" else "1." + tag.split(".")[1]

    def __repr__(self) -> str:
        return f"KubeView({self.name!r}{'' if self.explicit else ', wire extras'})"

    def message(self, index: int) -> MessageSpec:
        """The message as this release prints it (fields in Go order)."""
        spec = self._messages.get(index)
        if spec is None:
            spec = self._messages[index] = self._resolve(index)
        return spec

    def _resolve(self, index: int) -> MessageSpec:
        raw = raw_message(index)
        tag = self.tag
        # A message missing from this release is printed as in the nearest release that has it.
        if raw.removed is not None and tag > raw.removed:
            tag = raw.removed
        if raw.since is not None and tag < raw.since:
            tag = raw.since
        fields = []
        dropped = []
        for f in raw.fields:
            if f.exists_at(tag):
                fields.append((f.order, _field_spec(f, tag, False)))
            elif not self.explicit:
                last = f.removed if f.removed is not None else MASTER
                fields.append((f.order, _field_spec(f, last, True)))
            else:
                other = _field_spec(f, f.removed if f.removed is not None else MASTER, True)
                dropped.append((f.number, f.json, other.repeated or other.kind == "map"))
        fields.sort(key=lambda item: item[0])
        form = special_form(index)
        return MessageSpec(
            index=index,
            name=raw.name,
            type_meta=raw.type_meta,
            special=form[0] if form else None,
            fields=tuple(f for _, f in fields),
            dropped=tuple(dropped),
        )


@cache
def _view(tag: int, explicit: bool) -> KubeView:
    return KubeView(tag, explicit)


def parse_kube_version(kube_version: str) -> int:
    """Tag index for "1.29", "v1.29.3", "1.29.0-rc.1", "master". Older than 1.17 maps to 1.17,
    newer than the newest known release maps to master. ValueError for other text."""
    text = kube_version.strip()
    if text.lower() in ("master", "latest", "newest"):
        return MASTER
    match = _VERSION_RE.match(text)
    if not match or match.group(1) != "1":
        raise ValueError(f"not a Kubernetes version: {kube_version!r} (expected e.g. 1.29)")
    minor = int(match.group(2))
    first = int(TAGS[0].split(".")[1])
    if minor < first:
        return 0
    index = minor - first
    return index if index < MASTER else MASTER


def view_for(kube_version: str | None, *, wire_extras: bool = False) -> KubeView:
    """The view of a release ("1.29", "v1.29.3", "master"); None gives the newest release's
    (:data:`NEWEST_RELEASE`): what kubectl against the newest kube-apiserver shows.

    ``wire_extras`` also prints the fields that are on the wire but that the release does not
    have, at their Go order (the decoder uses it to name what a release drops).
    """
    tag = NEWEST_RELEASE if kube_version is None else parse_kube_version(kube_version)
    return _view(tag, not wire_extras)


def release_span(index: int, number: int) -> str:
    """The releases that have field ``number`` of message ``index``: ``"1.17-1.24"``, ``"1.33+"``
    (master counted as a release after the newest)."""
    field = next(f for f in raw_message(index).fields if f.number == number)

    def name(tag: int) -> str:
        return "master" if tag == MASTER else "1." + TAGS[tag].split(".")[1]

    first = name(field.since if field.since is not None else 0)
    if field.removed is None:
        return f"{first}+"
    last = name(field.removed)
    return first if first == last else f"{first}-{last}"
