"""The user's config file: named contexts (how to reach a cluster or which files to open), a
default context, and a keymap that rebinds the TUI's actions by their ids.

``$KETUI_CONFIG``, else ``$XDG_CONFIG_HOME/ketui/config.toml`` (``~/.config/ketui/config.toml``);
no file is no config: kubeadm discovery and etcdctl's variables work as before. Example::

    default-context = "prod"

    [contexts.prod]
    endpoints = ["https://10.0.0.5:2379", "https://10.0.0.6:2379"]
    cacert = "/etc/kubernetes/pki/etcd/ca.crt"
    cert = "/etc/kubernetes/pki/etcd/healthcheck-client.crt"
    key = "/etc/kubernetes/pki/etcd/healthcheck-client.key"
    kube-version = "1.31"

    [contexts.backup]
    source = ["/backups/etcd-2026-12-01.db"]

    [keymap]
    "main.stats" = "ctrl+s"

A context fills only the options the command line does not give (the command line wins). The
default context is used when the command line names no source at all and ``ETCDCTL_ENDPOINTS`` is
not set. Passwords are never read from the file (``--password``, ``ETCDCTL_PASSWORD``). Every
mistake is reported with the file and the key, and nothing runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_ENV = "KETUI_CONFIG"

#: context key -> (option destination, kind): "text", "texts" (a list, or one text), "flag"
CONTEXT_KEYS: dict[str, tuple[str, str]] = {
    "endpoints": ("endpoints", "texts"),
    "cacert": ("cacert", "text"),
    "cert": ("client_cert", "text"),
    "key": ("client_key", "text"),
    "user": ("user", "text"),
    "insecure-skip-tls-verify": ("insecure_skip_tls_verify", "flag"),
    "dial-timeout": ("dial_timeout", "text"),
    "command-timeout": ("command_timeout", "text"),
    "kubeadm": ("kubeadm", "text"),
    "source": ("source", "texts"),
    "prefix": ("registry_prefix", "text"),
    "kube-version": ("kube_version", "text"),
    "encryption-config": ("encryption_config", "text"),
}
#: Options that name a source: when the command line gives one, the default context stays out.
_SOURCE_OPTIONS = ("source", "endpoints", "cacert", "client_cert", "client_key", "user",
                   "password", "kubeadm")  # fmt: skip


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Config:
    path: Path
    default_context: str | None = None
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)  # dest -> value
    keymap: dict[str, str] = field(default_factory=dict)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if env is None else env
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ketui" / "config.toml"


def load_config(path: Path) -> Config | None:
    """The config at ``path``, or None when there is no such file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    unknown = set(data) - {"default-context", "contexts", "keymap"}
    if unknown:
        raise ConfigError(f"{path}: unknown key {sorted(unknown)[0]!r} (expected "
                          "default-context, [contexts.NAME] or [keymap])")  # fmt: skip
    contexts = data.get("contexts", {})
    if not isinstance(contexts, dict):
        raise ConfigError(f"{path}: contexts must be tables: [contexts.NAME]")
    parsed = {name: _context(path, name, body) for name, body in contexts.items()}
    default = data.get("default-context")
    if default is not None and (not isinstance(default, str) or default not in parsed):
        known = ", ".join(sorted(parsed)) or "none"
        raise ConfigError(f"{path}: default-context {default!r} is not a context (known: {known})")
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in keymap.items()
    ):
        raise ConfigError(f'{path}: [keymap] maps binding ids to keys: "main.stats" = "ctrl+s"')
    return Config(path, default, parsed, dict(keymap))


def _context(path: Path, name: str, body: Any) -> dict[str, Any]:
    where = f"{path}: [contexts.{name}]"
    if not isinstance(body, dict):
        raise ConfigError(f"{where} must be a table")
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key == "password":
            raise ConfigError(f"{where}: passwords are never read from the config file: use "
                              "--password or ETCDCTL_PASSWORD")  # fmt: skip
        if key not in CONTEXT_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(CONTEXT_KEYS)})")
        dest, kind = CONTEXT_KEYS[key]
        if kind == "flag" and not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false")
        if kind == "text" and not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a string")
        if kind == "texts":
            texts = [value] if isinstance(value, str) else value
            if not (isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts)):
                raise ConfigError(f"{where}: {key} must be a string or a list of strings")
            value = texts
        values[dest] = value
    if "source" in values and any(d in values for d in _SOURCE_OPTIONS if d != "source"):
        raise ConfigError(f"{where}: give either source files or how to reach etcd, not both")
    return values


def switched(
    original: argparse.Namespace, name: str, env: Mapping[str, str] | None = None
) -> argparse.Namespace:
    """The options for context ``name`` (``:ctx`` in the TUI): the command line as it was given,
    less every option a context sets (the new context decides where the data comes from)."""
    dests = {dest for dest, _kind in CONTEXT_KEYS.values()} | set(_SOURCE_OPTIONS)
    fresh = argparse.Namespace(**{k: v for k, v in vars(original).items() if k not in dests})
    fresh.context = name
    apply_config(fresh, env)
    return fresh


def apply_config(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> str | None:
    """Fill ``args`` from the context ``--context`` names (or the default one where the command
    line names no source); keep the keymap in ``args.keymap`` and the context names in
    ``args.context_names`` (what ``:ctx`` may switch to). Returns a note on what was used."""
    environ = os.environ if env is None else env
    config = load_config(config_path(environ))
    args.given = argparse.Namespace(**vars(args))  # as parsed: what :ctx starts again from
    wanted = getattr(args, "context", None)
    args.keymap = config.keymap if config is not None else {}
    args.context_names = tuple(sorted(config.contexts)) if config is not None else ()
    if config is None:
        if wanted is not None:
            raise ConfigError(f"--context {wanted}: no config file ({config_path(environ)})")
        return None
    if wanted is not None and wanted not in config.contexts:
        known = ", ".join(sorted(config.contexts)) or "none"
        raise ConfigError(f"--context {wanted}: no such context in {config.path} (known: {known})")
    given = any(hasattr(args, dest) for dest in _SOURCE_OPTIONS)
    name = wanted
    if name is None and config.default_context is not None:
        if not given and not environ.get("ETCDCTL_ENDPOINTS"):
            name = config.default_context
    if name is None:
        return None
    for dest, value in config.contexts[name].items():
        if given and dest in _SOURCE_OPTIONS:
            continue  # the command line says where the data comes from
        if not hasattr(args, dest):
            setattr(args, dest, ",".join(value) if dest == "endpoints" else value)
    return f"context {name} ({config.path})"
