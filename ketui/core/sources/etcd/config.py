"""How to reach a live etcd: endpoints, TLS files, credentials and timeouts, read like etcdctl.

etcdctl (v3) takes every global flag also from an environment variable named ``ETCDCTL_`` + the flag
in upper case with ``-`` turned into ``_`` (``--dial-timeout`` -> ``ETCDCTL_DIAL_TIMEOUT``); a flag
given on the command line wins over the variable. ``--user`` may carry ``name:password``. Durations
are Go durations (``5s``, ``500ms``, ``1m30s``). :meth:`EtcdConfig.from_env_and_args` follows the
same rules so users can reuse the environment they already have for etcdctl.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from ketui.core.source import SourceError

DEFAULT_ENDPOINT = "127.0.0.1:2379"

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_TRUE = {"1", "t", "true", "yes", "on"}
_FALSE = {"0", "f", "false", "no", "off", ""}


def parse_duration(text: str) -> float:
    """A Go duration (``"2s"``, ``"1m30s"``, ``"250ms"``) or a plain number, in seconds."""
    raw = text.strip()
    try:
        return float(raw)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(raw) or not raw:
        raise SourceError(f"invalid duration {text!r} (expected e.g. 5s, 500ms, 1m)")
    return total


def _parse_bool(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SourceError(f"invalid boolean {text!r} in {name} (expected true or false)")


def split_endpoints(text: str) -> list[str]:
    """``"a:2379, https://b:2379"`` -> ``["a:2379", "https://b:2379"]`` (etcdctl's comma list)."""
    return [part.strip() for part in text.split(",") if part.strip()]


@dataclass
class EtcdConfig:
    """Connection settings for :class:`ketui.core.sources.etcd.source.EtcdSource`.

    Timeouts are seconds. Defaults are etcdctl's, except ``keepalive_time``: etcd servers refuse
    pings more often than every 5 s (``--grpc-keepalive-min-time``) and grpc-go (etcdctl) silently
    raises anything below 10 s to 10 s, so 6 s keeps the server happy and still notices a dead
    endpoint within ``keepalive_time + keepalive_timeout`` seconds.
    """

    endpoints: list[str] = field(default_factory=lambda: [DEFAULT_ENDPOINT])
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    insecure_skip_tls_verify: bool = False
    dial_timeout: float = 2.0
    command_timeout: float = 5.0
    keepalive_time: float = 6.0
    keepalive_timeout: float = 3.0

    def __post_init__(self) -> None:
        if not self.endpoints:
            raise SourceError("no etcd endpoint given")
        if bool(self.cert) != bool(self.key):
            raise SourceError("--cert and --key must be given together")
        if self.password is not None and not self.user:
            raise SourceError("--password given without --user")

    @property
    def uses_tls(self) -> bool:
        """TLS when an endpoint says https, or TLS files are given for scheme-less endpoints."""
        if any(e.startswith(("https://", "unixs://")) for e in self.endpoints):
            return True
        schemeless = any("://" not in e for e in self.endpoints)
        return schemeless and bool(self.cacert or self.cert or self.insecure_skip_tls_verify)

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "password":
                value = None if value is None else "***"
            shown.append(f"{f.name}={value!r}")
        return f"EtcdConfig({', '.join(shown)})"

    @classmethod
    def from_env_and_args(
        cls,
        *,
        endpoints: str | list[str] | None = None,
        cacert: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        user: str | None = None,
        password: str | None = None,
        insecure_skip_tls_verify: bool | None = None,
        dial_timeout: str | float | None = None,
        command_timeout: str | float | None = None,
        keepalive_time: str | float | None = None,
        keepalive_timeout: str | float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> EtcdConfig:
        """Combine command-line values (``None`` = not given) with ``ETCDCTL_*`` variables.

        A given argument wins over its environment variable, as in etcdctl. ``env`` defaults to
        ``os.environ``. Raises :class:`SourceError` with a one-line message on bad values.
        """
        environ = os.environ if env is None else env

        def pick(arg: object, name: str) -> str | None:
            if arg is not None:
                return arg if isinstance(arg, str) else None
            value = environ.get(f"ETCDCTL_{name}")
            return value if value not in (None, "") else None

        if isinstance(endpoints, list):
            endpoint_list = [e for e in endpoints if e]
        else:
            text = pick(endpoints, "ENDPOINTS")
            endpoint_list = split_endpoints(text) if text else [DEFAULT_ENDPOINT]

        user_value = pick(user, "USER")
        password_value = pick(password, "PASSWORD")
        if user_value and ":" in user_value and password_value is None:
            user_value, password_value = user_value.split(":", 1)

        if insecure_skip_tls_verify is None:
            name = "ETCDCTL_INSECURE_SKIP_TLS_VERIFY"
            skip_text = environ.get(name)
            skip = _parse_bool(name, skip_text) if skip_text else False
        else:
            skip = insecure_skip_tls_verify

        defaults = cls.__dataclass_fields__
        timeouts: dict[str, float] = {}
        for name, arg in (
            ("dial_timeout", dial_timeout),
            ("command_timeout", command_timeout),
            ("keepalive_time", keepalive_time),
            ("keepalive_timeout", keepalive_timeout),
        ):
            if isinstance(arg, (int, float)):
                timeouts[name] = float(arg)
                continue
            text = pick(arg, name.upper())
            timeouts[name] = parse_duration(text) if text else float(defaults[name].default)  # type: ignore[arg-type]

        return cls(
            endpoints=endpoint_list,
            cacert=pick(cacert, "CACERT"),
            cert=pick(cert, "CERT"),
            key=pick(key, "KEY"),
            user=user_value,
            password=password_value,
            insecure_skip_tls_verify=skip,
            **timeouts,
        )
