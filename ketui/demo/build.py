"""Turn the demo's YAML (objects/*.yaml + history.yaml) into the etcd writes kube-apiserver makes.

Used at build time by ``scripts/build_demo.py`` (which writes the shipped ``demo_data.json.gz``) and
by the tests that check the shipped file is up to date. Values are encoded by ketui's own encoder
(:func:`ketui.core.k8s.protobuf.encode.encode_object`); custom resources are stored as JSON, as
kube-apiserver stores them; secrets listed in :data:`ENCRYPTED` are encrypted with the demo's aescbc
key (``encryption-config.yaml``).
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ketui.core.k8s.encryption import encrypt_value
from ketui.core.k8s.keys import RESOURCES, storage_paths
from ketui.core.k8s.protobuf.encode import encode_object, go_json_bytes
from ketui.core.k8s.protobuf.schema import view_for

DEMO_DIR = Path(__file__).resolve().parent
OBJECTS_DIR = DEMO_DIR / "objects"
HISTORY_FILE = DEMO_DIR / "history.yaml"
ENCRYPTION_CONFIG = DEMO_DIR / "encryption-config.yaml"
DATA_FILE = DEMO_DIR / "demo_data.json.gz"
DATA_FORMAT = 1
KUBE_VERSION = "1.31"
PREFIX = "/registry"

#: Secrets written after encryption at rest was turned on: (namespace, name).
ENCRYPTED: frozenset[tuple[str, str]] = frozenset({("shop", "db-credentials")})
#: etcd leases kube-apiserver attached to events (one per creation window, TTL one hour).
EVENT_LEASES = (0x694D8F3A1C2B0E11, 0x694D8F3A1C2B0F7A)

_KIND_TO_PLURAL = {r.kind: r.plural for r in RESOURCES}


@dataclass(frozen=True, slots=True)
class DemoWrite:
    """One etcd write of the demo: a put with its value and lease, or a delete (value ``b""``)."""

    op: str  # "put" | "delete"
    key: bytes
    value: bytes = b""
    lease: int = 0


class DemoDataError(ValueError):
    """The demo YAML is inconsistent (unknown kind, update of a missing object...)."""


#: libyaml's loader when PyYAML was built with it (ten times faster), else the pure-Python one.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader) if doc]


def load_objects() -> list[dict[str, Any]]:
    """Every object of objects/*.yaml, in file order."""
    objects: list[dict[str, Any]] = []
    for path in sorted(OBJECTS_DIR.glob("*.yaml")):
        objects.extend(_load_yaml_documents(path))
    return objects


def load_history() -> list[dict[str, Any]]:
    """The steps of history.yaml, each ``{"create"|"update"|"delete": object}``."""
    steps = yaml.load(HISTORY_FILE.read_text(encoding="utf-8"), Loader=_Loader) or []
    if not isinstance(steps, list):
        raise DemoDataError(f"{HISTORY_FILE.name}: expected a list of steps")
    return steps


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


class KeyMapper:
    """Where kube-apiserver stores an object: built-ins by kind, custom resources by their CRD."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self._custom: dict[tuple[str, str], tuple[str, bool]] = {}
        for obj in objects:
            if obj.get("kind") == "CustomResourceDefinition":
                spec = obj["spec"]
                self._custom[(spec["group"], spec["names"]["kind"])] = (
                    spec["names"]["plural"],
                    spec["scope"] == "Namespaced",
                )

    def is_custom(self, obj: dict[str, Any]) -> bool:
        return (_group(obj["apiVersion"]), obj["kind"]) in self._custom

    def key(self, obj: dict[str, Any]) -> bytes:
        kind, meta = obj["kind"], obj.get("metadata") or {}
        name, namespace = meta.get("name"), meta.get("namespace")
        group = _group(obj["apiVersion"])
        if kind == "RangeAllocation":
            return f"{PREFIX}/ranges/{name}".encode()
        if (group, kind) in self._custom:
            plural, _namespaced = self._custom[(group, kind)]
            base = f"{PREFIX}/{group}/{plural}"
        elif kind in _KIND_TO_PLURAL:
            base = storage_paths(_KIND_TO_PLURAL[kind], PREFIX)[0]
        else:
            raise DemoDataError(f"no storage path known for kind {kind!r}")
        if not name:
            raise DemoDataError(f"{kind} without metadata.name")
        return f"{base}/{namespace}/{name}".encode() if namespace else f"{base}/{name}".encode()


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Deep-merge ``patch`` into ``target``: maps merge, anything else replaces, None deletes."""
    for field, value in patch.items():
        if value is None:
            target.pop(field, None)
        elif isinstance(value, dict) and isinstance(target.get(field), dict):
            _merge(target[field], value)
        else:
            target[field] = copy.deepcopy(value)


def _demo_secret() -> bytes:
    doc = yaml.load(ENCRYPTION_CONFIG.read_text(encoding="utf-8"), Loader=_Loader)
    return base64.b64decode(doc["resources"][0]["providers"][0]["aescbc"]["keys"][0]["secret"])


class Encoder:
    """Stored bytes for one object, exactly as kube-apiserver would write them."""

    def __init__(self, mapper: KeyMapper) -> None:
        self._mapper = mapper
        self._secret = _demo_secret()

    def __call__(self, obj: dict[str, Any]) -> bytes:
        if self._mapper.is_custom(obj):
            return go_json_bytes(obj) + b"\n"  # CRs are JSON; Go's json.Encoder ends with \n
        data = encode_object(obj, view_for(KUBE_VERSION))  # as a 1.31 apiserver writes it
        meta = obj.get("metadata") or {}
        if obj["kind"] == "Secret" and (meta.get("namespace"), meta.get("name")) in ENCRYPTED:
            data = encrypt_value(data, provider="aescbc", key_name="key1", secret=self._secret)
        return data


def _ref(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {where}{meta.get('name')}"


def demo_writes() -> Iterator[DemoWrite]:
    """The demo's etcd writes in order: the cluster as kubeadm left it, then history.yaml."""
    objects = load_objects()
    mapper = KeyMapper(objects)
    encode = Encoder(mapper)
    current: dict[bytes, dict[str, Any]] = {}

    def put(obj: dict[str, Any], lease_index: int) -> DemoWrite:
        key = mapper.key(obj)
        current[key] = obj
        lease = EVENT_LEASES[lease_index] if obj["kind"] == "Event" else 0
        return DemoWrite("put", key, encode(obj), lease)

    for obj in objects:
        yield put(obj, 0)
    # kube-apiserver's compactor bookkeeping key, outside the prefix: the revision it compacted at.
    yield DemoWrite("put", b"compact_rev_key", str(len(objects) + 1).encode())
    for i, step in enumerate(load_history()):
        if not isinstance(step, dict) or len(step) != 1:
            raise DemoDataError(f"history step {i}: expected one of create/update/delete")
        ((action, obj),) = step.items()
        key = mapper.key(obj)
        if action == "create":
            if key in current:
                raise DemoDataError(f"history step {i}: {_ref(obj)} exists already")
            yield put(obj, 1)
        elif action == "update":
            if key not in current:
                raise DemoDataError(f"history step {i}: {_ref(obj)} does not exist")
            merged = copy.deepcopy(current[key])
            _merge(merged, obj)
            yield put(merged, 1)
        elif action == "delete":
            if current.pop(key, None) is None:
                raise DemoDataError(f"history step {i}: {_ref(obj)} does not exist")
            yield DemoWrite("delete", key)
        else:
            raise DemoDataError(f"history step {i}: unknown action {action!r}")


def build_data() -> dict[str, Any]:
    """The content of demo_data.json.gz."""
    return {
        "format": DATA_FORMAT,
        "kube_version": KUBE_VERSION,
        "writes": [
            [w.op, w.key.decode(), base64.b64encode(w.value).decode("ascii"), w.lease]
            for w in demo_writes()
        ],
    }


def write_data_file(path: Path = DATA_FILE) -> int:
    """Build and write the data file (deterministic gzip: no timestamp); returns the write count."""
    data = build_data()
    raw = json.dumps(data, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    return len(data["writes"])
