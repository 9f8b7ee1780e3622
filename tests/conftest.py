"""Shared fixtures: real etcd servers on loopback (see tests/etcd_harness.py)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.etcd_harness import (
    ETCD,
    ETCDCTL,
    MISSING_REASON,
    EtcdCluster,
    EtcdServer,
    make_tls_files,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ETCD and ETCDCTL:
        return
    skip = pytest.mark.skip(reason=MISSING_REASON)
    for item in items:
        if "etcd" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show what tests recorded with ``record_property("summary", line)`` (e.g. the fixture
    decode pass counts per release), visible in a plain ``pytest`` run without ``-s``."""
    lines = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "summary"
    ]
    if lines:
        terminalreporter.write_sep("-", "summary")
        for line in lines:
            terminalreporter.write_line(str(line))


@pytest.fixture
def etcd() -> Iterator[EtcdServer]:
    """A fresh single-member plain-HTTP etcd for one test."""
    server = EtcdServer().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def etcd_tls() -> Iterator[EtcdServer]:
    """A single-member etcd serving HTTPS and requiring client certificates (``server.tls``)."""
    server = EtcdServer()
    server.tls = make_tls_files(Path(tempfile.mkdtemp(dir=server.data_dir, prefix="pki-")))
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.fixture
def etcd_cluster() -> Iterator[EtcdCluster]:
    """A fresh 3-member plain-HTTP etcd cluster on loopback."""
    cluster = EtcdCluster(size=3)
    try:
        yield cluster.start()
    finally:
        cluster.cleanup()
