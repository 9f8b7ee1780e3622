"""``ketui decode``: decode a value as ``etcdctl get KEY --print-value-only`` prints it, or a whole
``etcdctl get ... -w json`` document, and print the object(s) as kubectl would.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ketui.cli import output
from ketui.cli.view_options import add_view_arguments, decoder_from_args
from ketui.core.k8s.decoded import Decoded
from ketui.core.k8s.releases import DEFAULT_MANIFESTS
from ketui.core.k8s.render import to_json, to_yaml
from ketui.core.k8s.secrets import is_secret
from ketui.core.k8s.shown import Decoder, dropped_note, shown_object, why_not_decoded

DESCRIPTION = """\
Decode etcd values written by kube-apiserver (protobuf, JSON, CBOR, encrypted at rest) and print
them as `kubectl get -o yaml|json` does. Input (FILE, or standard input when FILE is - or
missing) is either one raw value, as `etcdctl get KEY --print-value-only` prints it (its trailing
newline is tolerated), or a whole `etcdctl get ... -w json` document, whose values are decoded in
order: YAML documents separated by ---, or one JSON list. Secret values are masked unless
--show-secrets is given.
"""


class _Failure(Exception):
    """A one-line reason to stop with exit status 1."""


@dataclass(slots=True)
class _Options:
    decoder: Decoder
    show_secrets: bool

    def why_not(self, decoded: Decoded, key: bytes | None) -> str:
        """One line: why this value gave no object (the options that would help)."""
        keyring_given = self.decoder.keyring is not None
        return why_not_decoded(decoded, keyring_given=keyring_given, key_given=key is not None)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ketui decode``."""
    parser = subparsers.add_parser(
        "decode",
        help="decode an etcd value or an `etcdctl get -w json` document",
        description=DESCRIPTION,
    )
    parser.add_argument("file", nargs="?", default="-", metavar="FILE|-", help="input (default -)")
    parser.add_argument(
        "-o", "--output", choices=("yaml", "json"), default="yaml", help="output format (yaml)"
    )
    parser.add_argument(
        "--key",
        metavar="KEY",
        help="the value's etcd key (needed to decrypt aesgcm; -w json documents carry their keys)",
    )
    add_view_arguments(parser)
    parser.add_argument(
        "--show-secrets", action="store_true", help="print Secret values instead of masking them"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except _Failure as exc:
        output.note(str(exc))
        return 1


def _run(args: argparse.Namespace) -> int:
    data = _read_input(args.file)
    try:
        decoder = decoder_from_args(args, detect_in=Path(DEFAULT_MANIFESTS))
    except ValueError as exc:
        raise _Failure(str(exc)) from None
    options = _Options(decoder, args.show_secrets)
    documents = _etcdctl_json_kvs(data)
    if documents is None:
        key = args.key.encode("utf-8", "surrogateescape") if args.key else None
        decoded = _decode_single(data, key, options)
        objects = [shown_object(decoded, revision=None, reveal=options.show_secrets)]
        failed = False
    else:
        objects, failed = _decode_document(documents, options)
    if any(is_secret(obj) for obj in objects) and not options.show_secrets:
        output.note("Secret values are masked; --show-secrets reveals them")
    if args.output == "json":
        text = to_json(objects[0] if documents is None else objects)
        output.text(text)
    else:
        output.text("---\n".join(_ensure_newline(to_yaml(obj)) for obj in objects))
    return 1 if failed else 0


def _ensure_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _read_input(name: str) -> bytes:
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise _Failure(f"cannot read {name}: {exc.strerror or exc}") from None
    if not data:
        raise _Failure("empty input: nothing to decode")
    return data




def _etcdctl_json_kvs(data: bytes) -> list[tuple[bytes, bytes | None]] | None:
    """(key, value) pairs of an ``etcdctl get -w json`` document, or None for other input."""
    stripped = data.strip()
    if not stripped.startswith(b"{"):
        return None
    try:
        doc = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or "kind" in doc or not ({"header", "kvs"} & doc.keys()):
        return None
    kvs = doc.get("kvs") or []
    if not isinstance(kvs, list):
        raise _Failure("etcdctl JSON document: 'kvs' is not a list")
    pairs: list[tuple[bytes, bytes | None]] = []
    for i, kv in enumerate(kvs):
        try:
            key = base64.b64decode(kv["key"], validate=True)
            value = base64.b64decode(kv["value"], validate=True) if "value" in kv else None
        except (TypeError, KeyError, binascii.Error, ValueError):
            raise _Failure(f"etcdctl JSON document: kvs[{i}] has no valid base64 key") from None
        pairs.append((key, value))
    return pairs


def _decode_single(data: bytes, key: bytes | None, options: _Options) -> Decoded:
    """Decode one raw value as etcdctl prints it.

    ``--print-value-only`` adds a newline after the value; plain ``etcdctl get KEY`` prints the
    key on a line of its own first. Both are recognised when the input as given gives no object.
    """
    decoded = _decode_printed(data, key, options)
    if not _usable(decoded) and data.startswith(b"/") and b"\n" in data:
        key_line, value = data.split(b"\n", 1)
        with_key = _decode_printed(value, key or key_line, options)
        if _usable(with_key):
            name = key_line.decode("utf-8", "replace")
            output.note(f"input is `etcdctl get` output: decoding the value of {name}")
            decoded, key = with_key, key or key_line
    for warning in decoded.warnings:
        output.note(f"warning: {warning}")
    if decoded.obj is None or decoded.error is not None:
        raise _Failure(options.why_not(decoded, key))
    dropped = dropped_note(decoded)
    if dropped:
        output.note(dropped)
    return decoded


def _decode_printed(data: bytes, key: bytes | None, options: _Options) -> Decoded:
    """Decode ``data``, or ``data`` without its last newline when only that works."""
    decoded = options.decoder.value(data, key)
    if data.endswith(b"\n") and not _usable(decoded):
        trimmed = options.decoder.value(data[:-1], key)
        if trimmed.error is None:
            return trimmed
    return decoded


def _usable(decoded: Decoded) -> bool:
    return decoded.error is None and decoded.obj is not None


def _decode_document(
    pairs: list[tuple[bytes, bytes | None]], options: _Options
) -> tuple[list[Any], bool]:
    """Decode every kv, reporting those that give no object on stderr: (objects, failed)."""
    objects: list[Any] = []
    failed = False
    for key, value in pairs:
        name = key.decode("utf-8", "replace")
        if value is None:
            output.note(f"{name}: no value in the document (keys only?)")
            failed = True
            continue
        decoded = options.decoder.value(value, key)
        for warning in decoded.warnings:
            output.note(f"{name}: warning: {warning}")
        dropped = dropped_note(decoded)
        if dropped:
            output.note(f"{name}: {dropped}")
        if decoded.obj is None or decoded.error is not None:
            output.note(f"{name}: {options.why_not(decoded, key)}")
            failed = failed or decoded.error is not None
            continue
        objects.append(shown_object(decoded, revision=None, reveal=options.show_secrets))
    return objects, failed
