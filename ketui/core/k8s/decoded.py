"""The typed result of decoding one etcd value (see :func:`ketui.core.k8s.decode.decode_value`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Family(enum.Enum):
    """What kind of bytes a value is."""

    PROTOBUF = "protobuf"  # k8s\x00 + runtime.Unknown envelope
    JSON = "json"  # custom resources, very old clusters
    CBOR = "cbor"  # custom resources in newer releases (self-described CBOR, d9 d9 f7)
    ENCRYPTED = "encrypted"  # k8s:enc:<provider>:v1:<key>:...
    TEXT = "text"  # valid UTF-8 that is none of the above
    BINARY = "binary"  # anything else


@dataclass(slots=True)
class Encryption:
    """What is known about a value encrypted at rest."""

    provider: str  # aescbc, aesgcm, secretbox, kms (kms v1), kms-v2 ...
    key_name: str
    ciphertext_size: int
    decrypted: bool = False
    reason: str | None = None  # why it was not decrypted


@dataclass(frozen=True, slots=True)
class DroppedField:
    """A field on the wire that the release view does not print (an older or newer release has
    it): where it would be, its value as that release prints it, and the releases that have it."""

    path: str  # kubectl's spelling: metadata.clusterName, spec.containers[0].x
    value: Any
    releases: str  # "1.17-1.24", "1.37+"


@dataclass(slots=True)
class Decoded:
    """One decoded value.

    ``obj`` is the object as Kubernetes prints it (an insertion-ordered dict in Go field order,
    ready for :mod:`ketui.core.k8s.render`), or ``None`` when the value is not a Kubernetes object
    (text, binary, undecryptable). ``schemaless`` is True when the kind was unknown and ``obj`` is
    the raw protobuf structure (field numbers as keys) rather than Kubernetes JSON.
    """

    family: Family
    size: int
    api_version: str | None = None
    kind: str | None = None
    obj: Any = None
    content_type: str | None = None
    message: str | None = None  # protobuf message name used, when one was
    schemaless: bool = False
    encryption: Encryption | None = None
    text: str | None = None  # TEXT family: the text
    error: str | None = None  # one-line reason when decoding failed (never raised)
    warnings: list[str] = field(default_factory=list)
    kube_version: str | None = None  # the release view used, e.g. "1.29"; None for newest
    view: str | None = None  # the name of the release view used ("1.36"), protobuf values only
    dropped: list[DroppedField] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None
