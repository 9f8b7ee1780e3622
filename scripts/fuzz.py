#!/usr/bin/env python3
"""Fuzz ketui's value decoder: generated and mutated etcd values through every decoding layer.

Usage (from the repository root)::

    .venv/bin/python scripts/fuzz.py                       # 1,000,000 inputs, 2 workers
    .venv/bin/python scripts/fuzz.py --count 20000 --seed 7
    .venv/bin/python scripts/fuzz.py --reproduce 7:13:412  # seed:chunk:index -> hex + traceback

Seeds are real storage values: the upstream round-trip fixtures (``.pb`` of every release, and
``encode_object`` of the master ``.json``), the hand-built values of ``tests/k8s_values.py``, the
fixtures' JSON as custom-resource-style JSON values, the same objects as self-described CBOR,
and all of those encrypted with ``aescbc``, ``aesgcm`` and ``secretbox`` (plus KMS v1/v2
envelopes). Inputs are mutated seeds (bit flips, byte insert/delete, truncation, giant length
prefixes, over-long varints, wrong wire types, invalid UTF-8, duplicated and spliced slices),
either on the whole value or inside a re-built envelope / re-encrypted plaintext so that the
inner decoders see them, and generated values (random protobuf, 10k-deep nesting in protobuf,
JSON and CBOR, encryption headers with garbage).

Per input, the layers and what they may do:

- ``decode.decode_value`` (with a keyring and the etcd key): never raises, one-line error;
- ``render.to_json`` of the decoded object: never raises (it is what every view prints);
- ``protobuf.decode.decode_object`` for the envelope's kind: ``None`` or ``ValueError`` only;
- ``schemaless.decode_raw``: never raises;
- ``cbor_json.cbor_to_json``: ``ValueError`` only;
- ``encryption.decrypt`` with the keyring: never raises.

An input taking more than ``--slow`` seconds of CPU (all layers) is a finding ("slow"); a worker
alarm stops an input after ``--hang`` seconds, and the parent gives up on a chunk that does not
come back (a hang in C code). Memory: every ``--mem-every``-th input runs again under
``tracemalloc`` and its peak is checked against a bound; each worker's peak RSS is reported.
Chunks are deterministic (``seed``, chunk number), so any finding can be reproduced from its id.
Exit code 1 when anything was found.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import random
import re
import resource
import signal
import sys
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import cbor2  # noqa: E402
from cryptography.hazmat.primitives import padding  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from nacl.secret import SecretBox  # noqa: E402

from ketui.core.k8s import render  # noqa: E402
from ketui.core.k8s.cbor import cbor_to_json  # noqa: E402
from ketui.core.k8s.decode import CBOR_MAGIC, decode_value  # noqa: E402
from ketui.core.k8s.decoded import Decoded  # noqa: E402
from ketui.core.k8s.encryption import (  # noqa: E402
    ENCRYPTED_PREFIX,
    Keyring,
    decrypt,
    kms_v1_value,
    kms_v2_value,
)
from ketui.core.k8s.protobuf.decode import decode_object  # noqa: E402
from ketui.core.k8s.protobuf.encode import encode_object  # noqa: E402
from ketui.core.k8s.protobuf.schema import view_for  # noqa: E402
from ketui.core.k8s.protobuf.schemaless import decode_raw  # noqa: E402
from ketui.core.pbwire import MAGIC as PROTOBUF_MAGIC  # noqa: E402
from ketui.core.pbwire import (  # noqa: E402
    WireError,
    encode_varint,
    len_field,
    parse_envelope,
)

FIXTURES = REPO.parent / "shared" / "k8s-fixtures"
ETCD_KEY = b"/registry/secrets/default/fuzz"
KUBE_VERSIONS = (None, "1.17", "1.22", "1.25", "1.29", "1.33", "master")
CHUNK = 500
MEM_BOUND = (
    64 * 1024 * 1024
)  # per input: tracemalloc peak above this (+ 64x the input) is a finding
RSS_BOUND = 1536 * 1024 * 1024  # per worker

# One key per local provider, in the EncryptionConfiguration the keyring is read from.
SECRETS = {
    "aescbc": ("cbc1", bytes(range(32))),
    "aesgcm": ("gcm1", bytes(range(1, 17))),
    "secretbox": ("box1", bytes(range(2, 34))),
}
KEYRING = Keyring.from_config(
    {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [
            {
                "resources": ["secrets", "configmaps"],
                "providers": [
                    {p: {"keys": [{"name": n, "secret": base64.b64encode(s).decode()}]}}
                    for p, (n, s) in SECRETS.items()
                ]
                + [{"kms": {"name": "vault", "apiVersion": "v2"}}, {"identity": {}}],
            }
        ],
    }
)


class Hang(BaseException):
    """Raised by the worker's alarm; a BaseException so ``except Exception`` cannot swallow it."""


@dataclass(frozen=True, slots=True)
class Seed:
    value: bytes
    kube_version: str | None = None


@dataclass(slots=True)
class Seeds:
    """Every seed value, plus the parts the structure-aware mutators need."""

    values: list[Seed] = field(default_factory=list)
    envelopes: list[tuple[str, str, bytes, str | None]] = field(default_factory=list)
    plaintexts: list[bytes] = field(default_factory=list)
    kinds: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Finding:
    """One failed check: which layer, what happened, the input and where it came from."""

    layer: str
    problem: str
    detail: str
    input_id: str
    value: bytes
    kube_version: str | None

    @property
    def signature(self) -> str:
        """Groups findings with the same cause: layer, problem and the innermost frame."""
        last = self.detail.strip().splitlines()[-3:] if self.detail else []
        where = next((line.strip() for line in last if line.strip().startswith("File ")), "")
        return f"{self.layer}|{self.problem}|{where}"

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "problem": self.problem,
            "input_id": self.input_id,
            "kube_version": self.kube_version,
            "size": len(self.value),
            "hex": self.value.hex(),
            "detail": self.detail,
        }


@dataclass(slots=True)
class ChunkResult:
    inputs: int = 0
    checks: int = 0
    findings: list[Finding] = field(default_factory=list)
    slowest: float = 0.0
    slowest_id: str = ""
    mem_peak: int = 0
    mem_peak_id: str = ""
    rss: int = 0


# --- seeds ------------------------------------------------------------------------------------


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = len_field(1, api_version.encode()) + len_field(2, kind.encode())
    return PROTOBUF_MAGIC + len_field(1, type_meta) + len_field(2, raw) + len_field(3, b"")


def load_seeds() -> Seeds:
    from tests import k8s_values

    seeds = Seeds()
    protobuf: list[Seed] = []
    objects: list[dict[str, Any]] = []
    if FIXTURES.is_dir():
        for release in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
            version = None if release.name == "master" else release.name
            for path in sorted(release.glob("*.pb")):
                protobuf.append(Seed(path.read_bytes(), version))
        for path in sorted((FIXTURES / "master").glob("*.json")):
            obj = json.loads(path.read_text())
            objects.append(obj)
            try:
                protobuf.append(Seed(encode_object(obj)))
            except (ValueError, TypeError, KeyError):
                pass  # a kind the encoder does not cover: the .pb seed is there anyway
    protobuf += [
        Seed(k8s_values.pod_value()),
        Seed(k8s_values.secret_value(data={"password": b"hunter2", "bin": b"\xff\x00"})),
    ]
    objects.append(
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": "default", "labels": {"a": "b"}},
            "spec": {"size": 3, "ratio": 0.5, "tags": ["x", "y"], "nested": {"ok": True}},
        }
    )
    seeds.values += protobuf
    for obj in objects[::3]:  # a third is plenty for the JSON and CBOR families
        seeds.values.append(Seed(json.dumps(obj).encode()))
        seeds.values.append(Seed(CBOR_MAGIC + cbor2.dumps(obj)))
    seeds.values += [
        Seed(b"hello"),
        Seed(b"\x00\x00\x00\x00\x00\x00\x00\x05"),
        Seed(b""),
        Seed(b'   {"kind": "X"}'),
    ]
    for seed in protobuf:
        try:
            env = parse_envelope(seed.value)
        except WireError:
            continue
        seeds.envelopes.append((env.api_version, env.kind, env.raw, seed.kube_version))
        seeds.kinds.append((env.api_version, env.kind))
    seeds.kinds = sorted(set(seeds.kinds))
    seeds.plaintexts = [s.value for s in seeds.values if s.value]
    rng = random.Random(0)
    for plaintext in rng.sample(seeds.plaintexts, min(60, len(seeds.plaintexts))):
        seeds.values.append(Seed(_encrypt(rng, plaintext)))
    seeds.values.append(Seed(kms_v1_value("vault", b"wrapped-dek", b"ciphertext")))
    seeds.values.append(
        Seed(kms_v2_value("vault", "key-1", b"dek", b"data", {"a.example.com": b"x"}, 1))
    )
    return seeds


def _encrypt(rng: random.Random, plaintext: bytes) -> bytes:
    """``plaintext`` as kube-apiserver stores it with one of the keys, the IV/nonce drawn from
    ``rng`` so that inputs stay reproducible (written here with the crypto libraries, not with
    ketui's helpers, which use random IVs and are part of what is tested)."""
    provider = rng.choice(sorted(SECRETS))
    name, secret = SECRETS[provider]
    prefix = f"k8s:enc:{provider}:v1:{name}:".encode()
    if provider == "aescbc":
        iv = rng.randbytes(16)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(algorithms.AES(secret), modes.CBC(iv)).encryptor()
        return prefix + iv + encryptor.update(padded) + encryptor.finalize()
    if provider == "aesgcm":
        nonce = rng.randbytes(12)
        return prefix + nonce + AESGCM(secret).encrypt(nonce, plaintext, ETCD_KEY)
    return prefix + bytes(SecretBox(secret).encrypt(plaintext, rng.randbytes(24)))


# --- mutators ---------------------------------------------------------------------------------

HUGE = (2**31 - 1, 2**31, 2**32, 2**32 + 7, 2**53, 2**63 - 1, 2**63, 2**64 - 1)
INVALID_UTF8 = (
    b"\xff",
    b"\xfe",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x80",
    b"\xe2",
)


def _pos(rng: random.Random, data: bytes) -> int:
    return rng.randrange(len(data) + 1)


def m_bitflip(rng: random.Random, data: bytes, _seeds: Seeds) -> bytes:
    if not data:
        return bytes([1 << rng.randrange(8)])
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def m_interesting_byte(rng: random.Random, data: bytes, _seeds: Seeds) -> bytes:
    if not data:
        return b"\xff"
    out = bytearray(data)
    out[rng.randrange(len(out))] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFF, 0x0A, 0x12, 0x22))
    return bytes(out)


def m_insert(rng: random.Random, data: bytes, _seeds: Seeds) -> bytes:
    pos = _pos(rng, data)
    return data[:pos] + rng.randbytes(rng.randint(1, 16)) + data[pos:]


def m_delete(rng: random.Random, data: bytes, _seeds: Seeds) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 32) :]


def m_truncate(rng: random.Random, data: bytes, _seeds: Seeds) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def m_giant_length(rng: random.Random, data: bytes, _seeds: Seeds) -> bytes:
    """A length-delimited field whose length prefix claims far more than the input holds."""
    pos = _pos(rng, data)
    tag = encode_varint((rng.randint(1, 40) << 3) | 2)
    return data[:pos] + tag + encode_varint(rng.choice(HUGE)) + data[pos : pos + 8]


def m_long_varint(rng: random.Random, data: bytes, _seeds: Seeds) -> bytes:
    """A varint of 10 or more bytes (the wire format allows at most 10)."""
    pos = _pos(rng, data)
    tag = encode_varint((rng.randint(1, 40) << 3) | rng.choice((0, 2)))
    varint = b"\xff" * rng.randint(9, 20) + bytes([rng.randint(0, 0x7F)])
    return data[:pos] + tag + varint + data[pos:]


def m_wire_type(rng: random.Random, data: bytes, _seeds: Seeds) -> bytes:
    """Change the low three bits of a byte (a tag's wire type when it hits a tag): 0-7."""
    if not data:
        return data
    out = bytearray(data)
    i = rng.randrange(len(out))
    out[i] = (out[i] & 0xF8) | rng.randrange(8)
    return bytes(out)


def m_invalid_utf8(rng: random.Random, data: bytes, _seeds: Seeds) -> bytes:
    if not data:
        return rng.choice(INVALID_UTF8)
    out = bytearray(data)
    bad = rng.choice(INVALID_UTF8)
    i = rng.randrange(len(out))
    out[i : i + len(bad)] = bad  # overwrite, so a string's length prefix stays right
    return bytes(out[: len(data)])


def m_duplicate(rng: random.Random, data: bytes, _seeds: Seeds) -> bytes:
    """Repeat a slice (often a whole field: the same field twice, or a repeated one grown)."""
    if not data:
        return data
    start = rng.randrange(len(data))
    piece = data[start : start + rng.randint(1, 64)]
    pos = _pos(rng, data)
    return data[:pos] + piece * rng.randint(1, 4) + data[pos:]


def m_splice(rng: random.Random, data: bytes, seeds: Seeds) -> bytes:
    other = rng.choice(seeds.plaintexts)
    return data[: _pos(rng, data)] + other[rng.randrange(len(other)) :]


def m_length_tweak(rng: random.Random, data: bytes, _seeds: Seeds) -> bytes:
    """Nudge a byte by a small amount: hits length prefixes and varints off by a few."""
    if not data:
        return data
    out = bytearray(data)
    i = rng.randrange(len(out))
    out[i] = (out[i] + rng.choice((-2, -1, 1, 2, 64, -64))) % 256
    return bytes(out)


MUTATORS: tuple[Callable[[random.Random, bytes, Seeds], bytes], ...] = (
    m_bitflip,
    m_bitflip,
    m_interesting_byte,
    m_insert,
    m_delete,
    m_truncate,
    m_giant_length,
    m_long_varint,
    m_wire_type,
    m_invalid_utf8,
    m_duplicate,
    m_splice,
    m_length_tweak,
)


def mutate(rng: random.Random, data: bytes, seeds: Seeds) -> bytes:
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        data = rng.choice(MUTATORS)(rng, data, seeds)
    return data


# --- generators -------------------------------------------------------------------------------


def g_random_bytes(rng: random.Random, _seeds: Seeds) -> bytes:
    data = rng.randbytes(rng.choice((0, 1, 4, 16, 64, 512)))
    prefix = rng.choice((b"", b"", PROTOBUF_MAGIC, CBOR_MAGIC, ENCRYPTED_PREFIX, b"{"))
    return prefix + data


def _random_message(rng: random.Random, depth: int) -> bytes:
    out = bytearray()
    for _ in range(rng.randint(0, 8)):
        number = rng.choice((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 16, 100, 536870911))
        wire = rng.choice((0, 0, 1, 2, 2, 2, 3, 4, 5, 6, 7))
        out += encode_varint((number << 3) | wire)
        if wire == 0:
            out += encode_varint(rng.choice((0, 1, 2**31, 2**63, 2**64 - 1, rng.getrandbits(64))))
        elif wire == 1:
            out += rng.randbytes(8)
        elif wire == 5:
            out += rng.randbytes(4)
        elif wire == 2:
            if depth < 6 and rng.random() < 0.5:
                body = _random_message(rng, depth + 1)
            else:
                body = rng.choice((rng.randbytes(rng.randint(0, 24)), b"text", "é☃".encode()))
            out += encode_varint(len(body)) + body
    return bytes(out)


def g_random_protobuf(rng: random.Random, seeds: Seeds) -> bytes:
    api_version, kind = rng.choice(seeds.kinds) if rng.random() < 0.9 else ("x/v1", "Nope")
    return _envelope(api_version, kind, _random_message(rng, 0))


def _nest(depth: int, number: int, leaf: bytes = b"") -> bytes:
    data = leaf
    for _ in range(depth):
        data = len_field(number, data)
    return data


def g_deep_protobuf(rng: random.Random, seeds: Seeds) -> bytes:
    """Nested length-delimited fields, up to 10k deep, under a known kind or an unknown one."""
    depth = rng.choice((50, 99, 100, 101, 150, 500, 1000, 10000))
    choice = rng.randrange(3)
    if choice == 0:  # CRD: spec.versions[].schema.openAPIV3Schema.allOf[].allOf[]...
        schema = _nest(depth, 25)
        raw = len_field(2, len_field(7, len_field(4, len_field(1, schema))))
        return _envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", raw)
    if choice == 1:
        api_version, kind = rng.choice(seeds.kinds)
        return _envelope(api_version, kind, _nest(depth, rng.randint(1, 4)))
    return _envelope("example.com/v1", "Unknown", _nest(depth, rng.randint(1, 4)))


def g_deep_json(rng: random.Random, _seeds: Seeds) -> bytes:
    depth = rng.choice((100, 500, 900, 990, 1000, 2000, 10000, 100000))
    if rng.random() < 0.5:
        return b'{"kind":"X","a":' + b"[" * depth + b"]" * depth + b"}"
    return b'{"a":' * depth + b"1" + b"}" * depth


def g_deep_cbor(rng: random.Random, _seeds: Seeds) -> bytes:
    depth = rng.choice((100, 500, 1000, 10000))
    item = rng.choice((b"\x81", b"\xa1\x61a"))  # array of one; map {"a": ...}
    return CBOR_MAGIC + item * depth + b"\x00"


def g_giant_envelope(rng: random.Random, seeds: Seeds) -> bytes:
    api_version, kind = rng.choice(seeds.kinds)
    type_meta = len_field(1, api_version.encode()) + len_field(2, kind.encode())
    body = rng.randbytes(rng.randint(0, 32))
    return (
        PROTOBUF_MAGIC + len_field(1, type_meta) + b"\x12" + encode_varint(rng.choice(HUGE)) + body
    )


def g_encryption_header(rng: random.Random, _seeds: Seeds) -> bytes:
    provider = rng.choice(("aescbc", "aesgcm", "secretbox", "kms", "kms", "weird", ""))
    version = rng.choice(("v1", "v2", "v9", ""))
    name = rng.choice(("cbc1", "gcm1", "box1", "vault", "nokey", "", "a:b"))
    payload = rng.choice(
        (
            rng.randbytes(rng.randint(0, 64)),
            _random_message(rng, 0),
            b"\xff\xff" + rng.randbytes(8),
            b"\x00\x03abc",
        )
    )
    return f"k8s:enc:{provider}:{version}:{name}:".encode() + payload


GENERATORS: tuple[Callable[[random.Random, Seeds], bytes], ...] = (
    g_random_bytes,
    g_random_protobuf,
    g_random_protobuf,
    g_deep_protobuf,
    g_deep_json,
    g_deep_cbor,
    g_giant_envelope,
    g_encryption_header,
)


def make_input(rng: random.Random, seeds: Seeds) -> tuple[bytes, str | None]:
    """One fuzz input and the kube version to decode it with."""
    r = rng.random()
    if r < 0.40:  # mutate the object bytes inside a well-formed envelope
        api_version, kind, raw, version = rng.choice(seeds.envelopes)
        return _envelope(api_version, kind, mutate(rng, raw, seeds)), version
    if r < 0.65:  # mutate a whole stored value
        seed = rng.choice(seeds.values)
        return mutate(rng, seed.value, seeds), seed.kube_version
    if r < 0.75:  # a mutated plaintext, properly encrypted: decryption works, decoding must cope
        plaintext = mutate(rng, rng.choice(seeds.plaintexts), seeds)
        return _encrypt(rng, plaintext), rng.choice(KUBE_VERSIONS)
    if r < 0.78:  # an unmutated seed under another release's view
        return rng.choice(seeds.values).value, rng.choice(KUBE_VERSIONS)
    return rng.choice(GENERATORS)(rng, seeds), rng.choice(KUBE_VERSIONS)


def chunk_inputs(
    seed: int, chunk: int, size: int, seeds: Seeds
) -> Iterator[tuple[bytes, str | None]]:
    rng = random.Random(f"ketui-fuzz:{seed}:{chunk}")
    for _ in range(size):
        yield make_input(rng, seeds)


# --- checks -----------------------------------------------------------------------------------

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f]")


APP_STACK = 200
"""Frames the renderer is called under, as in the TUI (Textual's stack is deep): an object that
decodes but is too deep to render from there is a finding."""


def _deeper(frames: int, fn: Callable[[Any], Any], arg: Any) -> Any:
    return _deeper(frames - 1, fn, arg) if frames else fn(arg)


def _printable_line(text: str) -> bool:
    """A message fit for a terminal: not empty, one line, no control characters."""
    return bool(text) and not _UNPRINTABLE.search(text)


def check(value: bytes, kube_version: str | None, lower: bool = True) -> list[tuple[str, str, str]]:
    """Run the layers on one input; return (layer, problem, detail) for each broken contract.

    ``decode_value`` catches everything, which would hide a lower layer raising the wrong
    exception: with ``lower`` the layers are also called directly and held to their own contract.
    """
    problems: list[tuple[str, str, str]] = []

    def guarded(layer: str, call: Callable[[], Any], allowed: tuple[type[Exception], ...]) -> Any:
        try:
            return call()
        except allowed:
            return None
        except Exception as exc:  # noqa: BLE001 - an escaping exception is the finding
            problems.append((layer, f"raised {type(exc).__name__}", traceback.format_exc()))
            return None

    decoded = guarded(
        "decode_value",
        lambda: decode_value(value, key=ETCD_KEY, kube_version=kube_version, keyring=KEYRING),
        (),
    )
    if decoded is not None:
        if not isinstance(decoded, Decoded):
            problems.append(("decode_value", "returned a non-Decoded", repr(decoded)[:300]))
        elif decoded.error is not None and not _printable_line(decoded.error):
            problems.append(("decode_value", "error is not one line", repr(decoded.error)[:300]))
        elif not all(_printable_line(w) for w in decoded.warnings):
            problems.append(("decode_value", "warning is not one line", repr(decoded.warnings)))
        elif decoded.obj is not None:
            guarded("render.to_json", lambda: _deeper(APP_STACK, render.to_json, decoded.obj), ())
    if not lower:
        return problems
    if value.startswith(PROTOBUF_MAGIC):
        env = guarded("pbwire.parse_envelope", lambda: parse_envelope(value), (WireError,))
        if env is not None:
            guarded(
                "protobuf.decode.decode_object",
                lambda: decode_object(env.api_version, env.kind, env.raw, view_for(kube_version)),
                (ValueError,),
            )
            guarded("schemaless.decode_raw", lambda: decode_raw(env.raw), ())
    else:
        guarded("schemaless.decode_raw", lambda: decode_raw(value), ())
    if value.startswith(CBOR_MAGIC) or value[:1] in (b"\xa1", b"\x81", b"\xbf"):
        guarded("cbor_json.cbor_to_json", lambda: cbor_to_json(value), (ValueError,))
    if value.startswith(ENCRYPTED_PREFIX):
        guarded(
            "encryption.decrypt", lambda: decrypt(value, keyring=KEYRING, etcd_key=ETCD_KEY), ()
        )
    return problems


# --- workers ----------------------------------------------------------------------------------

_SEEDS: Seeds | None = None


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang()


def run_chunk(args: tuple[int, int, int, float, float, int]) -> ChunkResult:
    seed, chunk, size, slow_limit, hang_limit, mem_every = args
    assert _SEEDS is not None
    signal.signal(signal.SIGALRM, _alarm)
    result = ChunkResult()
    for index, (value, version) in enumerate(chunk_inputs(seed, chunk, size, _SEEDS)):
        input_id = f"{seed}:{chunk}:{index}"
        traced = mem_every > 0 and (chunk * size + index) % mem_every == 0
        started = time.process_time()  # CPU time: a busy machine must not make inputs "slow"
        signal.setitimer(signal.ITIMER_REAL, hang_limit)
        try:
            problems = check(value, version, lower=index % 2 == 0)
            elapsed = time.process_time() - started
            if traced:  # again under tracemalloc (which slows it down: not timed)
                tracemalloc.start()
                check(value, version, lower=index % 2 == 0)
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                if peak > result.mem_peak:
                    result.mem_peak, result.mem_peak_id = peak, input_id
                if peak > MEM_BOUND + 64 * len(value):
                    problems.append(("all", f"memory: tracemalloc peak {peak >> 20} MiB", ""))
        except Hang:
            tracemalloc.stop()
            elapsed = time.process_time() - started
            problems = [("all", f"hang: stopped after {hang_limit:g} s", traceback.format_exc())]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if elapsed > result.slowest:
            result.slowest, result.slowest_id = elapsed, input_id
        if elapsed > slow_limit and not any(p[1].startswith("hang") for p in problems):
            problems.append(("all", f"slow: {elapsed:.2f} s", ""))
        result.inputs += 1
        result.findings += [Finding(*p, input_id, value, version) for p in problems]
    result.rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if result.rss > RSS_BOUND:
        result.findings.append(
            Finding(
                "all",
                f"memory: worker RSS {result.rss >> 20} MiB",
                "",
                f"{seed}:{chunk}",
                b"",
                None,
            )
        )
    return result


@dataclass(slots=True)
class Totals:
    inputs: int = 0
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    slowest: float = 0.0
    slowest_id: str = ""
    mem_peak: int = 0
    mem_peak_id: str = ""
    rss: int = 0
    lost_chunks: list[int] = field(default_factory=list)

    def add(self, result: ChunkResult) -> None:
        self.inputs += result.inputs
        for finding in result.findings:
            self.findings.setdefault(finding.signature, []).append(finding)
        if result.slowest > self.slowest:
            self.slowest, self.slowest_id = result.slowest, result.slowest_id
        if result.mem_peak > self.mem_peak:
            self.mem_peak, self.mem_peak_id = result.mem_peak, result.mem_peak_id
        self.rss = max(self.rss, result.rss)

    @property
    def finding_count(self) -> int:
        return sum(len(v) for v in self.findings.values()) + len(self.lost_chunks)


def fuzz(
    count: int,
    seed: int,
    workers: int,
    *,
    slow_limit: float = 1.0,
    hang_limit: float = 20.0,
    mem_every: int = 100,
    progress: Callable[[Totals], None] | None = None,
) -> Totals:
    """Run ``count`` inputs (rounded up to whole chunks) and collect the findings."""
    global _SEEDS
    _SEEDS = load_seeds()
    for s in _SEEDS.values:  # compile the lazily built converters once, before forking
        check(s.value, s.kube_version)
    chunks = [
        (seed, c, CHUNK, slow_limit, hang_limit, mem_every) for c in range(-(-count // CHUNK))
    ]
    totals = Totals()
    # Each chunk is given far longer than it can take; past that the worker is stuck in C code.
    chunk_timeout = max(120.0, hang_limit * 4)
    ctx = multiprocessing.get_context("fork")  # workers inherit the seeds
    with ctx.Pool(workers) as pool:
        pending = [(c[1], pool.apply_async(run_chunk, (c,))) for c in chunks]
        for chunk, handle in pending:
            try:
                totals.add(handle.get(timeout=chunk_timeout))
            except multiprocessing.TimeoutError:
                totals.lost_chunks.append(chunk)
                pool.terminate()
                break
            if progress:
                progress(totals)
    return totals


def reproduce(input_id: str) -> int:
    """Print one input (hex) and run its checks in-process with full tracebacks."""
    global _SEEDS
    seed, chunk, index = (int(part) for part in input_id.split(":"))
    _SEEDS = load_seeds()
    for i, (value, version) in enumerate(chunk_inputs(seed, chunk, CHUNK, _SEEDS)):
        if i == index:
            print(f"kube_version={version!r} size={len(value)}\n{value.hex()}")
            started = time.perf_counter()
            problems = check(value, version)
            print(f"checked in {time.perf_counter() - started:.3f} s")
            for layer, problem, detail in problems:
                print(f"--- {layer}: {problem}\n{detail}")
            return 1 if problems else 0
    raise SystemExit(f"no input {input_id}")


def report(totals: Totals, elapsed: float, findings_path: Path | None) -> None:
    rate = totals.inputs / elapsed if elapsed else 0.0
    print(f"inputs:          {totals.inputs:,} in {elapsed:.1f} s ({rate:,.0f}/s)")
    kinds: dict[str, int] = {}
    for group in totals.findings.values():
        for finding in group:
            key = finding.problem.split(":")[0]
            kinds[key] = kinds.get(key, 0) + 1
    print(
        f"findings:        {totals.finding_count} ({len(totals.findings)} distinct) {kinds or ''}"
    )
    print(f"slowest input:   {totals.slowest * 1000:.1f} ms ({totals.slowest_id})")
    print(f"tracemalloc peak {totals.mem_peak / 2**20:.1f} MiB ({totals.mem_peak_id})")
    print(f"worker peak RSS: {totals.rss / 2**20:.0f} MiB")
    if totals.lost_chunks:
        print(f"HANG: chunk(s) {totals.lost_chunks} did not come back")
    for signature, group in sorted(totals.findings.items()):
        smallest = min(group, key=lambda f: len(f.value))
        shown = smallest.value[:256].hex() + ("..." if len(smallest.value) > 256 else "")
        print(
            f"\n== {len(group)}x {signature}\n   input {smallest.input_id} "
            f"kube_version={smallest.kube_version!r} size={len(smallest.value)}\n   {shown}"
        )
        if smallest.detail:
            print("   " + "\n   ".join(smallest.detail.strip().splitlines()[-6:]))
    if findings_path:
        data = [min(g, key=lambda f: len(f.value)).to_json() for g in totals.findings.values()]
        findings_path.write_text(json.dumps(data, indent=2))
        print(f"\nfindings written to {findings_path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="inputs (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--slow", type=float, default=1.0, help="seconds that make an input slow")
    parser.add_argument(
        "--hang", type=float, default=20.0, help="seconds before an input is stopped"
    )
    parser.add_argument("--mem-every", type=int, default=100, help="trace memory every Nth input")
    parser.add_argument("--findings", type=Path, help="write the findings (full hex) as JSON here")
    parser.add_argument("--reproduce", metavar="SEED:CHUNK:INDEX", help="rerun one input")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    if args.reproduce:
        return reproduce(args.reproduce)
    started = time.monotonic()
    last = [started]

    def progress(totals: Totals) -> None:
        now = time.monotonic()
        if not args.quiet and now - last[0] > 30:
            last[0] = now
            print(f"... {totals.inputs:,} inputs, {totals.finding_count} findings", flush=True)

    totals = fuzz(
        args.count,
        args.seed,
        args.workers,
        slow_limit=args.slow,
        hang_limit=args.hang,
        mem_every=args.mem_every,
        progress=progress,
    )
    report(totals, time.monotonic() - started, args.findings)
    return 1 if totals.finding_count else 0


if __name__ == "__main__":
    sys.exit(main())
