"""kubeadm zero-config against a fake /etc/kubernetes tree pointing at the TLS test server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ketui.core.source import SourceError
from ketui.core.sources.etcd.kubeadm import KubeadmError, discover_kubeadm
from ketui.core.sources.etcd.source import EtcdSource
from tests.etcd_harness import EtcdServer, TLSFiles

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.5.12-0
    command:
    - etcd
    - --advertise-client-urls=https://10.1.2.3:{port}
    - --cert-file={pki}/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --key-file={pki}/etcd/server.key
    - --listen-client-urls=https://127.0.0.1:{port},https://10.1.2.3:{port}
    - --trusted-ca-file={pki}/etcd/ca.crt
"""


def fake_kubernetes_tree(root: Path, tls: TLSFiles, port: int) -> Path:
    """``root/etc/kubernetes`` laid out like kubeadm does it; returns the manifest path."""
    kube = root / "etc" / "kubernetes"
    pki = kube / "pki"
    (pki / "etcd").mkdir(parents=True)
    (kube / "manifests").mkdir()
    shutil.copy(tls.ca, pki / "etcd" / "ca.crt")
    shutil.copy(tls.server_cert, pki / "etcd" / "server.crt")
    shutil.copy(tls.server_key, pki / "etcd" / "server.key")
    for name in ("etcd/healthcheck-client", "apiserver-etcd-client"):
        shutil.copy(tls.client_cert, pki / f"{name}.crt")
        shutil.copy(tls.client_key, pki / f"{name}.key")
    manifest = kube / "manifests" / "etcd.yaml"
    manifest.write_text(MANIFEST.format(port=port, pki=pki))
    return manifest


@pytest.mark.etcd
async def test_discovery_connects_to_the_tls_server(etcd_tls: EtcdServer, tmp_path: Path) -> None:
    assert etcd_tls.tls
    etcd_tls.put("/registry/namespaces/default", "ns")
    manifest = fake_kubernetes_tree(tmp_path, etcd_tls.tls, etcd_tls.client_port)
    pki = manifest.parents[1] / "pki"

    config, explanation = discover_kubeadm(manifest)
    assert config.endpoints == [f"https://127.0.0.1:{etcd_tls.client_port}"]  # loopback preferred
    assert config.cacert == str(pki / "etcd" / "ca.crt")
    assert config.cert == str(pki / "etcd" / "healthcheck-client.crt")
    assert explanation == (
        f"kubeadm: etcd manifest {manifest}, endpoint https://127.0.0.1:{etcd_tls.client_port}, "
        f"client cert {pki / 'etcd' / 'healthcheck-client.crt'}"
    )
    async with EtcdSource(config) as source:
        assert await source.count(b"/registry/") == 1

    (pki / "etcd" / "healthcheck-client.key").unlink()
    config, _ = discover_kubeadm(str(manifest))
    assert config.cert == str(pki / "apiserver-etcd-client.crt")
    async with EtcdSource(config) as source:
        assert await source.count(b"/registry/") == 1


def test_missing_or_broken_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KubeadmError, match="etcd manifest .*etcd.yaml does not exist"):
        discover_kubeadm(tmp_path / "etcd.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec: [unclosed")
    with pytest.raises(KubeadmError, match="not valid YAML"):
        discover_kubeadm(bad)
    bad.write_text("kind: Pod\nspec:\n  containers:\n  - name: nginx\n    command: [nginx]\n")
    with pytest.raises(KubeadmError, match="has no etcd container"):
        discover_kubeadm(bad)
    assert issubclass(KubeadmError, SourceError)


def test_no_client_certificate_is_named(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    (pki / "etcd").mkdir(parents=True)
    (pki / "etcd" / "ca.crt").write_text("x")
    manifest = tmp_path / "etcd.yaml"
    text = MANIFEST.format(port=2379, pki=pki).replace(f"--cert-file={pki}/etcd/server.crt", "")
    manifest.write_text(text)
    with pytest.raises(KubeadmError, match="no etcd client certificate found .*healthcheck-client"):
        discover_kubeadm(manifest)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_key_says_run_with_sudo(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    (pki / "etcd").mkdir(parents=True)
    (pki / "etcd" / "ca.crt").write_text("x")
    for name in ("healthcheck-client.crt", "healthcheck-client.key"):
        (pki / "etcd" / name).write_text("x")
    (pki / "etcd" / "healthcheck-client.key").chmod(0)
    manifest = tmp_path / "etcd.yaml"
    manifest.write_text(MANIFEST.format(port=2379, pki=pki))
    with pytest.raises(
        KubeadmError, match="permission denied reading .*healthcheck-client.key: run"
    ):
        discover_kubeadm(manifest)
