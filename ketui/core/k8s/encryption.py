"""Encryption at rest: kube-apiserver's EncryptionConfiguration, value headers, decryption.

Byte layout of an encrypted value, as k8s.io/apiserver writes it
(``pkg/storage/value/encrypt/...`` and ``pkg/server/options/encryptionconfig``)::

    k8s:enc:<provider>:v1:<key name>:<payload>        aescbc, aesgcm, secretbox
    k8s:enc:kms:v1:<kms provider name>:<payload>      KMS v1
    k8s:enc:kms:v2:<kms provider name>:<payload>      KMS v2

The prefix selects the key: kube-apiserver tries each configured provider's prefix in order and
hands the rest of the value to that provider. The ``identity`` provider has no prefix and stores
plain values. Payloads:

``aescbc``
    IV (16 random bytes) + AES-CBC ciphertext of the plaintext with PKCS#7 padding (always 1-16
    bytes of padding). No authenticated data, no MAC: a wrong key is only noticed through bad
    padding or garbage plaintext. Keys: 16, 24 or 32 bytes (AES-128/192/256).
``aesgcm``
    nonce (12 random bytes) + AES-GCM ciphertext + 16-byte tag. The *authenticated data is the
    etcd key* of the value (``value.DefaultContext(key)`` in the etcd3 store, the full key with
    the ``/registry`` prefix), so a value copied to another key fails to authenticate, and
    decrypting needs the key. Keys: 16, 24 or 32 bytes.
``secretbox``
    nonce (24 random bytes) + NaCl secretbox (XSalsa20-Poly1305: 16-byte tag + ciphertext).
    No authenticated data. Key: 32 bytes.
``kms`` v1
    2-byte big-endian length of the wrapped DEK + wrapped DEK + the value encrypted with the DEK.
``kms`` v2
    protobuf ``EncryptedObject``: 1 ``encryptedData`` (bytes), 2 ``keyID`` (string),
    3 ``encryptedDEKSource`` (bytes; ``encryptedDEK`` before 1.29), 4 ``annotations``
    (map<string, bytes>), 5 ``encryptedDEKSourceType`` (enum: 0 AES_GCM_KEY, 1
    HKDF_SHA256_XNONCE_AES_GCM_SEED).

KMS values cannot be decrypted offline: the data encryption key (DEK) is itself encrypted
("wrapped") by an external key management service that only the KMS plugin next to
kube-apiserver can talk to. ketui shows what the value says about itself instead.

Crypto comes from ``cryptography`` (AES) and ``pynacl`` (secretbox); nothing is hand-rolled.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.secret
import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ketui.core.k8s.decoded import Encryption
from ketui.core.pbwire import WireError, iter_fields, len_field, varint_field

ENCRYPTED_PREFIX = b"k8s:enc:"
LOCAL_PROVIDERS = ("aescbc", "aesgcm", "secretbox")
AES_KEY_SIZES = (16, 24, 32)
SECRETBOX_KEY_SIZE = nacl.secret.SecretBox.KEY_SIZE  # 32
CBC_IV_SIZE = 16
GCM_NONCE_SIZE = 12
SECRETBOX_NONCE_SIZE = nacl.secret.SecretBox.NONCE_SIZE  # 24

CONFIG_KINDS = {
    ("apiserver.config.k8s.io/v1", "EncryptionConfiguration"),
    # Kubernetes 1.7 - 1.12 called it EncryptionConfig, with apiVersion v1 or apiserver.k8s.io/v1.
    ("apiserver.k8s.io/v1", "EncryptionConfig"),
    ("apiserver.k8s.io/v1", "EncryptionConfiguration"),
    ("v1", "EncryptionConfig"),
}

_HEADER = re.compile(rb"k8s:enc:([A-Za-z0-9_-]+):(v[0-9]+):([^:]*):")
_DEK_SOURCE_TYPES = {0: "AES_GCM_KEY", 1: "HKDF_SHA256_XNONCE_AES_GCM_SEED"}


class EncryptionConfigError(ValueError):
    """The EncryptionConfiguration file is unreadable or malformed (message is one line)."""


class DecryptError(ValueError):
    """A value did not decrypt with the given key."""


@dataclass(frozen=True, slots=True)
class EncryptedHeader:
    """The ``k8s:enc:<provider>:<version>:<name>:`` header of a stored value."""

    provider: str  # as in the prefix: aescbc, aesgcm, secretbox, kms
    version: str  # v1, v2
    key_name: str  # key name; for kms the KMS provider's name
    size: int  # header length in bytes

    @property
    def label(self) -> str:
        """Provider as :class:`~ketui.core.k8s.decoded.Encryption` names it (``kms-v2`` for KMS
        v2)."""
        return "kms-v2" if self.provider == "kms" and self.version == "v2" else self.provider


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One local key from the config: provider, name, secret and the resources it serves."""

    provider: str
    name: str
    secret: bytes = field(repr=False)
    resources: tuple[str, ...] = ()

    @property
    def prefix(self) -> bytes:
        return f"k8s:enc:{self.provider}:v1:{self.name}:".encode()


@dataclass(frozen=True, slots=True)
class KmsEntry:
    """A KMS provider from the config (it has no key ketui could use)."""

    name: str
    api_version: str  # v1 or v2
    resources: tuple[str, ...] = ()

    @property
    def prefix(self) -> bytes:
        return f"k8s:enc:kms:{self.api_version}:{self.name}:".encode()


@dataclass(slots=True)
class Keyring:
    """The keys of an EncryptionConfiguration, looked up by the prefix of a stored value."""

    keys: list[KeyEntry] = field(default_factory=list)
    kms: list[KmsEntry] = field(default_factory=list)
    identity: bool = False  # some resource lists the identity (plain text) provider
    source: str = "the encryption config"

    @classmethod
    def from_config_file(cls, path: str | Path) -> Keyring:
        """Read kube-apiserver's ``--encryption-provider-config`` file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise EncryptionConfigError(f"cannot read encryption config {path}: {exc}") from None
        return cls.from_yaml(text, source=str(path))

    @classmethod
    def from_yaml(cls, text: str, source: str = "the encryption config") -> Keyring:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            reason = " ".join(str(exc).split())
            raise EncryptionConfigError(f"{source} is not valid YAML: {reason}") from None
        return cls.from_config(doc, source=source)

    @classmethod
    def from_config(cls, doc: Any, source: str = "the encryption config") -> Keyring:
        """Build a keyring from the parsed EncryptionConfiguration document."""
        if not isinstance(doc, dict):
            raise EncryptionConfigError(f"{source}: not an EncryptionConfiguration document")
        kind = (doc.get("apiVersion"), doc.get("kind"))
        if kind not in CONFIG_KINDS:
            raise EncryptionConfigError(
                f"{source}: expected apiVersion apiserver.config.k8s.io/v1, kind "
                f"EncryptionConfiguration, found apiVersion {kind[0]!r}, kind {kind[1]!r}"
            )
        ring = cls(source=source)
        resources_list = doc.get("resources")
        if not isinstance(resources_list, list):
            raise EncryptionConfigError(f"{source}: 'resources' must be a list")
        for i, entry in enumerate(resources_list):
            where = f"{source}: resources[{i}]"
            if not isinstance(entry, dict):
                raise EncryptionConfigError(f"{where} must be a mapping")
            names = entry.get("resources") or []
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise EncryptionConfigError(f"{where}.resources must be a list of names")
            providers = entry.get("providers")
            if not isinstance(providers, list):
                raise EncryptionConfigError(f"{where}.providers must be a list")
            for j, provider in enumerate(providers):
                ring._add_provider(provider, tuple(names), f"{where}.providers[{j}]")
        return ring

    def _add_provider(self, provider: Any, resources: tuple[str, ...], where: str) -> None:
        if not isinstance(provider, dict) or len(provider) != 1:
            raise EncryptionConfigError(f"{where} must name exactly one provider")
        ((name, conf),) = provider.items()
        if name == "identity":
            self.identity = True
        elif name in LOCAL_PROVIDERS:
            keys = conf.get("keys") if isinstance(conf, dict) else None
            if not isinstance(keys, list) or not keys:
                raise EncryptionConfigError(f"{where}.{name}.keys must be a non-empty list")
            for k, key in enumerate(keys):
                self.keys.append(_key_entry(name, key, resources, f"{where}.{name}.keys[{k}]"))
        elif name == "kms":
            if not isinstance(conf, dict) or not isinstance(conf.get("name"), str):
                raise EncryptionConfigError(f"{where}.kms.name is missing")
            api_version = str(conf.get("apiVersion") or "v1")
            if api_version not in ("v1", "v2"):
                raise EncryptionConfigError(f"{where}.kms.apiVersion must be v1 or v2")
            self.kms.append(KmsEntry(conf["name"], api_version, resources))
        else:
            raise EncryptionConfigError(f"{where}: unknown provider {name!r}")

    def describe(self) -> str:
        """The providers, for messages: ``aescbc key 'key1', kms v2 'vault', identity``."""
        parts = [f"{k.provider} key '{k.name}'" for k in self.keys]
        parts += [f"kms {k.api_version} '{k.name}'" for k in self.kms]
        if self.identity:
            parts.append("identity")
        return ", ".join(dict.fromkeys(parts)) or "no providers"

    def candidates(self, value: bytes, etcd_key: bytes | None = None) -> list[KeyEntry]:
        """Local keys whose prefix starts ``value``; keys configured for the key's resource first.

        The same prefix may carry different secrets for different resources (one config entry
        for secrets, another for configmaps), so the etcd key decides which to try first.
        """
        found = [k for k in self.keys if value.startswith(k.prefix)]
        if etcd_key is None:
            return found
        return sorted(found, key=lambda k: not _serves(k.resources, etcd_key))

    def kms_for(self, value: bytes) -> KmsEntry | None:
        return next((k for k in self.kms if value.startswith(k.prefix)), None)


def _key_entry(provider: str, key: Any, resources: tuple[str, ...], where: str) -> KeyEntry:
    if not isinstance(key, dict) or not isinstance(key.get("name"), str):
        raise EncryptionConfigError(f"{where}.name is missing")
    secret_text = key.get("secret")
    if not isinstance(secret_text, str):
        raise EncryptionConfigError(f"{where}.secret is missing")
    try:
        secret = base64.b64decode(secret_text, validate=True)
    except (binascii.Error, ValueError):
        raise EncryptionConfigError(f"{where}.secret is not valid base64") from None
    sizes = (SECRETBOX_KEY_SIZE,) if provider == "secretbox" else AES_KEY_SIZES
    if len(secret) not in sizes:
        allowed = " or ".join(str(s) for s in sizes)
        raise EncryptionConfigError(
            f"{where}: {provider} key '{key['name']}' is {len(secret)} bytes, must be {allowed}"
        )
    return KeyEntry(provider, key["name"], secret, resources)


def _serves(resources: tuple[str, ...], etcd_key: bytes) -> bool:
    """Whether a config entry's resource list plausibly covers the resource in ``etcd_key``."""
    segments = etcd_key.decode("utf-8", "replace").split("/")
    for resource in resources:
        name = resource.partition(".")[0]
        if name == "*" or name in segments:
            return True
    return False


# --- parsing the header ---------------------------------------------------------------------


def parse_header(value: bytes, keyring: Keyring | None = None) -> EncryptedHeader | None:
    """The encryption header of ``value``, or None when the value is not encrypted.

    Prefixes known from the keyring are matched first, so key names containing ``:`` work.
    """
    if not value.startswith(ENCRYPTED_PREFIX):
        return None
    if keyring is not None:
        entries: list[KeyEntry | KmsEntry] = [*keyring.keys, *keyring.kms]
        for entry in entries:
            if value.startswith(entry.prefix):
                provider = entry.provider if isinstance(entry, KeyEntry) else "kms"
                version = entry.api_version if isinstance(entry, KmsEntry) else "v1"
                return EncryptedHeader(provider, version, entry.name, len(entry.prefix))
    match = _HEADER.match(value)
    if match is None:
        return None
    provider, version, name = (g.decode("ascii", "replace") for g in match.groups())
    return EncryptedHeader(provider, version, name, match.end())


# --- the ciphers ----------------------------------------------------------------------------


def aescbc_encrypt(plaintext: bytes, secret: bytes) -> bytes:
    """IV + AES-CBC(PKCS#7(plaintext)), as aes.cbc.TransformToStorage writes it."""
    iv = os.urandom(CBC_IV_SIZE)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(secret), modes.CBC(iv)).encryptor()
    return iv + encryptor.update(padded) + encryptor.finalize()


def aescbc_decrypt(payload: bytes, secret: bytes) -> bytes:
    if len(payload) < 2 * CBC_IV_SIZE or len(payload) % CBC_IV_SIZE:
        raise DecryptError(
            f"cannot decrypt {len(payload)} bytes: not an IV plus whole AES blocks (corrupt data)"
        )
    decryptor = Cipher(algorithms.AES(secret), modes.CBC(payload[:CBC_IV_SIZE])).decryptor()
    padded = decryptor.update(payload[CBC_IV_SIZE:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptError("has bad PKCS#7 padding: wrong key or corrupt data") from None


def aesgcm_encrypt(plaintext: bytes, secret: bytes, etcd_key: bytes) -> bytes:
    """nonce + AES-GCM(plaintext, authenticated data = etcd key) + tag."""
    nonce = os.urandom(GCM_NONCE_SIZE)
    return nonce + AESGCM(secret).encrypt(nonce, plaintext, etcd_key)


def aesgcm_decrypt(payload: bytes, secret: bytes, etcd_key: bytes | None) -> bytes:
    if len(payload) < GCM_NONCE_SIZE + 16:
        raise DecryptError(f"cannot decrypt {len(payload)} bytes: too short (corrupt data)")
    nonce, sealed = payload[:GCM_NONCE_SIZE], payload[GCM_NONCE_SIZE:]
    try:
        return AESGCM(secret).decrypt(nonce, sealed, etcd_key or None)
    except InvalidTag:
        if etcd_key is None:
            raise DecryptError(
                "failed to authenticate: aesgcm authenticates the value's etcd key, "
                "which was not given"
            ) from None
        raise DecryptError(
            "failed to authenticate: wrong key, wrong etcd key or corrupt data"
        ) from None


def secretbox_encrypt(plaintext: bytes, secret: bytes) -> bytes:
    """nonce + NaCl secretbox(plaintext)."""
    return bytes(nacl.secret.SecretBox(secret).encrypt(plaintext))


def secretbox_decrypt(payload: bytes, secret: bytes) -> bytes:
    if len(payload) < SECRETBOX_NONCE_SIZE + nacl.secret.SecretBox.MACBYTES:
        raise DecryptError(f"cannot decrypt {len(payload)} bytes: too short (corrupt data)")
    box = nacl.secret.SecretBox(secret)
    try:
        return box.decrypt(payload[SECRETBOX_NONCE_SIZE:], payload[:SECRETBOX_NONCE_SIZE])
    except nacl.exceptions.CryptoError:
        raise DecryptError("failed to authenticate: wrong key or corrupt data") from None


def encrypt_value(
    plaintext: bytes, *, provider: str, key_name: str, secret: bytes, etcd_key: bytes = b""
) -> bytes:
    """The stored bytes kube-apiserver writes for ``plaintext`` with one local provider key.

    ``etcd_key`` is the authenticated data of ``aesgcm`` (ignored by the others).
    """
    prefix = f"k8s:enc:{provider}:v1:{key_name}:".encode()
    if provider == "aescbc":
        return prefix + aescbc_encrypt(plaintext, secret)
    if provider == "aesgcm":
        return prefix + aesgcm_encrypt(plaintext, secret, etcd_key)
    if provider == "secretbox":
        return prefix + secretbox_encrypt(plaintext, secret)
    raise ValueError(f"cannot encrypt with provider {provider!r}")


def kms_v1_value(provider_name: str, wrapped_dek: bytes, encrypted_data: bytes) -> bytes:
    """A KMS v1 stored value with the given parts (for tests and the demo: no KMS involved)."""
    header = f"k8s:enc:kms:v1:{provider_name}:".encode()
    return header + len(wrapped_dek).to_bytes(2, "big") + wrapped_dek + encrypted_data


def kms_v2_value(
    provider_name: str,
    key_id: str,
    wrapped_dek: bytes,
    encrypted_data: bytes,
    annotations: dict[str, bytes] | None = None,
    dek_source_type: int = 0,
) -> bytes:
    """A KMS v2 stored value (``EncryptedObject``) with the given parts (tests, demo)."""
    body = len_field(1, encrypted_data) + len_field(2, key_id.encode()) + len_field(3, wrapped_dek)
    for name, data in sorted((annotations or {}).items()):
        body += len_field(4, len_field(1, name.encode()) + len_field(2, data))
    if dek_source_type:
        body += varint_field(5, dek_source_type)
    return f"k8s:enc:kms:v2:{provider_name}:".encode() + body


# --- decrypting a stored value --------------------------------------------------------------


@dataclass(slots=True)
class DecryptResult:
    """Outcome of :func:`decrypt`: what is known, and the plaintext when it could be decrypted."""

    encryption: Encryption
    plaintext: bytes | None = None
    error: str | None = None  # set when decryption was attempted (or required) and failed


def decrypt(
    value: bytes, *, keyring: Keyring | None = None, etcd_key: bytes | None = None
) -> DecryptResult | None:
    """Decrypt a ``k8s:enc:`` value; None when ``value`` has no encryption header."""
    header = parse_header(value, keyring)
    if header is None:
        return None
    payload = value[header.size :]
    info = Encryption(provider=header.label, key_name=header.key_name, ciphertext_size=len(payload))
    if header.provider == "kms":
        info.reason = describe_kms(header, payload)
        return DecryptResult(info)
    what = f"{header.provider} key '{header.key_name}'"
    if header.provider not in LOCAL_PROVIDERS:
        info.reason = f"unknown encryption provider {header.provider!r}"
        return DecryptResult(info, error=info.reason)
    if keyring is None:
        info.reason = f"encrypted with {what}: give the encryption config to decrypt"
        return DecryptResult(info)
    candidates = keyring.candidates(value, etcd_key)
    if not candidates:
        info.reason = f"{keyring.source} has no {what} (it has: {keyring.describe()})"
        return DecryptResult(info, error=info.reason)
    failure = ""
    for entry in candidates:
        try:
            plaintext = _decrypt_payload(entry, payload, etcd_key)
        except DecryptError as exc:
            failure = f"{what} {exc}"
            continue
        if entry.provider == "aescbc" and not _looks_plain(plaintext):
            # CBC has no MAC: a wrong key passes the padding check 1 time in 256.
            failure = f"{what} decrypted to unreadable bytes: wrong key or corrupt data"
            continue
        info.decrypted = True
        return DecryptResult(info, plaintext)
    info.reason = failure
    return DecryptResult(info, error=failure)


def _decrypt_payload(entry: KeyEntry, payload: bytes, etcd_key: bytes | None) -> bytes:
    if entry.provider == "aescbc":
        return aescbc_decrypt(payload, entry.secret)
    if entry.provider == "aesgcm":
        return aesgcm_decrypt(payload, entry.secret, etcd_key)
    return secretbox_decrypt(payload, entry.secret)


def _looks_plain(plaintext: bytes) -> bool:
    """Whether decrypted bytes start like a stored Kubernetes value (protobuf, JSON, CBOR)."""
    return plaintext.startswith((b"k8s\x00", b"{", b"\xd9\xd9\xf7"))


_KMS_OFFLINE = (
    "cannot be decrypted offline: its data key is wrapped by an external KMS, "
    "which only the KMS plugin next to kube-apiserver can unwrap"
)


def describe_kms(header: EncryptedHeader, payload: bytes) -> str:
    """One line: what a KMS value says about itself, and why ketui cannot decrypt it."""
    if header.version == "v1":
        if len(payload) < 2 or int.from_bytes(payload[:2], "big") > len(payload) - 2:
            return f"KMS v1 provider '{header.key_name}', malformed value; {_KMS_OFFLINE}"
        dek_size = int.from_bytes(payload[:2], "big")
        data_size = len(payload) - 2 - dek_size
        return (
            f"KMS v1 provider '{header.key_name}' (wrapped DEK {dek_size} bytes, "
            f"encrypted data {data_size} bytes) {_KMS_OFFLINE}"
        )
    if header.version != "v2":
        return f"KMS {header.version} provider '{header.key_name}' {_KMS_OFFLINE}"
    try:
        fields = _parse_encrypted_object(payload)
    except WireError as exc:
        return f"KMS v2 provider '{header.key_name}', malformed EncryptedObject ({exc}); " + (
            _KMS_OFFLINE
        )
    details = [f"KMS key ID '{fields['key_id']}'"]
    details.append(f"wrapped DEK {fields['dek_size']} bytes")
    details.append(f"encrypted data {fields['data_size']} bytes")
    if fields["dek_type"]:
        details.append(f"DEK source {fields['dek_type']}")
    if fields["annotations"]:
        details.append("annotations " + ", ".join(fields["annotations"]))
    return f"KMS v2 provider '{header.key_name}' ({'; '.join(details)}) {_KMS_OFFLINE}"


def _parse_encrypted_object(payload: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "key_id": "",
        "dek_size": 0,
        "data_size": 0,
        "dek_type": "",
        "annotations": [],
    }
    for number, _wire, value in iter_fields(payload):
        if number == 1 and isinstance(value, bytes):
            fields["data_size"] = len(value)
        elif number == 2 and isinstance(value, bytes):
            fields["key_id"] = value.decode("utf-8", "replace")
        elif number == 3 and isinstance(value, bytes):
            fields["dek_size"] = len(value)
        elif number == 4 and isinstance(value, bytes):
            for n, _w, v in iter_fields(value):
                if n == 1 and isinstance(v, bytes):
                    fields["annotations"].append(v.decode("utf-8", "replace"))
        elif number == 5 and isinstance(value, int):
            fields["dek_type"] = _DEK_SOURCE_TYPES.get(value, str(value))
    return fields
