"""Which Kubernetes release to emulate: parse ``--kube-version``, detect it on kubeadm nodes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DEFAULT_MANIFESTS = "/etc/kubernetes/manifests"
_NEWEST = {"", "latest", "newest"}
_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+][0-9A-Za-z.+_-]*)?")
_MAX_MANIFEST_BYTES = 1 << 20


def normalize_kube_version(text: str | None) -> str | None:
    """``"v1.29.3"``, ``"1.29"``, ``"1.29.0-gke.1"`` -> ``"1.29"``; ``"master"`` (the development
    branch) stays; None, ``latest`` or ``newest`` -> None (the newest release).

    Raises ValueError with a one-line message for anything else.
    """
    if text is None or text.strip().lower() in _NEWEST:
        return None
    if text.strip().lower() == "master":
        return "master"
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"invalid Kubernetes version {text!r}: expected X.Y (like 1.29), vX.Y.Z or master"
        )
    return f"{int(match.group(1))}.{int(match.group(2))}"


def detect_kube_version(
    manifests_dir: str | Path = DEFAULT_MANIFESTS,
) -> tuple[str, str] | None:
    """The release of kube-apiserver from its kubeadm static-pod manifest, with an explanation.

    Returns e.g. ``("1.29", "kube-apiserver image registry.k8s.io/kube-apiserver:v1.29.3 in
    /etc/kubernetes/manifests/kube-apiserver.yaml")``, or None when there is no readable manifest
    with a versioned kube-apiserver image. Never raises.
    """
    path = Path(manifests_dir) / "kube-apiserver.yaml"
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_MANIFEST_BYTES)
        doc = yaml.safe_load(data)
        image = _apiserver_image(doc)
        if image is None:
            return None
        version = _image_version(image)
    except Exception:  # noqa: BLE001 - unreadable or malformed manifest: no version, no error
        return None
    if version is None:
        return None
    return version, f"kube-apiserver image {image} in {path}"


def resolve_kube_version(
    given: str | None, *, detect_in: str | Path | None = None
) -> tuple[str | None, str | None]:
    """The release view to use and, when it was detected rather than given, a note saying why.

    ``given`` is the user's ``--kube-version`` (validated; ValueError with a one-line message when
    malformed). Without it, the kubeadm manifests in ``detect_in`` are read, when that is not None.
    Returns ``(version or None for the newest view, note or None)``.
    """
    if given is not None:
        return normalize_kube_version(given), None
    detected = detect_kube_version(detect_in) if detect_in is not None else None
    if detected is None:
        return None, None
    version, explanation = detected
    return version, f"using Kubernetes {version} view ({explanation})"


def _apiserver_image(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return None
    spec = doc.get("spec")
    containers = spec.get("containers") if isinstance(spec, dict) else None
    if not isinstance(containers, list):
        return None
    images = [c.get("image") for c in containers if isinstance(c, dict)]
    named = [
        c.get("image")
        for c in containers
        if isinstance(c, dict) and c.get("name") == "kube-apiserver"
    ]
    for image in [*named, *images]:
        if isinstance(image, str) and "kube-apiserver" in image.rsplit("/", 1)[-1]:
            return image
    return None


def _image_version(image: str) -> str | None:
    """``registry.k8s.io/kube-apiserver:v1.29.3@sha256:...`` -> ``"1.29"``."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    if ":" not in name:
        return None
    tag = name.split(":", 1)[1]
    try:
        return normalize_kube_version(tag) if tag.startswith(("v", "1")) else None
    except ValueError:
        return None
