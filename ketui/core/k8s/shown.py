"""What ketui shows for a stored value: the one answer for the CLI and the TUI alike.

``ketui get`` and the TUI's value viewer print the object as ``kubectl get`` shows it:
``metadata.resourceVersion`` filled from the key's ``mod_revision`` (kube-apiserver does that when
it reads; the stored bytes carry none), ``metadata.managedFields`` left out until asked for (as
kubectl does since 1.21) and Secret values masked until the user asks for them. ``ketui decode``
and ``export`` show the stored object without the resourceVersion (:func:`shown_object` with no
revision) and keep managedFields (decode prints what is stored; export drops them itself). A
value that gives no object is explained in one line that names the option that would help
(:func:`why_not_decoded`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ketui.core.k8s.decode import decode_value
from ketui.core.k8s.decoded import Decoded, Family
from ketui.core.k8s.encryption import LOCAL_PROVIDERS, Keyring
from ketui.core.k8s.render import hexdump, to_json, to_yaml
from ketui.core.k8s.secrets import is_secret, mask_secret
from ketui.core.k8s.served import with_resource_version, without_managed_fields
from ketui.core.source import KeyValue


@dataclass(frozen=True, slots=True)
class Decoder:
    """Decodes values with one session's release view (``None``: the newest) and keyring."""

    kube_version: str | None = None
    keyring: Keyring | None = None

    def __call__(self, kv: KeyValue) -> Decoded:
        return self.value(kv.value, kv.key)

    def value(self, value: bytes, key: bytes | None) -> Decoded:
        """Decode bytes that may not come with a key (``ketui decode`` of a raw value)."""
        return decode_value(value, key=key, kube_version=self.kube_version, keyring=self.keyring)


def is_object(decoded: Decoded) -> bool:
    """Whether ``decoded`` is a Kubernetes object (not a schemaless view of unknown protobuf)."""
    return isinstance(decoded.obj, dict) and not decoded.schemaless


def is_masked(decoded: Decoded, *, reveal: bool) -> bool:
    """Whether :func:`shown_object` hides Secret values of ``decoded``."""
    return not reveal and is_object(decoded) and is_secret(decoded.obj)


def shown_object(
    decoded: Decoded, *, revision: int | None, reveal: bool, managed_fields: bool = True
) -> Any:
    """The object to print: ``metadata.resourceVersion`` set to ``revision`` (``None``: the stored
    object as it is), ``metadata.managedFields`` only if ``managed_fields``, and Secret values
    masked unless ``reveal``. The input is not modified."""
    obj = decoded.obj
    if not is_object(decoded):
        return obj
    if revision is not None:
        obj = with_resource_version(obj, revision)
    if not managed_fields:
        obj = without_managed_fields(obj)
    if is_masked(decoded, reveal=reveal):
        obj = mask_secret(obj)
    return obj


def why_not_decoded(decoded: Decoded, *, keyring_given: bool, key_given: bool = True) -> str:
    """One line: why ``decoded`` gave no object, and which option would help."""
    encryption = decoded.encryption
    if encryption is not None and not encryption.decrypted:
        reason = encryption.reason or decoded.error or f"encrypted with {encryption.provider}"
        if not keyring_given and encryption.provider in LOCAL_PROVIDERS:
            return f"{reason} (--encryption-config FILE)"
        if encryption.provider == "aesgcm" and keyring_given and not key_given:
            return f"{reason} (--key KEY)"
        return reason
    if decoded.error is not None:
        return decoded.error
    if decoded.family is Family.TEXT:
        return f"not a Kubernetes object: {decoded.size} bytes of text"
    return f"not a Kubernetes object: {decoded.size} bytes of binary data"


def dropped_note(decoded: Decoded, *, most: int = 3) -> str | None:
    """One line naming the stored fields the release view does not print, or None: ``1 stored
    field that 1.36 drops: metadata.clusterName (known to 1.17-1.24)``."""
    fields = decoded.dropped
    if not fields:
        return None
    named = ", ".join(f"{f.path} (known to {f.releases})" for f in fields[:most])
    more = f" and {len(fields) - most} more" if len(fields) > most else ""
    what = "1 stored field" if len(fields) == 1 else f"{len(fields)} stored fields"
    return f"{what} that {decoded.view} drops: {named}{more}"


def raw_text(value: bytes) -> str:
    """The value as text when it is printable UTF-8, else a hex dump."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return hexdump(value)
    if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text):
        return hexdump(value)
    return text


#: The viewer's text tabs: :func:`shown_text` renders one of these.
TEXT_VIEWS = ("yaml", "json", "raw")

SECRET_RAW_NOTE = "(value not shown: secret; press x to reveal)"


def shown_text(
    kv: KeyValue,
    decoded: Decoded,
    view: str,
    *,
    reveal: bool,
    keyring_given: bool,
    managed_fields: bool = False,
    first_lines: Callable[[str], None] | None = None,
) -> str:
    """One text tab of the viewer: ``"yaml"`` and ``"json"`` as ``ketui get`` prints the object
    (a note where there is no object; managedFields only if ``managed_fields``), ``"raw"`` the
    stored bytes (masked for a Secret).

    A megabyte object takes about a third of a second as YAML and twice that as JSON: call this
    in a thread. ``first_lines`` gets the first lines of the YAML as soon as they are written.
    """
    if view == "raw":
        return SECRET_RAW_NOTE if is_masked(decoded, reveal=reveal) else raw_text(kv.value)
    if decoded.obj is None:
        if decoded.text is not None:
            return decoded.text
        return "# " + why_not_decoded(decoded, keyring_given=keyring_given)
    obj = shown_object(
        decoded, revision=kv.mod_revision, reveal=reveal, managed_fields=managed_fields
    )
    if view == "yaml":
        return to_yaml(obj, first_lines=first_lines)
    if view == "json":
        return to_json(obj)
    raise ValueError(f"unknown view {view!r} (expected one of: {', '.join(TEXT_VIEWS)})")
