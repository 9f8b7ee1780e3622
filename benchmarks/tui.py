"""TUI speed: first paint, fully counted tree and the watch feed under load, against real etcd.

Part 1, for each ``--keys`` size (cumulative: one etcd is filled to 100k, measured, then filled
up to 1M and measured again): keys shaped ``/registry/<resource>/<ns>/<name>`` with small values
are written into a real etcd (tests/etcd_harness.py; gRPC Txn batches, the benchmark's own
writer), saved with ``etcdctl snapshot save``, and the app built by ``ketui.ui.app.make_app`` is
started headless under ``run_test(size=(120, 40))`` over

* the snapshot file (``SnapshotSource``) and
* the live etcd (``EtcdSource``),

measuring from just before ``make_app`` until

* *screen*: the main screen is composed and mounted,
* *first paint*: the key tree shows its first level (the ``/registry`` branch),
* *counted*: loading has finished and the tree's first level counts every key,

plus the worst lateness of a 10 ms ``set_interval`` timer over the whole run (how long the UI
was frozen at worst). ``etcdctl get /registry/ --prefix --keys-only`` on the same data is timed
in the same run for context.

Part 2, the watch feed: a separate writer process puts ``--rate`` events/s (Txn batches over
gRPC, rate-limited per 10 ms tick) for ``--seconds`` into a live etcd while the app shows the
feed. Reported: events written vs the feed's counters (kept + dropped beyond its bound must equal
written: no event lost), how long after the writer stopped the feed caught up, and the UI
timer's worst lateness while events were arriving.

Part 3, the value viewer: Pods of about 62 KB, 250 KB and 1.5 MB (protobuf, as kube-apiserver
stores them; etcd's request limit is 1.5 MiB) are put into a live etcd and selected one after the
other in the tree. Reported per value: when the YAML tab shows its first screen, when every tab
(YAML, JSON, Raw) is rendered, and the UI timer's worst lateness meanwhile; ``etcdctl get -w json``
(base64, nothing decoded) and ``ketui get -o yaml`` of the same key for context.

Run from the repository root:  .venv/bin/python benchmarks/tui.py [--keys 100000] [--quick]
The etcd server is the tests' (tests/etcd_harness.py: the etcd 3.5 that scripts/install.sh
unpacked, else the one on PATH); ``KETUI_TEST_ETCD=/usr/bin/etcd`` (and ``KETUI_TEST_ETCDCTL``)
runs against another, etcdctl included. The first line printed names the server.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `tests` and `benchmarks` importable
    sys.path.insert(0, str(ROOT))

import grpc.aio  # noqa: E402
from etcd3.etcdrpc import rpc_pb2, rpc_pb2_grpc  # noqa: E402
from textual.worker import WorkerState  # noqa: E402

from benchmarks.sources import etcdctl, fill  # noqa: E402
from ketui.core.k8s.protobuf.encode import encode_object  # noqa: E402
from ketui.core.source import Source  # noqa: E402
from ketui.core.sources.etcd.config import EtcdConfig  # noqa: E402
from ketui.core.sources.etcd.source import EtcdSource  # noqa: E402
from ketui.core.sources.memory import MemorySource  # noqa: E402
from ketui.core.sources.snapshot.source import SnapshotSource  # noqa: E402
from ketui.ui.app import KetuiApp, make_app  # noqa: E402
from ketui.ui.widgets.key_tree import KeyTree  # noqa: E402
from ketui.ui.widgets.status_bar import StatusBar  # noqa: E402
from ketui.ui.widgets.text_view import TextView  # noqa: E402
from ketui.ui.widgets.value_view import ValueView  # noqa: E402
from ketui.ui.widgets.watch_feed import WatchFeed  # noqa: E402
from tests.etcd_harness import ETCD, EtcdServer, etcd_version  # noqa: E402

SIZE = (120, 40)
TICK = 0.01  # the UI-latency probe's interval
POLL = 0.002  # how often the benchmark looks at the widgets
FIRST_PAINT_TARGET = 0.5
LATENCY_TARGET = 0.1


class LatenessProbe:
    """A ``set_interval(TICK)`` callback on the app's loop recording how late each tick came.

    Textual skips ticks it missed, so the gap between two calls minus TICK is how long the loop
    was busy elsewhere: the worst freeze a user would have felt.
    """

    def __init__(self) -> None:
        self.last: float | None = None
        self.lateness: list[float] = []

    def install(self, app: KetuiApp) -> None:
        self.last = time.perf_counter()
        app.set_interval(TICK, self.tick)

    def tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.lateness.append(max(0.0, now - self.last - TICK))
        self.last = now

    def reset(self) -> None:
        self.lateness.clear()
        self.last = time.perf_counter()

    @property
    def worst(self) -> float:
        return max(self.lateness, default=0.0)

    @property
    def p99(self) -> float:
        if len(self.lateness) < 2:
            return self.worst
        return statistics.quantiles(self.lateness, n=100)[98]


@dataclass
class AppTimes:
    """Seconds from ``make_app`` to each milestone (None: not reached before the timeout)."""

    screen: float | None = None
    first_paint: float | None = None
    counted: float | None = None
    worst_lateness: float = 0.0


def tree_count(app: KetuiApp) -> int:
    """Keys counted by the tree's first level (what the user sees next to ``/registry``)."""
    tree = app.main.query_one(KeyTree)
    total = 0
    for node in tree.root.children:
        count = getattr(node.data, "count", None)
        if isinstance(count, int):
            total += count
    return total


async def time_app(source: Source, keys: int, timeout: float) -> AppTimes:
    """Start the app over ``source`` and time its milestones (see the module docstring)."""
    times = AppTimes()
    probe = LatenessProbe()
    started = time.perf_counter()
    app = make_app(source)
    async with app.run_test(size=SIZE):
        probe.install(app)
        deadline = started + timeout
        while time.perf_counter() < deadline:
            now = time.perf_counter() - started
            screen = app.screen
            if times.screen is None and screen is app.main and screen.is_mounted:
                times.screen = now
            if times.screen is not None:
                tree = app.main.query_one(KeyTree)
                if times.first_paint is None and tree.root.children:
                    times.first_paint = now
                if not app.main.keys_loading and tree_count(app) == keys:
                    times.counted = now
                    break
            await asyncio.sleep(POLL)
        times.worst_lateness = probe.worst
    return times


async def measure_sizes(args: argparse.Namespace) -> list[list[str]]:
    """Part 1: one etcd, filled step by step up to each size; snapshot, live and etcdctl each."""
    rows: list[list[str]] = []
    server = EtcdServer(extra_args=["--quota-backend-bytes", str(8 << 30)]).start()
    try:
        written = 0
        for keys in sorted(args.keys):
            started = time.perf_counter()
            await fill(server.endpoint, keys - written, args.value_size, name=f"obj{keys}")
            written = keys
            print(f"etcd holds {keys:,} keys (filled in {time.perf_counter() - started:.1f} s)")
            with tempfile.TemporaryDirectory(prefix="ketui-bench-") as tmp:
                path = Path(tmp) / "snapshot.db"
                server.etcdctl("snapshot", "save", str(path))
                size_mb = path.stat().st_size / 1e6
                snap = await time_app(SnapshotSource(path), keys, args.timeout)
                rows.append(_row(f"snapshot {size_mb:.0f} MB", keys, snap))
                print(f"  snapshot: {_fmt(snap)}")
            live_source = EtcdSource(EtcdConfig(endpoints=[server.endpoint], command_timeout=60))
            live = await time_app(live_source, keys, args.timeout)
            rows.append(_row("live etcd", keys, live))
            print(f"  live:     {_fmt(live)}")
            listing = etcdctl(
                server, "get", "/registry/", "--prefix", "--keys-only", "--command-timeout=600s"
            )
            rows.append([f"{keys:,}", "etcdctl get --keys-only", "", "", _s(listing), ""])
    finally:
        server.cleanup()
    return rows


def _s(seconds: float | None) -> str:
    return "timeout" if seconds is None else f"{seconds:.3f} s"


def _fmt(times: AppTimes) -> str:
    return (
        f"screen {_s(times.screen)}, first paint {_s(times.first_paint)}, "
        f"counted {_s(times.counted)}, worst UI lateness {_s(times.worst_lateness)}"
    )


def _row(label: str, keys: int, times: AppTimes) -> list[str]:
    paint = _s(times.first_paint)
    if times.first_paint is None or times.first_paint > FIRST_PAINT_TARGET:
        paint += " !"
    return [
        f"{keys:,}",
        label,
        _s(times.screen),
        paint,
        _s(times.counted),
        _s(times.worst_lateness),
    ]


# -- part 2: the watch feed -------------------------------------------------------------------


async def write_events(endpoint: str, rate: int, seconds: float, txn_size: int) -> dict[str, float]:
    """The writer process: ``rate`` puts/s for ``seconds``, ``txn_size`` puts per Txn.

    Each 10 ms tick sends the puts due by then (several Txns in flight), so the rate holds even
    when one tick runs late. Keys are created first, then updated (CREATE and UPDATE events).
    """
    value = b"k8s\x00" + b"v" * 200
    written = 0
    async with grpc.aio.insecure_channel(endpoint.removeprefix("http://")) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)

        async def txn(first: int, count: int) -> None:
            ops = [
                rpc_pb2.RequestOp(
                    request_put=rpc_pb2.PutRequest(
                        key=f"/registry/pods/bench/pod-{i % 5000:05d}".encode(), value=value
                    )
                )
                for i in range(first, first + count)
            ]
            await kv.Txn(rpc_pb2.TxnRequest(success=ops))

        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            due = min(int(elapsed * rate), int(seconds * rate)) - written
            calls = []
            while due > 0:
                count = min(txn_size, due)
                calls.append(txn(written, count))
                written += count
                due -= count
            await asyncio.gather(*calls)
            await asyncio.sleep(TICK)
        elapsed = time.perf_counter() - started
    return {"written": written, "seconds": elapsed}


@dataclass
class FeedResult:
    """What the writer wrote and what the feed's counters say (``kept + dropped`` = received)."""

    written: int
    write_seconds: float
    received: int = 0
    kept: int = 0
    dropped: int = 0
    rows: int = 0
    catch_up: float | None = None
    waited: float = 0.0  # seconds the benchmark waited for the feed after the writer stopped
    worst_lateness: float = 0.0
    p99_lateness: float = 0.0
    notes: list[str] = field(default_factory=list)


async def measure_feed(args: argparse.Namespace) -> FeedResult:
    """Part 2: the app follows a live etcd while a separate process writes ``--rate`` events/s."""
    server = EtcdServer(extra_args=["--quota-backend-bytes", str(8 << 30)]).start()
    try:
        await fill(server.endpoint, 1000, args.value_size, name="base")
        app = make_app(EtcdSource(EtcdConfig(endpoints=[server.endpoint])), show_feed=True)
        probe = LatenessProbe()
        async with app.run_test(size=SIZE):
            probe.install(app)
            while app.main.keys_loading:  # the watch starts right after the listing
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.5)
            probe.reset()
            writer = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--write-events",
                server.endpoint,
                "--rate",
                str(args.rate),
                "--seconds",
                str(args.seconds),
                "--txn-size",
                str(args.txn_size),
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await writer.communicate()
            done = json.loads(out)
            result = FeedResult(int(done["written"]), float(done["seconds"]))
            stopped = time.perf_counter()
            feed = app.main.query_one(WatchFeed)
            next_report = stopped + 2.0
            while time.perf_counter() - stopped < args.timeout:
                if feed.total >= result.written:
                    result.catch_up = time.perf_counter() - stopped
                    break
                if time.perf_counter() > next_report:
                    next_report += 2.0
                    print(f"  feed has {feed.total:,} of {result.written:,} events")
                await asyncio.sleep(POLL)
            error = app.main.query_one(StatusBar).error
            if error:
                result.notes.append(f"status bar error: {error}")
            result.notes.extend(
                f"worker {w.name}: {w.state.name} {w.error!r}"
                for w in app.workers
                if w.state is WorkerState.ERROR
            )
            result.waited = time.perf_counter() - stopped
            await asyncio.sleep(0.3)  # anything beyond `written` would show up now
            result.received = feed.total
            result.kept = len(feed.entries)
            result.dropped = feed.dropped
            result.rows = feed.table.row_count
            result.worst_lateness = probe.worst
            result.p99_lateness = probe.p99
        return result
    finally:
        server.cleanup()


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(line)


def report_feed(result: FeedResult, rate: int) -> None:
    lost = result.written - (result.kept + result.dropped)
    achieved = result.written / result.write_seconds if result.write_seconds else 0.0
    rows = [
        [
            "events written",
            f"{result.written:,} in {result.write_seconds:.1f} s "
            f"({achieved:,.0f}/s, asked {rate:,}/s)",
        ],
        ["events received by the feed", f"{result.received:,}"],
        ["kept (bounded) + dropped (counted)", f"{result.kept:,} + {result.dropped:,}"],
        ["rows in the feed table", f"{result.rows:,}"],
        [
            "missing (written - kept - dropped)",
            f"{lost:,}"
            + ("" if lost == 0 else " !")
            + ("" if result.catch_up is not None else f" (not there {result.waited:.0f} s after)"),
        ],
        ["feed caught up after writer stopped", _s(result.catch_up)],
        [
            "worst UI lateness (writing + catch-up)",
            _s(result.worst_lateness) + ("" if result.worst_lateness < LATENCY_TARGET else " !"),
        ],
        ["p99 UI lateness (writing + catch-up)", _s(result.p99_lateness)],
    ]
    print_table(["watch feed", "value"], rows)
    for note in result.notes:
        print(f"note: {note}")


VALUE_SIZES = (62_000, 250_000, 1_500_000)
FIRST_SCREEN_TARGET = 0.1


def big_pod(name: str, size: int) -> bytes:
    """A Pod whose storage encoding is about ``size`` bytes: containers with many env vars."""
    containers = 1
    while True:
        obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
            "spec": {
                "containers": [
                    {
                        "name": f"c{i}",
                        "image": "registry.k8s.io/nginx:1.25",
                        "env": [
                            {"name": f"VAR_{j}", "value": f"value {j} of container {i}"}
                            for j in range(40)
                        ],
                    }
                    for i in range(containers)
                ]
            },
        }
        raw = encode_object(obj)
        if len(raw) >= size * 0.95:
            return raw
        containers = max(containers + 1, int(containers * size / len(raw)))


@dataclass
class ValueTimes:
    size: int
    first_screen: float | None = None
    all_tabs: float | None = None
    worst_lateness: float = 0.0
    etcdctl_get: float = 0.0
    ketui_get: float = 0.0


async def measure_values(args: argparse.Namespace) -> list[ValueTimes]:
    """Part 3: select each big value in the tree of a live etcd and time what the viewer shows."""
    server = EtcdServer().start()
    results: list[ValueTimes] = []
    try:
        keys = []
        for size in VALUE_SIZES:
            name = f"big-{size}"
            key = f"/registry/pods/default/{name}"
            raw = big_pod(name, size)
            server.put(key, raw)
            keys.append((key, name, len(raw)))
        source = EtcdSource(EtcdConfig(endpoints=[server.endpoint]))
        app = make_app(source, show_feed=False)
        probe = LatenessProbe()
        async with app.run_test(size=SIZE):
            probe.install(app)
            while app.main.keys_loading:
                await asyncio.sleep(POLL)
            view = app.main.query_one(ValueView)
            yaml_view = view.query_one("#yaml-text", TextView)
            raw_view = view.query_one("#raw-text", TextView)
            for key, name, size in keys:
                times = ValueTimes(size)
                probe.reset()
                started = time.perf_counter()
                app.main.query_one(KeyTree).reveal_path(key)
                deadline = started + args.timeout
                while time.perf_counter() < deadline:
                    shown = view.kv is not None and view.kv.key == key.encode()
                    if times.first_screen is None and shown and f"name: {name}" in yaml_view.text:
                        times.first_screen = time.perf_counter() - started
                    rendering = any(
                        w.group in ("value", "render") and not w.is_finished for w in app.workers
                    )
                    if shown and not rendering and raw_view.text != "rendering…":
                        times.all_tabs = time.perf_counter() - started
                        break
                    await asyncio.sleep(POLL)
                times.worst_lateness = probe.worst
                times.etcdctl_get = etcdctl(server, "get", key, "-w", "json")
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "ketui", "get", key, "--endpoints", server.endpoint],
                    check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                )  # fmt: skip
                times.ketui_get = time.perf_counter() - started
                results.append(times)
    finally:
        server.cleanup()
    return results


def report_values(results: list[ValueTimes]) -> None:
    print(
        f"Value viewer (live etcd; targets: first screen <= {FIRST_SCREEN_TARGET} s, "
        f"UI lateness < {LATENCY_TARGET * 1000:.0f} ms; '!' marks a miss)"
    )
    rows = []
    for r in results:
        first = _s(r.first_screen) + ("!" if (r.first_screen or 1e9) > FIRST_SCREEN_TARGET else "")
        late = f"{r.worst_lateness * 1000:.0f} ms"
        late += "!" if r.worst_lateness > LATENCY_TARGET else ""
        rows.append(
            [
                f"{r.size / 1000:,.0f} KB", first, _s(r.all_tabs), late,
                f"{r.etcdctl_get:.3f} s", f"{r.ketui_get:.3f} s",
            ]
        )  # fmt: skip
    print_table(
        ["value", "first screen", "all tabs", "worst UI lateness", "etcdctl get -w json",
         "ketui get -o yaml"],
        rows,
    )  # fmt: skip
    print()


def import_seconds() -> float:
    """Wall time of a fresh interpreter importing the app (part of what a user waits for)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import ketui.ui.app"], check=True, cwd=ROOT)
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> None:
    print(f"etcd {etcd_version()} ({ETCD})")
    if "startup" in args.parts:
        await run_startup(args)
    if "feed" in args.parts:
        await run_feed(args)
    if "values" in args.parts:
        report_values(await measure_values(args))


async def run_startup(args: argparse.Namespace) -> None:
    cold = await time_app(MemorySource(), 0, args.timeout)  # also warms up Textual's caches
    print(
        f"python start + import ketui.ui.app: {import_seconds():.3f} s; "
        f"first app in the process (empty source): screen after {_s(cold.screen)}"
    )
    rows = await measure_sizes(args)
    print()
    print(
        f"Startup ({SIZE[0]}x{SIZE[1]}, headless; target: first paint <= "
        f"{FIRST_PAINT_TARGET} s, '!' marks a miss)"
    )
    print_table(
        ["keys", "source", "screen", "first paint", "fully counted", "worst UI lateness"], rows
    )
    print()


async def run_feed(args: argparse.Namespace) -> None:
    result = await measure_feed(args)
    print(
        f"Watch feed under {args.rate:,} events/s (target: none lost, "
        f"UI lateness < {LATENCY_TARGET * 1000:.0f} ms)"
    )
    report_feed(result, args.rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--keys", type=int, nargs="+", default=[100_000, 1_000_000], help="key counts to test"
    )
    parser.add_argument("--value-size", type=int, default=200, help="bytes per value")
    parser.add_argument("--rate", type=int, default=10_000, help="watch events per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the writer writes")
    parser.add_argument("--txn-size", type=int, default=100, help="puts per Txn in the writer")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-measurement limit (s)")
    parser.add_argument(
        "--quick", action="store_true", help="10k keys and a 2 s feed burst (under a minute)"
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="profile the run's main thread (the app's loop) with cProfile into FILE",
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("startup", "feed", "values"),
        default=["startup", "feed", "values"],
    )
    parser.add_argument("--write-events", metavar="ENDPOINT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_events:
        done = asyncio.run(write_events(args.write_events, args.rate, args.seconds, args.txn_size))
        print(json.dumps(done))
        return
    if args.quick:
        args.keys, args.seconds, args.timeout = [10_000], 2.0, 20.0
    if not args.profile:
        asyncio.run(run(args))
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        asyncio.run(run(args))
    finally:
        profile.disable()
        profile.dump_stats(args.profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
        print(f"profile saved to {args.profile} (python -m pstats {args.profile})")


if __name__ == "__main__":
    main()
