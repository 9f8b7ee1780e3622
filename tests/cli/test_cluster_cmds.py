"""``ketui status`` and ``ketui check`` as the real command: a 3-member cluster (all healthy and
equal; then a member killed), and two separate single-member clusters holding different data
given together, which the check reports as differing, naming the members."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import cluster_data
from tests.cli.command import ketui
from tests.etcd_harness import EtcdCluster, EtcdServer, etcd_version

pytestmark = pytest.mark.etcd


@pytest.fixture(scope="module")
def cluster() -> Iterator[EtcdCluster]:
    three = EtcdCluster(3).start()
    try:
        for i in range(20):
            three.etcdctl("put", f"/registry/configmaps/default/c{i}", f"v{i}")
        yield three
    finally:
        three.cleanup()


def test_status_lists_every_member_with_its_raft_state(cluster: EtcdCluster) -> None:
    result = ketui("status", "-o", "json", "--endpoints", cluster.endpoints[0])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    members = report["members"]
    assert sorted(m["name"] for m in members) == ["m0", "m1", "m2"]
    assert sum(m["isLeader"] for m in members) == 1
    assert {m["version"] for m in members} == {etcd_version()}
    assert len({m["clusterId"] for m in members}) == 1 and report["healthy"]
    assert all(m["error"] is None and m["raftIndex"] > 0 and m["dbSize"] > 0 for m in members)
    assert all(m["latencySeconds"] < 5 and m["clientURLs"] and m["peerURLs"] for m in members)
    table = ketui("status", "--endpoints", cluster.endpoints[1]).stdout.decode().splitlines()
    assert table[0].split()[:6] == ["NAME", "ID", "ENDPOINT", "PEER", "URLS", "ROLE"]
    assert sorted(line.split()[0] for line in table[1:]) == ["m0", "m1", "m2"]
    assert sum(" leader " in line for line in table[1:]) == 1


def test_check_finds_the_members_equal(cluster: EtcdCluster) -> None:
    result = ketui("check", "-o", "json", "--endpoints", ",".join(cluster.endpoints))
    assert result.returncode == 0, result.stderr
    check = json.loads(result.stdout)
    assert check["consistent"] and len(check["members"]) == 3
    assert len({m["hash"] for m in check["members"]}) == 1
    assert b"consistent: 3 members hold the same data at revision" in result.stderr


@pytest.fixture
def two_clusters(tmp_path: Path) -> Iterator[tuple[EtcdServer, EtcdServer]]:
    first, second = EtcdServer(name="east").start(), EtcdServer(name="west").start()
    try:
        first.put("/registry/configmaps/default/a", b"one")
        second.put("/registry/configmaps/default/a", b"two")
        yield first, second
    finally:
        first.cleanup()
        second.cleanup()


def test_check_names_the_members_that_differ(two_clusters: tuple[EtcdServer, EtcdServer]) -> None:
    first, second = two_clusters
    endpoints = f"{first.endpoint},{second.endpoint}"
    result = ketui("check", "--endpoints", endpoints)
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "the endpoints belong to 2 different clusters" in stderr
    differ = f"INCONSISTENT at revision 2: east ({first.endpoint}), west ({second.endpoint}) differ"
    assert differ in stderr
    rows = result.stdout.decode().splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["east", "west"]
    assert all(row.rstrip().endswith("DIFFERS") for row in rows)
    same = ketui("check", "--endpoints", first.endpoint)
    assert same.returncode == 0 and b"consistent: 1 members" in same.stderr


def test_a_member_that_does_not_answer_hides_no_other(tmp_path: Path) -> None:
    three = EtcdCluster(3).start()
    try:
        three.etcdctl("put", "/k", "v")
        three.kill(2)
        args = ("--endpoints", three.endpoints[0], "--command-timeout", "2s")
        result = ketui("status", "-o", "json", *args)
        assert result.returncode == 1
        members = {m["name"] or m["endpoint"]: m for m in json.loads(result.stdout)["members"]}
        assert members["m0"]["error"] is None and members["m1"]["error"] is None
        assert members["m2"]["error"] and members["m2"]["endpoint"] == three.endpoints[2]
        check = ketui("check", *args)
        assert check.returncode == 1 and b"not every member could be checked" in check.stderr
    finally:
        three.cleanup()


def test_status_needs_live_etcd(tmp_path: Path) -> None:
    server = EtcdServer().start()
    try:
        dump = cluster_data.dump(server, tmp_path / "d.json")
    finally:
        server.cleanup()
    for command in ("status", "check"):
        result = ketui(command, "-s", str(dump))
        assert result.returncode == 1
        assert b"asks the members of a live cluster: give --endpoints" in result.stderr
