"""The one async interface every ketui data source implements: live etcd, etcdctl dumps, snapshots.

The UI and the CLI only talk to :class:`Source`. Keys and values are ``bytes`` as etcd stores them;
revisions are etcd store revisions. Nothing here knows about Textual.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

ProgressCallback = Callable[[int, int], None]
"""``(done, total)`` while an offline source reads its file(s), called on the event loop thread."""

ValueTest = Callable[[Any, int, int], bool]
"""``test(buffer, start, end)``: whether a stored value is wanted. ``buffer`` is bytes or a memory
map; the value ends at ``end`` and starts at most :data:`VALUE_SLACK` bytes after ``start``.
Called in worker threads."""

VALUE_SLACK = 48
"""How far after ``start`` a :data:`ValueTest`'s value may start: a snapshot tests its KeyValue
records from just after the key, which the revisions and the value's tag and length follow."""

FILTER_CHUNK = 4096
"""Keys a source tests per worker-thread step in :meth:`Source.filter_values`."""


class SourceError(Exception):
    """A source failed in a way the user must be told about (bad file, unreachable endpoint...).

    The message is complete and human-readable; callers show ``str(error)`` as it is.
    """


class CompactedError(SourceError):
    """The requested revision is older than the compaction floor."""

    def __init__(self, compact_revision: int, requested: int | None = None) -> None:
        self.compact_revision = compact_revision
        self.requested = requested
        super().__init__(f"compacted at {compact_revision}")


@dataclass(slots=True)
class KeyInfo:
    """A key and its etcd metadata, without the value.

    ``size`` is the value's length in bytes, or ``None`` where the source cannot know it without
    transferring the value (a keys-only listing of live etcd).

    Not frozen on purpose: listings create one per key (a million on big clusters) and a frozen
    dataclass costs about seven times as much to construct. Treat instances as read-only.
    """

    key: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0
    size: int | None = None


@dataclass(slots=True)
class KeyChanges:
    """Net effect of one stretch of a file scan on the set of keys.

    See :meth:`ketui.core.sources.snapshot.source.SnapshotSource.scan_keys`.
    """

    puts: list[KeyInfo]  # keys whose latest entry so far is a PUT (distinct keys, any order)
    deletes: list[bytes]  # keys whose latest entry so far is a tombstone
    done: int  # bytes scanned so far
    total: int  # file size


@dataclass(frozen=True, slots=True)
class KeyValue:
    """A key with its value and metadata at one revision."""

    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0

    @property
    def size(self) -> int:
        return len(self.value)


class EventType(enum.Enum):
    PUT = "put"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change. For DELETE, ``kv.value`` is empty and ``kv.mod_revision`` is the delete
    revision."""

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class Revision:
    """One entry of a key's history: a PUT with its value, or a DELETE (tombstone)."""

    type: EventType
    kv: KeyValue


@dataclass(frozen=True, slots=True)
class History:
    """Every revision of one key still available, oldest first, and the compaction floor."""

    key: bytes
    revisions: list[Revision]
    compact_revision: int


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """An etcd lease: its id and, where the source knows them, its TTLs in seconds."""

    id: int
    granted_ttl: int | None = None
    remaining_ttl: int | None = None  # a snapshot: what was left at its last checkpoint, if any


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    name: str
    client_urls: tuple[str, ...]
    is_leader: bool = False
    is_learner: bool = False  # etcd 3.4+: a non-voting member catching up


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What a source is and how big. Fields a source cannot know are ``None``."""

    kind: str  # "etcd", "dump", "snapshot", "demo"
    description: str  # e.g. "https://127.0.0.1:2379" or "/backup/etcd.db"
    revision: int
    compact_revision: int | None = None
    db_size: int | None = None
    version: str | None = None
    endpoint: str | None = None
    leader: str | None = None
    members: tuple[Member, ...] = ()
    key_count: int | None = None
    read_only: bool = True
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Source(Protocol):
    """Read access to an etcd keyspace, live or offline.

    All methods are coroutines or async iterators and never block the event loop: network I/O is
    asynchronous and file parsing runs in threads.
    """

    @property
    def live(self) -> bool:
        """True when the keyspace can change (live etcd); offline sources are frozen."""
        ...

    async def status(self, *, count_keys: bool = True) -> SourceStatus:
        """Where the data comes from and its size. ``count_keys=False`` lets a live source leave
        ``key_count`` unset instead of counting every key (etcd walks its whole index for that:
        half a second at a million keys); the UI, which counts its own index, polls that way."""
        ...

    def list_keys(
        self, prefix: bytes = b"", *, revision: int | None = None, page_size: int = 10_000
    ) -> AsyncIterator[list[KeyInfo]]:
        """Keys under ``prefix`` in key order, in pages, all read at one fixed revision.

        With ``revision=None`` the revision of the first page is used for every later page.
        """
        ...

    async def count(self, prefix: bytes = b"") -> int:
        """Number of keys under ``prefix`` without transferring values."""
        ...

    async def current_revision(self) -> int:
        """The store's revision now, as cheaply as the source can tell (no key count)."""
        ...

    @property
    def warnings(self) -> Sequence[str]:
        """What the source found wrong with its data that the user should know although the data
        is still shown (an incomplete ``--limit`` dump, dumps of different clusters...)."""
        ...

    async def get(self, key: bytes, *, revision: int | None = None) -> KeyValue | None:
        """The key's value and metadata now (or at ``revision``); ``None`` when absent.

        Raises :class:`CompactedError` when ``revision`` is below the compaction floor.
        """
        ...

    async def history(self, key: bytes) -> History: ...

    def filter_values(
        self, prefix: bytes, keep: ValueTest, *, on_progress: ProgressCallback | None = None
    ) -> AsyncGenerator[list[KeyValue], None]:
        """The keys under ``prefix`` now whose stored value passes ``keep``, in key order, in
        pages; ``on_progress(keys tested, keys in all)`` as it goes.

        Content search (:mod:`ketui.core.search`) runs here: the source tests each value where
        its bytes are (in a worker thread, :data:`FILTER_CHUNK` keys a step) and builds
        :class:`KeyValue` objects only for the values that pass.
        """
        ...

    def watch(
        self, prefix: bytes = b"", *, start_revision: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        """Changes under ``prefix`` from ``start_revision`` (default: now), with previous values.

        Reconnects by itself, resuming at the last seen revision + 1 without gap or duplicate.
        Raises :class:`CompactedError` when the revision to resume from has been compacted. An
        offline source replays the history it holds from ``start_revision`` and then ends.
        """
        ...

    async def close(self) -> None: ...


# ----------------------------------------------------------------------------- optional abilities
# A source has these where it can; callers test with isinstance (the protocols are checked by mypy
# like the Source protocol itself) and fall back to the Source calls otherwise.


@runtime_checkable
class ScansFiles(Protocol):
    """An offline source read from file(s): reports how far its read is, and hands its keys over
    while it is still reading (the UI paints before a big file is read to the end)."""

    on_progress: ProgressCallback | None
    """Called with ``(bytes done, bytes total)`` on the event loop while the file(s) are read."""

    def scan_keys(self) -> AsyncIterator[KeyChanges]:
        """Every key as batches of changes: replaying them gives the :meth:`Source.list_keys`
        listing at the source's revision."""
        ...


@runtime_checkable
class ListsValues(Protocol):
    """A source that sends values in pages more cheaply than one :meth:`Source.get` per key."""

    def list_values(self, prefix: bytes = b"") -> AsyncIterator[list[KeyValue]]:
        """Keys under ``prefix`` with their values, in pages, in key order, at one revision."""
        ...


@runtime_checkable
class ListsLeases(Protocol):
    """A source that knows its leases, with or without keys attached (live etcd; a snapshot's
    lease bucket). Other sources know leases only from their keys' ``lease`` field."""

    async def leases(self) -> list[LeaseInfo]:
        """Every lease, in id order."""
        ...


@runtime_checkable
class ReadsLeases(Protocol):
    """A source that knows its leases' time to live (live etcd)."""

    async def lease_ttl(self, lease_id: int) -> tuple[int, int] | None:
        """``(remaining, granted)`` seconds of ``lease_id``; ``None`` when it has expired."""
        ...
