"""The TUI's watch feed under member kills (issue 5): every event exactly once, in order.

A 3-member etcd on loopback; the app runs on an :class:`EtcdSource` with all endpoints while a
writer puts, updates and deletes about 300 keys at 100 operations/s, and the member the app
watches, then the leader, are killed with SIGKILL and restarted. The feed must end up with exactly
etcd's own record of those revisions (``etcdctl watch --rev``), each event once, in order.
"""

from __future__ import annotations

import asyncio

import pytest

from ketui.core.source import EventType
from ketui.core.sources.etcd.source import EtcdSource
from ketui.ui.app import make_app
from ketui.ui.widgets.watch_feed import WatchFeed
from tests.etcd_harness import EtcdCluster
from tests.reliability.faults_support import (
    Writer,
    etcd_events,
    etcd_state,
    leader_index,
    source_config,
)
from tests.ui.conftest import frozen_clock, wait_until

pytestmark = pytest.mark.etcd

PREFIX = b"/registry/configmaps/faults/"
KEYS = 300
RATE = 100.0


async def test_feed_sees_every_event_once_in_order_under_member_kills(
    etcd_cluster: EtcdCluster,
) -> None:
    cluster = etcd_cluster
    source = EtcdSource(source_config(cluster))
    app = make_app(source, clock=frozen_clock, feed_max=10_000)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(
            pilot,
            lambda: not app.main.keys_loading and any(w.group == "watch" for w in app.main.workers),
            timeout=30,
        )
        start = app.main.revision + 1
        writer = Writer(cluster.endpoints, PREFIX, keys=KEYS, rate=RATE).start()
        killed: list[str] = []
        try:
            for victim_kind in ("watched", "leader"):
                await pilot.pause(0.8)  # writes flow before each kill
                watched = cluster.endpoints.index(source.endpoint)
                victim = watched
                if victim_kind == "leader":
                    leader = await asyncio.to_thread(leader_index, cluster)
                    victim = leader if leader not in (None, watched) else (watched + 1) % 3
                await asyncio.to_thread(cluster.kill, victim)
                killed.append(f"{victim_kind}={victim}")
                await pilot.pause(0.5)
                await asyncio.to_thread(cluster.restart, victim)
            while writer.running():
                await pilot.pause(0.1)
        finally:
            writer.stop()
            log = await asyncio.to_thread(writer.join)
        assert not log.failures, log.failures
        end, _ = await asyncio.to_thread(etcd_state, cluster, PREFIX)
        await wait_until(pilot, lambda: app.main.revision >= end, timeout=30)
        truth = await asyncio.to_thread(etcd_events, cluster, PREFIX, start, end)
        feed = app.main.query_one(WatchFeed)
        seen = [
            (
                e.event.revision,
                e.event.kv.key,
                "delete" if e.event.type is EventType.DELETE else "put",
            )
            for e in feed.entries
        ]
    assert len(killed) == 2 and len(truth) >= KEYS
    assert feed.dropped == 0
    assert seen == [(e.revision, e.key, e.op) for e in truth]
