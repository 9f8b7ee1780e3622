"""A hostile corpus (issue 9): keys and stored strings that try to drive the reader's terminal.

Every sequence of :data:`SEQUENCES` stands in a key and in the string fields someone else writes
(annotations, labels, ConfigMap data, an Event's message, a custom resource in JSON and in CBOR,
the key name of an encryption prefix, a plain text value); the tests write the corpus into a
dump, a snapshot made by ``etcdctl snapshot save`` and a live etcd, then read every output.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

import cbor2

from ketui.core.k8s.encryption import encrypt_value
from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.safe_text import UNSAFE

#: name -> a sequence no output may contain as it is.
SEQUENCES: dict[str, str] = {
    "title": "\x1b]0;PWNED\x07",  # set the window title
    "clear": "\x1b[2J",  # clear the screen
    "osc52": "\x1b]52;c;aGVsbG8=\x07",  # write the clipboard
    "c1-csi": "\u009b2J",  # the one-character CSI (UTF-8 c2 9b)
    "cr": "\roverwrite",
    "del": "x\x7fy",
    "nel": "a\u0085b",
    "rlo": "abc\u202egpj.exe",  # right-to-left override: reads "exe.jpg"
    "isolates": "\u2066x\u2069",
    "zero-width": "de\u200bfault",  # looks like "default"
    "zwj": "a\u200db",
    "bom": "\ufeffname",
}
#: A key part that is not UTF-8: a single-byte CSI and a stray continuation byte.
NOT_UTF8 = b"\x9b[2J\xff"
AESCBC_SECRET = bytes(range(32))


@dataclass(frozen=True)
class Entry:
    key: bytes
    value: bytes


def _all(joiner: str = " ") -> str:
    return joiner.join(SEQUENCES.values())


def configmap(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"app": "evil"},
            "annotations": {f"note-{label}": text for label, text in SEQUENCES.items()},
        },
        "data": {f"k{i}": text for i, text in enumerate(SEQUENCES.values())}
        | {"all": _all(), "multi": _all("\n")},
    }


def event(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": _all("")},
        "reason": "Evil" + SEQUENCES["title"],
        "message": "Back-off " + _all(),
        "type": "Warning",
        "count": 3,
    }


def custom_resource(name: str) -> dict[str, object]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {label: text for label, text in SEQUENCES.items()},
    }


def entries() -> list[Entry]:
    """The corpus: one entry per sequence in each kind of value, plus the odd ones."""
    out: list[Entry] = []
    for label, text in SEQUENCES.items():
        name = f"evil-{label}{text}"
        key = f"/registry/configmaps/default/{name}".encode()
        out.append(Entry(key, encode_object(configmap(name))))
    out.append(Entry(b"/registry/events/default/evil.1", encode_object(event("evil.1"))))
    cr = custom_resource("widget" + SEQUENCES["rlo"])
    out.append(Entry(b"/registry/example.com/widgets/default/json" + SEQUENCES["clear"].encode(),
                     json.dumps(cr).encode()))  # fmt: skip
    cbor = b"\xd9\xd9\xf7" + cbor2.dumps(custom_resource("cbor" + SEQUENCES["osc52"]))
    out.append(Entry(b"/registry/example.com/widgets/default/cbor", cbor))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "enc", "namespace":
              "default"}, "data": {"pw": "aHVudGVyMg=="}}  # fmt: skip
    encrypted = encrypt_value(
        encode_object(secret), provider="aescbc", key_name="k" + SEQUENCES["title"],
        secret=AESCBC_SECRET,
    )  # fmt: skip
    out.append(Entry(b"/registry/secrets/default/enc", encrypted))
    out.append(Entry(b"/registry/raw/text" + SEQUENCES["zero-width"].encode(),
                     ("plain text " + SEQUENCES["rlo"] + SEQUENCES["nel"]).encode()))  # fmt: skip
    out.append(Entry(b"/registry/configmaps/default/bytes-" + NOT_UTF8, b"\x00binary\x9b[2J"))
    return out


def encryption_config() -> dict[str, object]:
    """The EncryptionConfiguration of the corpus's aescbc key, whose name holds a title sequence."""
    secret = base64.b64encode(AESCBC_SECRET).decode()
    name = "k" + SEQUENCES["title"]
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [
            {
                "resources": ["secrets"],
                "providers": [{"aescbc": {"keys": [{"name": name, "secret": secret}]}}],
            }
        ],
    }


_SGR = re.compile(r"\x1b\[[0-9;:]*m")


def unsafe_in(data: bytes | str, *, terminal_styles: bool = False) -> list[str]:
    """The unsafe characters in ``data`` (an output), as escapes; ``terminal_styles``: the SGR
    colour sequences of a captured terminal screen are the terminal's own, not content."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    if terminal_styles:
        text = _SGR.sub("", text)
    found = {match.group() for match in UNSAFE.finditer(text)}
    return sorted(f"U+{ord(char):04X}" for char in found)
