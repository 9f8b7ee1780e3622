"""Secret masking: values hidden with their size, keys and everything else kept."""

from __future__ import annotations

from typing import Any

from ketui.core.k8s.secrets import LAST_APPLIED, is_secret, mask_secret

SECRET: dict[str, Any] = {
    "kind": "Secret",
    "apiVersion": "v1",
    "metadata": {
        "name": "db",
        "annotations": {LAST_APPLIED: '{"data":{"password":"aHVudGVyMg=="}}', "team": "a"},
    },
    "data": {"password": "aHVudGVyMg==", "one": "eA==", "empty": "", "odd": "not base64!"},
    "stringData": {"user": "admin"},
    "type": "Opaque",
}


def test_mask_secret() -> None:
    masked = mask_secret(SECRET)
    assert masked["data"] == {
        "password": "<masked: 7 bytes>",
        "one": "<masked: 1 byte>",
        "empty": "<masked: 0 bytes>",
        "odd": "<masked: 11 bytes>",
    }
    assert masked["stringData"] == {"user": "<masked: 5 bytes>"}
    assert masked["metadata"]["annotations"] == {LAST_APPLIED: "<masked: 36 bytes>", "team": "a"}
    assert list(masked) == list(SECRET) and masked["type"] == "Opaque"
    assert SECRET["data"]["password"] == "aHVudGVyMg=="  # the input is not modified
    assert "aHVudGVyMg" not in repr(masked)


def test_other_objects_are_untouched() -> None:
    configmap = {"kind": "ConfigMap", "apiVersion": "v1", "data": {"a": "b"}}
    assert not is_secret(configmap) and is_secret(SECRET)
    assert mask_secret(configmap) == configmap
    assert not is_secret(["Secret"])
