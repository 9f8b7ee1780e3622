"""The files of ``ketui export``: one per object, at a path made from its key that cannot leave the
folder the user chose.

The mapping (docs/cli.md#ketui-export): each key segment (resource, namespace, name) becomes one
path component by percent-encoding (RFC 3986) every byte that is not a letter, a digit or one of
``_.-`` and :data:`SAFE`, so ``/``, NUL, control characters and bytes that are not UTF-8 never
stand in a name; a segment of ``.`` or ``..`` becomes ``%2E`` or ``%2E%2E`` and an empty one ``%``.
``urllib.parse.unquote_to_bytes`` of a component gives the segment's bytes back. Two endings that
the encoding never makes mark the exceptions: a component longer than 255 bytes is cut and ends
in ``%%`` and 16 hex digits of the segment's SHA-256, and so does the second of two paths that
differ only in letter case (one file on a case-insensitive file system).

Writing never follows a link placed in the folder: every directory below it is opened with
``O_NOFOLLOW`` relative to its parent, files with ``O_NOFOLLOW`` and ``O_EXCL`` (existing files are
kept unless ``--force``, which still never writes through a link). A key whose file cannot be
written that way is refused with the reason, and the export goes on.
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path
from urllib.parse import quote_from_bytes

#: Characters kept as they are in names besides letters, digits and ``_.-``.
SAFE = " :@,+=~()[]!$&'"
#: The longest file name most file systems take (ext4, xfs, btrfs, APFS, NTFS: 255 bytes).
MAX_NAME_BYTES = 255
SUFFIX = ".yaml"


class Refused(Exception):
    """One object's file cannot be written safely; the message says why."""


def encode_segment(raw: bytes) -> str:
    """The path component of one key segment (see the module docstring)."""
    if raw == b"":
        return "%"
    if raw in (b".", b".."):
        return "%2E" * len(raw)
    return quote_from_bytes(raw, safe=SAFE)


def _hashed(name: str, raw: bytes, room: int) -> str:
    """``name`` cut to leave ``room`` bytes and ending in ``%%`` + 16 hex digits of ``raw``."""
    tag = "%%" + hashlib.sha256(raw).hexdigest()[:16]
    keep = max(0, room - len(tag))
    cut = name.encode()[:keep].decode("ascii", "ignore")  # the encoding is ASCII
    if cut.endswith("%") or cut[-2:-1] == "%":  # never end inside a %XX escape
        cut = cut[: cut.rfind("%")]
    return cut + tag


def component(raw: bytes, suffix: str = "") -> str:
    """:func:`encode_segment` plus ``suffix``, within :data:`MAX_NAME_BYTES`."""
    name = encode_segment(raw)
    if len(name) + len(suffix) <= MAX_NAME_BYTES:
        return name + suffix
    return _hashed(name, raw, MAX_NAME_BYTES - len(suffix)) + suffix


class ExportWriter:
    """Writes files below ``target`` (created if missing; the target itself may be a link the user
    chose), never outside it."""

    def __init__(self, target: Path, *, force: bool) -> None:
        self.target = target
        self.force = force
        target.mkdir(parents=True, exist_ok=True)
        self._root = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
        self._folded: dict[tuple[str, ...], tuple[str, ...]] = {}  # casefolded -> as written

    def close(self) -> None:
        os.close(self._root)

    def path_for(self, directories: list[bytes], name: bytes) -> tuple[str, ...]:
        """The components of the file for an object (directories, then the file name)."""
        parts = (*(component(raw) for raw in directories), component(name, SUFFIX))
        folded = tuple(part.casefold() for part in parts)
        earlier = self._folded.get(folded)
        if earlier is not None and earlier != parts:  # one file on a case-insensitive system
            parts = (*parts[:-1], _hashed(encode_segment(name), name, MAX_NAME_BYTES - 5) + SUFFIX)
            folded = tuple(part.casefold() for part in parts)
        self._folded.setdefault(folded, parts)
        return parts

    def write(self, parts: tuple[str, ...], data: bytes, *, private: bool) -> Path:
        """Write ``data`` at ``parts`` below the target; ``private`` files are 0600 (Secrets)."""
        shown = Path(*parts)
        fd = self._root
        opened: list[int] = []
        try:
            for part in parts[:-1]:
                fd = self._directory(fd, part, shown)
                opened.append(fd)
            flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            flags |= os.O_TRUNC if self.force else os.O_EXCL
            try:
                handle = os.open(parts[-1], flags, 0o600 if private else 0o644, dir_fd=fd)
            except FileExistsError:
                raise Refused(f"{shown} exists (--force overwrites it)") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise Refused(f"{shown} is a symbolic link: not followed") from None
                raise Refused(f"cannot write {shown}: {exc.strerror or exc}") from None
            with os.fdopen(handle, "wb") as out:
                out.write(data)
        finally:
            for descriptor in opened:
                os.close(descriptor)
        return self.target / shown

    @staticmethod
    def _directory(parent: int, part: str, shown: Path) -> int:
        try:
            os.mkdir(part, 0o755, dir_fd=parent)
        except FileExistsError:
            pass
        except OSError as exc:
            raise Refused(f"cannot create a folder for {shown}: {exc.strerror or exc}") from None
        try:
            return os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise Refused(
                    f"{shown}: {part} is a symbolic link or not a folder: not followed"
                ) from None
            raise Refused(f"cannot open the folder of {shown}: {exc.strerror or exc}") from None
