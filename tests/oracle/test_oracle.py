"""ketui against upstream's own code (issue 11): the test oracle (tests/oracle/*.go, built from
Debian's Kubernetes Go libraries by tests/oracle/build.sh) decodes values as kube-apiserver does
and prints them with ``json.Marshal`` and ``sigs.k8s.io/yaml``; ketui must print the same bytes.

Inputs: every upstream round-trip fixture (``.pb``, every release in ../shared/k8s-fixtures,
where present), every protobuf value of the embedded demo cluster, auger's 2017 samples,
quantities of every form, and random objects of every stored kind made by the oracle itself
(``fuzz``: randfill with apimachinery's fuzzer functions, stored as kube-apiserver stores them).
ketui decodes them in its default view and with ``--kube-version`` of the oracle's release.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ketui.core.k8s.keys import RESOURCES
from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.k8s.quantity import canonical_quantity
from ketui.demo import load_demo_ops
from tests.oracle.differential import (
    Tally,
    build_oracle,
    fuzz,
    newer_than_known,
    prints_the_same,
    release_of,
)
from tests.paths import FIXTURES, REPO

AUGER = REPO / "tests" / "core" / "k8s" / "auger"
#: Random objects per group/version/kind in the suite (scripts/oracle_fuzz.py runs more), and
#: the seed, fixed so that a failure can be run again (KETUI_FUZZ_SEED picks another).
FUZZ_PER_KIND = 50
FUZZ_SEED = int(os.environ.get("KETUI_FUZZ_SEED", "1136"))
#: Kinds in ketui's resource table that the oracle does not make: removed before 1.36
#: (PodSecurityPolicy 1.25, PodSchedulingContext 1.34), never stored (ComponentStatus), and
#: APIService (kube-aggregator is not packaged by Debian).
NOT_MADE = {"PodSecurityPolicy", "PodSchedulingContext", "ComponentStatus", "APIService"}


@pytest.fixture(scope="module")
def oracle() -> Path:
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        pytest.skip("the oracle is built from Debian packages: apt-get and dpkg-deb are needed")
    return build_oracle()


def _values() -> list[tuple[str, bytes]]:
    """(label, stored protobuf value) of every input."""
    values = []
    if FIXTURES.is_dir():
        for pb in sorted(FIXTURES.glob("*/*.pb")):
            values.append((f"{pb.parent.name}/{pb.stem}", pb.read_bytes()))
    ops, _version = load_demo_ops()
    for op in ops:
        if op.value.startswith(b"k8s\x00"):
            values.append((f"demo {op.key.decode(errors='replace')}", op.value))
    for sample in ("pod", "job"):
        value = (AUGER / f"{sample}.bin").read_bytes().removesuffix(b"\n")
        values.append((f"auger/{sample}", value))
    return values


def _run(oracle: Path, values: list[tuple[str, bytes]]) -> tuple[str, list[dict[str, Any]]]:
    kvs = [
        {"key": base64.b64encode(label.encode()).decode(), "value": base64.b64encode(v).decode()}
        for label, v in values
    ]
    document = json.dumps({"header": {}, "kvs": kvs})
    out = subprocess.run(
        [str(oracle), "decode"], input=document, capture_output=True, text=True, check=True,
        timeout=300,
    ).stdout  # fmt: skip
    lines = [json.loads(line) for line in out.splitlines()]
    return lines[0]["version"], lines[1:]


def _comparable(version: str) -> str:
    """The oracle's release, or a skip where it is newer than every release ketui knows."""
    release = release_of(version)
    if why := newer_than_known(release):
        pytest.skip(why)
    return release


def test_ketui_prints_what_upstream_prints(
    oracle: Path, record_property: Callable[[str, object], None]
) -> None:
    values = _values()
    version, results = _run(oracle, values)
    release = _comparable(version)
    equal: Counter[str] = Counter()
    total: Counter[str] = Counter()
    upstream_refused = 0
    mismatches = []
    for (label, value), result in zip(values, results, strict=True):
        if "error" in result:
            upstream_refused += 1  # values upstream itself cannot read (leftover fixtures)
            continue
        kind = label.split("/")[-1] if "/" in label else label
        for kube_version in (None, release):
            total[kind] += 1
            if prints_the_same(value, kube_version, result):
                equal[kind] += 1
            else:
                mismatches.append(f"{label} (--kube-version {kube_version})")
    checked = sum(total.values())
    record_property(
        "summary",
        f"oracle (Kubernetes {version} libraries): {sum(equal.values())}/{checked} decodes of "
        f"{len(values) - upstream_refused} values print the same JSON and YAML bytes "
        f"({upstream_refused} values upstream refuses)",
    )
    assert not mismatches, mismatches[:20]
    assert checked > 100


#: Quantities an apiserver may hold: canonical and not, every suffix, signs, leading zeros,
#: fractions finer than a nano, values past int64. Exponents past int32 (1e2147483648) are in
#: tests/core/k8s/test_quantity.py only: upstream's own arithmetic stalls on them for minutes.
QUANTITIES = [
    "0", "1", "+1", "-1", "01", "0001Mi", "1.", ".5", ".", "-0", "0.0", "1.000", "1.5", "100m",
    "1500m", "1000m", "324832000", "1024Ki", "1025Ki", "8Ki", "1.5Gi", "-1.5Gi", "0.5Ki",
    "1023", "1024", "2048", "1000E", "1e21", "1e3", "12e3", "1E3", "5e-3", "1.5n", "0.1n",
    "-0.1n", "1u", "1k", "1M", "1G", "1T", "1P", "1E", "1Ei", "8Ei", "9Ei", "1Pi", "1.5Ki",
    "9223372036854775807", "9223372036854775808", "99999999999999999999Ei", "-9999999999Ei",
    "123456789012345678", "1234567890123456789", "0.000000001", "0.0000000001", "1e+3", "1e-0",
    "abc", "", "1Z", "1ki", "1e", "1.2.3", "--1", "1 ", "½", "1e3.5", "100Mi", "1.1Mi",
    "3.14159", "7e-10",
]  # fmt: skip


def _random_quantities(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    suffixes = ["", "", "m", "u", "n", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti",
                "Pi", "Ei", "e3", "e-3", "E6", "e-9", "e18", "e-12"]  # fmt: skip
    quantities = []
    for _ in range(count):
        whole = str(rng.choice([rng.randrange(10), rng.randrange(10_000), rng.getrandbits(64)]))
        fraction = f".{rng.randrange(10 ** rng.randrange(1, 12))}" if rng.random() < 0.4 else ""
        number = whole + fraction
        sign = rng.choice(["", "", "", "-", "+"])
        quantities.append(sign + "0" * rng.choice([0, 0, 0, 1]) + number + rng.choice(suffixes))
    return quantities


def test_quantities_print_as_upstream_parses_them(oracle: Path) -> None:
    """kube-apiserver parses a stored quantity and prints the parsed value: ketui must print the
    same text for every quantity, and refuse the same ones (where Go refuses the object)."""
    quantities = QUANTITIES + _random_quantities(2000, FUZZ_SEED)
    values = [
        (
            f"quantity {i}",
            encode_object(
                {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                 "spec": {"hard": {"q": text}}}  # fmt: skip
            ),
        )
        for i, text in enumerate(quantities)
    ]
    _version, results = _run(oracle, values)
    differ = []
    for text, result in zip(quantities, results, strict=True):
        expected = None if "error" in result else json.loads(result["json"])["spec"]["hard"]["q"]
        if canonical_quantity(text) != expected:
            differ.append((text, canonical_quantity(text), expected))
    assert differ == []
    refused = sum("error" in result for result in results)
    assert 5 < refused < len(quantities) // 2  # both kinds of input were exercised


def test_random_objects_of_every_stored_kind(
    oracle: Path, record_property: Callable[[str, object], None]
) -> None:
    """The differential test: random objects of every stored group/version/kind, made and stored
    by upstream's code, print in ketui exactly as upstream prints them, in the default view and
    in the oracle's release's (scripts/oracle_fuzz.py is the long run)."""
    version, objects = fuzz(oracle, FUZZ_PER_KIND, FUZZ_SEED)
    tally = Tally(_comparable(version))
    for obj in objects:
        tally.add(obj)
    assert not tally.unmade, tally.unmade[:5]
    assert set(tally.made.values()) == {FUZZ_PER_KIND}
    # ketui's resource table and upstream's stored kinds agree: a kind new in the release has a
    # /registry path in ketui, and ketui's kinds are all made, but for those the release does
    # not store (removed kinds, ComponentStatus) and APIService (kube-aggregator: not packaged)
    made_kinds = {gvk.rsplit("/", 1)[1] for gvk in tally.made}
    known = {r.kind for r in RESOURCES}
    assert made_kinds - known == {"RangeAllocation"}  # /registry/ranges/..., not a resource
    assert known - made_kinds == NOT_MADE
    record_property(
        "summary",
        f"oracle fuzz (Kubernetes {version}, seed {FUZZ_SEED}): {sum(tally.made.values())} random "
        f"objects of {len(tally.made)} group/version/kinds, {FUZZ_PER_KIND} each, decoded twice "
        f"(default view, --kube-version {tally.release}): {sum(tally.equal.values())}/"
        f"{tally.compared} equal; per kind:\n{tally.per_kind()}",
    )
    assert not tally.mismatches, tally.mismatches[:5]
    assert tally.all_equal
