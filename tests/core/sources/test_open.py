"""Choosing a source: files by content, the source options, and the no-option default."""

from __future__ import annotations

import argparse
import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketui.cli.source_options import add_source_arguments, source_spec_from_args
from ketui.core.source import SourceError
from ketui.core.sources.dump.source import DumpSource
from ketui.core.sources.open import SourceSpec, open_paths, open_source, sniff
from tests import cluster_data
from tests.etcd_harness import EtcdServer


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A dump, its gzip, a snapshot and a data-dir layout holding the snapshot."""
    server = EtcdServer().start()
    try:
        root = tmp_path_factory.mktemp("open")
        server.put("/registry/configmaps/default/cm1", cluster_data.CM1_V1)
        dump = cluster_data.dump(server, root / "dump")
        (root / "dump.gz").write_bytes(gzip.compress(dump.read_bytes()))
        snap = cluster_data.snapshot(server, root / "snap")
        (root / "datadir/member/snap").mkdir(parents=True)
        shutil.copy(snap, root / "datadir/member/snap/db")
        (root / "snap.gz").write_bytes(gzip.compress(snap.read_bytes()))
        yield root
    finally:
        server.cleanup()


@pytest.mark.etcd
def test_files_are_recognised_by_content(files: Path) -> None:
    assert sniff(files / "dump") == "dump"
    assert sniff(files / "dump.gz") == "dump"
    assert sniff(files / "snap") == "snapshot"
    with pytest.raises(SourceError, match="gzip-compressed etcd snapshot"):
        sniff(files / "snap.gz")


@pytest.mark.etcd
@pytest.mark.parametrize("name", ["dump", "dump.gz", "snap", "datadir"])
async def test_open_paths_reads_each_kind(files: Path, name: str) -> None:
    source = open_paths([files / name])
    try:
        kv = await source.get(b"/registry/configmaps/default/cm1")
        assert kv is not None and kv.value == cluster_data.CM1_V1
        expected = "dump" if name.startswith("dump") else "snapshot"
        assert (await source.status()).kind == expected
    finally:
        await source.close()


@pytest.mark.etcd
def test_snapshot_cannot_be_merged(files: Path) -> None:
    with pytest.raises(SourceError, match="only be opened on its own"):
        open_paths([files / "dump", files / "snap"])
    merged = open_paths([files / "dump", files / "dump.gz"])
    assert isinstance(merged, DumpSource)


def test_unknown_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "text").write_text("hello")
    with pytest.raises(SourceError, match="empty file"):
        sniff(tmp_path / "empty")
    with pytest.raises(SourceError, match="not an etcdctl JSON dump"):
        sniff(tmp_path / "text")
    with pytest.raises(SourceError, match="without an etcd database"):
        open_paths([tmp_path])


def parse(*argv: str) -> argparse.Namespace:
    """Like the real CLI: the options on the top-level parser and again on a sub-command."""
    parser = argparse.ArgumentParser()
    add_source_arguments(parser)
    sub = parser.add_subparsers(dest="command")
    ls = sub.add_parser("ls")
    add_source_arguments(ls)
    ls.add_argument("prefix", nargs="?")
    return parser.parse_args(argv)


def test_options_before_the_subcommand_survive() -> None:
    spec = source_spec_from_args(parse("--endpoints", "10.0.0.1:2379", "ls"), env={})
    assert spec.etcd is not None and spec.etcd.endpoints == ["10.0.0.1:2379"]
    spec = source_spec_from_args(parse("ls", "--prefix", "/kubernetes.io", "-s", "a", "-s", "b"))
    assert spec.paths == ("a", "b") and spec.prefix == "/kubernetes.io"


def test_tls_flags_and_environment() -> None:
    args = parse("ls", "--cacert", "ca", "--cert", "c", "--key", "k", "--user", "u:p")
    spec = source_spec_from_args(args, env={"ETCDCTL_ENDPOINTS": "https://e:2379"})
    assert spec.etcd is not None
    assert (spec.etcd.endpoints, spec.etcd.cacert, spec.etcd.cert, spec.etcd.key) == (
        ["https://e:2379"],
        "ca",
        "c",
        "k",
    )
    assert (spec.etcd.user, spec.etcd.password) == ("u", "p")


def test_default_is_kubeadm_when_the_manifest_is_readable(tmp_path: Path) -> None:
    manifest = tmp_path / "etcd.yaml"
    manifest.write_text("kind: Pod\n")
    spec = source_spec_from_args(parse("ls"), env={}, default_manifest=str(manifest))
    assert spec.kubeadm == str(manifest)
    assert spec.notes and str(manifest) in spec.notes[0]
    # An endpoint in the environment is a choice: no discovery then.
    spec = source_spec_from_args(
        parse("ls"), env={"ETCDCTL_ENDPOINTS": "e:1"}, default_manifest=str(manifest)
    )
    assert spec.etcd is not None and spec.etcd.endpoints == ["e:1"]
    spec = source_spec_from_args(parse("ls"), env={}, default_manifest=str(tmp_path / "none"))
    assert spec.etcd is not None and spec.etcd.endpoints == ["127.0.0.1:2379"]
    spec = source_spec_from_args(parse("ls", "--kubeadm=/x/etcd.yaml"), env={})
    assert spec.kubeadm == "/x/etcd.yaml"
    assert source_spec_from_args(parse("--kubeadm", "ls"), env={}).kubeadm == "ls"


def test_contradictory_options() -> None:
    with pytest.raises(SourceError, match="not both"):
        source_spec_from_args(parse("ls", "-s", "f", "--endpoints", "e:1"), env={})
    with pytest.raises(SourceError, match="not both"):
        source_spec_from_args(parse("ls", "--kubeadm=/m", "--endpoints", "e:1"), env={})
    with pytest.raises(SourceError, match="exactly one source"):
        SourceSpec()


def test_timeouts_apply_to_kubeadm_discovery(tmp_path: Path) -> None:
    """A timeout is not a choice of etcd: zero-config stays on and the discovered config uses it."""
    from tests.core.sources.etcd.test_kubeadm import fake_kubernetes_tree
    from tests.etcd_harness import make_tls_files

    manifest = fake_kubernetes_tree(tmp_path, make_tls_files(tmp_path / "tls"), 2379)
    args = parse("ls", "--command-timeout", "30s")
    spec = source_spec_from_args(args, env={}, default_manifest=str(manifest))
    assert (spec.kubeadm, spec.command_timeout, spec.dial_timeout) == (str(manifest), 30.0, None)
    args = parse("ls", f"--kubeadm={manifest}")
    spec = source_spec_from_args(args, env={"ETCDCTL_DIAL_TIMEOUT": "500ms"})
    assert (spec.dial_timeout, spec.command_timeout) == (0.5, None)
    source = open_source(spec)
    config = getattr(source, "config", None)
    assert config is not None and config.dial_timeout == 0.5 and config.command_timeout == 5.0
    assert config.cert and config.cert.endswith("healthcheck-client.crt")
    # How to connect is kubeadm's to decide: such flags are refused, not silently ignored.
    with pytest.raises(SourceError, match="--kubeadm or --cacert, --user, not both"):
        source_spec_from_args(parse("ls", "--kubeadm=/m", "--cacert", "c", "--user", "u"), env={})


def test_open_source_reports_notes(tmp_path: Path) -> None:
    notes: list[str] = []
    (tmp_path / "d.json").write_text('{"header":{"revision":1}}')
    spec = SourceSpec(paths=(str(tmp_path / "d.json"),), notes=("chosen because",))
    assert isinstance(open_source(spec, inform=notes.append), DumpSource)
    assert notes == ["chosen because"]
