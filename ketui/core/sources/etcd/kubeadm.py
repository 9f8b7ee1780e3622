"""Zero-config access on a kubeadm control-plane node: read etcd's static pod manifest.

kubeadm runs etcd as a static pod (``/etc/kubernetes/manifests/etcd.yaml``) whose command line
names the client URLs and the CA; the client certificates etcd accepts sit in the pki directory
next to that CA: ``pki/etcd/healthcheck-client.{crt,key}`` (made for exactly this kind of access),
then ``pki/apiserver-etcd-client.{crt,key}`` and finally etcd's own server certificate, which
kubeadm also issues for client use. The pki root is derived from the manifest's paths, so a tree
copied anywhere (or made by a test) works the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from ketui.core.source import SourceError
from ketui.core.sources.etcd.config import EtcdConfig

DEFAULT_MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class KubeadmError(SourceError):
    """The kubeadm layout could not be used; the message says why and what to do."""


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise KubeadmError(f"permission denied reading {path}: run ketui with sudo") from None
    except FileNotFoundError:
        raise KubeadmError(f"{what} {path} does not exist") from None
    except OSError as error:
        raise KubeadmError(f"cannot read {what} {path}: {error.strerror or error}") from None


def _etcd_flags(manifest: Path) -> dict[str, str]:
    """``--name=value`` flags of the etcd container's command line."""
    try:
        doc: Any = yaml.safe_load(_read(manifest, "etcd manifest"))
    except yaml.YAMLError as error:
        raise KubeadmError(f"{manifest} is not valid YAML: {error}") from None
    containers = (doc or {}).get("spec", {}).get("containers", []) if isinstance(doc, dict) else []
    for container in containers:
        args = [*(container.get("command") or []), *(container.get("args") or [])]
        if (
            not any(str(a).rsplit("/", 1)[-1] == "etcd" for a in args[:1])
            and container.get("name") != "etcd"
        ):
            continue
        flags: dict[str, str] = {}
        words = [str(a) for a in args]
        for i, word in enumerate(words):
            if not word.startswith("--"):
                continue
            name, eq, value = word[2:].partition("=")
            if not eq and i + 1 < len(words) and not words[i + 1].startswith("--"):
                value = words[i + 1]
            flags[name] = value
        return flags
    raise KubeadmError(f"{manifest} has no etcd container")


def _client_url(flags: dict[str, str], manifest: Path) -> str:
    listen = [u.strip() for u in flags.get("listen-client-urls", "").split(",") if u.strip()]
    advertise = [u.strip() for u in flags.get("advertise-client-urls", "").split(",") if u.strip()]
    for url in listen:
        if urlsplit(url).hostname in _LOOPBACK:
            return url
    for url in listen:
        parts = urlsplit(url)
        if parts.hostname in ("0.0.0.0", "::"):  # listening everywhere includes loopback
            return f"{parts.scheme}://127.0.0.1:{parts.port or 2379}"
    if advertise:
        return advertise[0]
    if listen:
        return listen[0]
    raise KubeadmError(f"{manifest} names no --listen-client-urls or --advertise-client-urls")


def discover_kubeadm(manifest: str | Path = DEFAULT_MANIFEST) -> tuple[EtcdConfig, str]:
    """Connection settings for this kubeadm node's etcd, and a sentence saying what was chosen."""
    manifest = Path(manifest)
    flags = _etcd_flags(manifest)
    url = _client_url(flags, manifest)
    ca_flag = flags.get("trusted-ca-file")
    if not ca_flag:
        raise KubeadmError(f"{manifest} has no --trusted-ca-file")
    ca = Path(ca_flag)
    _read(ca, "etcd CA")
    etcd_pki = ca.parent
    candidates = [
        (etcd_pki / "healthcheck-client.crt", etcd_pki / "healthcheck-client.key"),
        (
            etcd_pki.parent / "apiserver-etcd-client.crt",
            etcd_pki.parent / "apiserver-etcd-client.key",
        ),
    ]
    if flags.get("cert-file") and flags.get("key-file"):
        candidates.append((Path(flags["cert-file"]), Path(flags["key-file"])))
    denied: KubeadmError | None = None
    for cert, key in candidates:
        if not cert.exists() or not key.exists():
            continue
        try:
            _read(cert, "client certificate")
            _read(key, "client key")
        except KubeadmError as error:
            denied = denied or error
            continue
        config = EtcdConfig(endpoints=[url], cacert=str(ca), cert=str(cert), key=str(key))
        explanation = f"kubeadm: etcd manifest {manifest}, endpoint {url}, client cert {cert}"
        return config, explanation
    if denied:
        raise denied
    names = ", ".join(str(cert) for cert, _ in candidates)
    raise KubeadmError(f"no etcd client certificate found next to {ca} (looked for {names})")
