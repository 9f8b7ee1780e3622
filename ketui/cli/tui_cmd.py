"""The TUI commands: bare ``ketui`` (live etcd), ``ketui open FILE...`` and ``ketui demo``."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable

from ketui.cli import output
from ketui.cli.config_file import ConfigError, config_path, switched
from ketui.cli.source_options import add_source_arguments, source_spec_from_args
from ketui.cli.view_options import add_view_arguments, decoder_from_args, manifests_dir
from ketui.core.source import Source, SourceError
from ketui.core.sources.etcd.config import EtcdConfig
from ketui.core.sources.open import SourceSpec, open_source


class _Failure(Exception):
    """A one-line reason to stop before the TUI starts (exit status 1)."""


def _add_view_arguments(parser: argparse.ArgumentParser) -> None:
    quiet = argparse.SUPPRESS
    group = parser.add_argument_group("view")
    add_view_arguments(group)
    group.add_argument(
        "--no-feed", action="store_const", const=True, default=quiet,
        help="start with the watch feed hidden (f toggles it)",
    )  # fmt: skip


def register(
    parser: argparse.ArgumentParser,
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Set the default action of a bare `ketui` and add `open` and `demo`."""
    add_source_arguments(parser)
    _add_view_arguments(parser)
    parser.set_defaults(func=run_live)

    opener = subparsers.add_parser(
        "open",
        help="browse etcdctl JSON dumps or snapshot files in the TUI",
        description="Open etcdctl JSON dumps (plain or gzip; several are merged), an etcd snapshot "
        "file or an etcd data directory in the TUI.",
    )
    opener.add_argument("files", nargs="+", metavar="FILE")
    opener.add_argument(
        "--prefix", dest="registry_prefix", metavar="PREFIX", default=argparse.SUPPRESS,
        help="Kubernetes key prefix (default: detected, usually /registry)",
    )  # fmt: skip
    _add_view_arguments(opener)
    opener.set_defaults(func=run_open)

    demo = subparsers.add_parser(
        "demo",
        help="explore the built-in demo cluster (no etcd needed)",
        description="Open the TUI on the embedded demo cluster: a small kubeadm cluster with a "
        "short change history, so the watch feed and the history views have something to show.",
    )
    _add_view_arguments(demo)
    demo.set_defaults(func=run_demo)


def run_live(args: argparse.Namespace) -> int:
    return _run(args, lambda: source_spec_from_args(args))


def run_open(args: argparse.Namespace) -> int:
    prefix = getattr(args, "registry_prefix", None)
    return _run(args, lambda: SourceSpec(paths=tuple(args.files), prefix=prefix))


#: Past revisions of the demo replayed into the watch feed at start: its short change history.
DEMO_FEED_BACKLOG = 30


def run_demo(args: argparse.Namespace) -> int:
    from ketui.demo import ENCRYPTION_CONFIG, demo_source

    source = demo_source(live=True)
    # The demo ships its own encryption config and Kubernetes release unless the user overrides.
    if getattr(args, "encryption_config", None) is None:
        args.encryption_config = str(ENCRYPTION_CONFIG)
    if getattr(args, "kube_version", None) is None:
        args.kube_version = source.kube_version
    return _run(args, lambda: source, feed_backlog=DEMO_FEED_BACKLOG)


def _run(
    args: argparse.Namespace, make: Callable[[], SourceSpec | Source], feed_backlog: int = 0
) -> int:
    """Open the source ``make`` names (a spec, or a ready source) and run the TUI on it; after
    ``:ctx NAME``, again on that context of the config file."""
    while True:
        try:
            code, switch_to = _start(args, make, feed_backlog)
        except (_Failure, SourceError) as exc:
            output.note(str(exc))
            return 1
        if switch_to is None:
            return code
        try:
            args = switched(getattr(args, "given", args), switch_to)
        except ConfigError as error:
            output.note(str(error))
            return 2
        output.note(f"switching to context {switch_to}")
        make, feed_backlog = functools.partial(source_spec_from_args, args), 0


def _start(
    args: argparse.Namespace, make: Callable[[], SourceSpec | Source], feed_backlog: int
) -> tuple[int, str | None]:
    """The TUI's exit code, and the context ``:ctx`` asked for (None: the user quit)."""
    from ketui.ui.app import make_app

    endpoints: tuple[str, ...] = ()
    etcdctl_args: tuple[str, ...] = ()
    prefix: str | None = None
    made = make()
    # Only a live cluster is this node's own: a dump or snapshot may come from any cluster.
    live_spec = isinstance(made, SourceSpec) and not made.paths
    try:
        decoder = decoder_from_args(
            args, detect_in=manifests_dir(args) if live_spec else None
        )
    except ValueError as exc:
        raise _Failure(str(exc)) from None
    if not isinstance(made, SourceSpec):
        source = made
    else:
        spec = made
        prefix = spec.prefix
        source = open_source(spec, inform=output.note)
        if live_spec:
            from ketui.core.sources.etcd.source import EtcdSource  # grpc: only for live etcd

            assert isinstance(source, EtcdSource)
            # its config: also what kubeadm discovery found
            endpoints, etcdctl_args = _etcdctl_flags(source.config)
    try:
        app = make_app(
            source,
            kube_version=decoder.kube_version,
            keyring=decoder.keyring,
            prefix=prefix,
            show_feed=False if getattr(args, "no_feed", None) else None,
            endpoints=endpoints,
            etcdctl_args=etcdctl_args,
            feed_backlog=feed_backlog,
            keymap=getattr(args, "keymap", None),
            contexts=getattr(args, "context_names", ()),
        )
    except ValueError as error:  # a keymap naming no binding: the config file says how to fix
        output.note(f"{config_path()}: {error}")
        return 2, None
    return app.run() or 0, app.switch_to


def _etcdctl_flags(config: EtcdConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Endpoints and TLS flags for the copied `etcdctl get` line (never the password)."""
    flags = []
    for flag, value in (
        ("--cacert", config.cacert),
        ("--cert", config.cert),
        ("--key", config.key),
    ):
        if value:
            flags.append(f"{flag}={value}")
    if config.user:
        flags.append(f"--user={config.user}")
    return tuple(config.endpoints), tuple(flags)


