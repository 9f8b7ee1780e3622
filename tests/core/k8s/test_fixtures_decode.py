"""Decode every upstream round-trip fixture with its release's view and compare with the .json.

Fixtures live outside the package in ``<repo>/../shared/k8s-fixtures/<release>/`` (see its README);
the tests skip when that folder is absent. Comparison is of the parsed JSON *and* of the key order
(``json.dumps`` without ``sort_keys`` of both dicts).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ketui.core.k8s.protobuf.decode import decode_object
from ketui.core.k8s.protobuf.schema import KubeView, view_for
from ketui.core.pbwire import parse_envelope
from tests.paths import FIXTURES

RELEASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) if FIXTURES.is_dir() else []

# Defective upstream files (fixtures README, "Things to know").
UPSTREAM_DEFECTS = {
    "1.22/batch.v1.JobTemplate": "leftover upstream file: batch/v1 has no JobTemplate kind",
    "1.22/core.v1.EphemeralContainers": "upstream .json is not valid JSON (two blocks merged)",
    "1.22/batch.v2alpha1.CronJob": (
        "leftover written by 1.19/1.20: carries volumes[].ephemeral.readOnly, which 1.22 lacks"
    ),
    "1.22/batch.v2alpha1.JobTemplate": (
        "leftover written by 1.19/1.20: carries volumes[].ephemeral.readOnly, which 1.22 lacks"
    ),
}
# Of those, the ones that decode to their .json when wire fields unknown to the release are kept.
PASS_WITH_WIRE_EXTRAS = ["1.22/batch.v2alpha1.CronJob", "1.22/batch.v2alpha1.JobTemplate"]


def _fixture_ids() -> list[str]:
    return [
        f"{release}/{pb.stem}"
        for release in RELEASES
        for pb in sorted((FIXTURES / release).glob("*.pb"))
    ]


def _type_from_name(stem: str) -> tuple[str, str]:
    """apiVersion and kind from ``<group>.<version>.<Kind>`` (WatchEvent has an empty envelope)."""
    rest, kind = stem.rsplit(".", 1)
    group, version = rest.rsplit(".", 1)
    return (version if group == "core" else f"{group}/{version}"), kind


def decode_fixture(fixture_id: str, view: KubeView | None = None) -> dict[str, Any] | None:
    release, stem = fixture_id.split("/")
    api_version, kind, raw, _, _ = parse_envelope((FIXTURES / release / f"{stem}.pb").read_bytes())
    if not kind:
        api_version, kind = _type_from_name(stem)
    return decode_object(api_version, kind, raw, view or view_for(release))


def expected_json(fixture_id: str) -> Any:
    release, stem = fixture_id.split("/")
    return json.loads((FIXTURES / release / f"{stem}.json").read_text(encoding="utf-8"))


def matches(fixture_id: str, view: KubeView | None = None) -> bool:
    try:
        expected = expected_json(fixture_id)
    except ValueError:
        return False
    got = decode_fixture(fixture_id, view)
    return got == expected and json.dumps(got) == json.dumps(expected)


def _params() -> list[Any]:
    params = []
    for fid in _fixture_ids():
        marks = []
        if fid in UPSTREAM_DEFECTS:
            marks.append(pytest.mark.xfail(reason=UPSTREAM_DEFECTS[fid], strict=True))
        params.append(pytest.param(fid, id=fid, marks=marks))
    return params or [pytest.param("", marks=pytest.mark.skip(reason=f"no fixtures at {FIXTURES}"))]


@pytest.mark.parametrize("fixture_id", _params())
def test_fixture_decodes_to_json(fixture_id: str) -> None:
    expected = expected_json(fixture_id)
    got = decode_fixture(fixture_id)
    assert got == expected
    assert json.dumps(got) == json.dumps(expected)  # same key order


@pytest.mark.parametrize("fixture_id", PASS_WITH_WIRE_EXTRAS)
def test_leftovers_decode_with_wire_extras(fixture_id: str) -> None:
    release = fixture_id.split("/")[0]
    if release not in RELEASES:
        pytest.skip(f"no fixtures at {FIXTURES / release}")
    assert matches(fixture_id, view_for(release, wire_extras=True))


def test_pass_counts_per_release(record_property: Callable[[str, object], None]) -> None:
    """Summary: every fixture except the listed upstream defects matches its .json. The counts
    are printed in pytest's terminal summary (tests/conftest.py)."""
    if not RELEASES:
        pytest.skip(f"no fixtures at {FIXTURES}")
    failures: list[str] = []
    for release in RELEASES:
        ids = [fid for fid in _fixture_ids() if fid.startswith(release + "/")]
        passed = [fid for fid in ids if matches(fid)]
        defects = [fid for fid in ids if fid in UPSTREAM_DEFECTS]
        line = f"fixture decode {release}: {len(passed)}/{len(ids)} equal to the .json"
        if defects:
            line += f" ({len(defects)} listed upstream defects)"
        record_property("summary", line)
        failures += [fid for fid in ids if fid not in passed and fid not in UPSTREAM_DEFECTS]
    assert failures == []


def _master_yaml_params() -> list[Any]:
    ids = [fid for fid in _fixture_ids() if fid.startswith("master/")]
    return ids or [pytest.param("", marks=pytest.mark.skip(reason=f"no fixtures at {FIXTURES}"))]


@pytest.mark.parametrize("fixture_id", _master_yaml_params())
def test_master_fixture_yaml(fixture_id: str) -> None:
    from ketui.core.k8s import render
    stem = fixture_id.split("/")[1]
    expected = (FIXTURES / "master" / f"{stem}.yaml").read_text(encoding="utf-8")
    assert render.to_yaml(decode_fixture(fixture_id)) == expected
