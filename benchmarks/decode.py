#!/usr/bin/env python3
"""Decode throughput for realistic Pods, Deployments and Events vs json.loads of the same objects.

Builds objects shaped like those of a kubeadm cluster (managedFields, ownerReferences, labels,
status with conditions and containerStatuses), stores them with ketui's encoder (byte-identical
to kube-apiserver's output on the upstream fixtures), then times, in the same run:
  - ketui.core.k8s.protobuf.decode.decode_object on the stored bytes, and
  - json.loads of the compact JSON of the same decoded objects.
Target (issue 2): a Pod decodes in at most 3x the json.loads time.

Usage: .venv/bin/python benchmarks/decode.py [--count N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from ketui.core.k8s.protobuf.decode import decode_object
from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.k8s.protobuf.schema import kind_message_index, raw_message, view_for
from ketui.core.pbwire import LEN, parse_envelope, scan_fields

T0 = "2026-03-01T09:12:{:02d}Z"


def _managed(manager: str, operation: str, fields: dict[str, Any], sub: str | None = None) -> dict:
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": operation,
        "apiVersion": "v1",
        "time": T0.format(5),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if sub:
        entry["subresource"] = sub
    return entry


def make_pod(i: int) -> dict[str, Any]:
    name = f"coredns-7db6d8ff4d-{i:05x}"
    labels = {"k8s-app": "kube-dns", "pod-template-hash": "7db6d8ff4d"}
    container = {
        "name": "coredns",
        "image": "registry.k8s.io/coredns/coredns:v1.11.1",
        "args": ["-conf", "/etc/coredns/Corefile"],
        "ports": [
            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
        ],
        "resources": {
            "limits": {"memory": "170Mi"},
            "requests": {"cpu": "100m", "memory": "70Mi"},
        },
        "volumeMounts": [
            {"name": "config-volume", "readOnly": True, "mountPath": "/etc/coredns"},
            {
                "name": "kube-api-access-x7k2p",
                "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            },
        ],
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
            "initialDelaySeconds": 60,
            "timeoutSeconds": 5,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 5,
        },
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"},
            "timeoutSeconds": 1,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
        },
    }
    conditions = [
        {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": T0.format(k)}
        for k, t in enumerate(
            ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        )
    ]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "generateName": "coredns-7db6d8ff4d-",
            "namespace": "kube-system",
            "uid": f"4f9c1a52-0d7e-4c55-9b7a-{i:012x}",
            "resourceVersion": str(1000 + i),
            "creationTimestamp": T0.format(1),
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "coredns-7db6d8ff4d",
                    "uid": "b6f3a2d1-5c4e-4d8f-9a1b-2c3d4e5f6a7b",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [
                _managed(
                    "kube-controller-manager",
                    "Update",
                    {
                        "f:metadata": {
                            "f:generateName": {},
                            "f:labels": {".": {}, "f:k8s-app": {}, "f:pod-template-hash": {}},
                            "f:ownerReferences": {".": {}, 'k:{"uid":"b6f3a2d1"}': {}},
                        },
                        "f:spec": {
                            "f:containers": {'k:{"name":"coredns"}': {".": {}, "f:image": {}}},
                            "f:dnsPolicy": {},
                            "f:priorityClassName": {},
                        },
                    },
                ),
                _managed(
                    "kubelet",
                    "Update",
                    {
                        "f:status": {
                            "f:conditions": {'k:{"type":"Ready"}': {".": {}, "f:status": {}}},
                            "f:containerStatuses": {},
                            "f:hostIP": {},
                            "f:phase": {},
                            "f:podIP": {},
                            "f:startTime": {},
                        }
                    },
                    "status",
                ),
            ],
        },
        "spec": {
            "volumes": [
                {
                    "name": "config-volume",
                    "configMap": {
                        "name": "coredns",
                        "items": [{"key": "Corefile", "path": "Corefile"}],
                        "defaultMode": 420,
                    },
                },
                {
                    "name": "kube-api-access-x7k2p",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                        ],
                        "defaultMode": 420,
                    },
                },
            ],
            "containers": [container],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "Default",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "serviceAccountName": "coredns",
            "serviceAccount": "coredns",
            "nodeName": "control-plane",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "CriticalAddonsOnly", "operator": "Exists"},
                {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
            "priorityClassName": "system-cluster-critical",
            "priority": 2000000000,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": "172.18.0.2",
            "hostIPs": [{"ip": "172.18.0.2"}],
            "podIP": f"10.244.0.{i % 250 + 2}",
            "podIPs": [{"ip": f"10.244.0.{i % 250 + 2}"}],
            "startTime": T0.format(2),
            "containerStatuses": [
                {
                    "name": "coredns",
                    "state": {"running": {"startedAt": T0.format(3)}},
                    "lastState": {},
                    "ready": True,
                    "restartCount": 0,
                    "image": "registry.k8s.io/coredns/coredns:v1.11.1",
                    "imageID": "sha256:cbb01a7bd410dc08ba382018ab909a674fb0e48687f0c00797ed5bc3"
                    "4fcc6bb4",
                    "containerID": f"containerd://{i:064x}",
                    "started": True,
                }
            ],
            "qosClass": "Burstable",
        },
    }


def make_deployment(i: int) -> dict[str, Any]:
    pod = make_pod(i)
    labels = {"app": f"web-{i}", "tier": "frontend"}
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": f"web-{i}",
            "namespace": "default",
            "uid": f"0a1b2c3d-4e5f-4a6b-8c7d-{i:012x}",
            "resourceVersion": str(5000 + i),
            "generation": 3,
            "creationTimestamp": T0.format(1),
            "labels": labels,
            "annotations": {"deployment.kubernetes.io/revision": "2"},
            "managedFields": pod["metadata"]["managedFields"],
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": labels},
                "spec": pod["spec"],
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {
            "observedGeneration": 3,
            "replicas": 3,
            "updatedReplicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "conditions": [
                {
                    "type": t,
                    "status": "True",
                    "lastUpdateTime": T0.format(4),
                    "lastTransitionTime": T0.format(4),
                    "reason": r,
                    "message": m,
                }
                for t, r, m in [
                    (
                        "Available",
                        "MinimumReplicasAvailable",
                        "Deployment has minimum availability.",
                    ),
                    (
                        "Progressing",
                        "NewReplicaSetAvailable",
                        f'ReplicaSet "web-{i}" has progressed.',
                    ),
                ]
            ],
        },
    }


def make_event(i: int) -> dict[str, Any]:
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {
            "name": f"coredns-7db6d8ff4d-{i:05x}.17f3a2b4c5d6e7f8",
            "namespace": "kube-system",
            "uid": f"9e8d7c6b-5a4f-4e3d-8c2b-{i:012x}",
            "resourceVersion": str(9000 + i),
            "creationTimestamp": T0.format(6),
            "managedFields": [
                _managed(
                    "kubelet",
                    "Update",
                    {
                        "f:count": {},
                        "f:firstTimestamp": {},
                        "f:involvedObject": {},
                        "f:lastTimestamp": {},
                        "f:message": {},
                        "f:reason": {},
                        "f:source": {"f:component": {}, "f:host": {}},
                        "f:type": {},
                    },
                )
            ],
        },
        "involvedObject": {
            "kind": "Pod",
            "namespace": "kube-system",
            "name": f"coredns-7db6d8ff4d-{i:05x}",
            "uid": f"4f9c1a52-0d7e-4c55-9b7a-{i:012x}",
            "apiVersion": "v1",
            "resourceVersion": str(1000 + i),
            "fieldPath": "spec.containers{coredns}",
        },
        "reason": "Pulled",
        "message": 'Container image "registry.k8s.io/coredns/coredns:v1.11.1" already present',
        "source": {"component": "kubelet", "host": "control-plane"},
        "firstTimestamp": T0.format(7),
        "lastTimestamp": T0.format(7),
        "count": 1,
        "type": "Normal",
        "eventTime": None,
        "reportingComponent": "kubelet",
        "reportingInstance": "control-plane",
    }


def _best(fns: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Best time of each function; runs alternate so that load from other processes (shared
    machines) hits both sides alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.process_time()
            fn()
            best[i] = min(best[i], time.process_time() - start)
    return best


def _submessages(index: int) -> dict[int, int]:
    """field number -> message index of the message-typed fields, _MAP_ENTRY for maps."""
    out = {}
    for f in raw_message(index).fields:
        if f.kind == "message":
            out[f.number] = f.ref
        elif f.kind == "map":
            out[f.number] = _MAP_ENTRY
    return out


_MAP_ENTRY = -1  # map entries are split into their key and value bytes only (baseline favours it)
_SUB: dict[int, dict[int, int]] = {_MAP_ENTRY: {}}


def pure_python_read(
    data: bytes, index: int, start: int = 0, end: int | None = None
) -> dict[int, list[Any]]:
    """Wire work only, in pure Python with ketui's own reader (``pbwire.scan_fields``): every
    field of the message tree by number (the baseline against which the upb descriptors were
    chosen; conversion to JSON would come on top)."""
    sub = _SUB.get(index)
    if sub is None:
        sub = _SUB[index] = _submessages(index)
    fields, _, error = scan_fields(data, start, len(data) if end is None else end)
    if error is not None:
        raise error
    out: dict[int, list[Any]] = {}
    for number, wire, value in fields:
        if wire == LEN:
            target = sub.get(number)
            if target is None:
                value = data[value[0] : value[1]]
            else:
                value = pure_python_read(data, target, value[0], value[1])
        out.setdefault(number, []).append(value)
    return out


def bench(kind: str, make: Callable[[int], dict[str, Any]], count: int, repeat: int) -> float:
    view = view_for(None)
    stored = [parse_envelope(encode_object(make(i))) for i in range(count)]
    values = [(av, k, raw) for av, k, raw, _, _ in stored]
    texts = [
        json.dumps(decode_object(av, k, raw, view), separators=(",", ":")) for av, k, raw in values
    ]

    def run_decode() -> None:
        for av, k, raw in values:
            decode_object(av, k, raw, view)

    def run_json() -> None:
        for text in texts:
            json.loads(text)

    index = kind_message_index(values[0][0], values[0][1])
    assert index is not None

    def run_pure_python() -> None:
        for _, _, raw in values:
            pure_python_read(raw, index)

    run_decode()  # converters are generated on first use
    t_decode, t_json, t_pure = _best([run_decode, run_json, run_pure_python], repeat)
    size = sum(len(raw) for _, _, raw in values) // count
    jsize = sum(len(t) for t in texts) // count
    print(
        f"{kind:<11} {count / t_decode:>9,.0f} obj/s decode  "
        f"{count / t_json:>9,.0f} obj/s json.loads"
        f"  ratio {t_decode / t_json:4.2f}x  ({size} B protobuf, {jsize} B JSON)"
    )
    print(
        f"{'':<11} pure-Python wire reading alone (no JSON conversion): {count / t_pure:>9,.0f}"
        f" obj/s = {t_pure / t_decode:4.2f}x the full upb-based decode time"
    )
    return t_decode / t_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for kind, make in (("Pod", make_pod), ("Deployment", make_deployment), ("Event", make_event)):
        bench(kind, make, args.count, args.repeat)


if __name__ == "__main__":
    main()
