"""The built-in demo cluster: a small kubeadm cluster with a short change history.

The objects are YAML files in ``objects/`` and ``history.yaml``; ``scripts/build_demo.py`` encodes
them to storage bytes with ketui's own encoder into ``demo_data.json.gz``, which ships in the
package. :func:`demo_source` replays that file into a
:class:`~ketui.core.sources.memory.MemorySource`; with ``live=True`` the cluster keeps moving
while someone watches it: leases are renewed, kubelets report node status and a CronJob's runs
leave their events (see :class:`DemoSource`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import itertools
import json
import uuid
from collections import deque
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ketui.core.source import SourceError, WatchEvent
from ketui.core.sources.memory import MemoryOp, MemorySource

__all__ = [
    "DATA_FILE",
    "ENCRYPTION_CONFIG",
    "ETCD_VERSION",
    "DemoSource",
    "demo_source",
    "load_demo_ops",
]

_HERE = Path(__file__).resolve().parent
DATA_FILE = _HERE / "demo_data.json.gz"
#: etcd version the demo cluster runs (kubeadm's etcd image for its Kubernetes release).
ETCD_VERSION = "3.5.15"
#: The demo's EncryptionConfiguration: decrypts secret shop/db-credentials (aescbc, key1).
ENCRYPTION_CONFIG = _HERE / "encryption-config.yaml"
DATA_FORMAT = 1

#: Leases the simulation renews, in turn (node heartbeats and leader election).
_RENEWED_LEASES = (
    b"/registry/leases/kube-node-lease/demo-control-plane",
    b"/registry/leases/kube-system/kube-controller-manager",
    b"/registry/leases/kube-node-lease/demo-worker-1",
    b"/registry/leases/kube-system/kube-scheduler",
    b"/registry/leases/kube-node-lease/demo-worker-2",
)
#: Nodes whose kubelet reports status in turn (conditions' lastHeartbeatTime).
_HEARTBEAT_NODES = (
    b"/registry/minions/demo-control-plane",
    b"/registry/minions/demo-worker-1",
    b"/registry/minions/demo-worker-2",
)
#: One run of the CronJob shop/report, event by event, as its controllers and the kubelet
#: record it: (involved kind, which name, reason, message, reporting component).
#: ``{job}`` and ``{pod}`` are the run's Job and Pod names.
_CRONJOB = "report"
_CRONJOB_RUN = (
    ("CronJob", "cronjob", "SuccessfulCreate", "Created job {job}", "cronjob-controller"),
    ("Job", "job", "SuccessfulCreate", "Created pod: {pod}", "job-controller"),
    ("Pod", "pod", "Scheduled", "Successfully assigned shop/{pod} to demo-worker-2",
     "default-scheduler"),
    ("Pod", "pod", "Pulled", 'Container image "busybox:1.36" already present on machine',
     "kubelet"),
    ("Pod", "pod", "Created", "Created container report", "kubelet"),
    ("Pod", "pod", "Started", "Started container report", "kubelet"),
    ("Job", "job", "Completed", "Job completed", "job-controller"),
    ("CronJob", "cronjob", "SawCompletedJob", "Saw completed job: {job}, status: Complete",
     "cronjob-controller"),
)  # fmt: skip
_SIMULATED_EVENT_LEASE = 0x694D8F3A1C2B1234


def load_demo_ops(path: Path = DATA_FILE) -> tuple[list[MemoryOp], str | None]:
    """The demo's writes as :class:`MemoryOp` and the Kubernetes version they were built for."""
    try:
        data = json.loads(gzip.decompress(path.read_bytes()))
    except (OSError, EOFError, ValueError) as exc:
        raise SourceError(f"cannot read the demo data {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != DATA_FORMAT:
        raise SourceError(f"{path}: not a ketui demo data file of format {DATA_FORMAT}")
    ops: list[MemoryOp] = []
    for op, key, value, lease in data["writes"]:
        if op == "put":
            ops.append(MemoryOp.put(key.encode(), base64.b64decode(value), lease=lease))
        else:
            ops.append(MemoryOp.delete(key.encode()))
    return ops, data.get("kube_version")


def _now(micro: bool = False) -> str:
    now = datetime.now(timezone.utc)
    if micro:
        return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


class DemoSource(MemorySource):
    """The demo keyspace; when live, a background task keeps the cluster moving.

    The simulation starts with the first :meth:`watch` (it needs a running event loop) and stops at
    :meth:`close`. Every ``interval`` seconds it renews one lease (node heartbeats, leader
    election); every fifth tick a kubelet reports its node's status; every third tick the
    CronJob ``shop/report`` records the next event of its current run (create the Job, run its
    Pod, complete), and past ``max_events`` simulated events the oldest one is deleted (as the
    events' etcd lease expiring would).
    """

    def __init__(
        self,
        ops: list[MemoryOp],
        *,
        live: bool,
        kube_version: str | None,
        interval: float = 2.0,
        max_events: int = 6,
    ) -> None:
        super().__init__(
            ops, kind="demo", description="demo cluster (kubeadm, 3 nodes)", live=live,
            version=ETCD_VERSION,
        )  # fmt: skip
        self.kube_version = kube_version
        self.interval = interval
        self.max_events = max_events
        self._task: asyncio.Task[None] | None = None
        self._ticks = itertools.count()
        self._simulated_events: deque[bytes] = deque()

    async def watch(
        self, prefix: bytes = b"", *, start_revision: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        if self.live:
            self._start_simulation()
        async for event in super().watch(prefix, start_revision=start_revision):
            yield event

    def _start_simulation(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._simulate())

    async def _simulate(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.step()

    def step(self) -> list[WatchEvent]:
        """One tick of simulated activity (public so tests need not wait for the timer)."""
        tick = next(self._ticks)
        events = [self._renew_lease(_RENEWED_LEASES[tick % len(_RENEWED_LEASES)])]
        if tick % 5 == 4:
            events.append(self._heartbeat(_HEARTBEAT_NODES[tick // 5 % len(_HEARTBEAT_NODES)]))
        if tick % 3 == 2:
            events.append(self._emit_event(tick // 3))
            if len(self._simulated_events) > self.max_events:
                deleted = self.apply_delete(self._simulated_events.popleft())
                if deleted is not None:
                    events.append(deleted)
        return [event for event in events if event is not None]

    def _renew_lease(self, key: bytes) -> WatchEvent | None:
        current = self._current.get(key)
        if current is None:
            return None
        obj = _decode(current.value)
        obj["spec"]["renewTime"] = _now(micro=True)
        for entry in obj["metadata"].get("managedFields") or []:
            entry["time"] = _now()
        return self.apply_put(key, _encode(obj, self.kube_version))

    def _heartbeat(self, key: bytes) -> WatchEvent | None:
        """A kubelet's node status update: every condition's heartbeat time moves on."""
        current = self._current.get(key)
        if current is None:
            return None
        obj = _decode(current.value)
        now = _now()
        for condition in obj.get("status", {}).get("conditions") or []:
            condition["lastHeartbeatTime"] = now
        for entry in obj["metadata"].get("managedFields") or []:
            if entry.get("subresource") == "status":
                entry["time"] = now
        return self.apply_put(key, _encode(obj, self.kube_version))

    def _emit_event(self, n: int) -> WatchEvent:
        run, step = divmod(n, len(_CRONJOB_RUN))
        kind, which, reason, message, component = _CRONJOB_RUN[step]
        job = f"{_CRONJOB}-{28_640_000 + run}"  # CronJobs name Jobs after the scheduled minute
        names = {"cronjob": _CRONJOB, "job": job, "pod": f"{job}-{_pod_suffix(job)}"}
        involved = names[which]
        name = f"{involved}.{uuid.uuid4().hex[:16]}"
        now = _now()
        api_version = "v1" if kind == "Pod" else "batch/v1"
        obj: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": name,
                "namespace": "shop",
                "uid": str(uuid.uuid4()),
                "creationTimestamp": now,
            },
            "involvedObject": {
                "kind": kind,
                "namespace": "shop",
                "name": involved,
                "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo/{kind}/{involved}")),
                "apiVersion": api_version,
            },
            "reason": reason,
            "message": message.format(**names),
            "source": {"component": component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": "Normal",
            "reportingComponent": component,
            "reportingInstance": "",
        }
        if component == "kubelet":
            obj["involvedObject"]["fieldPath"] = "spec.containers{report}"
            obj["source"]["host"] = "demo-worker-2"
            obj["reportingInstance"] = "demo-worker-2"
        key = f"/registry/events/shop/{name}".encode()
        self._simulated_events.append(key)
        return self.apply_put(key, _encode(obj, self.kube_version), lease=_SIMULATED_EVENT_LEASE)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await super().close()


def _pod_suffix(job: str) -> str:
    """The random-looking five characters a Job's pod name ends with, stable per Job."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.String alphabet
    number = uuid.uuid5(uuid.NAMESPACE_URL, job).int
    return "".join(alphabet[(number >> (8 * i)) % len(alphabet)] for i in range(5))


def _decode(value: bytes) -> dict[str, Any]:
    from ketui.core.k8s.decode import decode_value

    decoded = decode_value(value)
    if not isinstance(decoded.obj, dict):
        raise SourceError(f"demo value does not decode: {decoded.error}")
    return decoded.obj


def _encode(obj: dict[str, Any], kube_version: str | None) -> bytes:
    """As the demo's release writes it (the simulation's writes match the shipped data)."""
    from ketui.core.k8s.protobuf.encode import encode_object
    from ketui.core.k8s.protobuf.schema import view_for

    return encode_object(obj, view_for(kube_version))


def demo_source(live: bool = True) -> DemoSource:
    """The demo cluster as a :class:`~ketui.core.source.Source` (kind ``"demo"``).

    ``live=True``: watches do not end after replaying the history and the cluster keeps changing.
    """
    ops, kube_version = load_demo_ops()
    return DemoSource(ops, live=live, kube_version=kube_version)
