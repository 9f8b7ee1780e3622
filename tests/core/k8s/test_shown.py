"""What is shown for a value (core/k8s/shown.py): the one answer for `get`, `decode` and the TUI."""

from __future__ import annotations

import copy

from ketui.core.k8s.encryption import encrypt_value
from ketui.core.k8s.shown import Decoder, is_masked, shown_object, shown_text, why_not_decoded
from ketui.core.source import KeyValue
from tests.k8s_values import pod_value, secret_value

POD = KeyValue(b"/registry/pods/default/www", pod_value(), 3, 7, 2)
SECRET = KeyValue(b"/registry/secrets/default/db", secret_value(data={"pw": b"hunter2"}), 4, 9, 1)


def test_get_shows_resource_version_decode_does_not() -> None:
    decoded = Decoder()(POD)
    before = copy.deepcopy(decoded.obj)
    served = shown_object(decoded, revision=POD.mod_revision, reveal=False)
    assert list(served["metadata"]) == ["name", "namespace", "resourceVersion"]
    assert served["metadata"]["resourceVersion"] == "7"
    stored = shown_object(decoded, revision=None, reveal=False)
    assert "resourceVersion" not in stored["metadata"]
    assert decoded.obj == before  # the decoded object is never changed


def test_secrets_are_masked_until_revealed() -> None:
    decoded = Decoder()(SECRET)
    assert is_masked(decoded, reveal=False) and not is_masked(decoded, reveal=True)
    masked = shown_text(SECRET, decoded, "yaml", reveal=False, keyring_given=False)
    assert "aHVudGVyMg==" not in masked and "<masked: 7 bytes>" in masked
    shown = shown_text(SECRET, decoded, "yaml", reveal=True, keyring_given=False)
    assert "aHVudGVyMg==" in shown
    raw = shown_text(SECRET, decoded, "raw", reveal=False, keyring_given=False)
    assert b"hunter2" not in raw.encode() and "x to reveal" in raw


def test_every_tab_agrees_with_the_served_object() -> None:
    decoded = Decoder()(POD)
    yaml_text = shown_text(POD, decoded, "yaml", reveal=False, keyring_given=False)
    json_text = shown_text(POD, decoded, "json", reveal=False, keyring_given=False)
    assert 'resourceVersion: "7"' in yaml_text and '"resourceVersion": "7"' in json_text


def test_why_not_names_the_option_that_helps() -> None:
    value = encrypt_value(pod_value(), provider="aesgcm", key_name="k1", secret=b"0" * 32,
                          etcd_key=POD.key)  # fmt: skip
    decoded = Decoder().value(value, POD.key)
    assert decoded.obj is None
    assert why_not_decoded(decoded, keyring_given=False).endswith("(--encryption-config FILE)")
    text = why_not_decoded(decoded, keyring_given=True, key_given=False)
    assert text.endswith("(--key KEY)")
    binary = Decoder().value(b"\x00\x01\x02", None)
    assert why_not_decoded(binary, keyring_given=False) == (
        "not a Kubernetes object: 3 bytes of binary data"
    )
    text_value = Decoder().value(b"plain words", None)
    assert why_not_decoded(text_value, keyring_given=False).endswith("11 bytes of text")
    assert shown_text(
        KeyValue(b"k", b"plain words", 1, 1, 1), text_value, "yaml",
        reveal=False, keyring_given=False,
    ) == "plain words"  # fmt: skip
