"""Encryption at rest: EncryptionConfiguration parsing, Kubernetes' byte layouts, clear failures."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import nacl.bindings
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ketui.core.k8s.decode import decode_value
from ketui.core.k8s.decoded import Family
from ketui.core.k8s.encryption import (
    EncryptionConfigError,
    Keyring,
    encrypt_value,
    kms_v1_value,
    kms_v2_value,
    parse_header,
)
from tests.k8s_values import pod_value, secret_value

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
KEY_16 = b"0123456789abcdef"
ETCD_KEY = b"/registry/secrets/default/db"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


CONFIG = f"""\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aesgcm:
          keys:
            - name: key1
              secret: {b64(KEY_A)}
            - name: key2
              secret: {b64(KEY_16)}
      - aescbc:
          keys:
            - name: key1
              secret: {b64(KEY_A)}
      - secretbox:
          keys:
            - name: sb
              secret: {b64(KEY_B)}
      - kms:
          apiVersion: v2
          name: vault
          endpoint: unix:///var/run/kms.sock
      - kms:
          name: legacy
          endpoint: unix:///var/run/kms1.sock
      - identity: {{}}
  - resources: [configmaps]
    providers:
      - aesgcm:
          keys:
            - name: key1
              secret: {b64(KEY_B)}
"""


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.from_yaml(CONFIG, source="test-config")


def test_config_parsing_lists_every_provider(keyring: Keyring) -> None:
    assert [(k.provider, k.name, k.secret) for k in keyring.keys] == [
        ("aesgcm", "key1", KEY_A),
        ("aesgcm", "key2", KEY_16),
        ("aescbc", "key1", KEY_A),
        ("secretbox", "sb", KEY_B),
        ("aesgcm", "key1", KEY_B),
    ]
    assert keyring.keys[0].resources == ("secrets",)
    assert [(k.name, k.api_version) for k in keyring.kms] == [("vault", "v2"), ("legacy", "v1")]
    assert keyring.identity
    assert "kms v2 'vault'" in keyring.describe() and "identity" in keyring.describe()


def test_config_file_and_old_kind(tmp_path: Path) -> None:
    path = tmp_path / "enc.yaml"
    path.write_text(
        "kind: EncryptionConfig\napiVersion: v1\nresources:\n"
        f"  - resources: [secrets]\n    providers:\n"
        f"      - secretbox: {{keys: [{{name: k, secret: {b64(KEY_A)}}}]}}\n"
    )
    ring = Keyring.from_config_file(path)
    assert [(k.provider, k.name) for k in ring.keys] == [("secretbox", "k")]
    assert not ring.identity and ring.source == str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("resources: [", "not valid YAML"),
        ("apiVersion: v1\nkind: Pod\n", "expected apiVersion apiserver.config.k8s.io/v1"),
        (
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
            "resources:\n- resources: [secrets]\n  providers:\n"
            "  - aescbc: {keys: [{name: k, secret: 'not base64!'}]}\n",
            "is not valid base64",
        ),
        (
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
            "resources:\n- resources: [secrets]\n  providers:\n"
            "  - secretbox: {keys: [{name: k, secret: " + b64(KEY_16) + "}]}\n",
            "secretbox key 'k' is 16 bytes, must be 32",
        ),
        (
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
            "resources:\n- resources: [secrets]\n  providers:\n  - rot13: {}\n",
            "unknown provider 'rot13'",
        ),
    ],
)
def test_config_errors_are_one_line(text: str, message: str) -> None:
    with pytest.raises(EncryptionConfigError) as info:
        Keyring.from_yaml(text, source="enc.yaml")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(EncryptionConfigError, match="cannot read encryption config"):
        Keyring.from_config_file(tmp_path / "nope.yaml")


# --- Kubernetes' byte layouts, built independently of ketui's encrypt functions ------------


def test_aescbc_layout_iv_then_cbc_pkcs7(keyring: Keyring) -> None:
    plaintext = pod_value()
    iv = os.urandom(16)
    pad = 16 - len(plaintext) % 16
    encryptor = Cipher(algorithms.AES(KEY_A), modes.CBC(iv)).encryptor()
    body = encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()
    value = b"k8s:enc:aescbc:v1:key1:" + iv + body
    decoded = decode_value(value, key=b"/registry/pods/default/www", keyring=keyring)
    assert decoded.ok, decoded.error
    assert decoded.family is Family.ENCRYPTED
    assert decoded.kind == "Pod" and decoded.obj["metadata"]["name"] == "www"
    assert decoded.encryption is not None
    assert (decoded.encryption.provider, decoded.encryption.key_name) == ("aescbc", "key1")
    assert decoded.encryption.decrypted
    assert decoded.encryption.ciphertext_size == 16 + len(body)


def test_aesgcm_layout_nonce_then_sealed_with_etcd_key_as_aad(keyring: Keyring) -> None:
    plaintext = secret_value(data={"password": b"hunter2"})
    nonce = os.urandom(12)
    value = b"k8s:enc:aesgcm:v1:key2:" + nonce + AESGCM(KEY_16).encrypt(nonce, plaintext, ETCD_KEY)
    decoded = decode_value(value, key=ETCD_KEY, keyring=keyring)
    assert decoded.ok, decoded.error
    assert decoded.obj["data"] == {"password": base64.b64encode(b"hunter2").decode()}
    assert decoded.content_type == "application/vnd.kubernetes.protobuf"


def test_secretbox_layout_nonce_then_box(keyring: Keyring) -> None:
    nonce = os.urandom(24)
    box = nacl.bindings.crypto_secretbox(pod_value(), nonce, KEY_B)
    decoded = decode_value(b"k8s:enc:secretbox:v1:sb:" + nonce + box, keyring=keyring)
    assert decoded.ok, decoded.error
    assert decoded.kind == "Pod"


@pytest.mark.parametrize(
    ("provider", "key_name"), [("aescbc", "key1"), ("aesgcm", "key1"), ("secretbox", "sb")]
)
def test_encrypt_value_round_trips(keyring: Keyring, provider: str, key_name: str) -> None:
    secret = next(k.secret for k in keyring.keys if (k.provider, k.name) == (provider, key_name))
    value = encrypt_value(
        pod_value(), provider=provider, key_name=key_name, secret=secret, etcd_key=ETCD_KEY
    )
    assert value.startswith(f"k8s:enc:{provider}:v1:{key_name}:".encode())
    decoded = decode_value(value, key=ETCD_KEY, keyring=keyring)
    assert decoded.ok, decoded.error
    assert decoded.encryption is not None and decoded.encryption.decrypted
    assert decoded.obj["metadata"] == {"name": "www", "namespace": "default"}


def test_json_plaintext_decrypts_too(keyring: Keyring) -> None:
    value = encrypt_value(
        b'{"kind":"Widget","apiVersion":"example.com/v1"}',
        provider="secretbox",
        key_name="sb",
        secret=KEY_B,
    )
    decoded = decode_value(value, keyring=keyring)
    assert decoded.ok and decoded.kind == "Widget" and decoded.content_type == "application/json"


# --- failures ---------------------------------------------------------------------------------


def test_no_keyring_shows_what_is_known() -> None:
    value = encrypt_value(pod_value(), provider="aescbc", key_name="key1", secret=KEY_A)
    decoded = decode_value(value)
    assert decoded.ok and decoded.obj is None
    assert decoded.encryption is not None
    assert decoded.encryption.provider == "aescbc"
    assert decoded.encryption.key_name == "key1"
    assert decoded.encryption.ciphertext_size == len(value) - len(b"k8s:enc:aescbc:v1:key1:")
    assert not decoded.encryption.decrypted
    assert "encryption config" in (decoded.encryption.reason or "")


def test_wrong_gcm_key_fails_to_authenticate() -> None:
    ring = Keyring.from_yaml(CONFIG.replace(b64(KEY_16), b64(b"fedcba9876543210")))
    value = encrypt_value(
        pod_value(), provider="aesgcm", key_name="key2", secret=KEY_16, etcd_key=ETCD_KEY
    )
    decoded = decode_value(value, key=ETCD_KEY, keyring=ring)
    assert decoded.error == (
        "aesgcm key 'key2' failed to authenticate: wrong key, wrong etcd key or corrupt data"
    )
    assert decoded.encryption is not None and decoded.encryption.reason == decoded.error


def test_gcm_value_moved_to_another_key_fails() -> None:
    ring = Keyring.from_yaml(CONFIG)
    value = encrypt_value(
        pod_value(), provider="aesgcm", key_name="key2", secret=KEY_16, etcd_key=ETCD_KEY
    )
    moved = decode_value(value, key=b"/registry/secrets/default/other", keyring=ring)
    assert moved.error is not None and "failed to authenticate" in moved.error
    no_key = decode_value(value, keyring=ring)
    assert no_key.error is not None and "etcd key" in no_key.error


def test_wrong_cbc_key_is_reported() -> None:
    ring = Keyring.from_yaml(CONFIG.replace(b64(KEY_A), b64(KEY_B)))
    for _ in range(20):  # random IVs: padding may pass by chance, the plaintext check may not
        value = encrypt_value(pod_value(), provider="aescbc", key_name="key1", secret=KEY_A)
        decoded = decode_value(value, keyring=ring)
        assert decoded.error is not None and "wrong key or corrupt data" in decoded.error
        assert decoded.error.startswith("aescbc key 'key1' ")


def test_missing_provider_key_names_what_the_config_has() -> None:
    ring = Keyring.from_yaml(CONFIG, source="enc.yaml")
    value = encrypt_value(pod_value(), provider="aescbc", key_name="key9", secret=KEY_A)
    decoded = decode_value(value, keyring=ring)
    assert decoded.error is not None
    assert decoded.error.startswith("enc.yaml has no aescbc key 'key9' (it has: aesgcm key 'key1'")


def test_same_prefix_different_secret_per_resource(keyring: Keyring) -> None:
    configmap_key = b"/registry/configmaps/default/settings"
    value = encrypt_value(
        pod_value(), provider="aesgcm", key_name="key1", secret=KEY_B, etcd_key=configmap_key
    )
    assert [k.secret for k in keyring.candidates(value, configmap_key)][0] == KEY_B
    decoded = decode_value(value, key=configmap_key, keyring=keyring)
    assert decoded.ok and decoded.kind == "Pod"


def test_truncated_ciphertexts_never_raise(keyring: Keyring) -> None:
    for provider, name in (("aescbc", "key1"), ("aesgcm", "key1"), ("secretbox", "sb")):
        secret = next(k.secret for k in keyring.keys if (k.provider, k.name) == (provider, name))
        value = encrypt_value(
            pod_value(), provider=provider, key_name=name, secret=secret, etcd_key=ETCD_KEY
        )
        prefix = len(f"k8s:enc:{provider}:v1:{name}:")
        for cut in (0, 1, 15, 16, 17, 30, len(value) - prefix - 1):
            decoded = decode_value(value[: prefix + cut], key=ETCD_KEY, keyring=keyring)
            assert decoded.error is not None and "\n" not in decoded.error


def test_malformed_header() -> None:
    decoded = decode_value(b"k8s:enc:aescbc")
    assert decoded.family is Family.ENCRYPTED
    assert decoded.error is not None and "malformed encryption header" in decoded.error


# --- KMS --------------------------------------------------------------------------------------


def test_kms_v1_is_explained() -> None:
    value = kms_v1_value("legacy", b"w" * 40, b"d" * 300)
    decoded = decode_value(value, keyring=Keyring.from_yaml(CONFIG))
    assert decoded.ok and decoded.obj is None
    assert decoded.encryption is not None
    assert (decoded.encryption.provider, decoded.encryption.key_name) == ("kms", "legacy")
    reason = decoded.encryption.reason or ""
    assert "wrapped DEK 40 bytes" in reason and "encrypted data 300 bytes" in reason
    assert "cannot be decrypted offline" in reason and "KMS plugin" in reason


def test_kms_v2_shows_key_id_and_sizes() -> None:
    value = kms_v2_value(
        "vault",
        "key-id-7",
        b"w" * 64,
        b"d" * 500,
        annotations={"kms.example.com/x": b"1"},
        dek_source_type=1,
    )
    header = parse_header(value)
    assert header is not None and header.label == "kms-v2"
    decoded = decode_value(value)
    assert decoded.encryption is not None
    assert (decoded.encryption.provider, decoded.encryption.key_name) == ("kms-v2", "vault")
    reason = decoded.encryption.reason or ""
    for part in (
        "KMS key ID 'key-id-7'",
        "wrapped DEK 64 bytes",
        "encrypted data 500 bytes",
        "HKDF_SHA256_XNONCE_AES_GCM_SEED",
        "kms.example.com/x",
        "cannot be decrypted offline",
    ):
        assert part in reason


def test_kms_v2_garbage_payload_is_explained() -> None:
    decoded = decode_value(b"k8s:enc:kms:v2:vault:\xff\xff\xff")
    assert decoded.encryption is not None
    assert "malformed EncryptedObject" in (decoded.encryption.reason or "")
