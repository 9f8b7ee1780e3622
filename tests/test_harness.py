"""The etcd harness itself: a server starts on a free loopback port, takes writes, and goes away."""

from __future__ import annotations

import json

import pytest

from tests.etcd_harness import EtcdServer


@pytest.mark.etcd
def test_etcd_server_roundtrip(etcd: EtcdServer) -> None:
    etcd.put("/registry/test/a", b"\x00\x01value")
    out = json.loads(etcd.etcdctl("get", "/registry/", "--prefix", "-w", "json").stdout)
    assert out["count"] == 1
    assert etcd.endpoint.startswith("http://127.0.0.1:")


def test_cleanup_removes_data_dir() -> None:
    server = EtcdServer()
    data_dir = server.data_dir
    assert data_dir.exists()
    server.cleanup()
    assert not data_dir.exists()
