"""Read-only reader for bbolt databases (go.etcd.io/bbolt), the file format of etcd's backend.

Written from the on-disk format, not from a Go binding: the file is mapped read-only and walked
page by page. Layout (all integers little-endian, as bbolt writes them on amd64/arm64):

- every page starts with a 16-byte header ``{id u64, flags u16, count u16, overflow u32}``; a page
  with ``overflow = n`` spans ``n + 1`` consecutive pages of ``page_size`` bytes;
- pages 0 and 1 are meta pages ``{magic 0xED0CDAED, version 2, page_size, flags, root bucket
  {root pgid, sequence}, freelist pgid, high-water pgid, txid, checksum}``, the checksum being
  FNV-64a of the meta bytes before it; the valid meta with the higher txid is the current one;
- branch pages hold ``{pos u32, ksize u32, pgid u64}`` elements, leaf pages ``{flags u32, pos u32,
  ksize u32, vsize u32}`` elements; ``pos`` is relative to the element itself; keys are sorted;
- a leaf element with flag 0x01 is a sub-bucket whose value is ``{root pgid u64, sequence u64}``;
  root pgid 0 means an inline bucket whose leaf page follows inside the value itself;
- the freelist page (flag 0x10) lists free page ids; etcd does not sync it (freelist pgid = 2^64-1).

Nothing here takes bbolt's flock, writes, or waits. Every offset read from the file is checked
before use, so a truncated or corrupt file raises :class:`BboltError` naming the page and the
problem, and tree walks mark visited pages so a crafted page cycle cannot loop forever.
"""

from __future__ import annotations

import mmap
import os
import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from ketui.core.source import SourceError

MAGIC = 0xED0CDAED
VERSION = 2
PAGE_HEADER = struct.Struct("<QHHI")  # id, flags, count, overflow
META = struct.Struct("<IIIIQQQQQQ")  # magic .. checksum
META_CHECKSUMMED = 56  # bytes of the meta struct covered by its checksum
BRANCH_ELEMENT = struct.Struct("<IIQ")  # pos, ksize, pgid
LEAF_ELEMENT = struct.Struct("<IIII")  # flags, pos, ksize, vsize
ELEMENT_SIZE = 16
HEADER_SIZE = PAGE_HEADER.size
BUCKET_HEADER = struct.Struct("<QQ")  # root pgid, sequence

BRANCH_PAGE = 0x01
LEAF_PAGE = 0x02
META_PAGE = 0x04
FREELIST_PAGE = 0x10
BUCKET_LEAF_FLAG = 0x01
NO_FREELIST = 0xFFFFFFFFFFFFFFFF
MAX_TREE_DEPTH = 64  # far deeper than any real B+tree; a deeper descent means a cycle

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_PAGE_SIZES_TO_TRY = (4096, 8192, 16384, 32768, 65536, 1024, 2048)


class BboltError(SourceError):
    """The file is not a bbolt database, or it is truncated or corrupt. The message says where."""


class NotBboltError(BboltError):
    """Neither meta page carries bbolt's magic number: the file is something else entirely."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"not a bbolt database: {path} ({reason})")


def fnv64a(data: bytes) -> int:
    """FNV-1a 64-bit hash, bbolt's meta page checksum."""
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return value


@dataclass(frozen=True, slots=True)
class Meta:
    """A decoded, validated meta page."""

    page_id: int
    page_size: int
    flags: int
    root: int
    sequence: int
    freelist: int
    high_water: int  # number of pages in use (bbolt's meta.pgid)
    txid: int


class LeafPage(NamedTuple):
    """A checked leaf page: ``elements`` elements from ``offset + 16``; its data ends by ``end``."""

    offset: int
    elements: int
    end: int
    where: str  # "page 12" or "inline bucket in page 12", for error messages


class PageInfo(NamedTuple):
    """One page of a bucket's tree (for statistics and tests)."""

    pgid: int
    kind: str  # "branch" or "leaf"
    elements: int
    overflow: int


def _combine_reasons(reasons: list[str]) -> str:
    return (
        reasons[0]
        if len(set(reasons)) == 1
        else "; ".join(f"page {i}: {r}" for i, r in enumerate(reasons))
    )


class BboltFile:
    """A bbolt database file mapped read-only.

    ``path`` names the file in error messages (``label`` overrides it, e.g. to name the original
    of a copy). Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike[str], *, label: str | None = None) -> None:
        self.path = str(path)
        self.label = label or self.path
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise BboltError(f"cannot open {self.label}: {exc.strerror}") from None
        try:
            self.size = os.fstat(fd).st_size
            if self.size == 0:
                raise NotBboltError(self.label, "empty file")
            self._mm: mmap.mmap | None = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise BboltError(f"cannot map {self.label}: {exc.strerror}") from None
        finally:
            os.close(fd)
        try:
            self.meta = self._current_meta()
        except BaseException:
            self.close()
            raise

    # -- lifetime -------------------------------------------------------------------------------

    @property
    def buffer(self) -> mmap.mmap:
        """The read-only mapping. Offsets yielded by :class:`Bucket` index into it."""
        if self._mm is None:
            raise BboltError(f"{self.label}: database is closed")
        return self._mm

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
            self._mm = None

    def __enter__(self) -> BboltFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def page_size(self) -> int:
        return self.meta.page_size

    def error(self, where: str, problem: str) -> BboltError:
        return BboltError(f"{self.label}: {where}: {problem}")

    # -- meta pages -----------------------------------------------------------------------------

    def _read_meta(self, page_id: int, offset: int) -> tuple[Meta | None, str, bool]:
        """Decode the meta page at ``offset``: (meta or None, reason when invalid, magic ok)."""
        buf = self.buffer
        if offset + HEADER_SIZE + META.size > self.size:
            return None, "offset beyond end of file (file is truncated?)", False
        magic, version, page_size, flags, root, seq, freelist, high, txid, checksum = (
            META.unpack_from(buf, offset + HEADER_SIZE)
        )
        if magic != MAGIC:
            return None, "bad magic", False
        if version != VERSION:
            return None, f"unsupported version {version}", True
        start = offset + HEADER_SIZE
        if fnv64a(buf[start : start + META_CHECKSUMMED]) != checksum:
            return None, "checksum mismatch", True
        if page_size < 512 or page_size & (page_size - 1) or page_size > 1 << 24:
            return None, f"invalid page size {page_size}", True
        if high < 2:
            return None, f"invalid high-water mark {high}", True
        return Meta(page_id, page_size, flags, root, seq, freelist, high, txid), "", True

    def _current_meta(self) -> Meta:
        meta0, reason0, magic0 = self._read_meta(0, 0)
        candidates = [meta0.page_size] if meta0 else list(_PAGE_SIZES_TO_TRY)
        meta1, reason1, magic1 = None, "bad magic", False
        for size in candidates:
            meta1, reason1, magic1 = self._read_meta(1, size)
            if magic1:
                break
        if not (magic0 or magic1):
            if self.size < HEADER_SIZE + META.size:
                raise NotBboltError(self.label, f"only {self.size} bytes, too short")
            raise NotBboltError(self.label, "bad magic at page 0")
        valid = [m for m in (meta0, meta1) if m is not None]
        if not valid:
            raise BboltError(
                f"{self.label}: meta pages 0 and 1 both invalid: "
                + _combine_reasons([reason0, reason1])
            )
        meta = max(valid, key=lambda m: m.txid)
        needed = meta.high_water * meta.page_size
        if needed > self.size:
            last = min(meta.high_water - 1, self.size // meta.page_size)
            raise self.error(
                f"page {last}",
                f"offset beyond end of file (file is truncated? meta page {meta.page_id} "
                f"says {meta.high_water} pages of {meta.page_size} bytes = {needed} bytes, "
                f"the file has {self.size})",
            )
        return meta

    # -- pages ----------------------------------------------------------------------------------

    def page_header(self, pgid: int, allowed: int) -> tuple[int, int, int, int]:
        """Validate page ``pgid``: returns (offset, flags, count, end offset incl. overflow)."""
        where = f"page {pgid}"
        if pgid < 2:
            raise self.error(where, "a tree points at a meta page (file is corrupt)")
        if pgid >= self.meta.high_water:
            raise self.error(
                where, f"beyond the high-water mark {self.meta.high_water} (file is corrupt)"
            )
        offset = pgid * self.meta.page_size
        if offset + HEADER_SIZE > self.size:
            raise self.error(where, "offset beyond end of file (file is truncated?)")
        header_id, flags, count, overflow = PAGE_HEADER.unpack_from(self.buffer, offset)
        if header_id != pgid:
            raise self.error(where, f"header says page {header_id} (file is corrupt)")
        if not flags & allowed:
            raise self.error(where, f"unexpected page type 0x{flags:02x} (file is corrupt)")
        end = offset + (overflow + 1) * self.meta.page_size
        if end > self.size:
            raise self.error(
                where,
                f"{overflow} overflow pages run beyond end of file (file is truncated?)",
            )
        if pgid + overflow >= self.meta.high_water:
            raise self.error(where, f"{overflow} overflow pages pass the high-water mark")
        if flags & (BRANCH_PAGE | LEAF_PAGE) and offset + HEADER_SIZE + count * ELEMENT_SIZE > end:
            raise self.error(where, f"{count} elements do not fit in the page (file is corrupt)")
        return offset, flags, count, end

    def free_pages(self) -> array[int] | None:
        """Page ids on the freelist, or ``None`` when the freelist is not synced (etcd)."""
        pgid = self.meta.freelist
        if pgid == NO_FREELIST:
            return None
        offset, _flags, count, end = self.page_header(pgid, FREELIST_PAGE)
        start = offset + HEADER_SIZE
        if count == 0xFFFF:  # the real count did not fit in u16: it is the first u64
            if start + 8 > end:
                raise self.error(f"page {pgid}", "freelist count beyond the page")
            (count,) = struct.unpack_from("<Q", self.buffer, start)
            start += 8
        if start + count * 8 > end:
            raise self.error(f"page {pgid}", f"{count} free page ids do not fit in the page")
        ids = array("Q")
        ids.frombytes(self.buffer[start : start + count * 8])
        return ids

    def root(self) -> Bucket:
        """The top-level bucket (holds the named buckets)."""
        return Bucket(self, self.meta.root, where="root bucket")

    def bucket(self, name: bytes) -> Bucket | None:
        return self.root().bucket(name)


class Bucket:
    """A bucket: either a page tree rooted at ``root`` or an inline leaf page inside a value."""

    def __init__(
        self, db: BboltFile, root: int, *, inline: tuple[int, int] | None = None, where: str
    ) -> None:
        self.db = db
        self.root = root
        self.inline = inline  # (offset of the inline page, end of the value holding it)
        self.where = where

    def _inline_leaf(self) -> LeafPage:
        assert self.inline is not None
        offset, end = self.inline
        where = f"inline bucket in {self.where}"
        if offset + HEADER_SIZE > end:
            raise self.db.error(where, "value too short for a page header")
        _pid, flags, count, _overflow = PAGE_HEADER.unpack_from(self.db.buffer, offset)
        if not flags & LEAF_PAGE:
            raise self.db.error(where, f"unexpected page type 0x{flags:02x}")
        if offset + HEADER_SIZE + count * ELEMENT_SIZE > end:
            raise self.db.error(where, f"{count} elements do not fit in the value")
        return LeafPage(offset, count, end, where)

    def _walk(self) -> Iterator[tuple[int, int, int, int, int]]:
        """Depth-first, in key order: (pgid, offset, flags, count, end) of every tree page."""
        db = self.db
        visited = bytearray(db.meta.high_water)
        stack = [self.root]
        while stack:
            pgid = stack.pop()
            if pgid < len(visited):
                if visited[pgid]:
                    raise db.error(
                        f"page {pgid}", "reached twice in one tree (page cycle: file is corrupt)"
                    )
                visited[pgid] = 1
            offset, flags, count, end = db.page_header(pgid, BRANCH_PAGE | LEAF_PAGE)
            yield pgid, offset, flags, count, end
            if flags & BRANCH_PAGE:
                if count == 0:
                    raise db.error(f"page {pgid}", "empty branch page (file is corrupt)")
                table = db.buffer[offset + HEADER_SIZE : offset + HEADER_SIZE + count * 16]
                children = [child for _pos, _ksize, child in BRANCH_ELEMENT.iter_unpack(table)]
                children.reverse()
                stack.extend(children)

    def leaf_pages(self) -> Iterator[LeafPage]:
        """Every leaf page of the bucket in key order (the fast path for full scans)."""
        if self.inline is not None:
            yield self._inline_leaf()
            return
        for pgid, offset, flags, count, end in self._walk():
            if flags & LEAF_PAGE:
                yield LeafPage(offset, count, end, f"page {pgid}")

    def pages(self) -> Iterator[PageInfo]:
        """The bucket's own tree pages (not nested buckets'); nothing for an inline bucket."""
        if self.inline is not None:
            return
        buf = self.db.buffer
        for pgid, offset, flags, count, _end in self._walk():
            overflow = PAGE_HEADER.unpack_from(buf, offset)[3]
            yield PageInfo(pgid, "branch" if flags & BRANCH_PAGE else "leaf", count, overflow)

    def elements(self) -> Iterator[tuple[int, int, int, int, int, str]]:
        """Every element as absolute offsets: (flags, key off, key size, value off, value size,
        page description). Keys and values are checked to lie inside their page."""
        for leaf in self.leaf_pages():
            table = self.db.buffer[
                leaf.offset + HEADER_SIZE : leaf.offset + HEADER_SIZE + leaf.elements * ELEMENT_SIZE
            ]
            element = leaf.offset + HEADER_SIZE
            for flags, pos, ksize, vsize in LEAF_ELEMENT.iter_unpack(table):
                key = element + pos
                if key + ksize + vsize > leaf.end:
                    raise self.db.error(
                        leaf.where, "element data beyond the end of the page (file is corrupt)"
                    )
                yield flags, key, ksize, key + ksize, vsize, leaf.where
                element += ELEMENT_SIZE

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of every plain key/value pair, in key order (sub-buckets skipped)."""
        buf = self.db.buffer
        for flags, key, ksize, value, vsize, _where in self.elements():
            if not flags & BUCKET_LEAF_FLAG:
                yield buf[key : key + ksize], buf[value : value + vsize]

    def bucket_names(self) -> Iterator[bytes]:
        buf = self.db.buffer
        for flags, key, ksize, _value, _vsize, _where in self.elements():
            if flags & BUCKET_LEAF_FLAG:
                yield buf[key : key + ksize]

    def _find(self, name: bytes) -> tuple[int, int, int, str] | None:
        """Locate ``name``: (flags, value offset, value size, page description) or None."""
        db, buf = self.db, self.db.buffer
        if self.inline is not None:
            leaves = [self._inline_leaf()]
        else:
            pgid = self.root
            for _depth in range(MAX_TREE_DEPTH):
                offset, flags, count, end = db.page_header(pgid, BRANCH_PAGE | LEAF_PAGE)
                if flags & LEAF_PAGE:
                    leaves = [LeafPage(offset, count, end, f"page {pgid}")]
                    break
                if count == 0:
                    raise db.error(f"page {pgid}", "empty branch page (file is corrupt)")
                child = None
                element = offset + HEADER_SIZE
                for index in range(count):
                    pos, ksize, candidate = BRANCH_ELEMENT.unpack_from(buf, element)
                    if element + pos + ksize > end:
                        raise db.error(f"page {pgid}", "branch key beyond the end of the page")
                    if index and buf[element + pos : element + pos + ksize] > name:
                        break
                    child = candidate
                    element += ELEMENT_SIZE
                assert child is not None
                pgid = child
            else:
                raise db.error(
                    f"page {pgid}", f"tree deeper than {MAX_TREE_DEPTH} levels (page cycle?)"
                )
        for leaf in leaves:
            element = leaf.offset + HEADER_SIZE
            for _index in range(leaf.elements):
                flags, pos, ksize, vsize = LEAF_ELEMENT.unpack_from(buf, element)
                key = element + pos
                if key + ksize + vsize > leaf.end:
                    raise db.error(leaf.where, "element data beyond the end of the page")
                if buf[key : key + ksize] == name:
                    return flags, key + ksize, vsize, leaf.where
                element += ELEMENT_SIZE
        return None

    def get(self, key: bytes) -> bytes | None:
        """The value of a plain key, or None (also None when ``key`` names a sub-bucket)."""
        found = self._find(key)
        if found is None or found[0] & BUCKET_LEAF_FLAG:
            return None
        _flags, value, size, _where = found
        return self.db.buffer[value : value + size]

    def bucket(self, name: bytes) -> Bucket | None:
        """The sub-bucket ``name``, or None."""
        found = self._find(name)
        if found is None or not found[0] & BUCKET_LEAF_FLAG:
            return None
        _flags, value, size, where = found
        label = f"bucket {name.decode(errors='replace')!r} in {where}"
        if size < BUCKET_HEADER.size:
            raise self.db.error(where, f"bucket {name!r}: value too short for a bucket header")
        root, _sequence = BUCKET_HEADER.unpack_from(self.db.buffer, value)
        if root == 0:
            return Bucket(
                self.db, 0, inline=(value + BUCKET_HEADER.size, value + size), where=label
            )
        return Bucket(self.db, root, where=label)
