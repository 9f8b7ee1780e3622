"""`ketui export` cannot leave its folder (issue 9): keys with ``..``, ``/`` runs, absolute-looking
parts, NUL, 64 KiB names and case collisions, and links placed in the folder beforehand."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest

from ketui.cli.export_files import MAX_NAME_BYTES, ExportWriter, Refused, component
from ketui.cli.main import main
from ketui.core.k8s.protobuf.encode import encode_object
from tests.reliability import hostile

HOSTILE_KEYS = [
    b"/registry/configmaps/default/../../../../tmp/escape",
    b"/registry/configmaps/../x",
    b"/registry/configmaps/default//double//slash",
    b"/registry/configmaps//etc/passwd",
    b"/registry/configmaps/default/nul\x00byte",
    b"/registry/configmaps/default/" + b"n" * 65536,
    b"/registry/configmaps/default/Foo",
    b"/registry/configmaps/default/foo",
    b"/registry/configmaps/default/FOO",
    b"/registry/../../etc/cron.d/x",
    b"/registry/configmaps/default/" + hostile.SEQUENCES["title"].encode(),
    b"/registry/configmaps/default/bad\xff\xfe",
    b"/registry/configmaps/linked/cm",  # its folder is a link placed beforehand
    b"/registry/configmaps/kube-system/cm",  # its file is a link placed beforehand
    b"/registry/configmaps/kube-system/kept",  # its file exists
]


def _configmap(name: str) -> bytes:
    return encode_object({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name[:60], "namespace": "default"}, "data": {"k": "v"},
    })  # fmt: skip


def _dump(path: Path, keys: list[bytes]) -> Path:
    kvs = [
        {"key": base64.b64encode(key).decode(), "create_revision": i + 2, "mod_revision": i + 2,
         "version": 1, "value": base64.b64encode(_configmap(f"cm{i}")).decode()}
        for i, key in enumerate(sorted(keys))
    ]  # fmt: skip
    doc = {"header": {"revision": len(keys) + 1}, "kvs": kvs, "count": len(kvs)}
    path.write_text(json.dumps(doc))
    return path


def _all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_components_stay_one_safe_name_and_decode_back() -> None:
    for raw in (b"..", b".", b"", b"a/b", b"/etc", b"nul\x00", b"\x1b]0;x\x07", b"bad\xff", b"ok"):
        name = component(raw)
        assert name not in (".", "..") and "/" not in name and "\x00" not in name
        assert name.isprintable() and name.isascii()
        back = unquote_to_bytes(name) if name != "%" else b""
        assert back == raw
    long = component(b"x" * 65536, ".yaml")
    assert len(long.encode()) <= MAX_NAME_BYTES and long.endswith(".yaml") and "%%" in long
    assert component(b"x" * 65536) != component(b"x" * 65535)  # still distinct


def test_export_writes_only_inside_and_refuses_with_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.yaml").write_text("do not touch")
    target = tmp_path / "out"
    (target / "configmaps" / "kube-system").mkdir(parents=True)
    os.symlink(outside, target / "configmaps" / "linked")
    os.symlink(outside / "victim.yaml", target / "configmaps" / "kube-system" / "cm.yaml")
    (target / "configmaps" / "kube-system" / "kept.yaml").write_text("mine")
    before_outside = {p: p.read_bytes() for p in outside.rglob("*")}
    dump = _dump(tmp_path / "dump.json", HOSTILE_KEYS)

    code = main(["export", "/registry/", str(target), "-s", str(dump)])
    out, err = capsys.readouterr()

    assert code == 1  # some files were refused; the others were written
    assert {p: p.read_bytes() for p in outside.rglob("*")} == before_outside
    assert (target / "configmaps" / "kube-system" / "kept.yaml").read_text() == "mine"
    for path in _all_files(target):
        resolved = path.resolve() if not path.is_symlink() else path.parent.resolve()
        assert resolved.is_relative_to(target.resolve()), path
        for part in path.relative_to(target).parts:
            assert part not in (".", "..") and len(part.encode()) <= MAX_NAME_BYTES
    written = [Path(line) for line in out.splitlines()]
    assert len(written) == len(HOSTILE_KEYS) - 3  # all but the link, the link folder, the file
    assert len({str(p).casefold() for p in written}) == len(written)  # no case collision left
    refusals = [line for line in err.splitlines() if line.startswith("ketui: not written")]
    assert len(refusals) == 3, err
    assert any("symbolic link" in line and "linked" in line for line in refusals)
    assert any("exists (--force overwrites it)" in line for line in refusals)
    assert "exported 12 object(s)" in err and "3 file(s) not written" in err


def test_force_overwrites_files_but_never_follows_links(tmp_path: Path) -> None:
    outside = tmp_path / "victim.yaml"
    outside.write_text("do not touch")
    writer = ExportWriter(tmp_path / "out", force=True)
    try:
        parts = writer.path_for([b"configmaps", b"default"], b"cm")
        writer.write(parts, b"one", private=False)
        path = writer.write(parts, b"two", private=True)
        assert path.read_bytes() == b"two"
        link = tmp_path / "out" / "configmaps" / "default" / "linked.yaml"
        os.symlink(outside, link)
        with pytest.raises(Refused, match="symbolic link"):
            writer.write(writer.path_for([b"configmaps", b"default"], b"linked"), b"x",
                         private=False)  # fmt: skip
    finally:
        writer.close()
    assert outside.read_text() == "do not touch"
