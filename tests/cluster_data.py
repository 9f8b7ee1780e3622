"""A small Kubernetes-shaped keyspace written to a real etcd with etcdctl, and the ways to save it.

Used by the dump, CLI and cross-source tests: the same data reaches ketui as live etcd, as an
``etcdctl get "" --prefix -w json`` dump and as an ``etcdctl snapshot save`` file.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from tests.etcd_harness import EtcdServer
from tests.paths import FIXTURES as SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "master"


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def configmap(name: str, namespace: str, data: dict[str, str], uid: str = "uid-1") -> bytes:
    return _json(
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": uid,
                "creationTimestamp": "2024-01-01T00:00:00Z",
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            },
            "data": data,
        }
    )


SECRET = _json(
    {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "db", "namespace": "default", "uid": "uid-s"},
        "data": {"password": base64.b64encode(b"hunter2").decode()},
        "type": "Opaque",
    }
)
NAMESPACE = _json(
    {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "default", "uid": "uid-ns"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
)
POD_PB = (FIXTURES / "core.v1.Pod.pb").read_bytes() if FIXTURES.exists() else b"k8s\x00"
BINARY = bytes(range(256))

CM1_V1 = configmap("cm1", "default", {"a": "1"})
CM1_V2 = configmap("cm1", "default", {"a": "2"})
CM1_V3 = configmap("cm1", "default", {"a": "3", "b": "new"})


@dataclass
class Written:
    """Revisions worth knowing about in the written data."""

    first_revision: int  # after the first batch: cm1 at version 1, no deletes yet
    last_revision: int
    lease: int


def revision_of(server: EtcdServer) -> int:
    out = server.etcdctl("get", "nonexistent-key", "-w", "json").stdout
    return int(json.loads(out)["header"]["revision"])


def populate(server: EtcdServer) -> Written:
    """Write the keyspace: objects, a leased event, odd values, updates and a delete."""
    server.put("/registry/configmaps/default/cm1", CM1_V1)
    server.put("/registry/configmaps/kube-system/cm2", configmap("cm2", "kube-system", {"x": "y"}))
    server.put("/registry/configmaps/default/gone", configmap("gone", "default", {}))
    server.put("/registry/namespaces/default", NAMESPACE)
    server.put("/registry/pods/default/pod-a", POD_PB)
    server.put("/registry/secrets/default/db", SECRET)
    server.put("/other/binary", BINARY)
    server.etcdctl("put", "/other/empty", "--", "")
    first = revision_of(server)
    lease_out = server.etcdctl("lease", "grant", "3600").stdout.decode().split()
    lease = int(lease_out[1], 16)
    server.etcdctl("put", "/registry/events/default/ev1", "event", "--lease", lease_out[1])
    server.put("/registry/configmaps/default/cm1", CM1_V2)
    server.put("/registry/configmaps/default/cm1", CM1_V3)
    server.etcdctl("del", "/registry/configmaps/default/gone")
    return Written(first_revision=first, last_revision=revision_of(server), lease=lease)


def dump(server: EtcdServer, path: Path, prefix: str = "") -> Path:
    """``etcdctl get <prefix> --prefix -w json > path``."""
    path.write_bytes(server.etcdctl("get", prefix, "--prefix", "-w", "json").stdout)
    return path


def snapshot(server: EtcdServer, path: Path) -> Path:
    """``etcdctl snapshot save path``."""
    server.etcdctl("snapshot", "save", str(path))
    return path


@dataclass(frozen=True)
class Entry:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int


def entries_of_dump(path: Path) -> tuple[int, list[Entry]]:
    """The header revision and entries of a dump, read with the json module (the test oracle)."""
    doc = json.loads(path.read_bytes())
    entries = [
        Entry(
            base64.b64decode(kv["key"]),
            base64.b64decode(kv.get("value", "")),
            kv["create_revision"],
            kv["mod_revision"],
            kv["version"],
            kv.get("lease", 0),
        )
        for kv in doc.get("kvs", [])
    ]
    return int(doc["header"]["revision"]), entries
