"""EtcdConfig reads flags and ETCDCTL_* variables the way etcdctl does."""

from __future__ import annotations

import pytest

from ketui.core.source import SourceError
from ketui.core.sources.etcd.config import EtcdConfig, parse_duration


def test_defaults_match_etcdctl() -> None:
    config = EtcdConfig.from_env_and_args(env={})
    assert config.endpoints == ["127.0.0.1:2379"]
    assert (config.dial_timeout, config.command_timeout) == (2.0, 5.0)
    assert not config.insecure_skip_tls_verify and not config.uses_tls


def test_environment_is_read_and_flags_win() -> None:
    env = {
        "ETCDCTL_ENDPOINTS": "https://a:2379,https://b:2379",
        "ETCDCTL_CACERT": "/env/ca.crt",
        "ETCDCTL_CERT": "/env/c.crt",
        "ETCDCTL_KEY": "/env/c.key",
        "ETCDCTL_USER": "alice:secret",
        "ETCDCTL_INSECURE_SKIP_TLS_VERIFY": "true",
        "ETCDCTL_DIAL_TIMEOUT": "3s",
        "ETCDCTL_COMMAND_TIMEOUT": "1m30s",
        "ETCDCTL_KEEPALIVE_TIME": "500ms",
    }
    config = EtcdConfig.from_env_and_args(env=env)
    assert config.endpoints == ["https://a:2379", "https://b:2379"]
    assert (config.cacert, config.cert, config.key) == ("/env/ca.crt", "/env/c.crt", "/env/c.key")
    assert (config.user, config.password) == ("alice", "secret")
    assert config.insecure_skip_tls_verify and config.uses_tls
    assert (config.dial_timeout, config.command_timeout, config.keepalive_time) == (3, 90, 0.5)

    flags = EtcdConfig.from_env_and_args(
        endpoints="http://c:2379",
        cacert="/flag/ca.crt",
        user="bob",
        password="pw",
        insecure_skip_tls_verify=False,
        command_timeout="10s",
        env=env,
    )
    assert flags.endpoints == ["http://c:2379"]
    assert flags.cacert == "/flag/ca.crt" and flags.cert == "/env/c.crt"
    assert (flags.user, flags.password) == ("bob", "pw")
    assert not flags.insecure_skip_tls_verify and flags.command_timeout == 10


def test_password_variable_beats_the_colon_form() -> None:
    config = EtcdConfig.from_env_and_args(user="u:p1", env={"ETCDCTL_PASSWORD": "p2"})
    assert (config.user, config.password) == ("u:p1", "p2")


def test_repr_never_shows_the_password() -> None:
    config = EtcdConfig.from_env_and_args(user="root:hunter2", env={})
    assert "hunter2" not in repr(config) and "hunter2" not in str(config)
    assert "password='***'" in repr(config)


@pytest.mark.parametrize(
    ("text", "seconds"), [("5s", 5), ("250ms", 0.25), ("1m30s", 90), ("2", 2), ("1h", 3600)]
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"command_timeout": "5 seconds"}, "invalid duration '5 seconds'"),
        ({"cert": "/c.crt"}, "--cert and --key must be given together"),
        ({"password": "x"}, "--password given without --user"),
    ],
)
def test_bad_values_are_one_line_errors(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        EtcdConfig.from_env_and_args(env={}, **kwargs)  # type: ignore[arg-type]


def test_bad_boolean_in_environment() -> None:
    with pytest.raises(SourceError, match="ETCDCTL_INSECURE_SKIP_TLS_VERIFY"):
        EtcdConfig.from_env_and_args(env={"ETCDCTL_INSECURE_SKIP_TLS_VERIFY": "maybe"})
