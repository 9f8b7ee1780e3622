"""ketui against upstream's own code (issue 11): the test oracle (tests/oracle/main.go, built from
Debian's Kubernetes Go libraries by tests/oracle/build.sh) decodes values as kube-apiserver does
and prints them with ``json.Marshal`` and ``sigs.k8s.io/yaml``; ketui must print the same bytes.

Inputs: every upstream round-trip fixture (``.pb``, every release in ../shared/k8s-fixtures,
where present), every protobuf value of the embedded demo cluster, and auger's 2017 samples.
ketui decodes them in its default view and with ``--kube-version`` of the oracle's release.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ketui.core.k8s.decode import decode_value
from ketui.core.k8s.protobuf import schema
from ketui.core.k8s.render import to_json, to_yaml
from ketui.demo import load_demo_ops
from tests.paths import FIXTURES, REPO

HERE = Path(__file__).parent
AUGER = REPO / "tests" / "core" / "k8s" / "auger"


@pytest.fixture(scope="module")
def oracle() -> Path:
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        pytest.skip("the oracle is built from Debian packages: apt-get and dpkg-deb are needed")
    built = subprocess.run(
        [str(HERE / "build.sh")], capture_output=True, text=True, timeout=900
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    return Path(built.stdout.strip().splitlines()[-1])


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
        [str(oracle), "decode"], input=document, capture_output=True, text=True, check=True
    ).stdout
    lines = [json.loads(line) for line in out.splitlines()]
    return lines[0]["version"], lines[1:]


def _release(version: str) -> str:
    major, minor = version.split(".")[:2]
    return f"1.{minor}" if major == "0" else f"{major}.{minor}"


def test_ketui_prints_what_upstream_prints(
    oracle: Path, record_property: Callable[[str, object], None]
) -> None:
    values = _values()
    version, results = _run(oracle, values)
    release = _release(version)
    newest = schema.view_for(None).name
    if schema.parse_kube_version(release) > schema.NEWEST_RELEASE:
        pytest.skip(
            f"the oracle was built from Kubernetes {version}, newer than ketui's newest release "
            f"{newest}: regenerate the schema (scripts/gen_schema.py) to compare"
        )
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
            decoded = decode_value(value, kube_version=kube_version)
            total[kind] += 1
            same = (
                decoded.obj is not None
                and to_json(decoded.obj, indent=None) == result["json"]  # values and key order
                and to_yaml(decoded.obj) == result["yaml"]
            )
            if same:
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
