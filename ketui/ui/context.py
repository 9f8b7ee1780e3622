"""What every widget needs to know about the session: the source and how to decode its values."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ketui.core.k8s.decoded import Decoded
from ketui.core.k8s.shown import Decoder
from ketui.core.source import KeyValue, ReadsLeases, Source, SourceError


@dataclass
class ViewContext:
    """Shared, read-mostly session state handed to widgets at construction.

    ``clock`` is injectable so snapshot tests can freeze the times shown in the feed.
    """

    source: Source
    decoder: Decoder = field(default_factory=Decoder)
    prefix: str = "/registry"
    prefix_fixed: bool = False  # False: detect the prefix from the keys when they are loaded
    clock: Callable[[], datetime] = field(default=datetime.now)
    endpoints: tuple[str, ...] = ()
    etcdctl_args: tuple[str, ...] = ()  # TLS/auth flags for the copied `etcdctl get` line
    contexts: tuple[str, ...] = ()  # the config file's contexts, which :ctx switches to
    namespace_prefixes: Callable[[str], list[bytes]] | None = None
    """The key prefixes of one namespace in every resource the session has seen (set by the
    main screen from its key index): where an object's dependents can be."""

    async def decode(self, kv: KeyValue) -> Decoded:
        """Decode one value in a thread: protobuf decoding of big objects must not stall the UI."""
        return await asyncio.to_thread(self.decoder, kv)

    async def lease_ttl(self, lease: int) -> tuple[int, int] | None:
        """``(remaining, granted)`` TTL of ``lease`` in seconds when the source can tell.

        Only live etcd can (:class:`~ketui.core.source.ReadsLeases`).
        """
        if lease == 0 or not isinstance(self.source, ReadsLeases):
            return None
        try:
            return await self.source.lease_ttl(lease)
        except SourceError:  # a lost connection: just show no TTL
            return None
