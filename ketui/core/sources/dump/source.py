"""Offline source over files written by ``etcdctl get "" --prefix -w json`` (plain or gzip).

Such a dump is one JSON document ``{"header": {..., "revision": N}, "kvs": [{"key": b64,
"create_revision": .., "mod_revision": .., "version": .., "value": b64, "lease": ..}, ...],
"count": N}`` on a single line; ``value`` and ``lease`` are left out when empty/zero and ``kvs``
when there are no keys. Several documents in one file (``>>`` appends) are accepted.

Streaming: a dump can be several GB, almost all of it base64 values. The file is memory-mapped and
scanned with regular expressions (one match per key in etcdctl's field order, a member-by-member
fallback for anything else), so only the keys, their metadata and the *position* of each base64
value stay in memory; a value is decoded when :meth:`DumpSource.get` asks for it. A gzip file is
decompressed once, streaming, into an anonymous temporary file (already unlinked, so nothing is
left behind; it needs free space in ``$TMPDIR`` for the uncompressed size) which is then mapped
the same way. Scanning runs in a worker thread; progress goes to ``on_progress(bytes_done,
bytes_total)`` on the event loop, counted in on-disk bytes of all files.

The UI does not wait for the whole scan: :meth:`DumpSource.scan_keys` hands the keys over in
batches of :data:`CHANGES_CHUNK` while the scan runs (the first after an eighth of that), built in
the scan thread by :class:`_ChangesBuilder`, which also stops a scan nobody needs any more. There
is never more than one scan: ``load()`` and every other call wait for the same one
(:mod:`ketui.core.sources.shared_scan`).

Several files are merged: for a key present in more than one, the highest ``mod_revision`` wins
(the later file on a tie); the source's revision is the highest header revision. A dump cannot
record deletions, so a key deleted between two dumps stays visible from the older one.

A dump holds a single revision of each key: ``history`` has one entry, ``watch`` ends at once, and
reading at an older revision works only where the key's ``mod_revision`` proves the value was
already current then (otherwise :class:`CompactedError`).
"""

from __future__ import annotations

import asyncio
import binascii
import bisect
import gzip
import json
import mmap
import os
import re
import tempfile
import zlib
from array import array
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, lt
from pathlib import Path
from typing import IO, Any

from ketui.core.gcpause import gc_paused
from ketui.core.gilsteps import (
    free_dicts,
    free_in_steps,
    sharded_dicts,
    sort_in_steps,
    yield_gil,
)
from ketui.core.source import (
    CompactedError,
    EventType,
    History,
    KeyChanges,
    KeyInfo,
    KeyValue,
    ProgressCallback,
    Revision,
    SourceError,
    SourceStatus,
    WatchEvent,
)
from ketui.core.sources.shared_scan import Scan, SharedScan

GZIP_MAGIC = b"\x1f\x8b"
_PROGRESS_STEP = 8 << 20  # report progress every 8 MiB scanned
_SMALL_VALUE_WINDOW = 1 << 20  # header/count/... members are tiny; refuse anything bigger
_COPY_CHUNK = 4 << 20
CHANGES_CHUNK = 32768
"""Keys per :class:`KeyChanges` batch of :meth:`DumpSource.scan_keys` (the scan also checks there
whether it should stop); the first batch is an eighth of it, so the UI paints sooner. A module
constant so that tests can make it tiny."""
_TAKE_STEP = 1 << 16  # rows copied per C call when the merged table is built
_KEY_OF = attrgetter("key")

_WS = re.compile(rb"[ \t\r\n]*")
_NAME = re.compile(rb'"([^"\\]*)"[ \t\r\n]*:[ \t\r\n]*')
# One key/value object exactly as etcdctl writes it (Go encoding/json, omitempty fields).
_FAST_KV = re.compile(
    rb'\{"key":"([A-Za-z0-9+/=]*)","create_revision":(\d+),"mod_revision":(\d+),'
    rb'"version":(\d+)(?:,"value":"([A-Za-z0-9+/=]*)")?(?:,"lease":(\d+))?\}(,)?'
)
# One member of a key/value object written some other way (reordered, pretty-printed by jq...).
_KV_MEMBER = re.compile(
    rb'[ \t\r\n]*"(\w+)"[ \t\r\n]*:[ \t\r\n]*(?:"([^"]*)"|(-?\d+)|(true|false|null))[ \t\r\n]*'
)
_INT_FIELDS = {
    b"create_revision": "create",
    b"mod_revision": "mod",
    b"version": "version",
    b"lease": "lease",
}
_DECODER = json.JSONDecoder()


def prefix_range_end(prefix: bytes) -> bytes | None:
    """The exclusive end of etcd's ``--prefix`` range for ``prefix``; ``None`` means no end."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def b64_decoded_size(length: int, padding: int) -> int:
    """Decoded length of a base64 string of ``length`` characters ending in ``padding`` '='."""
    return length // 4 * 3 - padding


class DumpFormatError(SourceError):
    """A dump file is not a well-formed etcdctl JSON dump; names the file and byte offset."""

    def __init__(self, name: str, offset: int, reason: str) -> None:
        self.name = name
        self.offset = offset
        super().__init__(f"{name}: not an etcdctl JSON dump: {reason} at byte {offset}")


@dataclass
class _Rows:
    """Keys and metadata in column arrays (an object per key would cost ~10x the memory)."""

    keys: list[bytes] = field(default_factory=list)
    create: array[int] = field(default_factory=lambda: array("q"))
    mod: array[int] = field(default_factory=lambda: array("q"))
    version: array[int] = field(default_factory=lambda: array("q"))
    lease: array[int] = field(default_factory=lambda: array("q"))
    file: array[int] = field(default_factory=lambda: array("i"))
    offset: array[int] = field(default_factory=lambda: array("q"))  # -1: no value (empty)
    length: array[int] = field(default_factory=lambda: array("q"))  # base64 characters
    size: array[int] = field(default_factory=lambda: array("q"))  # decoded bytes

    def append(
        self, key: bytes, create: int, mod: int, version: int, lease: int,
        file: int, offset: int, length: int, size: int,
    ) -> None:  # fmt: skip
        self.keys.append(key)
        self.create.append(create)
        self.mod.append(mod)
        self.version.append(version)
        self.lease.append(lease)
        self.file.append(file)
        self.offset.append(offset)
        self.length.append(length)
        self.size.append(size)

    def take(self, order: Sequence[int]) -> _Rows:
        """A new table with the rows at ``order``, in that order (in steps of :data:`_TAKE_STEP`
        rows: one array built from a million items holds the GIL for 50-90 ms)."""
        out = _Rows()
        out.keys = [self.keys[i] for i in order]
        for name in ("create", "mod", "version", "lease", "file", "offset", "length", "size"):
            column: array[int] = getattr(self, name)
            copy: array[int] = getattr(out, name)
            for start in range(0, len(order), _TAKE_STEP):
                copy.extend(map(column.__getitem__, order[start : start + _TAKE_STEP]))
                yield_gil()
        return out

    def infos(self, lo: int, hi: int) -> list[KeyInfo]:
        """The :class:`KeyInfo` of rows ``lo`` to ``hi`` (the collector paused: they are kept)."""
        with gc_paused():
            return list(
                map(
                    KeyInfo,
                    self.keys[lo:hi],
                    self.create[lo:hi],
                    self.mod[lo:hi],
                    self.version[lo:hi],
                    self.lease[lo:hi],
                    self.size[lo:hi],
                )
            )

    def info(self, index: int) -> KeyInfo:
        return KeyInfo(
            key=self.keys[index],
            create_revision=self.create[index],
            mod_revision=self.mod[index],
            version=self.version[index],
            lease=self.lease[index],
            size=self.size[index],
        )


@dataclass
class _DumpFile:
    """One opened dump: its name, the mapped (decompressed) bytes and what its headers said."""

    name: str
    disk_size: int
    handle: IO[bytes]
    buf: mmap.mmap
    compressed: bool
    revision: int = 0
    cluster_ids: set[int] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.buf.close()
        self.handle.close()


class _Progress:
    """Turns scan positions into ``on_progress(done, total)`` calls on the event loop."""

    def __init__(
        self, callback: ProgressCallback | None, loop: asyncio.AbstractEventLoop, total: int
    ) -> None:
        self._callback = callback
        self._loop = loop
        self.total = total
        self.base = 0  # on-disk bytes already accounted for (finished files, decompression)
        self._last = -_PROGRESS_STEP

    def advance(self, done: int) -> None:
        """Move the base by ``done`` bytes; later reports are relative to the new base."""
        self.base += done
        self._last = -_PROGRESS_STEP

    def report(self, done: int, force: bool = False) -> None:
        if self._callback is None or (not force and done - self._last < _PROGRESS_STEP):
            return
        self._last = done
        value = min(self.base + done, self.total)
        self._loop.call_soon_threadsafe(self._callback, value, self.total)


def _open_mapped(path: Path, progress: _Progress) -> _DumpFile:
    """Open ``path`` (decompressing gzip into an anonymous temporary file) and mmap it."""
    name = str(path)
    try:
        disk_size = path.stat().st_size
        with open(path, "rb") as probe:
            compressed = probe.read(2) == GZIP_MAGIC
            # The plain file stays open for the mmap; _DumpFile.close() closes it.
            handle = _gunzip_to_tempfile(probe, name, progress) if compressed else open(path, "rb")
    except IsADirectoryError as exc:
        raise SourceError(f"{name}: is a directory, expected an etcdctl JSON dump") from exc
    except OSError as exc:
        raise SourceError(f"{name}: cannot open: {exc.strerror or exc}") from exc
    try:
        if os.fstat(handle.fileno()).st_size == 0:
            raise SourceError(f"{name}: empty file, expected an etcdctl JSON dump")
        buf = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except BaseException:
        handle.close()
        raise
    if compressed:
        progress.advance(disk_size // 2)  # the decompression was the first half of its share
    return _DumpFile(name=name, disk_size=disk_size, handle=handle, buf=buf, compressed=compressed)


def _gunzip_to_tempfile(raw: IO[bytes], name: str, progress: _Progress) -> IO[bytes]:
    raw.seek(0)
    out = tempfile.TemporaryFile(prefix="ketui-dump-")  # noqa: SIM115 - returned to the caller
    try:
        with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            while chunk := stream.read(_COPY_CHUNK):
                out.write(chunk)
                progress.report(raw.tell() // 2)
        out.flush()
    except (OSError, EOFError, zlib.error) as exc:
        out.close()
        raise SourceError(
            f"{name}: corrupt or truncated gzip data near compressed byte {raw.tell()}: {exc}"
        ) from exc
    except BaseException:
        out.close()
        raise
    return out


class _Scanner:
    """Reads the documents of one mapped dump file into a :class:`_Rows` table."""

    def __init__(
        self,
        dump: _DumpFile,
        file_index: int,
        rows: _Rows,
        progress: _Progress,
        on_chunk: _ChangesBuilder,
    ) -> None:
        self.dump = dump
        self.buf = dump.buf
        self.end = len(dump.buf)
        self.file_index = file_index
        self.rows = rows
        self.progress = progress
        # Progress counts on-disk bytes; decompression already reported half of a gzip file.
        share = dump.disk_size - (dump.disk_size // 2 if dump.compressed else 0)
        self._scale = share / self.end if self.end else 0.0
        self._released = 0
        self.on_chunk = on_chunk

    def done(self, pos: int) -> int:
        """On-disk bytes of all files accounted for once ``pos`` is scanned."""
        return min(self.progress.base + int(pos * self._scale), self.progress.total)

    def release(self, pos: int) -> None:
        """Unmap the pages scanned so far: they stay in the page cache for later value reads, but
        do not count in the process' resident memory (a multi-GB dump would look resident)."""
        end = pos - pos % mmap.PAGESIZE
        if end > self._released and hasattr(mmap, "MADV_DONTNEED"):
            self.buf.madvise(mmap.MADV_DONTNEED, self._released, end - self._released)
            self._released = end

    def fail(self, pos: int, reason: str) -> DumpFormatError:
        return DumpFormatError(self.dump.name, pos, reason)

    def cut_short(self, pos: int) -> bool:
        """Whether the object being parsed at ``pos`` cannot be complete: no '}' follows."""
        return self.buf.find(b"}", pos) == -1

    def skip_ws(self, pos: int) -> int:
        match = _WS.match(self.buf, pos)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def expect(self, pos: int, char: bytes, what: str) -> int:
        pos = self.skip_ws(pos)
        if pos >= self.end:
            raise self.fail(pos, f"file ends where {what} was expected (truncated?)")
        if self.buf[pos : pos + 1] != char:
            found = bytes(self.buf[pos : pos + 1])
            raise self.fail(pos, f"expected {what}, found {found.decode('latin-1')!r}")
        return pos + 1

    def run(self) -> None:
        pos = self.skip_ws(0)
        documents = 0
        while pos < self.end:
            pos = self.skip_ws(self.document(pos))
            documents += 1
        if documents == 0:
            raise self.fail(pos, "the file holds only whitespace")
        self.release(self.end)

    def document(self, pos: int) -> int:
        start = pos
        pos = self.expect(pos, b"{", "'{' opening the dump document")
        header: dict[str, Any] | None = None
        count: int | None = None
        kvs = 0
        more = False
        pos = self.skip_ws(pos)
        if self.buf[pos : pos + 1] != b"}":
            while True:
                pos = self.skip_ws(pos)
                match = _NAME.match(self.buf, pos)
                if match is None:
                    if self.cut_short(pos):
                        raise self.fail(pos, "file ends inside the dump document (truncated?)")
                    raise self.fail(pos, "expected a member name")
                name = match.group(1)
                pos = match.end()
                if name == b"kvs":
                    pos, kvs = self.kvs(pos)
                else:
                    value_pos = pos
                    value, pos = self.small_value(pos, name.decode("latin-1"))
                    if name == b"header":
                        if not isinstance(value, dict) or not isinstance(
                            value.get("revision"), int
                        ):
                            raise self.fail(value_pos, "'header' has no integer 'revision'")
                        header = value
                    elif name == b"count":
                        count = value if isinstance(value, int) else None
                    elif name == b"more":
                        more = value is True
                pos = self.skip_ws(pos)
                if self.buf[pos : pos + 1] == b",":
                    pos += 1
                    continue
                pos = self.expect(pos, b"}", "',' or '}' in the dump document")
                break
        else:
            pos += 1
        if header is None:
            raise self.fail(start, "document has no 'header' (is this `etcdctl get -w json`?)")
        self.dump.revision = max(self.dump.revision, int(header["revision"]))
        if isinstance(header.get("cluster_id"), int):
            self.dump.cluster_ids.add(header["cluster_id"])
        if more:
            self.dump.warnings.append(
                f"{self.dump.name}: incomplete dump ('more' is true: written with --limit)"
            )
        elif count is not None and count != kvs:
            self.dump.warnings.append(
                f"{self.dump.name}: 'count' says {count} keys but the document holds {kvs}"
            )
        return pos

    def small_value(self, pos: int, name: str) -> tuple[Any, int]:
        """Decode a small JSON value (header, count...) with the json module."""
        window = bytes(self.buf[pos : pos + _SMALL_VALUE_WINDOW])
        text = window.decode("utf-8", "surrogateescape")
        try:
            value, index = _DECODER.raw_decode(text)
        except json.JSONDecodeError as exc:
            at = pos + len(text[: exc.pos].encode("utf-8", "surrogateescape"))
            if pos + len(window) >= self.end:
                raise self.fail(at, f"bad value for '{name}': {exc.msg} (truncated?)") from None
            raise self.fail(at, f"bad or oversized value for '{name}': {exc.msg}") from None
        return value, pos + len(text[:index].encode("utf-8", "surrogateescape"))

    def kvs(self, pos: int) -> tuple[int, int]:
        """Scan the ``kvs`` array; returns the position after it and the number of entries."""
        pos = self.expect(pos, b"[", "'[' opening 'kvs'")
        pos = self.skip_ws(pos)
        if self.buf[pos : pos + 1] == b"]":
            return pos + 1, 0
        buf = self.buf
        rows = self.rows
        fast = _FAST_KV.match
        a2b = binascii.a2b_base64
        # Bound methods of the column arrays: this loop runs once per key.
        add_key, add_create, add_mod = rows.keys.append, rows.create.append, rows.mod.append
        add_version, add_lease, add_file = rows.version.append, rows.lease.append, rows.file.append
        add_offset, add_length, add_size = rows.offset.append, rows.length.append, rows.size.append
        file_index = self.file_index
        on_chunk = self.on_chunk
        count = 0  # entries so far: rows.keys has ``base + count``
        base = len(rows.keys)
        next_chunk = on_chunk.next_at - base
        next_report = pos + _PROGRESS_STEP
        while True:
            match = fast(buf, pos)
            try:
                if match is not None:
                    key, create, mod, version, _, lease, comma = match.groups()
                    value_start, value_end = match.span(5)
                    length = value_end - value_start
                    add_key(a2b(key))
                    add_create(int(create))
                    add_mod(int(mod))
                    add_version(int(version))
                    add_lease(int(lease) if lease else 0)
                    add_file(file_index)
                    add_length(length)
                    if length > 0:
                        add_offset(value_start)
                        padding = (buf[value_end - 1] == 61) + (buf[value_end - 2] == 61)
                        add_size(length // 4 * 3 - padding)
                    else:
                        add_offset(-1)
                        add_size(0)
                    pos = match.end()
                else:
                    comma = None
                    pos = self.slow_kv(pos)
            except binascii.Error as exc:
                raise self.fail(pos, f"bad base64 key: {exc}") from None
            count += 1
            if pos >= next_report or count >= next_chunk:
                if count >= next_chunk:
                    on_chunk(rows, self.done(pos))
                    next_chunk = on_chunk.next_at - base
                if pos >= next_report:
                    next_report = pos + _PROGRESS_STEP
                    self.progress.report(int(pos * self._scale))
                    self.release(pos)
            if comma:
                continue  # etcdctl's compact form: the next entry follows at once
            pos = self.skip_ws(pos)
            char = buf[pos : pos + 1]
            if char == b",":
                pos = self.skip_ws(pos + 1)
                continue
            if char == b"]":
                return pos + 1, count
            if not char:
                raise self.fail(pos, "file ends inside 'kvs' (truncated?)")
            raise self.fail(pos, f"expected ',' or ']' in 'kvs', found {char.decode('latin-1')!r}")

    def slow_kv(self, pos: int) -> int:
        """Parse one key/value object member by member (any order, any whitespace)."""
        start = pos
        pos = self.expect(pos, b"{", "'{' opening a key/value entry")
        ints = {"create": 0, "mod": 0, "version": 0, "lease": 0}
        key: bytes | None = None
        value_span = (-1, -1)
        pos = self.skip_ws(pos)
        if self.buf[pos : pos + 1] != b"}":
            while True:
                member = _KV_MEMBER.match(self.buf, pos)
                if member is None:
                    if self.cut_short(pos):
                        raise self.fail(pos, "file ends inside a key/value entry (truncated?)")
                    raise self.fail(pos, "malformed key/value entry")
                name = member.group(1)
                text, number = member.group(2), member.group(3)
                if name in (b"key", b"value") and text is None:
                    raise self.fail(member.start(1), f"'{name.decode()}' must be a base64 string")
                if name in _INT_FIELDS and number is None:
                    raise self.fail(member.start(1), f"'{name.decode()}' must be an integer")
                if name == b"key":
                    key = binascii.a2b_base64(text)
                elif name == b"value":
                    value_span = member.span(2)
                elif name in _INT_FIELDS:
                    ints[_INT_FIELDS[name]] = int(number)
                pos = member.end()
                char = self.buf[pos : pos + 1]
                if char == b",":
                    pos += 1
                    continue
                pos = self.expect(pos, b"}", "',' or '}' in a key/value entry")
                break
        else:
            pos += 1
        if key is None:
            raise self.fail(start, "key/value entry without 'key'")
        value_start, value_end = value_span
        length = max(0, value_end - value_start)
        encoded = bytes(self.buf[value_start:value_end]) if length else b""
        if b"\\" in encoded:
            # JSON escapes in base64 text (e.g. "\/"): size from the decoded value, kept exact.
            size = len(binascii.a2b_base64(encoded.replace(b"\\", b"")))
        else:
            size = b64_decoded_size(length, encoded[-2:].count(b"="))
        self.rows.append(
            key, ints["create"], ints["mod"], ints["version"], ints["lease"], self.file_index,
            value_start if length else -1, length, size,
        )  # fmt: skip
        return pos


class _ChangesBuilder:
    """The chunk callback of a shared scan, called by the scanner every :data:`CHANGES_CHUNK`
    rows and at the end of each file: stops the scan when asked, and while someone listens turns
    the new rows into a :class:`KeyChanges` batch (in the scan thread).

    It also follows how far the rows are in strictly increasing key order (``ordered``): a single
    etcdctl dump is, so its rows go over as they are and the merge has nothing to do. Past that
    point a key may come again (another file, another document), and a row is handed over only
    if it wins the merge against every earlier row of its key (a higher ``mod_revision``, or an
    equal one: it comes later), which is what the listener then holds for it.
    """

    def __init__(self, scan: Scan[_Loaded], total: int) -> None:
        self._scan = scan
        self._total = total
        self.next_at = max(1, CHANGES_CHUNK // 8)  # row count at which the scanner calls again
        self.ordered = 0  # rows[:ordered] have strictly increasing keys
        self._start = 0  # first row not looked at yet
        self._shown: list[dict[bytes, int]] = sharded_dicts()  # key -> mod shown

    def __call__(self, rows: _Rows, done: int) -> None:
        scan = self._scan
        scan.check()
        keys = rows.keys
        start, end = self._start, len(keys)
        self._start = end
        self.next_at = end + CHANGES_CHUNK
        if self.ordered == start and start < end:
            self._extend_ordered(keys, start, end)
        if not scan.listening:
            return
        if self.ordered >= end:
            puts = rows.infos(start, end)  # already in key order, distinct
        else:
            puts = self._winners(rows, start, end)
        scan.emit(KeyChanges(puts, [], done, self._total))

    def release(self) -> None:
        """Forget what was shown, without holding the GIL long."""
        free_dicts(self._shown)

    def _extend_ordered(self, keys: list[bytes], start: int, end: int) -> None:
        lo = max(0, start - 1)
        if all(map(lt, keys[lo : end - 1], keys[lo + 1 : end])):  # a few ms for a chunk
            self.ordered = end
            return
        index = max(1, start)
        while index < end and keys[index - 1] < keys[index]:
            index += 1
        self.ordered = index

    def _winners(self, rows: _Rows, start: int, end: int) -> list[KeyInfo]:
        """Rows ``start`` to ``end`` that win against what was handed over, in key order."""
        keys, mods, ordered = rows.keys, rows.mod, self.ordered
        shown = self._shown
        chosen = {keys[i]: i for i in range(start, min(end, ordered))}  # key -> row, this batch
        for index in range(max(start, ordered), end):
            key = keys[index]
            mod = mods[index]
            shard = shown[hash(key) & (len(shown) - 1)]  # DICT_SHARDS: a power of two
            before = shard.get(key)
            if before is None:  # not seen past the ordered rows: maybe among them
                at = bisect.bisect_left(keys, key, 0, ordered)
                if at < ordered and keys[at] == key:
                    before = mods[at]
            if before is None or mod >= before:  # a tie goes to the later row
                shard[key] = mod
                chosen[key] = index
        with gc_paused():
            puts = [rows.info(i) for i in chosen.values()]
        puts.sort(key=_KEY_OF)  # KeyIndex.add_many is fastest in key order
        return puts


def _merge(rows: _Rows, ordered: int) -> _Rows:
    """Sort by key and keep one row per key: highest mod_revision, the later row on a tie (the
    later file; in a file, the later document). ``rows[:ordered]`` are known to be in strictly
    increasing key order. Done in steps that never hold the GIL long."""
    keys = rows.keys
    if ordered >= len(keys):
        return rows  # the usual single etcdctl dump: already sorted, no duplicates
    order = sort_in_steps(range(len(keys)), keys.__getitem__)  # equal keys: in any order
    mods = rows.mod
    chosen: list[int] = []
    for index in order:
        if chosen and keys[chosen[-1]] == keys[index]:
            last = chosen[-1]
            if (mods[index], index) > (mods[last], last):
                chosen[-1] = index
        else:
            chosen.append(index)
    free_in_steps(order, _TAKE_STEP)
    merged = rows.take(chosen)
    free_in_steps(chosen, _TAKE_STEP)
    return merged


@dataclass
class _Loaded:
    """What a finished scan hands to the source."""

    files: list[_DumpFile]
    rows: _Rows
    revision: int
    warnings: list[str]

    def close(self) -> None:
        for dump in self.files:
            dump.close()


class DumpSource:
    """:class:`~ketui.core.source.Source` over one or several etcdctl JSON dumps (``live=False``).

    Loading happens on first use (or an explicit ``await load()``) in a worker thread;
    :meth:`scan_keys` hands over the keys while it runs. There is never more than one scan: every
    caller waits for the same one.
    """

    def __init__(
        self, paths: Sequence[str | os.PathLike[str]], on_progress: ProgressCallback | None = None
    ) -> None:
        if not paths:
            raise SourceError("no dump file given")
        self.paths = [Path(p) for p in paths]
        self.on_progress = on_progress
        self._scan: SharedScan[_Loaded] = SharedScan(
            self._load_sync, _Loaded.close, str(self.paths[0])
        )

    @property
    def live(self) -> bool:
        return False

    @property
    def _files(self) -> list[_DumpFile]:
        loaded = self._scan.result
        return [] if loaded is None else loaded.files

    @property
    def _revision(self) -> int:
        loaded = self._scan.result
        return 0 if loaded is None else loaded.revision

    @property
    def _warnings(self) -> list[str]:
        loaded = self._scan.result
        return [] if loaded is None else loaded.warnings

    @property
    def warnings(self) -> list[str]:
        """Things the user should know about the files (incomplete dumps, mixed clusters...)."""
        return list(self._warnings)

    async def load(self) -> None:
        """Scan every file (once); raises :class:`SourceError` naming the file and byte offset."""
        await self._table()

    async def _table(self) -> _Rows:
        return (await self._scan.load()).rows

    def _load_sync(self, scan: Scan[_Loaded]) -> _Loaded:  # in the scan thread
        total = 0
        for path in self.paths:
            try:
                total += path.stat().st_size
            except OSError as exc:
                raise SourceError(f"{path}: cannot open: {exc.strerror or exc}") from exc
        progress = _Progress(self.on_progress, scan.loop, total)
        on_chunk = _ChangesBuilder(scan, total)
        rows = _Rows()
        files: list[_DumpFile] = []
        try:
            for index, path in enumerate(self.paths):
                base = progress.base
                dump = _open_mapped(path, progress)
                files.append(dump)
                _Scanner(dump, index, rows, progress, on_chunk).run()
                progress.advance(base + dump.disk_size - progress.base)
                on_chunk(rows, progress.base)  # the rest of the file's rows
                progress.report(0, force=True)
            merged = _merge(rows, on_chunk.ordered)
        except BaseException:
            for dump in files:
                dump.close()
            raise
        finally:
            on_chunk.release()
        if merged is not rows:
            free_in_steps(rows.keys, _TAKE_STEP)
        warnings = [w for dump in files for w in dump.warnings]
        clusters = {cid for dump in files for cid in dump.cluster_ids}
        if len(clusters) > 1:
            warnings.append(
                "the dumps come from different clusters: "
                + ", ".join(f"{cid:x}" for cid in sorted(clusters))
            )
        return _Loaded(files, merged, max(dump.revision for dump in files), warnings)

    def scan_keys(self) -> AsyncIterator[KeyChanges]:
        """Every key, handed over in batches while the files are being scanned.

        Applying each batch in order to an empty :class:`~ketui.core.index.keyindex.KeyIndex`
        (``add_many(puts)``; a dump records no deletes, so ``deletes`` stays empty) leaves exactly
        the keys and :class:`KeyInfo` values of ``list_keys(b"")``, the merge of several files
        included: a key's version is put only when it wins against those put before, so a losing
        version never replaces a winning one. A batch covers :data:`CHANGES_CHUNK` keys of the
        files (the first an eighth of it) and one ends each file; its puts are distinct and in
        key order; ``done``/``total`` are on-disk bytes of all files. The iterator ends once the
        table is complete (``get``, ``count`` etc. then answer at once).

        When the table is already loaded, or a scan started by another caller is running, the
        batches come from the table once it is there. Errors are those of :meth:`load`. Leaving
        early stops the scan at its next batch unless a :meth:`load` waits for it; a later call
        then scans again.
        """
        return self._scan.changes(self._replay)

    async def _replay(self, loaded: _Loaded) -> AsyncGenerator[KeyChanges, None]:
        """The keys of a loaded table as :meth:`scan_keys` batches."""
        rows = loaded.rows
        size = sum(dump.disk_size for dump in loaded.files)
        step = max(1, CHANGES_CHUNK)
        for start in range(0, len(rows.keys), step):
            puts = await asyncio.to_thread(rows.infos, start, start + step)
            yield KeyChanges(puts, [], size, size)

    def _span(self, rows: _Rows, prefix: bytes) -> tuple[int, int]:
        lo = bisect.bisect_left(rows.keys, prefix)
        end = prefix_range_end(prefix)
        hi = len(rows.keys) if end is None else bisect.bisect_left(rows.keys, end, lo)
        return lo, hi

    def _check_revision(self, rows: _Rows, index: int | None, revision: int | None) -> None:
        """Refuse a past revision unless the key's value provably was current then."""
        if revision is None or revision >= self._revision:
            return
        if index is not None and rows.mod[index] <= revision:
            return
        raise CompactedError(self._revision, revision)

    def _value(self, rows: _Rows, index: int) -> bytes:
        offset = rows.offset[index]
        if offset < 0:
            return b""
        dump = self._files[rows.file[index]]
        encoded = dump.buf[offset : offset + rows.length[index]]
        try:
            return binascii.a2b_base64(encoded.replace(b"\\", b""))
        except binascii.Error as exc:
            key = rows.keys[index].decode("utf-8", "backslashreplace")
            raise SourceError(
                f"{dump.name}: corrupt value of {key} at byte {offset}: bad base64 ({exc})"
            ) from None

    async def status(self, *, count_keys: bool = True) -> SourceStatus:  # counting is cheap
        rows = await self._table()
        extra = {"files": str(len(self._files))}
        if self._warnings:
            extra["warnings"] = "; ".join(self._warnings)
        return SourceStatus(
            kind="dump",
            description=", ".join(str(p) for p in self.paths),
            revision=self._revision,
            compact_revision=None,
            db_size=sum(dump.disk_size for dump in self._files),
            key_count=len(rows.keys),
            read_only=True,
            extra=extra,
        )

    async def list_keys(
        self, prefix: bytes = b"", *, revision: int | None = None, page_size: int = 10_000
    ) -> AsyncIterator[list[KeyInfo]]:
        rows = await self._table()
        lo, hi = self._span(rows, prefix)
        if revision is not None and revision < self._revision:
            if any(rows.mod[i] > revision for i in range(lo, hi)):
                raise CompactedError(self._revision, revision)
        page_size = max(1, page_size)
        for start in range(lo, hi, page_size):
            yield [rows.info(i) for i in range(start, min(hi, start + page_size))]
            await asyncio.sleep(0)  # let the UI breathe between pages

    async def count(self, prefix: bytes = b"") -> int:
        rows = await self._table()
        lo, hi = self._span(rows, prefix)
        return hi - lo

    def _find(self, rows: _Rows, key: bytes) -> int | None:
        index = bisect.bisect_left(rows.keys, key)
        if index < len(rows.keys) and rows.keys[index] == key:
            return index
        return None

    async def get(self, key: bytes, *, revision: int | None = None) -> KeyValue | None:
        rows = await self._table()
        index = self._find(rows, key)
        self._check_revision(rows, index, revision)
        if index is None:
            return None
        return KeyValue(
            key=key,
            value=self._value(rows, index),
            create_revision=rows.create[index],
            mod_revision=rows.mod[index],
            version=rows.version[index],
            lease=rows.lease[index],
        )

    async def history(self, key: bytes) -> History:
        """The one revision the dump holds; the floor is that revision (nothing older is known)."""
        kv = await self.get(key)
        if kv is None:
            return History(key=key, revisions=[], compact_revision=self._revision)
        return History(
            key=key,
            revisions=[Revision(type=EventType.PUT, kv=kv)],
            compact_revision=kv.mod_revision,
        )

    async def watch(
        self, prefix: bytes = b"", *, start_revision: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        """A dump is frozen and holds no change events: ends immediately."""
        await self.load()
        return
        yield  # pragma: no cover - makes this an async generator

    async def close(self) -> None:
        """Close the files; a scan still running stops at its next batch (waited for)."""
        loaded = await self._scan.close()
        if loaded is not None:
            loaded.close()
