"""An object in context: the Events about it, the objects that own it and those it owns.

kube-apiserver stores Events under ``<prefix>/events/<namespace>/`` as core/v1 Events (the
events.k8s.io/v1 API is served from the same storage, so stored JSON or CBOR may carry its
``regarding``/``note`` names instead). An Event is about an object when its ``involvedObject``
(or ``regarding``) names the object's kind, namespace and name, and its uid where both have one.
Dependents are the objects whose ``metadata.ownerReferences`` hold the object's uid.

Both searches test the stored bytes first (:meth:`ketui.core.source.Source.filter_values`): a
name or uid is plain text in protobuf, JSON and CBOR alike, so only the values that hold it (the
object's name for Events, its uid for dependents) are decoded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ketui.core.k8s.keys import DEFAULT_PREFIX, resource_info, storage_paths
from ketui.core.k8s.shown import Decoder, is_object
from ketui.core.source import KeyValue, Source

__all__ = [
    "EventSummary",
    "ObjectRef",
    "Related",
    "age",
    "dependents_of",
    "events_of",
    "owners_of",
]


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Who an object is: enough to find what points at it."""

    api_version: str
    kind: str
    namespace: str | None
    name: str
    uid: str | None

    @classmethod
    def of(cls, obj: Any) -> ObjectRef | None:
        """The reference of a decoded object, or None where it has no kind or name."""
        if not isinstance(obj, dict):
            return None
        metadata = obj.get("metadata")
        kind, name = obj.get("kind"), metadata.get("name") if isinstance(metadata, dict) else None
        if not isinstance(kind, str) or not isinstance(name, str) or not kind or not name:
            return None
        assert isinstance(metadata, dict)
        namespace, uid = metadata.get("namespace"), metadata.get("uid")
        return cls(
            str(obj.get("apiVersion") or ""), kind,
            namespace if isinstance(namespace, str) and namespace else None, name,
            uid if isinstance(uid, str) and uid else None,
        )  # fmt: skip

    def is_named_by(self, ref: Any) -> bool:
        """Whether an Event's ``involvedObject``/``regarding`` (an ObjectReference) names this."""
        if not isinstance(ref, dict):
            return False
        if ref.get("kind") != self.kind or ref.get("name") != self.name:
            return False
        if (ref.get("namespace") or None) != self.namespace:
            return False
        uid = ref.get("uid")
        return not (uid and self.uid and uid != self.uid)


@dataclass(frozen=True, slots=True)
class EventSummary:
    """One Event about an object, as ``kubectl describe`` lists it."""

    key: bytes
    type: str
    reason: str
    message: str
    count: int
    first_seen: str | None  # RFC 3339, as stored
    last_seen: str | None
    source: str  # the component that reported it

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key.decode("utf-8", "backslashreplace"), "type": self.type,
            "reason": self.reason, "message": self.message, "count": self.count,
            "firstSeen": self.first_seen, "lastSeen": self.last_seen, "source": self.source,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Related:
    """An owner or a dependent: what it is, and its key where ketui can tell."""

    kind: str
    name: str
    namespace: str | None
    key: bytes | None
    controller: bool = False  # the owner reference that says it is the controller


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _summary(kv: KeyValue, event: dict[str, Any]) -> EventSummary:
    series = event.get("series") if isinstance(event.get("series"), dict) else {}
    assert isinstance(series, dict)
    metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    count = event.get("count") or series.get("count") or 1
    last = (
        _text(series.get("lastObservedTime")) or _text(event.get("lastTimestamp"))
        or _text(event.get("eventTime")) or _text(metadata.get("creationTimestamp")) or None
    )  # fmt: skip
    first = (
        _text(event.get("firstTimestamp")) or _text(event.get("eventTime"))
        or _text(metadata.get("creationTimestamp")) or None
    )  # fmt: skip
    source = event.get("source") if isinstance(event.get("source"), dict) else {}
    assert isinstance(source, dict)
    reporter = (
        _text(source.get("component")) or _text(event.get("reportingComponent"))
        or _text(event.get("reportingController"))
    )  # fmt: skip
    return EventSummary(
        kv.key, _text(event.get("type")), _text(event.get("reason")),
        _text(event.get("message")) or _text(event.get("note")),
        count if isinstance(count, int) else 1, first, last, reporter,
    )  # fmt: skip


async def _candidates(
    source: Source, prefixes: Iterable[bytes], needle: bytes, decoder: Decoder
) -> list[tuple[KeyValue, Any]]:
    """Decoded objects under ``prefixes`` whose stored bytes hold ``needle``."""

    def holds(buf: Any, start: int, end: int) -> bool:
        return bool(buf.find(needle, start, end) >= 0)

    def objects(page: list[KeyValue]) -> list[tuple[KeyValue, Any]]:
        pairs = ((kv, decoder(kv)) for kv in page)
        return [(kv, decoded.obj) for kv, decoded in pairs if is_object(decoded)]

    found = []
    for prefix in prefixes:
        async for page in source.filter_values(prefix, holds):
            found += await asyncio.to_thread(objects, page)
    return found


async def events_of(
    source: Source, ref: ObjectRef, decoder: Decoder, *, prefix: str = DEFAULT_PREFIX
) -> list[EventSummary]:
    """The Events about ``ref``, newest first (cluster-scoped objects: Events of every
    namespace)."""
    where = f"{prefix}/events/" + (f"{ref.namespace}/" if ref.namespace else "")
    events = []
    # the name, not the uid: an ObjectReference's uid is optional (its name never is)
    for kv, obj in await _candidates(source, [where.encode()], ref.name.encode(), decoder):
        if ref.is_named_by(obj.get("involvedObject")) or ref.is_named_by(obj.get("regarding")):
            events.append(_summary(kv, obj))
    events.sort(key=lambda e: (e.last_seen or "", e.key), reverse=True)
    return events


def owners_of(obj: Any, *, prefix: str = DEFAULT_PREFIX) -> list[Related]:
    """The objects ``obj``'s ownerReferences name, with their keys where the kind is known
    (owners are in the object's namespace, or cluster-scoped)."""
    ref = ObjectRef.of(obj)
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    owners = metadata.get("ownerReferences") if isinstance(metadata, dict) else None
    if ref is None or not isinstance(owners, list):
        return []
    related = []
    for owner in owners:
        if not isinstance(owner, dict):
            continue
        kind, name = _text(owner.get("kind")), _text(owner.get("name"))
        if not kind or not name:
            continue
        namespace, key = _owner_place(kind, ref.namespace, name, prefix)
        related.append(Related(kind, name, namespace, key, bool(owner.get("controller"))))
    return related


def _owner_place(
    kind: str, namespace: str | None, name: str, prefix: str
) -> tuple[str | None, bytes | None]:
    """An owner's namespace (the dependent's, unless the owner's kind is cluster-scoped) and its
    key where ketui knows the kind (owners of an unknown kind: ``(namespace, None)``)."""
    info = resource_info(kind)
    if info is None or info.kind != kind:
        return namespace, None
    path = storage_paths(info.plural, prefix)[0]
    if not info.namespaced:
        return None, f"{path}/{name}".encode()
    if namespace is None:
        return None, None
    return namespace, f"{path}/{namespace}/{name}".encode()


async def dependents_of(
    source: Source, ref: ObjectRef, decoder: Decoder, prefixes: Iterable[bytes]
) -> list[Related]:
    """The objects under ``prefixes`` whose ownerReferences hold ``ref``'s uid, in key order."""
    if ref.uid is None:
        return []
    related = []
    for kv, obj in await _candidates(source, prefixes, ref.uid.encode(), decoder):
        metadata = obj.get("metadata")
        owners = metadata.get("ownerReferences") if isinstance(metadata, dict) else None
        if not isinstance(owners, list):
            continue
        for owner in owners:
            if isinstance(owner, dict) and owner.get("uid") == ref.uid:
                dependent = ObjectRef.of(obj)
                if dependent is not None:
                    related.append(
                        Related(dependent.kind, dependent.name, dependent.namespace, kv.key,
                                bool(owner.get("controller")))  # fmt: skip
                    )
                break
    return related


def age(timestamp: str | None, now: datetime) -> str:
    """``kubectl``'s short age of an RFC 3339 time: ``45s``, ``12m``, ``3h``, ``5d``, ``2y``."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    seconds = int((now - then).total_seconds())
    if seconds < 0:
        return "0s"
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size or (unit == "m" and seconds >= 60):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
