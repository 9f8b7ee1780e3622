"""The config file: contexts, the default context, the keymap; every bad file is one clear message
naming the file and the key, and nothing runs."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from ketui.cli.config_file import ConfigError, apply_config, load_config
from ketui.cli.main import build_parser
from ketui.demo import demo_source
from ketui.ui.app import make_app
from ketui.ui.screens.stats import StatsScreen
from tests import cluster_data
from tests.cli.command import ketui as run_ketui
from tests.etcd_harness import EtcdServer
from tests.ui.conftest import wait_until

GOOD = """
default-context = "prod"

[contexts.prod]
endpoints = ["https://10.0.0.5:2379", "https://10.0.0.6:2379"]
cacert = "/pki/ca.crt"
cert = "/pki/client.crt"
key = "/pki/client.key"
kube-version = "1.31"

[contexts.backup]
source = "/backups/etcd.db"
prefix = "/kubernetes.io"

[keymap]
"main.stats" = "ctrl+s"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def parsed(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["ls", *argv])


def test_a_good_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config is not None and config.default_context == "prod"
    assert config.contexts["prod"]["endpoints"] == ["https://10.0.0.5:2379", "https://10.0.0.6:2379"]
    assert config.contexts["prod"]["client_cert"] == "/pki/client.crt"
    assert config.contexts["backup"] == {"source": ["/backups/etcd.db"],
                                         "registry_prefix": "/kubernetes.io"}  # fmt: skip
    assert config.keymap == {"main.stats": "ctrl+s"}
    assert load_config(tmp_path / "absent.toml") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("default-context = ", "not valid TOML"),
        ("colour = 'red'", "unknown key 'colour'"),
        ("[contexts.a]\nendpoint = 'x'", "[contexts.a]: unknown key 'endpoint'"),
        ("[contexts.a]\npassword = 'hunter2'", "passwords are never read from the config file"),
        ("[contexts.a]\ncacert = 3", "[contexts.a]: cacert must be a string"),
        ("[contexts.a]\nendpoints = []", "endpoints must be a string or a list of strings"),
        ("[contexts.a]\ninsecure-skip-tls-verify = 'yes'", "must be true or false"),
        ("[contexts.a]\nsource = 'x.db'\nendpoints = 'http://e:2379'", "not both"),
        ("default-context = 'b'\n[contexts.a]\nuser = 'u'", "default-context 'b' is not a context"),
        ("contexts = 3", "contexts must be tables"),
        ("[keymap]\n'main.stats' = 3", "[keymap] maps binding ids to keys"),
    ],
)
def test_bad_files_say_what_and_where(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=str(path).replace(".", r"\.")) as caught:
        load_config(path)
    assert message in str(caught.value)


def test_which_context_and_what_wins(tmp_path: Path) -> None:
    env = {"KETUI_CONFIG": str(write(tmp_path, GOOD))}
    args = parsed()
    assert apply_config(args, env) == f"context prod ({tmp_path / 'config.toml'})"
    assert args.endpoints == "https://10.0.0.5:2379,https://10.0.0.6:2379"
    assert args.kube_version == "1.31" and args.keymap == {"main.stats": "ctrl+s"}
    args = parsed("--endpoints", "http://127.0.0.1:2379")  # the command line names a source
    assert apply_config(args, env) is None and not hasattr(args, "cacert")
    args = parsed()
    assert apply_config(args, {**env, "ETCDCTL_ENDPOINTS": "http://e:2379"}) is None
    args = parsed("--context", "backup", "--prefix", "/registry")  # given options win
    apply_config(args, env)
    assert args.source == ["/backups/etcd.db"] and args.registry_prefix == "/registry"
    args = parsed("--context", "prod", "-s", "x.json")  # the files given, the context's rest
    apply_config(args, env)
    assert args.source == ["x.json"] and not hasattr(args, "endpoints")
    assert args.kube_version == "1.31"
    with pytest.raises(ConfigError, match=r"no such context in .*\(known: backup, prod\)"):
        apply_config(parsed("--context", "nope"), env)
    with pytest.raises(ConfigError, match="--context prod: no config file"):
        apply_config(parsed("--context", "prod"), {"KETUI_CONFIG": str(tmp_path / "none.toml")})
    args = parsed()
    assert apply_config(args, {"KETUI_CONFIG": str(tmp_path / "none.toml")}) is None
    assert args.keymap == {}


def ketui(config: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_ketui(*args, env={"KETUI_CONFIG": str(config)})


@pytest.mark.etcd
def test_contexts_reach_a_real_etcd_and_files(tmp_path: Path) -> None:
    server = EtcdServer().start()
    try:
        server.put("/registry/configmaps/default/a", b"v")
        dump = cluster_data.dump(server, tmp_path / "dump.json")
        config = write(tmp_path, f'default-context = "dev"\n[contexts.dev]\n'
                                 f'endpoints = "{server.endpoint}"\n'
                                 f'[contexts.saved]\nsource = ["{dump}"]\n')  # fmt: skip
        result = ketui(config, "ls", "--count")
        assert result.returncode == 0, result.stderr
        assert b"using the default context dev" in result.stderr and result.stdout == b"1\n"
        server.put("/registry/configmaps/default/b", b"w")  # the dump does not have it
        live = ketui(config, "ls", "--count", "--context", "dev")
        saved = ketui(config, "ls", "--count", "--context", "saved")
        assert (live.stdout, saved.stdout) == (b"2\n", b"1\n"), (live, saved)
        assert b"using the default" not in live.stderr  # named: no note
    finally:
        server.cleanup()
    bad = write(tmp_path, "[contexts.a]\npassword = 'x'")
    result = ketui(bad, "ls")
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr.startswith(b"ketui: " + str(bad).encode() + b": [contexts.a]: passwords")


async def test_the_keymap_rebinds_by_id() -> None:
    app = make_app(demo_source(live=False), show_feed=False, keymap={"main.stats": "ctrl+s"})
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: not app.main.keys_loading)
        await pilot.press("S")  # the old key no longer
        await pilot.pause()
        assert app.screen is app.main
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen))
    with pytest.raises(ValueError, match=r"no binding has the id 'main.stat' \(did you mean "):
        make_app(demo_source(live=False), keymap={"main.stat": "ctrl+s"})


def test_a_bad_keymap_stops_the_tui_with_a_message(tmp_path: Path) -> None:
    config = write(tmp_path, '[keymap]\n"value.nope" = "z"\n')
    result = ketui(config, "demo")
    assert result.returncode == 2
    assert b"no binding has the id 'value.nope'" in result.stderr and str(config).encode() in \
        result.stderr  # fmt: skip
