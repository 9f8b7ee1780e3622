"""Turn one etcd value into a :class:`~ketui.core.decoded.Decoded`: the entry point of decoding.

Values come in a few families, recognised by their first bytes:

- ``k8s:enc:<provider>:...``: encrypted at rest (:mod:`ketui.core.encryption`); the plaintext is
  again one of the other families and is decoded when a keyring can decrypt it;
- ``k8s\\x00``: protobuf, a ``runtime.Unknown`` envelope around the object's message;
- ``d9 d9 f7``: self-described CBOR (custom resources in newer releases);
- ``{`` (after optional whitespace): JSON (custom resources, very old clusters);
- anything else: UTF-8 text, or binary.

:func:`decode_value` never raises: every failure becomes ``Decoded.error``, one line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ketui.core.cbor_json import cbor_to_json
from ketui.core.decoded import Decoded, Family
from ketui.core.encryption import ENCRYPTED_PREFIX, decrypt
from ketui.core.kubeversion import normalize_kube_version
from ketui.core.pbwire import LEN, WireError, iter_fields
from ketui.core.proto_decode import decode_object
from ketui.core.rawproto import decode_raw
from ketui.core.schema import message_for_kind, view_for

if TYPE_CHECKING:
    from ketui.core.encryption import Keyring

PROTOBUF_MAGIC = b"k8s\x00"
CBOR_MAGIC = b"\xd9\xd9\xf7"
PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
JSON_CONTENT_TYPE = "application/json"
CBOR_CONTENT_TYPE = "application/cbor"
_JSON_START_WHITESPACE = b" \t\r\n"
# Valid UTF-8 is shown as text unless it holds control characters other than tab, CR, LF, form
# feed and escape: a value like etcd's 8-byte compact_rev_key (NUL bytes) reads better as hex.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Envelope:
    """The ``runtime.Unknown`` envelope of a protobuf value."""

    api_version: str
    kind: str
    raw: bytes
    content_encoding: str
    content_type: str


def parse_envelope(value: bytes) -> Envelope:
    """Parse ``k8s\\x00`` + ``runtime.Unknown``; raises :class:`~ketui.core.pbwire.WireError`.

    Fields: 1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType. A scalar
    seen twice keeps the last value and typeMeta seen twice merges, as Go's unmarshaller does.
    """
    if not value.startswith(PROTOBUF_MAGIC):
        raise WireError("missing the k8s\\x00 magic")
    strings = {"apiVersion": "", "kind": "", "contentEncoding": "", "contentType": ""}
    raw = b""
    for number, wire_type, data in iter_fields(value, len(PROTOBUF_MAGIC)):
        if wire_type != LEN or not isinstance(data, bytes):
            continue  # unknown or mistyped field: skipped, as Go does
        if number == 1:
            for sub_number, sub_wire, sub in iter_fields(data):
                if sub_wire == LEN and isinstance(sub, bytes) and sub_number in (1, 2):
                    strings["apiVersion" if sub_number == 1 else "kind"] = _text(sub)
        elif number == 2:
            raw = data
        elif number == 3:
            strings["contentEncoding"] = _text(data)
        elif number == 4:
            strings["contentType"] = _text(data)
    return Envelope(
        strings["apiVersion"],
        strings["kind"],
        raw,
        strings["contentEncoding"],
        strings["contentType"],
    )


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def decode_value(
    value: bytes,
    *,
    key: bytes | None = None,
    kube_version: str | None = None,
    keyring: Keyring | None = None,
) -> Decoded:
    """Decode one stored value. Never raises.

    ``key`` is the value's etcd key: the authenticated data of ``aesgcm`` and a hint for choosing
    keys; ``kube_version`` picks the release view ("1.29", "v1.29.3"; None or "master" = newest);
    ``keyring`` (from the EncryptionConfiguration) decrypts ``k8s:enc:`` values.
    """
    try:
        data = bytes(value)
        return _decode(data, key, normalize_kube_version(kube_version), keyring, nested=False)
    except Exception as exc:  # noqa: BLE001 - the decoder's contract: never raise
        size = len(value) if isinstance(value, (bytes, bytearray, memoryview)) else 0
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return Decoded(family=_family_by_magic(value), size=size, error=reason)


def _family_by_magic(value: Any) -> Family:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        return Family.BINARY
    data = bytes(value[:8])
    if data.startswith(ENCRYPTED_PREFIX):
        return Family.ENCRYPTED
    if data.startswith(PROTOBUF_MAGIC):
        return Family.PROTOBUF
    if data.startswith(CBOR_MAGIC):
        return Family.CBOR
    return Family.BINARY


def _decode(
    value: bytes, key: bytes | None, kube_version: str | None, keyring: Keyring | None, nested: bool
) -> Decoded:
    if value.startswith(ENCRYPTED_PREFIX):
        if nested:
            return Decoded(
                family=Family.ENCRYPTED, size=len(value), error="decrypted value is encrypted again"
            )
        return _decode_encrypted(value, key, kube_version, keyring)
    if value.startswith(PROTOBUF_MAGIC):
        return _decode_protobuf(value, kube_version)
    if value.startswith(CBOR_MAGIC):
        return _decode_cbor(value)
    if value.lstrip(_JSON_START_WHITESPACE).startswith(b"{"):
        return _decode_json(value)
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return Decoded(family=Family.BINARY, size=len(value))
    if _CONTROL.search(text):
        return Decoded(family=Family.BINARY, size=len(value))
    return Decoded(family=Family.TEXT, size=len(value), text=text)


def _decode_encrypted(
    value: bytes, key: bytes | None, kube_version: str | None, keyring: Keyring | None
) -> Decoded:
    result = decrypt(value, keyring=keyring, etcd_key=key)
    if result is None:  # "k8s:enc:" without a complete header
        return Decoded(
            family=Family.ENCRYPTED,
            size=len(value),
            error="malformed encryption header: expected k8s:enc:<provider>:<version>:<name>:",
        )
    decoded = Decoded(family=Family.ENCRYPTED, size=len(value), encryption=result.encryption)
    if result.plaintext is None:
        decoded.error = result.error
        return decoded
    inner = _decode(result.plaintext, key, kube_version, None, nested=True)
    decoded.api_version = inner.api_version
    decoded.kind = inner.kind
    decoded.obj = inner.obj
    decoded.content_type = inner.content_type
    decoded.message = inner.message
    decoded.schemaless = inner.schemaless
    decoded.text = inner.text
    decoded.error = inner.error
    decoded.warnings = inner.warnings
    decoded.kube_version = inner.kube_version
    if inner.family in (Family.TEXT, Family.BINARY):
        decoded.warnings.append(f"the decrypted value is {inner.family.value}, not an object")
    return decoded


def _decode_protobuf(value: bytes, kube_version: str | None) -> Decoded:
    decoded = Decoded(
        family=Family.PROTOBUF,
        size=len(value),
        content_type=PROTOBUF_CONTENT_TYPE,
        kube_version=kube_version,
    )
    try:
        envelope = parse_envelope(value)
    except WireError as exc:
        decoded.error = f"malformed protobuf envelope: {exc}"
        return decoded
    decoded.api_version = envelope.api_version or None
    decoded.kind = envelope.kind or None
    if envelope.content_type:
        decoded.content_type = envelope.content_type
    if envelope.content_encoding:
        decoded.error = f"unsupported content encoding {envelope.content_encoding!r}"
        return decoded
    if not envelope.kind:
        decoded.warnings.append("the envelope names no kind: showing raw protobuf fields")
        return _schemaless(decoded, envelope.raw)
    try:
        obj = decode_object(
            envelope.api_version, envelope.kind, envelope.raw, view_for(kube_version)
        )
    except (ValueError, RecursionError) as exc:
        decoded.error = f"malformed {envelope.kind} protobuf: {' '.join(str(exc).split())}"
        return _schemaless(decoded, envelope.raw)
    if obj is None:
        decoded.warnings.append(
            f"apiVersion {envelope.api_version} kind {envelope.kind} is not in ketui's schema: "
            "showing raw protobuf fields"
        )
        return _schemaless(decoded, envelope.raw)
    decoded.obj = obj
    decoded.message = message_for_kind(envelope.api_version, envelope.kind)
    return decoded


def _schemaless(decoded: Decoded, raw: bytes) -> Decoded:
    decoded.obj = decode_raw(raw)
    decoded.schemaless = True
    return decoded


def _decode_cbor(value: bytes) -> Decoded:
    decoded = Decoded(family=Family.CBOR, size=len(value), content_type=CBOR_CONTENT_TYPE)
    try:
        obj = cbor_to_json(value)
    except ValueError as exc:
        decoded.error = f"malformed CBOR: {' '.join(str(exc).split())}"
        return decoded
    return _with_type_meta(decoded, obj)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode_json(value: bytes) -> Decoded:
    decoded = Decoded(family=Family.JSON, size=len(value), content_type=JSON_CONTENT_TYPE)
    try:
        obj = json.loads(value, parse_constant=_reject_constant)
    except RecursionError:
        decoded.error = "malformed JSON: nested too deeply"
        return decoded
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        decoded.error = f"malformed JSON: {' '.join(str(exc).split())}"
        return decoded
    return _with_type_meta(decoded, obj)


def _with_type_meta(decoded: Decoded, obj: Any) -> Decoded:
    decoded.obj = obj
    if isinstance(obj, dict):
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        decoded.kind = kind if isinstance(kind, str) and kind else None
        decoded.api_version = api_version if isinstance(api_version, str) and api_version else None
    return decoded
