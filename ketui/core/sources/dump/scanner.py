"""The etcdctl JSON dump scanner: one mapped file's documents into a table of key rows.

A dump can be several GB, almost all of it base64 values. The file is memory-mapped and scanned
with regular expressions (one match per key in etcdctl's field order, a member-by-member fallback
for anything else), so only the keys, their metadata and the *position* of each base64 value are
kept (:class:`Rows`); a gzip file is first decompressed, streaming, into an anonymous temporary
file. Nothing here knows about sources: :mod:`ketui.core.sources.dump.source` builds on it.
"""

from __future__ import annotations

import asyncio
import binascii
import gzip
import json
import mmap
import os
import re
import tempfile
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from ketui.core.bulk import gc_paused, yield_gil
from ketui.core.source import KeyInfo, ProgressCallback, SourceError


class RowsCallback(Protocol):
    """Called by the scanner once ``rows`` holds ``next_at`` rows (and the caller at the end of
    each file), with the on-disk bytes of all files scanned so far."""

    next_at: int

    def __call__(self, rows: Rows, done: int) -> None: ...


GZIP_MAGIC = b"\x1f\x8b"
_PROGRESS_STEP = 8 << 20  # report progress every 8 MiB scanned
_SMALL_VALUE_WINDOW = 1 << 20  # header/count/... members are tiny; refuse anything bigger
_COPY_CHUNK = 4 << 20
TAKE_STEP = 1 << 16  # rows copied per C call when the merged table is built

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
class Rows:
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

    def take(self, order: Sequence[int]) -> Rows:
        """A new table with the rows at ``order``, in that order (in steps of :data:`TAKE_STEP`
        rows: one array built from a million items holds the GIL for 50-90 ms)."""
        out = Rows()
        out.keys = [self.keys[i] for i in order]
        for name in ("create", "mod", "version", "lease", "file", "offset", "length", "size"):
            column: array[int] = getattr(self, name)
            copy: array[int] = getattr(out, name)
            for start in range(0, len(order), TAKE_STEP):
                copy.extend(map(column.__getitem__, order[start : start + TAKE_STEP]))
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
class DumpFile:
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


class Progress:
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


def open_mapped(path: Path, progress: Progress) -> DumpFile:
    """Open ``path`` (decompressing gzip into an anonymous temporary file) and mmap it."""
    name = str(path)
    try:
        disk_size = path.stat().st_size
        with open(path, "rb") as probe:
            compressed = probe.read(2) == GZIP_MAGIC
            # The plain file stays open for the mmap; DumpFile.close() closes it.
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
    return DumpFile(name=name, disk_size=disk_size, handle=handle, buf=buf, compressed=compressed)


def _gunzip_to_tempfile(raw: IO[bytes], name: str, progress: Progress) -> IO[bytes]:
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


class Scanner:
    """Reads the documents of one mapped dump file into a :class:`Rows` table."""

    def __init__(
        self,
        dump: DumpFile,
        file_index: int,
        rows: Rows,
        progress: Progress,
        on_chunk: RowsCallback,
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
