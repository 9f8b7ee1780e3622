"""Shared fixtures: real etcd servers on loopback (see tests/etcd_harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.etcd_harness import ETCD, ETCDCTL, MISSING_REASON, EtcdServer


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ETCD and ETCDCTL:
        return
    skip = pytest.mark.skip(reason=MISSING_REASON)
    for item in items:
        if "etcd" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def etcd() -> Iterator[EtcdServer]:
    """A fresh single-member plain-HTTP etcd for one test."""
    server = EtcdServer().start()
    try:
        yield server
    finally:
        server.cleanup()
