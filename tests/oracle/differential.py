"""The differential run against the upstream oracle, shared by the suite
(tests/oracle/test_oracle.py) and the long run (scripts/oracle_fuzz.py).

The oracle makes random objects of every stored group/version/kind, stores them as
kube-apiserver does and prints what Go reads back; ketui decodes the same bytes in its default
view and in the oracle's release's view and must print the same JSON (values and key order) and
the same YAML bytes. Objects stream through one at a time: a long run's memory stays flat.
"""

from __future__ import annotations

import base64
import json
import subprocess
import textwrap
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ketui.core.k8s.decode import decode_value
from ketui.core.k8s.protobuf import schema
from ketui.core.k8s.render import to_json, to_yaml

HERE = Path(__file__).parent


class OracleUnavailable(Exception):
    """The oracle cannot be built on this machine (no apt-get/dpkg)."""


def build_oracle() -> Path:
    """Build (or find cached) the oracle binary with tests/oracle/build.sh."""
    built = subprocess.run(
        [str(HERE / "build.sh")], capture_output=True, text=True, timeout=900
    )  # fmt: skip
    if built.returncode != 0:
        raise RuntimeError(f"tests/oracle/build.sh failed:\n{built.stderr[-3000:]}")
    return Path(built.stdout.strip().splitlines()[-1])


def release_of(version: str) -> str:
    """The Kubernetes release of a library version: 0.36.4 (k8s.io/api's tags) is 1.36."""
    major, minor = version.split(".")[:2]
    return f"1.{minor}" if major == "0" else f"{major}.{minor}"


def newer_than_known(release: str) -> str | None:
    """Why a release cannot be compared (newer than every release ketui knows), or None."""
    if schema.parse_kube_version(release) > schema.NEWEST_RELEASE:
        return (
            f"the oracle was built from Kubernetes {release}, newer than ketui's newest release "
            f"{schema.view_for(None).name}: regenerate the schema (scripts/gen_schema.py) to "
            "compare"
        )
    return None


def prints_the_same(value: bytes, kube_version: str | None, result: dict[str, Any]) -> bool:
    """ketui prints ``value`` as the oracle did: JSON (values and key order) and YAML bytes."""
    decoded = decode_value(value, kube_version=kube_version)
    return (
        decoded.obj is not None
        and to_json(decoded.obj, indent=None) == result["json"]
        and to_yaml(decoded.obj) == result["yaml"]
    )


def fuzz(oracle: Path, per_kind: int, seed: int) -> tuple[str, Iterator[dict[str, Any]]]:
    """Start ``oracle fuzz``: the library version, then its objects as they come."""
    process = subprocess.Popen(
        [str(oracle), "fuzz", str(per_kind), str(seed)], stdout=subprocess.PIPE, text=True
    )  # fmt: skip
    assert process.stdout is not None
    version = json.loads(process.stdout.readline())["version"]

    def objects() -> Iterator[dict[str, Any]]:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                yield json.loads(line)
        finally:
            process.stdout.close()
            if process.wait(timeout=60) not in (0, -13):  # -13: we stopped reading (SIGPIPE)
                raise RuntimeError(f"ketui-oracle fuzz exited with {process.returncode}")

    return version, objects()


@dataclass
class Tally:
    """Per-kind counts of a differential run, and the first mismatches."""

    release: str
    made: Counter[str] = field(default_factory=Counter)  # per apiVersion/kind
    equal: Counter[str] = field(default_factory=Counter)  # per kind, both views
    total: Counter[str] = field(default_factory=Counter)
    unmade: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    def add(self, obj: dict[str, Any]) -> None:
        """Compare one oracle object in the default view and in the oracle's release's."""
        gvk = f"{obj['apiVersion']}/{obj['kind']}"
        self.made[gvk] += 1
        if "error" in obj:
            self.unmade.append(f"{gvk}: {obj['error']}")
            return
        value = base64.b64decode(obj["value"])
        for kube_version in (None, self.release):
            self.total[obj["kind"]] += 1
            if prints_the_same(value, kube_version, obj):
                self.equal[obj["kind"]] += 1
            elif len(self.mismatches) < 20:
                view = kube_version or "default view"
                self.mismatches.append(f"{gvk} ({view}): value {obj['value']}")

    def per_kind(self, width: int = 100) -> str:
        """``Kind equal/total`` for every kind, wrapped and indented."""
        counts = (f"{kind} {self.equal[kind]}/{self.total[kind]}" for kind in sorted(self.total))
        text = ", ".join(counts)
        return textwrap.fill(text, width=width, initial_indent="  ", subsequent_indent="  ")

    @property
    def compared(self) -> int:
        return sum(self.total.values())

    @property
    def all_equal(self) -> bool:
        return not self.unmade and sum(self.equal.values()) == self.compared
