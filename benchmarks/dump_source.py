"""DumpSource speed and memory on an etcdctl-shaped JSON dump, next to ``json.load`` of the file.

Writes ``--keys`` keys ``/registry/configmaps/<ns>/<name>`` with ``--value-size`` byte values in
exactly the form ``etcdctl get "" --prefix -w json`` prints (one line, Go field order), then, each
in a fresh process so memory figures do not mix:

* DumpSource: load time and MB/s, resident anonymous memory (the heap; the mapped file is released
  as it is scanned), the longest event-loop stall seen by a 10 ms ticker during the load, and the
  time of listing every key and of 1,000 value reads;
* ``json.load`` of the same file (what a naive reader would do): time and resident memory.

Run from the repository root:  .venv/bin/python -m benchmarks.dump_source [--keys 100000] [--gzip]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_dump(path: Path, keys: int, value_size: int) -> None:
    value = base64.b64encode(os.urandom(value_size)).decode()
    with open(path, "w") as out:
        header = {"cluster_id": 1, "member_id": 2, "revision": keys + 1, "raft_term": 2}
        out.write(f'{{"header":{json.dumps(header, separators=(",", ":"))},"kvs":[')
        for i in range(keys):
            # In key order, as etcd returns them: 500 namespaces of equal size.
            namespace = i * 500 // keys
            key = base64.b64encode(f"/registry/configmaps/ns{namespace:03d}/cm-{i:07d}".encode())
            out.write(
                ("," if i else "")
                + f'{{"key":"{key.decode()}","create_revision":{i + 2},"mod_revision":{i + 2},'
                f'"version":1,"value":"{value}"}}'
            )
        out.write(f'],"count":{keys}}}\n')


def rss_anon_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("RssAnon:")[1].split("kB")[0]) / 1024


async def measure_dump(path: str) -> dict[str, float]:
    from ketui.core.sources.dump.source import DumpSource

    stalls: list[float] = []

    async def ticker() -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            stalls.append(time.perf_counter() - start - 0.01)

    task = asyncio.create_task(ticker())
    source = DumpSource([path])
    start = time.perf_counter()
    await source.load()
    load = time.perf_counter() - start
    task.cancel()
    memory = rss_anon_mb()
    start = time.perf_counter()
    keys = [info.key async for page in source.list_keys() for info in page]
    listing = time.perf_counter() - start
    start = time.perf_counter()
    for key in keys[:: max(1, len(keys) // 1000)][:1000]:
        await source.get(key)
    reads = time.perf_counter() - start
    await source.close()
    return {
        "load_s": load,
        "rss_anon_mb": memory,
        "max_stall_ms": max(stalls, default=0.0) * 1000,
        "list_s": listing,
        "1000_gets_s": reads,
    }


def measure_json(path: str) -> dict[str, float]:
    start = time.perf_counter()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as handle:
        doc = json.load(handle)
    elapsed = time.perf_counter() - start
    return {"load_s": elapsed, "rss_anon_mb": rss_anon_mb(), "keys": len(doc["kvs"])}


def child(kind: str, path: str) -> None:
    result = asyncio.run(measure_dump(path)) if kind == "dump" else measure_json(path)
    print(json.dumps(result))


def run_child(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.dump_source", "--child", kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--value-size", type=int, default=2048)
    parser.add_argument("--gzip", action="store_true", help="also measure the gzip-compressed file")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(tempfile.mkdtemp(prefix="ketui-bench-dump-"))
    try:
        path = work / "dump.json"
        write_dump(path, args.keys, args.value_size)
        size_mb = path.stat().st_size / 1e6
        files = [path]
        if args.gzip:
            with open(path, "rb") as src, gzip.open(work / "dump.json.gz", "wb", 1) as dst:
                shutil.copyfileobj(src, dst)
            files.append(work / "dump.json.gz")
        print(f"{args.keys} keys, {args.value_size} B values, dump {size_mb:.0f} MB")
        for file in files:
            dump = run_child("dump", file)
            plain = run_child("json", file)
            print(
                f"{file.name}: DumpSource {dump['load_s']:.2f} s ({size_mb / dump['load_s']:.0f}"
                f" MB/s), heap {dump['rss_anon_mb']:.0f} MB, max loop stall "
                f"{dump['max_stall_ms']:.0f} ms, list all {dump['list_s']:.2f} s, 1000 gets "
                f"{dump['1000_gets_s'] * 1000:.0f} ms | json.load {plain['load_s']:.2f} s, heap "
                f"{plain['rss_anon_mb']:.0f} MB"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
