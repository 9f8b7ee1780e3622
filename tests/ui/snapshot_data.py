"""A small, fixed cluster for the snapshot tests: stored as kube-apiserver stores it (protobuf).

Kept here rather than using the demo dataset so that the snapshots only change when the UI does.
"""

from __future__ import annotations

from typing import Any

from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.sources.memory import MemoryOp, MemorySource
from tests.ui.conftest import pod, secret

CREATED = "2026-11-24T11:58:00Z"


def meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "uid": f"0000-{name}", "creationTimestamp": CREATED}
    if namespace:
        out["namespace"] = namespace
    return out


def www(phase: str) -> dict[str, Any]:
    obj = pod("www", phase=phase)
    obj["metadata"] = meta("www", "default") | {"labels": {"app": "www"}}
    if phase == "Running":
        obj["status"]["podIP"] = "10.244.1.5"
    return obj


def snapshot_ops() -> list[MemoryOp]:
    objects: list[tuple[str, dict[str, Any], int]] = []
    for ns in ("default", "kube-system", "kube-node-lease"):
        objects.append(
            (f"namespaces/{ns}", {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns)}, 0)
        )
    for node in ("cp1", "worker1", "worker2"):
        objects.append(
            (f"minions/{node}", {"apiVersion": "v1", "kind": "Node", "metadata": meta(node)}, 0)
        )
        objects.append((
            f"leases/kube-node-lease/{node}",
            {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": meta(node, "kube-node-lease"),
             "spec": {"holderIdentity": node, "leaseDurationSeconds": 40}},
            0x694D9A5C1E2F3A01,
        ))  # fmt: skip
    for name in (
        "coredns-5d78c9869d-abcde",
        "coredns-5d78c9869d-fghij",
        "etcd-cp1",
        "kube-apiserver-cp1",
    ):
        obj = pod(name, "kube-system", "Running")
        obj["metadata"] = meta(name, "kube-system")
        objects.append((f"pods/kube-system/{name}", obj, 0))
    objects.append(("pods/default/www", www("Pending"), 0))
    s = secret()
    s["metadata"] = meta("db-pass", "default")
    objects.append(("secrets/default/db-pass", s, 0))
    ops = [
        MemoryOp.put(f"/registry/{path}".encode(), encode_object(obj), lease=lease)
        for path, obj, lease in objects
    ]
    ops.append(MemoryOp.put(b"/registry/pods/default/www", encode_object(www("Running"))))
    return ops


def event(i: int, reason: str) -> bytes:
    return encode_object({
        "apiVersion": "v1", "kind": "Event", "metadata": meta(f"www.17a{i}", "default"),
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "www"},
        "reason": reason, "message": f"{reason} pod www", "type": "Normal",
    })  # fmt: skip


def snapshot_source(live: bool = True) -> MemorySource:
    return MemorySource(snapshot_ops(), kind="memory", description="snapshot cluster", live=live)


def write_activity(source: MemorySource) -> None:
    """The pod is recreated and its events arrive: what the feed shows in the snapshots."""
    source.apply_put(b"/registry/pods/default/www", encode_object(www("Succeeded")))
    for i, reason in enumerate(("Scheduled", "Pulling", "Pulled", "Created", "Started")):
        source.apply_put(f"/registry/events/default/www.17a{i}".encode(), event(i, reason))
