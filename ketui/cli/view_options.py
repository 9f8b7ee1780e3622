"""How values are shown, from the command line: the Kubernetes release view and the keyring.

Shared by ``ketui decode``, the headless commands and the TUI so that they agree on detection and
on the wording of errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ketui.cli import output
from ketui.core.k8s.encryption import Keyring
from ketui.core.k8s.releases import DEFAULT_MANIFESTS, resolve_kube_version
from ketui.core.k8s.shown import Decoder


def add_view_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--kube-version`` and ``--encryption-config``, read back by :func:`view_from_args`.

    Defaults are SUPPRESS, like the source options: the bare ``ketui`` parser has the same flags
    and a sub-command's default must not overwrite a value given before the sub-command.
    """
    quiet = argparse.SUPPRESS
    parser.add_argument(
        "--kube-version", metavar="X.Y", default=quiet,
        help="decode as this Kubernetes release (default: the kube-apiserver version in this "
        "node's kubeadm manifests when reading its own etcd, else the newest)",
    )  # fmt: skip
    parser.add_argument(
        "--encryption-config", metavar="FILE", default=quiet,
        help="kube-apiserver's EncryptionConfiguration, to decrypt aescbc, aesgcm and secretbox "
        "values encrypted at rest",
    )  # fmt: skip


def manifests_dir(args: argparse.Namespace) -> Path:
    """Where kubeadm's manifests are: beside ``--kubeadm=MANIFEST``, else this node's."""
    manifest: str | None = getattr(args, "kubeadm", None)
    return Path(manifest).parent if manifest else Path(DEFAULT_MANIFESTS)


def decoder_from_args(args: argparse.Namespace, *, detect_in: Path | None) -> Decoder:
    """The :class:`Decoder` ``--kube-version`` and ``--encryption-config`` ask for.

    Without ``--kube-version`` the release is detected in ``detect_in`` (None: not at all) and the
    choice is said on stderr. Raises ValueError with a one-line message for a bad option.
    """
    version, note = resolve_kube_version(getattr(args, "kube_version", None), detect_in=detect_in)
    if note:
        output.note(note)
    config: str | None = getattr(args, "encryption_config", None)
    keyring = Keyring.from_config_file(config) if config else None  # EncryptionConfigError
    return Decoder(version, keyring)
