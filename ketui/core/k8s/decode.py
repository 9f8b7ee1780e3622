"""Turn one etcd value into a :class:`~ketui.core.k8s.decoded.Decoded`: the entry point of decoding.

Values come in a few families, recognised by their first bytes:

- ``k8s:enc:<provider>:...``: encrypted at rest (:mod:`ketui.core.k8s.encryption`); the plaintext is
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
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ketui.core.k8s.cbor import cbor_to_json
from ketui.core.k8s.decoded import Decoded, DroppedField, Family
from ketui.core.k8s.encryption import ENCRYPTED_PREFIX, decrypt
from ketui.core.k8s.objdiff import diff_objects
from ketui.core.k8s.protobuf.decode import decode_object
from ketui.core.k8s.protobuf.schema import message_for_kind, raw_message, release_span, view_for
from ketui.core.k8s.protobuf.schemaless import decode_raw
from ketui.core.k8s.releases import normalize_kube_version
from ketui.core.pbwire import MAGIC as PROTOBUF_MAGIC
from ketui.core.pbwire import Envelope, WireError, parse_envelope

if TYPE_CHECKING:
    from ketui.core.k8s.encryption import Keyring

CBOR_MAGIC = b"\xd9\xd9\xf7"
PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
JSON_CONTENT_TYPE = "application/json"
CBOR_CONTENT_TYPE = "application/cbor"
_JSON_START_WHITESPACE = b" \t\r\n"
# Valid UTF-8 is shown as text unless it holds control characters other than tab, CR, LF, form
# feed and escape: a value like etcd's 8-byte compact_rev_key (NUL bytes) reads better as hex.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


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
        decoded = _decode(data, key, normalize_kube_version(kube_version), keyring, nested=False)
    except Exception as exc:  # noqa: BLE001 - the decoder's contract: never raise
        size = len(value) if isinstance(value, (bytes, bytearray, memoryview)) else 0
        reason = _one_line(str(exc)) or type(exc).__name__
        return Decoded(family=_family_by_magic(value), size=size, error=reason)
    return _printable_messages(decoded)


# C0 and C1 control characters: a terminal would act on them (escape sequences).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f]")


def _one_line(text: str) -> str:
    """``text`` on one line, control characters shown as ``\\xNN``.

    Messages quote bytes of the value (the key name of an encryption header, a kind from the
    envelope), so a crafted value could otherwise break lines or send escape sequences.
    """
    text = " ".join(text.split())
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _printable_messages(decoded: Decoded) -> Decoded:
    if decoded.error is not None:
        decoded.error = _one_line(decoded.error) or "undecodable value"
    decoded.warnings = [_one_line(w) for w in decoded.warnings]
    if decoded.encryption is not None and decoded.encryption.reason:
        decoded.encryption.reason = _one_line(decoded.encryption.reason)
    return decoded


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
    if result.plaintext is None:
        return Decoded(
            family=Family.ENCRYPTED,
            size=len(value),
            encryption=result.encryption,
            error=result.error,
        )
    inner = _decode(result.plaintext, key, kube_version, None, nested=True)
    # what the plaintext decoded to, under the encrypted value's family, size and encryption
    decoded = replace(inner, family=Family.ENCRYPTED, size=len(value), encryption=result.encryption)
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
    view = view_for(kube_version)
    decoded.view = view.name
    dropped: list[tuple[int, int]] = []
    try:
        obj = decode_object(
            envelope.api_version, envelope.kind, envelope.raw, view, dropped=dropped
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
    if dropped:
        decoded.dropped = _dropped_fields(envelope, obj, kube_version, dropped)
    return decoded


def _dropped_fields(
    envelope: Envelope, shown: dict[str, Any], kube_version: str | None,
    dropped: list[tuple[int, int]],
) -> list[DroppedField]:  # fmt: skip
    """What the view left out, found by decoding once more with the fields it drops (only values
    that have some: objects written by another release)."""
    full = decode_object(
        envelope.api_version, envelope.kind, envelope.raw,
        view_for(kube_version, wire_extras=True),
    )  # fmt: skip
    spans: dict[str, str] = {}
    for index, number in dropped:
        name = next(f.json for f in raw_message(index).fields if f.number == number)
        spans.setdefault(name, release_span(index, number))
    out = []
    for change in diff_objects(shown, full):
        if change.added:
            name = change.path.rsplit(".", 1)[-1].split("[", 1)[0].strip('"')
            out.append(DroppedField(change.path, change.new, spans.get(name, "other releases")))
    return out


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
        decoded.error = _TOO_DEEP
        return decoded
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        decoded.error = f"malformed JSON: {' '.join(str(exc).split())}"
        return decoded
    if _nested_deeper_than(value, obj, MAX_JSON_DEPTH):
        decoded.error = _TOO_DEEP
        return decoded
    return _with_type_meta(decoded, obj)


# json.loads stops at Python's recursion limit *from where it is called*, and the renderers
# recurse once per level too: an object that decodes close to the limit would fail to render
# from a deeper stack (the TUI's). A fixed limit, far below, makes both deterministic.
MAX_JSON_DEPTH = 512
_TOO_DEEP = f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels): not shown"


def _nested_deeper_than(text: bytes, obj: Any, limit: int) -> bool:
    if text.count(b"{") + text.count(b"[") <= limit:  # C-speed answer for most values
        return False
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _with_type_meta(decoded: Decoded, obj: Any) -> Decoded:
    decoded.obj = obj
    if isinstance(obj, dict):
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        decoded.kind = kind if isinstance(kind, str) and kind else None
        decoded.api_version = api_version if isinstance(api_version, str) and api_version else None
    return decoded
