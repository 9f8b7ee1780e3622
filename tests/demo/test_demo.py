"""The shipped demo cluster: up to date with its YAML, decodable, realistic, and live when asked."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ketui.core.k8s.decode import decode_value
from ketui.core.k8s.decoded import Family
from ketui.core.k8s.encryption import Keyring
from ketui.core.k8s.keys import parse_key
from ketui.core.source import EventType, KeyValue, Source, WatchEvent
from ketui.demo import ENCRYPTION_CONFIG, DemoSource, build, demo_source, load_demo_ops
from ketui.demo.build import DemoDataError, demo_writes

WWW = b"/registry/pods/default/www"


def decode(kv: KeyValue, keyring: Keyring | None = None) -> dict[str, Any]:
    decoded = decode_value(kv.value, key=kv.key, keyring=keyring)
    assert decoded.error is None and not decoded.warnings, (kv.key, decoded.error)
    assert isinstance(decoded.obj, dict), kv.key
    return decoded.obj


async def all_events(source: Source) -> list[WatchEvent]:
    return [event async for event in source.watch(start_revision=1)]


async def current(source: Source, prefix: bytes = b"") -> dict[bytes, KeyValue]:
    keys = [info.key async for page in source.list_keys(prefix) for info in page]
    values = {key: await source.get(key) for key in keys}
    return {key: kv for key, kv in values.items() if kv is not None}


def test_shipped_data_matches_the_yaml() -> None:
    """scripts/build_demo.py was run after the last YAML edit (ciphertexts differ: random IV)."""
    shipped, _version = load_demo_ops()
    built = list(demo_writes())
    assert [(op.type.value, op.key, op.lease) for op in shipped] == [
        (w.op, w.key, w.lease) for w in built
    ]
    for op, write in zip(shipped, built, strict=True):
        if not write.value.startswith(b"k8s:enc:"):
            assert op.value == write.value, op.key


async def test_every_value_of_every_revision_decodes() -> None:
    keyring = Keyring.from_config_file(ENCRYPTION_CONFIG)
    families: Counter[Family] = Counter()
    for event in await all_events(demo_source(live=False)):
        if event.type is EventType.DELETE:
            continue
        if event.kv.key == b"compact_rev_key":
            assert event.kv.value.isdigit()
            continue
        decoded = decode_value(event.kv.value, key=event.kv.key, keyring=keyring)
        assert decoded.error is None and not decoded.warnings, (event.kv.key, decoded.error)
        assert decoded.kind and isinstance(decoded.obj, dict)
        families[decoded.family] += 1
        if decoded.family is Family.ENCRYPTED:
            assert decoded.encryption is not None and decoded.encryption.decrypted
            assert decoded.obj["kind"] == "Secret"
    assert families[Family.JSON] == 3  # the custom resources
    assert families[Family.ENCRYPTED] == 1
    assert families[Family.PROTOBUF] > 150


async def test_a_small_kubeadm_cluster() -> None:
    source = demo_source(live=False)
    status = await source.status()
    assert status.kind == "demo" and status.key_count is not None
    assert 140 <= status.key_count <= 170
    kvs = await current(source)
    resources = Counter(parse_key(key).qualified_resource for key in kvs)
    assert resources["nodes"] == 3
    assert resources["deployments"] == resources["replicasets"] == resources["daemonsets"] == 1
    assert resources["customresourcedefinitions.apiextensions.k8s.io"] == 1
    assert resources["databases.shop.example.com"] == 3
    assert resources["apiservices.apiregistration.k8s.io"] > 10
    assert {b"/registry/minions/demo-control-plane", b"/registry/services/specs/default/kubernetes",
            b"/registry/services/endpoints/kube-system/kube-dns", b"/registry/ranges/serviceips",
            b"/registry/leases/kube-system/kube-scheduler"} <= set(kvs)  # fmt: skip
    pods = {parse_key(key).name for key in kvs if parse_key(key).resource == "pods"}
    for component in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert f"{component}-demo-control-plane" in pods
    assert sum(name.startswith("kube-proxy-") for name in pods if name) == 3
    assert sum(name.startswith("coredns-") for name in pods if name) == 1  # scaled down to 1
    for key, kv in kvs.items():
        if parse_key(key).resource == "events":
            assert kv.lease != 0, key  # events expire with their etcd lease
        elif key.startswith(b"/registry/"):
            assert kv.lease == 0, key
            obj = decode(kv, Keyring.from_config_file(ENCRYPTION_CONFIG))
            assert obj["metadata"].get("name") == parse_key(key).name, key
            assert "resourceVersion" not in obj["metadata"]  # never stored: it is mod_revision


async def test_pod_www_and_its_five_events() -> None:
    source = demo_source(live=False)
    pod = await source.get(WWW)
    assert pod is not None
    obj = decode(pod)
    assert obj["spec"]["containers"][0]["image"] == "nginx:1.16-alpine"
    assert obj["status"]["phase"] == "Running"
    events = [decode(kv) for kv in (await current(source, b"/registry/events/default/")).values()]
    www = [e for e in events if e["involvedObject"]["name"] == "www"]
    assert sorted(e["reason"] for e in www) == sorted(
        ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    )


async def test_history_shows_the_pod_starting() -> None:
    source = demo_source(live=False)
    history = await source.history(WWW)
    phases = [decode(r.kv)["status"].get("phase") for r in history.revisions]
    assert phases[0] == "Pending" and phases[-1] == "Running"
    states = [
        decode(r.kv)["status"].get("containerStatuses", [{}])[0].get("state", {})
        for r in history.revisions
    ]
    assert {"waiting": {"reason": "ContainerCreating"}} in states
    events = await all_events(source)
    deletes = [e.kv.key for e in events if e.type is EventType.DELETE]
    assert deletes == [b"/registry/pods/kube-system/coredns-7c65d6cfc9-l9fbn"]
    corefile = await source.history(b"/registry/configmaps/kube-system/coredns")
    assert len(corefile.revisions) == 2
    assert "log" not in decode(corefile.revisions[0].kv)["data"]["Corefile"].split()
    assert "log" in decode(corefile.revisions[1].kv)["data"]["Corefile"].split()


async def test_offline_demo_watch_ends_after_the_replay() -> None:
    source = demo_source(live=False)
    assert not source.live
    events = await asyncio.wait_for(all_events(source), 5)
    assert events[-1].revision == (await source.status()).revision


async def test_live_demo_keeps_moving() -> None:
    source = demo_source(live=True)
    assert isinstance(source, DemoSource) and isinstance(source, Source) and source.live
    source.interval = 0.01
    start = (await source.status()).revision
    seen: list[WatchEvent] = []

    async def follow() -> None:
        async for event in source.watch(start_revision=start + 1):
            seen.append(event)
            if sum(e.type is EventType.DELETE for e in seen) == 1:
                return

    await asyncio.wait_for(follow(), 10)
    await source.close()
    resources = Counter(parse_key(e.kv.key).resource for e in seen)
    assert resources["leases"] > 0 and resources["events"] > source.max_events
    renewed = next(e for e in seen if parse_key(e.kv.key).resource == "leases")
    assert renewed.prev_kv is not None
    old, new = decode(renewed.prev_kv), decode(renewed.kv)
    assert new["spec"]["renewTime"] > old["spec"]["renewTime"]
    event = next(e for e in seen if parse_key(e.kv.key).resource == "events")
    involved = decode(event.kv)["involvedObject"]
    assert event.kv.lease != 0 and (involved["kind"], involved["name"]) == ("CronJob", "report")
    revision = (await source.status()).revision
    await asyncio.sleep(0.05)
    assert (await source.status()).revision == revision  # closed: the simulation stopped


def test_step_works_without_a_loop() -> None:
    source = demo_source(live=False)
    events = [e for _ in range(3) for e in source.step()]
    resources = [parse_key(e.kv.key).resource for e in events]
    assert resources == ["leases", "leases", "leases", "events"]


def test_simulation_reads_like_a_running_cluster() -> None:
    """Nodes heartbeat and a CronJob runs start to finish; running pods are not restarted."""
    source = demo_source(live=False)
    events = [e for _ in range(3 * 8) for e in source.step()]
    nodes = [e for e in events if e.kv.key.startswith(b"/registry/minions/")]
    assert nodes and all(e.prev_kv is not None for e in nodes)
    before, after = decode(nodes[0].prev_kv), decode(nodes[0].kv)  # type: ignore[arg-type]
    assert [c["lastHeartbeatTime"] for c in after["status"]["conditions"]] > [
        c["lastHeartbeatTime"] for c in before["status"]["conditions"]
    ]
    assert after["status"]["nodeInfo"] == before["status"]["nodeInfo"]
    run = [decode(e.kv) for e in events if e.type is EventType.PUT and b"/events/" in e.kv.key]
    assert [(o["involvedObject"]["kind"], o["reason"]) for o in run] == [
        ("CronJob", "SuccessfulCreate"),
        ("Job", "SuccessfulCreate"),
        ("Pod", "Scheduled"),
        ("Pod", "Pulled"),
        ("Pod", "Created"),
        ("Pod", "Started"),
        ("Job", "Completed"),
        ("CronJob", "SawCompletedJob"),
    ]
    job = run[1]["involvedObject"]["name"]
    pod = run[2]["involvedObject"]["name"]
    assert run[0]["message"] == f"Created job {job}" and pod.startswith(f"{job}-")
    assert run[1]["message"] == f"Created pod: {pod}"
    assert all(o["involvedObject"]["name"] != "www" for o in run)


@pytest.mark.parametrize("live", [True, False])
def test_demo_source_is_the_cli_and_tui_entry_point(live: bool) -> None:
    assert demo_source(live=live).live is live


POD = "{apiVersion: v1, kind: Pod, metadata: {name: www, namespace: default}}"


@pytest.mark.parametrize(
    ("history", "message"),
    [
        (f"- update: {POD}", "Pod default/www does not exist"),
        (f"- delete: {POD}", "Pod default/www does not exist"),
        (f"- create: {POD}\n- create: {POD}", "Pod default/www exists already"),
        (f"- patch: {POD}", "unknown action 'patch'"),
        (f"- {{create: {POD}, delete: {POD}}}", "expected one of create/update/delete"),
        ("- create: {apiVersion: v1, kind: Gizmo, metadata: {name: g}}", "kind 'Gizmo'"),
        ("a: 1", "expected a list of steps"),
    ],
)
def test_bad_history_is_reported(
    history: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "history.yaml"
    path.write_text(history)
    monkeypatch.setattr(build, "HISTORY_FILE", path)
    with pytest.raises(DemoDataError, match=message):
        list(demo_writes())
