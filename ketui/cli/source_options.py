"""The source options every ketui command takes (files, or live etcd flags as etcdctl spells them).

All options default to ``argparse.SUPPRESS``: the bare ``ketui`` parser and every sub-command add
the same options, and a sub-parser's defaults would otherwise overwrite what was given before the
sub-command (``ketui --endpoints X ls``). :func:`source_spec_from_args` reads them with
``getattr(args, name, None)``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from ketui.core.source import SourceError
from ketui.core.sources.etcd.config import EtcdConfig, parse_duration
from ketui.core.sources.open import DEFAULT_KUBEADM_MANIFEST, SourceSpec

# Options that say how to reach etcd: kubeadm discovery decides these itself.
_CONNECTION_OPTIONS = (
    "endpoints",
    "cacert",
    "client_cert",
    "client_key",
    "user",
    "password",
    "insecure_skip_tls_verify",
)
# Options that also apply to the etcd kubeadm discovery finds.
_TIMEOUT_OPTIONS = ("dial_timeout", "command_timeout")
_LIVE_OPTIONS = _CONNECTION_OPTIONS + _TIMEOUT_OPTIONS
_FLAGS = {"client_cert": "--cert", "client_key": "--key"}


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``-s/--source``, the etcdctl-style live options, ``--kubeadm`` and ``--prefix``."""
    group = parser.add_argument_group(
        "source",
        "Where the data comes from: dump/snapshot files (-s), or live etcd (etcdctl's flags and "
        "ETCDCTL_* variables). Default: kubeadm discovery when /etc/kubernetes/manifests/etcd.yaml "
        "is readable, else 127.0.0.1:2379.",
    )
    quiet = argparse.SUPPRESS
    group.add_argument(
        "-s", "--source", action="append", metavar="PATH", default=quiet,
        help="etcdctl JSON dump (plain or gzip; repeat to merge several), snapshot file "
        "or etcd data dir",
    )  # fmt: skip
    group.add_argument(
        "--endpoints", metavar="URLS", default=quiet,
        help="comma-separated etcd endpoints (ETCDCTL_ENDPOINTS)",
    )  # fmt: skip
    group.add_argument("--cacert", metavar="FILE", default=quiet, help="CA bundle for TLS")
    group.add_argument(
        "--cert", dest="client_cert", metavar="FILE", default=quiet, help="client certificate"
    )
    group.add_argument("--key", dest="client_key", metavar="FILE", default=quiet, help="client key")
    group.add_argument("--user", metavar="NAME[:PASSWORD]", default=quiet, help="etcd user")
    group.add_argument("--password", metavar="PASSWORD", default=quiet, help="etcd password")
    group.add_argument(
        "--insecure-skip-tls-verify", action="store_const", const=True, default=quiet,
        help="do not verify the server certificate (only when you must)",
    )  # fmt: skip
    group.add_argument(
        "--kubeadm", nargs="?", const=DEFAULT_KUBEADM_MANIFEST, metavar="MANIFEST", default=quiet,
        help="find etcd and its client certificate from a kubeadm static pod manifest "
        f"(default {DEFAULT_KUBEADM_MANIFEST}); write --kubeadm=MANIFEST before positionals",
    )  # fmt: skip
    group.add_argument(
        "--dial-timeout", metavar="DURATION", default=quiet, help="e.g. 2s (ETCDCTL_DIAL_TIMEOUT)"
    )
    group.add_argument(
        "--command-timeout", metavar="DURATION", default=quiet,
        help="e.g. 5s (ETCDCTL_COMMAND_TIMEOUT)",
    )  # fmt: skip
    group.add_argument(
        "--context", metavar="NAME", default=quiet,
        help="a context of the config file (~/.config/ketui/config.toml): its endpoints, "
        "certificates or files, prefix, release and encryption config, where not given here",
    )  # fmt: skip
    group.add_argument(
        "--prefix", dest="registry_prefix", metavar="PREFIX", default=quiet,
        help="Kubernetes key prefix (default: detected, usually /registry)",
    )  # fmt: skip


def _given(args: argparse.Namespace, name: str) -> object:
    return getattr(args, name, None)


def _text(args: argparse.Namespace, name: str) -> str | None:
    value = getattr(args, name, None)
    return value if isinstance(value, str) else None


def live_config_from_args(
    args: argparse.Namespace, env: Mapping[str, str] | None = None
) -> EtcdConfig:
    """The live etcd configuration from the flags and ``ETCDCTL_*`` (flags win)."""
    return EtcdConfig.from_env_and_args(
        endpoints=_text(args, "endpoints"),
        cacert=_text(args, "cacert"),
        cert=_text(args, "client_cert"),
        key=_text(args, "client_key"),
        user=_text(args, "user"),
        password=_text(args, "password"),
        insecure_skip_tls_verify=True if _given(args, "insecure_skip_tls_verify") else None,
        dial_timeout=_text(args, "dial_timeout"),
        command_timeout=_text(args, "command_timeout"),
        env=env,
    )


def source_spec_from_args(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    default_manifest: str = DEFAULT_KUBEADM_MANIFEST,
) -> SourceSpec:
    """Turn parsed options into a :class:`SourceSpec`.

    Without any option saying how to reach etcd (endpoint, TLS, user flags, or
    ``ETCDCTL_ENDPOINTS``): kubeadm discovery when ``default_manifest`` is readable, else
    etcdctl's default endpoint. Timeouts also apply to the etcd discovery finds. Raises
    :class:`~ketui.core.source.SourceError` for contradictory options.
    """
    environ = os.environ if env is None else env
    prefix = _text(args, "registry_prefix")
    paths: list[str] = getattr(args, "source", None) or []
    kubeadm = _text(args, "kubeadm")
    live_given = [name for name in _LIVE_OPTIONS if _given(args, name) is not None]
    if paths and (live_given or kubeadm):
        raise SourceError("give either -s/--source files or live etcd options, not both")
    if paths:
        return SourceSpec(paths=tuple(str(p) for p in paths), prefix=prefix)
    connection = [name for name in _CONNECTION_OPTIONS if name in live_given]
    if kubeadm is not None:
        if connection:
            flags = ", ".join(
                _FLAGS.get(name, "--" + name.replace("_", "-")) for name in connection
            )
            raise SourceError(f"give either --kubeadm or {flags}, not both")
        timeouts = _timeouts(args, environ)
        return SourceSpec(
            kubeadm=kubeadm,
            prefix=prefix,
            dial_timeout=timeouts["dial_timeout"],
            command_timeout=timeouts["command_timeout"],
        )
    if not connection and not environ.get("ETCDCTL_ENDPOINTS") and _readable(default_manifest):
        timeouts = _timeouts(args, environ)
        return SourceSpec(
            kubeadm=default_manifest,
            prefix=prefix,
            notes=(f"no source given: using the kubeadm etcd from {default_manifest}",),
            dial_timeout=timeouts["dial_timeout"],
            command_timeout=timeouts["command_timeout"],
        )
    return SourceSpec(etcd=live_config_from_args(args, environ), prefix=prefix)


def _timeouts(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, float | None]:
    """``--dial-timeout``/``--command-timeout`` (or their ``ETCDCTL_*`` variables) as given."""
    given: dict[str, float | None] = {}
    for name in _TIMEOUT_OPTIONS:
        text = _text(args, name) or environ.get(f"ETCDCTL_{name.upper()}")
        given[name] = parse_duration(text) if text else None
    return given


def _readable(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.R_OK)
