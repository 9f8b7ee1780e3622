"""Stored objects as kube-apiserver serves them and kubectl shows them, and as ``kubectl apply``
wants them back.

etcd values do not carry ``metadata.resourceVersion``: kube-apiserver clears it before writing and
fills it from the key's ``mod_revision`` when reading, so ``kubectl get -o json`` shows it. ketui
does the same for output that claims to be "as kubectl prints it". kubectl (since 1.21) also
leaves ``metadata.managedFields`` out unless asked (``--show-managed-fields``). Exports go the
other way: they drop what the server owns so the files can be applied to a cluster.
"""

from __future__ import annotations

from typing import Any

# ObjectMeta fields that come before resourceVersion in Go field order (kubectl's JSON order).
_BEFORE_RESOURCE_VERSION = ("name", "generateName", "namespace", "selfLink", "uid")

#: metadata fields the server owns, dropped from exported objects.
SERVER_OWNED_METADATA = (
    "resourceVersion",
    "uid",
    "managedFields",
    "selfLink",
    "creationTimestamp",
    "generation",
)


def without_managed_fields(obj: Any) -> Any:
    """``obj`` without ``metadata.managedFields``, as ``kubectl get`` prints it by default.
    Objects that have none come back unchanged; the input is not modified."""
    if not isinstance(obj, dict):
        return obj
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    kept = {name: value for name, value in metadata.items() if name != "managedFields"}
    return {**obj, "metadata": kept}


def has_managed_fields(obj: Any) -> bool:
    """Whether ``obj`` has ``metadata.managedFields`` (:func:`without_managed_fields` hides)."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    return isinstance(metadata, dict) and bool(metadata.get("managedFields"))


def with_resource_version(obj: Any, revision: int) -> Any:
    """``obj`` with ``metadata.resourceVersion`` set to ``revision`` where kubectl shows it.

    Objects without a ``metadata`` mapping, or already carrying a resourceVersion, come back
    unchanged. The input is not modified.
    """
    if not isinstance(obj, dict):
        return obj
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("resourceVersion"):
        return obj
    value = str(revision)
    new_meta: dict[str, Any] = {}
    inserted = False
    remaining = {k for k in _BEFORE_RESOURCE_VERSION if k in metadata}
    if not remaining:
        new_meta["resourceVersion"] = value
        inserted = True
    for name, field_value in metadata.items():
        if name == "resourceVersion":
            continue  # an empty one: replaced
        new_meta[name] = field_value
        remaining.discard(name)
        if not inserted and not remaining:
            new_meta["resourceVersion"] = value
            inserted = True
    return {**obj, "metadata": new_meta}


def strip_for_export(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy without server-owned metadata (see :data:`SERVER_OWNED_METADATA`) and ``status``."""
    out = {name: value for name, value in obj.items() if name != "status"}
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        out["metadata"] = {
            name: value for name, value in metadata.items() if name not in SERVER_OWNED_METADATA
        }
    return out
