"""The CI slice of ``scripts/fuzz.py``: a fixed, seeded run of generated and mutated values.

The full run (a million inputs) is ``scripts/reliability.sh``; this one takes ``KETUI_FUZZ_SLICE``
inputs (default 12,000) with a seed that changes only when someone changes it here, so a
failure is reproducible with ``scripts/fuzz.py --reproduce SEED:CHUNK:INDEX``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ketui.core.k8s.decoded import Decoded, Family

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz.py"
SLICE = int(os.environ.get("KETUI_FUZZ_SLICE", "12000"))
SEED = 20261124


@pytest.fixture(scope="module")
def fuzz() -> ModuleType:
    """scripts/fuzz.py as a module (registered, so pool workers find its functions)."""
    spec = importlib.util.spec_from_file_location("ketui_fuzz_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_fuzz_slice_finds_nothing(fuzz: ModuleType) -> None:
    totals = fuzz.fuzz(SLICE, SEED, 2, slow_limit=2.0, mem_every=50)
    assert totals.inputs >= SLICE
    details = [
        f"{signature} (e.g. --reproduce {group[0].input_id}):\n{group[0].detail[-1500:]}"
        for signature, group in totals.findings.items()
    ]
    assert not totals.lost_chunks, f"chunks that never came back (hang): {totals.lost_chunks}"
    assert not details, "\n\n".join(details)
    assert totals.mem_peak < fuzz.MEM_BOUND


def test_inputs_are_deterministic_and_varied(fuzz: ModuleType) -> None:
    seeds = fuzz.load_seeds()
    first = list(fuzz.chunk_inputs(SEED, 3, 300, seeds))
    assert first == list(fuzz.chunk_inputs(SEED, 3, 300, seeds))
    assert first != list(fuzz.chunk_inputs(SEED, 4, 300, seeds))
    values = [value for value, _ in first]
    assert len(set(values)) > 250
    prefixes = {value[:3] for value in values}
    assert {b"k8s", b"\xd9\xd9\xf7"} <= prefixes and any(v.startswith(b"k8s:enc:") for v in values)


def test_check_reports_what_escapes(fuzz: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """The slice can fail: a decoder that raises, or returns a multi-line error, is reported."""
    value = fuzz.load_seeds().values[0].value
    assert fuzz.check(value, None) == []

    def raising(*_args: object, **_kwargs: object) -> Decoded:
        raise KeyError("boom")

    monkeypatch.setattr(fuzz, "decode_value", raising)
    [(layer, problem, detail)] = fuzz.check(value, None, lower=False)
    assert (layer, problem) == ("decode_value", "raised KeyError") and "boom" in detail

    def two_lines(*_args: object, **_kwargs: object) -> Decoded:
        return Decoded(family=Family.BINARY, size=1, error="one\ntwo")

    monkeypatch.setattr(fuzz, "decode_value", two_lines)
    assert fuzz.check(value, None, lower=False)[0][1] == "error is not one line"
