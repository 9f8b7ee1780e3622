"""Every CLI command over the hostile corpus writes no byte that can drive a terminal (issue 9).

The corpus (tests/reliability/hostile.py) goes into a real etcd, a dump made with etcdctl and a
snapshot made with ``etcdctl snapshot save``; each command's stdout and stderr are captured as
bytes at the file descriptors and searched for every unsafe character.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from ketui.cli.main import main
from tests import cluster_data
from tests.etcd_harness import EtcdServer
from tests.paths import REPO
from tests.reliability import hostile

pytestmark = pytest.mark.etcd

#: Commands run and outputs checked, for docs/reliability.md (printed at the end of the module).
TRIED: list[str] = []


@dataclass
class Corpus:
    server: EtcdServer
    dump: Path
    before: Path  # the dump before the last changes (for diff)
    snapshot: Path
    encryption_config: Path
    entries: list[hostile.Entry] = field(default_factory=list)

    def sources(self) -> dict[str, list[str]]:
        return {
            "live": ["--endpoints", self.server.endpoint],
            "dump": ["-s", str(self.dump)],
            "snapshot": ["-s", str(self.snapshot)],
        }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    server = EtcdServer().start()
    try:
        root = tmp_path_factory.mktemp("hostile")
        entries = hostile.entries()
        for entry in entries[: len(entries) // 2]:
            server.put(os.fsdecode(entry.key), entry.value)  # fsdecode: keys that are not UTF-8
        before = cluster_data.dump(server, root / "before.json")
        for entry in entries:
            server.put(os.fsdecode(entry.key), entry.value)
        server.put(os.fsdecode(entries[0].key), entries[1].value)  # a change for diff, history
        dump = cluster_data.dump(server, root / "dump.json")
        snapshot = cluster_data.snapshot(server, root / "snap.db")
        config = root / "enc.yaml"
        config.write_text(yaml.safe_dump(hostile.encryption_config()))
        yield Corpus(server, dump, before, snapshot, config, entries)
    finally:
        server.cleanup()
        if TRIED:
            print(f"\nhostile CLI: {len(TRIED)} command runs, every stdout and stderr clean")


def run(capfdbinary: pytest.CaptureFixture[bytes], *args: str) -> tuple[int, bytes, bytes]:
    """Run ``ketui ARGS`` in this process; its stdout and stderr must be clean."""
    code = main(list(args))
    out, err = capfdbinary.readouterr()
    TRIED.append(" ".join(args))
    assert hostile.unsafe_in(out) == [], (args, out[:2000])
    assert hostile.unsafe_in(err) == [], (args, err[:2000])
    return code, out, err


def _key_arg(key: bytes) -> str:
    return key.decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("kind", ["live", "dump", "snapshot"])
def test_listing_commands(
    corpus: Corpus, kind: str, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    source = corpus.sources()[kind]
    for prefix in ("", "/registry/configmaps/default/", "/registry/example.com/"):
        for output in ("table", "json"):
            code, out, _ = run(capfdbinary, "ls", prefix, *source, "-o", output)
            assert code == 0 and out
        run(capfdbinary, "ls", prefix, "--count", *source)
    code, out, _ = run(capfdbinary, "stats", *source)
    assert code == 0 and b"\\x1b" in out  # the hostile keys are there, escaped
    run(capfdbinary, "stats", *source, "-o", "json")


@pytest.mark.parametrize("kind", ["live", "dump", "snapshot"])
def test_get_and_history_of_every_hostile_key(
    corpus: Corpus, kind: str, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    source = corpus.sources()[kind]
    for entry in corpus.entries:
        key = _key_arg(entry.key)
        for output in ("yaml", "json"):
            run(capfdbinary, "get", key, *source, "-o", output, "--show-secrets")
        run(capfdbinary, "history", key, *source)
        run(capfdbinary, "history", key, *source, "-o", "json")
    code, _, err = run(capfdbinary, "get", "/registry/nope/" + hostile.SEQUENCES["title"], *source)
    assert code == 1 and b"\\x1b]0;PWNED\\x07" in err  # the error quotes the key, escaped
    encrypted = "/registry/secrets/default/enc"
    code, _, err = run(capfdbinary, "get", encrypted, *source)
    assert code == 1 and b"k\\x1b]0;PWNED\\x07" in err  # the key name of the k8s:enc prefix
    code, out, _ = run(
        capfdbinary, "get", encrypted, *source, "--encryption-config", str(corpus.encryption_config)
    )
    assert code == 0 and b"<masked: 7 bytes>" in out


def test_watch_diff_export_and_decode(
    corpus: Corpus, tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    live = corpus.sources()["live"]
    for output in ("line", "json"):
        code, out, _ = run(capfdbinary, "watch", *live, "--rev", "1", "--timeout", "3",
                           "-o", output)  # fmt: skip
        assert code == 0 and out.count(b"\n") >= len(corpus.entries)
    for output in ("table", "json"):
        run(capfdbinary, "diff", str(corpus.before), str(corpus.dump), "-o", output)
    for kind, source in corpus.sources().items():
        code, out, _ = run(capfdbinary, "export", "/registry/", str(tmp_path / kind), *source)
        assert code == 0 and out
    for entry in corpus.entries:
        value = tmp_path / "value.bin"
        value.write_bytes(entry.value)
        run(capfdbinary, "decode", str(value), "--key", _key_arg(entry.key))
    for output in ("yaml", "json"):
        run(capfdbinary, "decode", str(corpus.dump), "-o", output)


def test_raw_output_refuses_a_terminal(corpus: Corpus) -> None:
    """`-o raw` writes the stored bytes (escape sequences and all) only to a file or a pipe."""
    key = _key_arg(corpus.entries[0].key)
    command = [sys.executable, "-m", "ketui", "get", key, "-s", str(corpus.dump), "-o", "raw"]
    piped = subprocess.run(command, capture_output=True, cwd=REPO, check=True)
    assert piped.stdout == corpus.entries[1].value  # exact bytes into a pipe
    leader, follower = pty.openpty()
    try:
        refused = subprocess.run(command, stdout=follower, stderr=subprocess.PIPE, cwd=REPO)
        os.close(follower)
        follower = -1
        assert refused.returncode == 1 and b"--force" in refused.stderr
        os.set_blocking(leader, False)
        try:
            written = os.read(leader, 65536)
        except (BlockingIOError, OSError):
            written = b""
        assert b"\x1b]0;" not in written
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
