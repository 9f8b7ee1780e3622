"""Decrypted and unmasked Secret data never reaches the disk unless asked for (issue 9): after a
TUI session that decrypted and revealed Secrets from a gzip dump (which ketui unpacks into a
temporary file), no file in the temporary or cache folders holds the plaintext."""

from __future__ import annotations

import base64
import gzip
import json
import os
import tempfile
from pathlib import Path

import pytest
import yaml

from ketui.core.k8s.encryption import Keyring, encrypt_value
from ketui.core.k8s.protobuf.encode import encode_object
from ketui.core.sources.dump.source import DumpSource
from ketui.ui.app import make_app
from ketui.ui.widgets.key_tree import KeyTree
from ketui.ui.widgets.value_view import ValueView
from tests.ui.conftest import frozen_clock, value_settled, wait_until

PLAINTEXT = b"correct horse battery staple"
KEY = b"/registry/secrets/default/db"
SECRET = bytes(range(32))


def _dump(path: Path) -> None:
    secret = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "default"},
        "data": {"password": base64.b64encode(PLAINTEXT).decode()},
    }  # fmt: skip
    value = encrypt_value(encode_object(secret), provider="aescbc", key_name="k1", secret=SECRET)
    kv = {"key": base64.b64encode(KEY).decode(), "create_revision": 2, "mod_revision": 2,
          "version": 1, "value": base64.b64encode(value).decode()}  # fmt: skip
    doc = {"header": {"cluster_id": 1, "member_id": 2, "revision": 2, "raft_term": 2},
           "kvs": [kv], "count": 1}  # fmt: skip
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))


def _holders(folder: Path) -> list[Path]:
    forms = (PLAINTEXT, base64.b64encode(PLAINTEXT))
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(form in data for form in forms):
                found.append(path)
    return found


async def test_a_revealing_session_leaves_no_plaintext(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp, cache, home = tmp_path / "tmp", tmp_path / "cache", tmp_path / "home"
    for folder in (temp, cache, home):
        folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    config = tmp_path / "enc.yaml"
    config.write_text(yaml.safe_dump({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": [
            {"aescbc": {"keys": [{"name": "k1", "secret": base64.b64encode(SECRET).decode()}]}},
        ]}],
    }))  # fmt: skip
    planted = temp / "planted"
    planted.write_bytes(b"x" + PLAINTEXT)
    assert _holders(temp) == [planted]  # the search finds what it looks for
    planted.unlink()
    dump = tmp_path / "dump.json.gz"
    _dump(dump)
    app = make_app(DumpSource([dump]), clock=frozen_clock,
                   keyring=Keyring.from_config_file(str(config)))  # fmt: skip
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: not app.main.keys_loading)
        assert app.main.query_one(KeyTree).reveal_path(KEY.decode())
        view = app.main.query_one(ValueView)
        await wait_until(pilot, lambda: view.kv is not None and value_settled(app))
        await pilot.press("tab", "x")  # reveal
        await wait_until(pilot, lambda: base64.b64encode(PLAINTEXT).decode() in view.yaml_text())
        await wait_until(pilot, lambda: value_settled(app))
        await pilot.press("Y")  # copy the revealed YAML (clipboard and OSC 52, never a file)
        for tab in ("json", "raw", "meta", "history", "diff"):
            view.action_show_tab(tab)
            await pilot.pause()
    for folder in (temp, cache, home, Path(os.environ.get("TMPDIR", temp))):
        assert _holders(folder) == [], folder
