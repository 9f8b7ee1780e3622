"""Shared fixtures: real etcd servers on loopback (see tests/etcd_harness.py)."""

from __future__ import annotations

import functools
import inspect
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.etcd_harness import (
    ETCD,
    ETCDCTL,
    MISSING_REASON,
    EtcdCluster,
    EtcdServer,
    etcd_version,
    make_tls_files,
)

#: Fixtures that start etcd servers. A test using one, or a fixture or test body that starts a
#: server itself, is an etcd test (marked ``etcd``: scripts/test.sh runs those again on etcd 3.4).
ETCD_FIXTURES = {"etcd", "etcd_tls", "etcd_cluster"}


@functools.cache
def _starts_etcd(function: Callable[..., object]) -> bool:
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return False
    return "EtcdServer(" in source or "EtcdCluster(" in source


def _uses_etcd(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    if ETCD_FIXTURES & names:
        return True
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info is not None else ()
    functions = [d.func for defs in definitions for d in defs]
    functions.append(getattr(item, "function", None))
    return any(_starts_etcd(f) for f in functions if f is not None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_etcd(item):
            item.add_marker(pytest.mark.etcd)
    if ETCD and ETCDCTL:
        return
    skip = pytest.mark.skip(reason=MISSING_REASON)
    for item in items:
        if "etcd" in item.keywords:
            item.add_marker(skip)


def pytest_report_header() -> str:
    return f"etcd server: {ETCD or 'none'} ({etcd_version() or 'not installed'})"


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
    terminalreporter.write_sep("-", "summary")
    terminalreporter.write_line(f"etcd server: {etcd_version() or 'none'} ({ETCD or '-'})")
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
