"""Kubernetes release detection from the kubeadm kube-apiserver manifest, and --kube-version."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketui.core.k8s.releases import detect_kube_version, normalize_kube_version

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver, namespace: kube-system}
spec:
  containers:
  - name: kube-apiserver
    image: {image}
    command: [kube-apiserver, --etcd-servers=https://127.0.0.1:2379]
"""


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("registry.k8s.io/kube-apiserver:v1.29.3", "1.29"),
        ("k8s.gcr.io/kube-apiserver:v1.17.0", "1.17"),
        ("my.registry:5000/k8s/kube-apiserver:v1.31.0-rc.1@sha256:" + "a" * 64, "1.31"),
    ],
)
def test_detects_version_from_image(tmp_path: Path, image: str, version: str) -> None:
    (tmp_path / "kube-apiserver.yaml").write_text(MANIFEST.replace("{image}", image))
    found = detect_kube_version(tmp_path)
    assert found == (
        version,
        f"kube-apiserver image {image} in {tmp_path / 'kube-apiserver.yaml'}",
    )


@pytest.mark.parametrize(
    "content",
    [
        None,  # no manifest
        "spec: [",  # malformed YAML
        "just text",
        MANIFEST.replace("{image}", "registry.k8s.io/kube-apiserver@sha256:" + "b" * 64),
        MANIFEST.replace("{image}", "registry.k8s.io/kube-apiserver:latest"),
        MANIFEST.replace("{image}", "registry.k8s.io/etcd:3.5.9-0").replace(
            "name: kube-apiserver\n    image", "name: etcd\n    image"
        ),
    ],
)
def test_no_version_without_raising(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "kube-apiserver.yaml").write_text(content)
    assert detect_kube_version(tmp_path) is None


def test_unreadable_directory(tmp_path: Path) -> None:
    (tmp_path / "kube-apiserver.yaml").mkdir()
    assert detect_kube_version(tmp_path) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.29", "1.29"),
        ("v1.29.3", "1.29"),
        ("1.30.0-gke.100", "1.30"),
        ("master", "master"),  # the development branch; None is the newest release
        (None, None),
    ],
)
def test_normalize(text: str | None, expected: str | None) -> None:
    assert normalize_kube_version(text) == expected


@pytest.mark.parametrize("text", ["1", "banana", "1.x", "v1.29.3 extra"])
def test_normalize_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid Kubernetes version"):
        normalize_kube_version(text)


def test_resolve_given_wins_and_detection_says_why(tmp_path: Path) -> None:
    from ketui.core.k8s.releases import resolve_kube_version

    (tmp_path / "kube-apiserver.yaml").write_text(
        MANIFEST.replace("{image}", "registry.k8s.io/kube-apiserver:v1.29.3")
    )
    assert resolve_kube_version("v1.31.0", detect_in=tmp_path) == ("1.31", None)
    version, note = resolve_kube_version(None, detect_in=tmp_path)
    assert version == "1.29" and note is not None and "v1.29.3" in note
    assert resolve_kube_version(None, detect_in=None) == (None, None)
    with pytest.raises(ValueError, match="invalid Kubernetes version"):
        resolve_kube_version("one.two", detect_in=tmp_path)
