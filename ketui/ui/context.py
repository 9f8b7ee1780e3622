"""What every widget needs to know about the session: the source and how to decode its values."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ketui.core.k8s.decode import decode_value
from ketui.core.k8s.decoded import Decoded
from ketui.core.source import KeyValue, Source, SourceError

if TYPE_CHECKING:
    from ketui.core.k8s.encryption import Keyring


@dataclass
class ViewContext:
    """Shared, read-mostly session state handed to widgets at construction.

    ``clock`` is injectable so snapshot tests can freeze the times shown in the feed.
    """

    source: Source
    kube_version: str | None = None
    keyring: Keyring | None = None
    prefix: str = "/registry"
    prefix_fixed: bool = False  # False: detect the prefix from the keys when they are loaded
    clock: Callable[[], datetime] = field(default=datetime.now)
    endpoints: tuple[str, ...] = ()
    etcdctl_args: tuple[str, ...] = ()  # TLS/auth flags for the copied `etcdctl get` line

    async def decode(self, kv: KeyValue) -> Decoded:
        """Decode one value in a thread: protobuf decoding of big objects must not stall the UI."""
        return await asyncio.to_thread(self.decode_sync, kv)

    def decode_sync(self, kv: KeyValue) -> Decoded:
        return decode_value(
            kv.value, key=kv.key, kube_version=self.kube_version, keyring=self.keyring
        )

    async def lease_ttl(self, lease: int) -> tuple[int, int] | None:
        """``(remaining, granted)`` TTL of ``lease`` in seconds when the source can tell.

        Only live etcd can (``EtcdSource.lease_ttl``, an optional extra of the Source protocol).
        """
        method: Any = getattr(self.source, "lease_ttl", None)
        if lease == 0 or method is None:
            return None
        try:
            ttl = await method(lease)
        except SourceError:  # a lost connection: just show no TTL
            return None
        return (int(ttl[0]), int(ttl[1])) if ttl is not None else None
