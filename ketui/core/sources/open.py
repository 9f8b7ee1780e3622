"""Pick and build the right :class:`~ketui.core.source.Source` for what the user asked for.

Files are recognised by their content, not their name: a bbolt meta page (magic at byte 16) is an
etcd snapshot / ``member/snap/db``; ``{`` (after whitespace) or gzip data is an etcdctl JSON dump.
A directory is an etcd data dir (``<dir>/member/snap/db``, ``<dir>/snap/db`` or ``<dir>/db``).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ketui.core.source import ProgressCallback, Source, SourceError
from ketui.core.sources.dump.scanner import GZIP_MAGIC
from ketui.core.sources.dump.source import DumpSource

if TYPE_CHECKING:
    from ketui.core.sources.etcd.config import EtcdConfig

DEFAULT_KUBEADM_MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"
BBOLT_MAGIC = struct.pack("<I", 0xED0CDAED)  # meta page: 16-byte page header, then the magic
_SNIFF = 4096

Inform = Callable[[str], None]


@dataclass(frozen=True)
class SourceSpec:
    """What to open: exactly one of ``paths``, ``etcd`` or ``kubeadm``.

    ``kubeadm`` is the path of the etcd static-pod manifest; ``dial_timeout`` and
    ``command_timeout`` (seconds, ``None``: not given) apply to the configuration discovery
    makes. ``prefix`` is the user's override of the Kubernetes key prefix (``None``: detect it
    from the data); it travels with the spec so the CLI and the TUI read it from one place.
    """

    paths: tuple[str, ...] = ()
    etcd: EtcdConfig | None = None
    kubeadm: str | None = None
    prefix: str | None = None
    notes: tuple[str, ...] = field(default=())  # how the spec was chosen, for the user
    dial_timeout: float | None = None
    command_timeout: float | None = None

    def __post_init__(self) -> None:
        chosen = sum((bool(self.paths), self.etcd is not None, self.kubeadm is not None))
        if chosen != 1:
            raise SourceError(
                "give exactly one source: files (-s/--source), live etcd options, or --kubeadm"
            )


def sniff(path: Path) -> str:
    """``"snapshot"``, ``"dump"`` (from the first bytes) or ``"directory"``; else SourceError."""
    if path.is_dir():
        return "directory"
    if path.exists() and not path.is_file():  # a FIFO or a device would block or mislead
        raise SourceError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF)
    except OSError as exc:
        raise SourceError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    if not head:
        raise SourceError(f"{path}: empty file, expected an etcdctl JSON dump or an etcd snapshot")
    if head[16:20] == BBOLT_MAGIC:
        return "snapshot"
    if head.startswith(GZIP_MAGIC):
        if _gzip_head(path)[16:20] == BBOLT_MAGIC:
            raise SourceError(f"{path}: a gzip-compressed etcd snapshot; gunzip it first")
        return "dump"
    if head.lstrip(b" \t\r\n").startswith(b"{"):
        return "dump"
    raise SourceError(
        f'{path}: not an etcdctl JSON dump (`etcdctl get "" --prefix -w json`) '
        "nor an etcd snapshot (`etcdctl snapshot save`)"
    )


def _gzip_head(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as stream:
            return stream.read(_SNIFF)
    except (OSError, EOFError, zlib.error):
        return b""  # DumpSource reports the corruption with its offset


def open_paths(
    paths: Sequence[str | Path], *, on_progress: ProgressCallback | None = None
) -> Source:
    """A source over files: one snapshot (file or data dir), or one or several dumps."""
    kinds: list[tuple[str, Path]] = []
    for raw in paths:
        path = Path(raw)
        kind = sniff(path)
        if kind == "directory":
            from ketui.core.sources.snapshot.index import resolve_db_path

            kind, path = "snapshot", resolve_db_path(path)
        kinds.append((kind, path))
    snapshots = [path for kind, path in kinds if kind == "snapshot"]
    if snapshots:
        if len(kinds) > 1:
            raise SourceError(
                "a snapshot can only be opened on its own (several files merge only as dumps): "
                + ", ".join(str(p) for p in snapshots)
            )
        from ketui.core.sources.snapshot.source import SnapshotSource

        return SnapshotSource(snapshots[0], on_progress=on_progress)
    return DumpSource([path for _, path in kinds], on_progress=on_progress)


def open_source(
    spec: SourceSpec,
    *,
    on_progress: ProgressCallback | None = None,
    inform: Inform | None = None,
) -> Source:
    """Build the source ``spec`` names. ``inform`` receives one-line notes for the user (what was
    discovered or chosen); the CLI prints them on stderr, the TUI shows them."""
    for note in spec.notes:
        if inform:
            inform(note)
    if spec.paths:
        return open_paths(spec.paths, on_progress=on_progress)
    from ketui.core.sources.etcd.source import EtcdSource

    if spec.kubeadm is not None:
        from ketui.core.sources.etcd.kubeadm import discover_kubeadm

        config, explanation = discover_kubeadm(spec.kubeadm)
        if inform:
            inform(explanation)
        if spec.dial_timeout is not None:
            config.dial_timeout = spec.dial_timeout
        if spec.command_timeout is not None:
            config.command_timeout = spec.command_timeout
        return EtcdSource(config)
    assert spec.etcd is not None  # guaranteed by SourceSpec.__post_init__
    return EtcdSource(spec.etcd)
