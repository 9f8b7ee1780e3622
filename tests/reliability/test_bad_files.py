"""Broken dumps and snapshots, derived from real ones: a clear SourceError, never a crash or hang.

One real etcd is filled with Kubernetes-shaped values (puts, updates, deletes), then saved the two
ways operators save it: ``etcdctl get "" --prefix -w json`` and ``etcdctl snapshot save``. Every
bad file below is made from those two: truncated at several points, bit-flipped, emptied,
garbage, zeroed pages, broken gzip, and a large dump written in the same format. Each is opened
through :func:`ketui.core.sources.open.open_source` and read completely (status, every key, every
value, a history), under a time limit, and through ``ketui ls -s FILE``.

Files that must be refused are checked for a :class:`SourceError` whose message names the file
and the problem; randomly bit-flipped files may still load (a flipped bit inside a value is not
detectable), but then nothing else may go wrong. ``KETUI_LONG=1`` makes the large
dump 200 MB instead of 50 MB and adds more random variants.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.source import Source, SourceError
from ketui.core.sources.open import SourceSpec, open_source
from tests.etcd_harness import EtcdServer

pytestmark = pytest.mark.etcd

LONG = os.environ.get("KETUI_LONG") == "1"
BIG_DUMP_MB = 200 if LONG else 50
RANDOM_VARIANTS = 40 if LONG else 4
OPEN_TIMEOUT = 60.0  # seconds for opening and reading a whole (small) bad file: far above normal
PAGE = 4096


@dataclass(frozen=True)
class Originals:
    """The real files, as bytes, and facts about their content."""

    dump: bytes
    snapshot: bytes
    keys: int


def _pod(i: int) -> bytes:
    return encode_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"web-{i}", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": f"nginx:1.{i}"}]},
        }
    )


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Originals]:
    server = EtcdServer().start()
    try:
        for i in range(40):
            server.put(f"/registry/pods/default/web-{i}", _pod(i))
        for i in range(5):  # updates and deletes give the snapshot history and tombstones
            server.put(f"/registry/pods/default/web-{i}", _pod(100 + i))
            server.etcdctl("del", f"/registry/pods/default/web-{30 + i}")
        server.put("/registry/configmaps/kube-system/big", "x" * 200_000)
        dump = server.etcdctl("get", "", "--prefix", "-w", "json").stdout
        snap = tmp_path_factory.mktemp("originals") / "snapshot.db"
        server.etcdctl("snapshot", "save", str(snap))
        yield Originals(dump=dump, snapshot=snap.read_bytes(), keys=36)
    finally:
        server.cleanup()


# --- deriving bad files -----------------------------------------------------------------------


def flip(data: bytes, positions: list[int], mask: int = 0x01) -> bytes:
    out = bytearray(data)
    for pos in positions:
        out[pos] ^= mask
    return bytes(out)


def random_flips(data: bytes, seed: int) -> bytes:
    rng = random.Random(seed)
    return flip(data, [rng.randrange(len(data)) for _ in range(rng.randint(1, 8))], 1 << (seed % 8))


def first_value_char(dump: bytes) -> int:
    """Offset of a character inside the first base64 value of the dump."""
    return dump.index(b'"value":"') + len(b'"value":"') + 3


# name -> (derive(originals) -> bytes, what the message must say (regex), must the file fail)
Case = tuple[Callable[[Originals], bytes], str, bool]

NOT_ETCD = r"not an etcdctl JSON dump .*nor an etcd snapshot"
DUMP_BROKEN = r"(byte|offset) \d+"  # the dump reader names where the document breaks
DUMP_TRUNCATED = r"truncated.* at byte \d+"
SNAP_BROKEN = r"page|meta|truncat|file size|beyond"

CASES: dict[str, Case] = {
    "dump-empty": (lambda o: b"", r"empty file", True),
    "dump-whitespace": (lambda o: b" \n\t\n", NOT_ETCD, True),
    "dump-first-byte": (lambda o: o.dump[:1], DUMP_TRUNCATED, True),
    "dump-truncated-25%": (lambda o: o.dump[: len(o.dump) // 4], DUMP_TRUNCATED, True),
    "dump-truncated-50%": (lambda o: o.dump[: len(o.dump) // 2], DUMP_TRUNCATED, True),
    "dump-truncated-last-brace": (lambda o: o.dump.rstrip()[:-1], DUMP_TRUNCATED, True),
    "dump-first-byte-flipped": (lambda o: flip(o.dump, [0]), NOT_ETCD, True),
    "dump-value-not-base64": (
        lambda o: flip(o.dump, [first_value_char(o.dump)], 0x80),
        r"base64|UTF-8|utf-8|byte \d+",
        True,
    ),
    "dump-gzip-truncated": (
        lambda o: gzip.compress(o.dump)[: len(gzip.compress(o.dump)) // 2],
        r"gzip",
        True,
    ),
    "dump-gzip-garbage": (lambda o: b"\x1f\x8b" + random.Random(1).randbytes(5000), r"gzip", True),
    "dump-brace-garbage": (
        lambda o: b"{" + random.Random(2).randbytes(64 * 1024),
        DUMP_BROKEN,
        True,
    ),
    "dump-json-array": (lambda o: b"[1, 2, 3]\n", NOT_ETCD, True),
    "garbage": (
        lambda o: b"\x00\x01garbage" + random.Random(3).randbytes(64 * 1024),
        NOT_ETCD,
        True,
    ),
    "nul-bytes": (lambda o: bytes(100_000), NOT_ETCD, True),
    "snap-empty": (lambda o: b"", r"empty file", True),
    "snap-truncated-100": (lambda o: o.snapshot[:100], SNAP_BROKEN, True),
    "snap-truncated-1-page": (lambda o: o.snapshot[:PAGE], SNAP_BROKEN, True),
    "snap-truncated-2-pages": (lambda o: o.snapshot[: 2 * PAGE], SNAP_BROKEN, True),
    "snap-truncated-50%": (lambda o: o.snapshot[: len(o.snapshot) // 2], SNAP_BROKEN, True),
    "snap-truncated-last-page": (lambda o: o.snapshot[:-PAGE], SNAP_BROKEN, True),
    "snap-truncated-odd": (lambda o: o.snapshot[: len(o.snapshot) - 1000], SNAP_BROKEN, True),
    "snap-both-metas-flipped": (
        lambda o: flip(o.snapshot, [PAGE - 100, 2 * PAGE - 100, 40, PAGE + 40], 0xFF),
        SNAP_BROKEN,
        True,
    ),
    "snap-data-zeroed": (
        lambda o: o.snapshot[: 2 * PAGE] + bytes(len(o.snapshot) - 2 * PAGE),
        SNAP_BROKEN,
        True,
    ),
    "snap-data-garbage": (
        lambda o: o.snapshot[: 2 * PAGE] + random.Random(4).randbytes(len(o.snapshot) - 2 * PAGE),
        SNAP_BROKEN,
        True,
    ),
}


def _random_flips_case(snapshot: bool, seed: int) -> Case:
    if snapshot:
        return (lambda o: random_flips(o.snapshot, seed), "", False)
    return (lambda o: random_flips(o.dump, seed), "", False)


for _n in range(RANDOM_VARIANTS):
    CASES[f"dump-random-flips-{_n}"] = _random_flips_case(False, _n)
    CASES[f"snap-random-flips-{_n}"] = _random_flips_case(True, 100 + _n)


async def read_everything(source: Source) -> int:
    """What the app does with a source: status, every key and value, a history. Returns keys."""
    keys = 0
    try:
        await source.status()
        async for page in source.list_keys(b""):
            for info in page:
                keys += 1
                await source.get(info.key)
                if keys == 1:
                    await source.history(info.key)
        await source.count(b"/registry/")
    finally:
        await source.close()
    return keys


async def open_and_read(path: Path) -> int:
    return await asyncio.wait_for(
        read_everything(open_source(SourceSpec(paths=(str(path),)))), OPEN_TIMEOUT
    )


def one_line_naming(message: str, path: Path, pattern: str) -> None:
    assert message.strip(), "empty error message"
    assert "\n" not in message.strip(), f"not one line: {message!r}"
    assert "Traceback" not in message
    assert path.name in message, f"the message does not name the file: {message!r}"
    if pattern:  # (the file names hold words like "truncated": not counted)
        said = message.replace(str(path), "").replace(path.name, "")
        assert re.search(pattern, said, re.IGNORECASE), f"{message!r} !~ {pattern!r}"


@pytest.fixture(scope="module")
def bad_files(originals: Originals, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("bad")
    paths = {}
    for name, (derive, _, _) in CASES.items():
        paths[name] = directory / f"{name}.bin"
        paths[name].write_bytes(derive(originals))
    return paths


def test_originals_are_good(originals: Originals, tmp_path: Path) -> None:
    """The files the bad ones come from load completely (else the tests below prove nothing)."""
    for name, data in (("dump.json", originals.dump), ("snapshot.db", originals.snapshot)):
        path = tmp_path / name
        path.write_bytes(data)
        assert asyncio.run(open_and_read(path)) == originals.keys


@pytest.mark.parametrize("name", sorted(CASES))
async def test_bad_file_gives_source_error(name: str, bad_files: dict[str, Path]) -> None:
    _, pattern, must_fail = CASES[name]
    path = bad_files[name]
    try:
        keys = await open_and_read(path)
    except SourceError as error:
        one_line_naming(str(error), path, pattern)
        return
    except TimeoutError:  # asyncio.TimeoutError is TimeoutError from 3.11
        pytest.fail(f"{name}: no answer within {OPEN_TIMEOUT} s")
    assert not must_fail, f"{name} loaded ({keys} keys) instead of being refused"


# One file per kind of problem in CI (every process start costs); all of them in long mode.
CLI_CASES = [
    "dump-empty",
    "dump-truncated-last-brace",
    "dump-value-not-base64",
    "dump-gzip-truncated",
    "garbage",
    "snap-truncated-50%",
    "snap-both-metas-flipped",
    "snap-data-garbage",
    "dump-random-flips-0",
    "snap-random-flips-0",
]

# Broken only inside one value: `ls` reads no values, so it rightly succeeds on these.
VALUE_ONLY = {"dump-value-not-base64"}


def _ketui_ls(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ketui", "ls", "-s", str(path)],
        capture_output=True,
        text=True,
        timeout=OPEN_TIMEOUT,
    )


def test_cli_bad_files_exit_1_with_one_line(bad_files: dict[str, Path]) -> None:
    """``ketui ls -s FILE``: exit code 1 and one line on stderr for a refused file; files that
    load give exit code 0. Never a traceback. (Run in parallel: they are independent.)"""
    names = sorted(bad_files) if LONG else CLI_CASES
    with ThreadPoolExecutor(4) as pool:
        results = dict(zip(names, pool.map(_ketui_ls, [bad_files[n] for n in names]), strict=True))
    for name, result in results.items():
        _, pattern, must_fail = CASES[name]
        assert "Traceback" not in result.stderr, f"{name}:\n{result.stderr}"
        if result.returncode == 0 and (not must_fail or name in VALUE_ONLY):
            continue
        assert result.returncode == 1, f"{name}: exit {result.returncode}\n{result.stderr}"
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, f"{name}: {result.stderr!r}"
        one_line_naming(lines[0].removeprefix("ketui: "), bad_files[name], pattern)


# --- a large dump ------------------------------------------------------------------------------


def write_big_dump(path: Path, header: dict[str, object], megabytes: int) -> int:
    """An etcdctl-format dump of about ``megabytes`` MB: 2 KB values, written in a few seconds."""
    value = base64.b64encode(_pod(7) + b" " * (2048 - len(_pod(7)))).decode()
    count = megabytes * 1_000_000 // (len(value) + 140)  # 140: key and metadata of an entry
    head = json.dumps({"header": header})[:-1]
    with open(path, "w", encoding="ascii") as out:
        out.write(head + ',"kvs":[')
        batch: list[str] = []
        for i in range(count):
            key = base64.b64encode(f"/registry/pods/ns-{i % 97}/pod-{i:08d}".encode()).decode()
            batch.append(
                f'{{"key":"{key}","create_revision":{i + 2},"mod_revision":{i + 2},'
                f'"version":1,"value":"{value}"}}'
            )
            if len(batch) == 5000:
                out.write(("," if i >= 5000 else "") + ",".join(batch))
                batch = []
        if batch:
            out.write(("," if count > len(batch) else "") + ",".join(batch))
        out.write(f'],"count":{count}}}\n')
    return count


@pytest.fixture(scope="module")
def big_dump(originals: Originals, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    header = json.loads(originals.dump)["header"]
    path = tmp_path_factory.mktemp("big") / "big-dump.json"
    started = time.monotonic()
    count = write_big_dump(path, header, BIG_DUMP_MB)
    assert time.monotonic() - started < 30
    return path, count


async def test_big_dump_loads(big_dump: tuple[Path, int]) -> None:
    path, count = big_dump
    assert path.stat().st_size > BIG_DUMP_MB * 1_000_000 * 0.9
    source = open_source(SourceSpec(paths=(str(path),)))
    try:
        assert await asyncio.wait_for(source.count(b"/registry/pods/"), 120) == count
        kv = await source.get(b"/registry/pods/ns-5/pod-00000005")
        assert kv is not None and kv.size == 2048
    finally:
        await source.close()


@pytest.mark.parametrize("cut", [0.6, 0.999])
async def test_big_dump_truncated(big_dump: tuple[Path, int], tmp_path: Path, cut: float) -> None:
    path, _ = big_dump
    truncated = tmp_path / "big-truncated.json"
    with open(path, "rb") as src, open(truncated, "wb") as dst:
        dst.write(src.read(int(path.stat().st_size * cut)))
    with pytest.raises(SourceError) as error:
        await asyncio.wait_for(open_source(SourceSpec(paths=(str(truncated),))).count(b""), 120)
    one_line_naming(str(error.value), truncated, DUMP_TRUNCATED)
