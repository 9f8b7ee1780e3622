"""Real-cluster values written by someone else's code (etcd-io/auger's 2017 samples, see
auger/README.md): the default view prints them exactly as kubectl did, and names what the
newest release drops (metadata.clusterName, removed in 1.25) instead of printing it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketui.cli.main import main
from ketui.core.k8s.decode import decode_value
from ketui.core.k8s.render import to_yaml

SAMPLES = Path(__file__).parent / "auger"


def _expected(name: str) -> str:
    text = (SAMPLES / f"{name}.yaml").read_text()
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))


@pytest.mark.parametrize("name", ["pod", "job"])
def test_default_view_prints_what_kubectl_printed(name: str) -> None:
    value = (SAMPLES / f"{name}.bin").read_bytes().removesuffix(b"\n")  # etcdctl's newline
    decoded = decode_value(value)
    assert decoded.view == "1.36"
    assert to_yaml(decoded.obj) == _expected(name)
    assert [f.path for f in decoded.dropped][:1] == ["metadata.clusterName"]
    assert all(f.releases == "1.17-1.24" and f.value == "" for f in decoded.dropped)


def test_decode_command_names_the_dropped_fields(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", str(SAMPLES / "job.bin")]) == 0
    out, err = capfd.readouterr()
    assert out == _expected("job")
    assert "2 stored fields that 1.36 drops: metadata.clusterName (known to 1.17-1.24)" in err
    assert main(["decode", str(SAMPLES / "job.bin"), "-o", "json", "--kube-version", "1.24"]) == 0
    out, err = capfd.readouterr()
    assert '"clusterName": ""' not in out  # omitempty in 1.24: an empty one is not printed
    assert "drops" not in err  # 1.24 has the field: nothing left out
