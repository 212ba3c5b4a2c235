"""The filesystem blob store.

Layout under ``root``::

    root/sha256/ab/cd/abcd…(64 hex)   one read-only file (0o440) per blob
    root/tmp/put-*.tmp                 uploads in progress (or left by a crash)

Folders are created 0o750. A put streams the input in chunks into a temporary file under
``root/tmp`` (the same filesystem) while hashing it, fsyncs the file, makes it read-only,
then hard-links it into place with :func:`os.link` -- which never replaces an existing name --
and fsyncs the folder. So a blob name, once visible, always refers to complete, durable
content, and nothing is ever overwritten:

- If the blob already exists, the existing file is kept and the temporary file dropped
  (deduplication).
- A crash between the write and the link leaves only a file under ``root/tmp``; readers
  never look there, and :meth:`BlobStore.scrub` reports it and, with
  ``clean_temp_older_than``, removes it.

**Write-once.** There is no delete or overwrite API. The single exception is
:meth:`BlobStore.remove_expired`, which refuses unless the caller passes ``allowed=True``:
the store knows nothing of retention periods, so the caller (the web layer, which knows
the contract and its retention period) decides and takes responsibility. Read-only file
modes are a guard against accidents, not a security boundary: the store's own OS user can
change modes, so access to ``root`` must be restricted to the service.

Memory: a put holds one chunk (:data:`DEFAULT_CHUNK_SIZE`) at a time; reads are streams
(:meth:`BlobStore.open`) or paths (:meth:`BlobStore.path`) for tools that mmap or open the
file themselves.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, Protocol

from keiin.blobs.errors import (
    BlobIntegrityError,
    BlobNotFoundError,
    BlobTooLargeError,
    RetentionNotAllowedError,
)
from keiin.blobs.findings import FindingKind, ScrubFinding
from keiin.blobs.names import is_sha256_hex, validate_sha256_hex

#: Bytes read, hashed and written per step.
DEFAULT_CHUNK_SIZE = 1 << 20
#: Permission bits of a stored blob.
FILE_MODE = 0o440
#: Permission bits of every folder the store creates.
DIR_MODE = 0o750
#: Temporary files younger than this are presumed to be uploads in progress.
DEFAULT_STRAY_TEMP_AGE = timedelta(hours=1)

_ALGORITHM = "sha256"
_TMP = "tmp"
_TMP_PREFIX = "put-"
_TMP_SUFFIX = ".tmp"
_HEX_PAIR = frozenset(f"{i:02x}" for i in range(256))
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class Readable(Protocol):
    """Anything with ``read(n)``; ``readinto`` is used instead when present."""

    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class BlobRef:
    """The address of a stored blob: the SHA-256 of its bytes (lower-case hex) and its size."""

    sha256_hex: str
    size: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _timedelta_seconds(age: timedelta | float) -> float:
    return age.total_seconds() if isinstance(age, timedelta) else float(age)


class BlobStore:
    """A write-once, content-addressed (SHA-256) blob store rooted at ``root``.

    Creating the object touches nothing; folders are created on the first put.
    """

    def __init__(self, root: Path | str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self.root = Path(root).absolute()
        self.chunk_size = chunk_size
        self._blobs = self.root / _ALGORITHM
        self._tmp = self.root / _TMP

    def __repr__(self) -> str:
        return f"BlobStore({str(self.root)!r})"

    # -- names and paths -------------------------------------------------------------------

    def location(self, sha256_hex: str) -> Path:
        """Where the blob named ``sha256_hex`` lives (or would live); no existence check.

        Raises :class:`~keiin.blobs.errors.InvalidBlobNameError` (a :class:`ValueError`)
        for anything but 64 lower-case hex characters.
        """
        name = validate_sha256_hex(sha256_hex)
        return self._blobs / name[0:2] / name[2:4] / name

    def _ensure_dir(self, path: Path) -> None:
        """Create ``path`` and missing parents with :data:`DIR_MODE` (not subject to umask),
        fsyncing the parent of each folder created."""
        missing: list[Path] = []
        current = path
        while not current.is_dir():
            missing.append(current)
            current = current.parent
        for folder in reversed(missing):
            try:
                os.mkdir(folder, DIR_MODE)
            except FileExistsError:
                continue
            os.chmod(folder, DIR_MODE)
            _fsync_dir(folder.parent)

    # -- writing ---------------------------------------------------------------------------

    def put_bytes(self, data: bytes | bytearray | memoryview) -> BlobRef:
        """Store ``data``; see :meth:`put_stream`."""
        view = memoryview(data).cast("B")
        digest = hashlib.sha256(view).hexdigest()
        if self.exists(digest):
            return self._dedup(digest, view.nbytes)
        return self.put_stream(_MemoryReader(view))

    def put_stream(self, readable: Readable, *, max_bytes: int | None = None) -> BlobRef:
        """Stream ``readable`` into the store and return its :class:`BlobRef`.

        Reads at most one chunk at a time. If the blob already exists it is kept as is
        (never overwritten) and the same reference is returned. If the stream is longer than
        ``max_bytes``, raises :class:`~keiin.blobs.errors.BlobTooLargeError` and leaves
        nothing behind (reading stops one byte past the limit).
        """
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self._ensure_dir(self._tmp)
        fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX, dir=self._tmp)
        tmp_path = Path(tmp_name)
        try:
            try:
                digest, size = self._copy_hashing(readable, fd, max_bytes)
                os.fchmod(fd, FILE_MODE)
                os.fsync(fd)
            finally:
                os.close(fd)
            return self._link_into_place(tmp_path, digest, size)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_path)

    def _copy_hashing(self, readable: Readable, fd: int, max_bytes: int | None) -> tuple[str, int]:
        hasher = hashlib.sha256()
        size = 0
        readinto = getattr(readable, "readinto", None)
        buffer = bytearray(self.chunk_size) if readinto is not None else None
        view = memoryview(buffer) if buffer is not None else None
        while True:
            want = self.chunk_size
            if max_bytes is not None:
                want = min(want, max_bytes - size + 1)
            if view is not None:
                assert readinto is not None
                got = readinto(view[:want])
                if got is None:  # non-blocking stream without data: treat as a short read
                    continue
                chunk = view[:got]
            else:
                data = readable.read(want)
                if data is None:
                    continue
                chunk = memoryview(data).cast("B")
            if not chunk:
                break
            size += chunk.nbytes
            if max_bytes is not None and size > max_bytes:
                raise BlobTooLargeError(max_bytes)
            hasher.update(chunk)
            _write_all(fd, chunk)
        return hasher.hexdigest(), size

    def _link_into_place(self, tmp_path: Path, digest: str, size: int) -> BlobRef:
        final = self.location(digest)
        self._ensure_dir(final.parent)
        try:
            os.link(tmp_path, final)
        except FileExistsError:
            return self._dedup(digest, size)
        _fsync_dir(final.parent)
        return BlobRef(digest, size)

    def _dedup(self, digest: str, size: int) -> BlobRef:
        """The blob already exists: keep it, after a cheap sanity check."""
        final = self.location(digest)
        st = os.lstat(final)
        if not stat.S_ISREG(st.st_mode):
            raise BlobIntegrityError(f"{final} is not a regular file")
        if st.st_size != size:
            raise BlobIntegrityError(
                f"existing blob {digest} has {st.st_size} bytes, expected {size}; "
                "it is corrupted and is not overwritten"
            )
        return BlobRef(digest, size)

    # -- reading ---------------------------------------------------------------------------

    def exists(self, sha256_hex: str) -> bool:
        """Whether a regular file is stored under that name."""
        try:
            return stat.S_ISREG(os.lstat(self.location(sha256_hex)).st_mode)
        except FileNotFoundError:
            return False

    def path(self, sha256_hex: str) -> Path:
        """The blob's file path, for tools that need one (mmap, pyHanko). Do not write to it."""
        final = self.location(sha256_hex)
        if not self.exists(sha256_hex):
            raise BlobNotFoundError(sha256_hex)
        return final

    def size(self, sha256_hex: str) -> int:
        """The blob's size in bytes."""
        try:
            return os.lstat(self.location(sha256_hex)).st_size
        except FileNotFoundError:
            raise BlobNotFoundError(sha256_hex) from None

    def open(self, sha256_hex: str) -> BinaryIO:
        """A buffered binary stream of the blob, read-only. Close it (or use ``with``)."""
        final = self.location(sha256_hex)
        try:
            fd = os.open(final, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC)
        except FileNotFoundError:
            raise BlobNotFoundError(sha256_hex) from None
        return os.fdopen(fd, "rb")

    def hash_file(self, path: Path) -> tuple[str, int]:
        """SHA-256 (hex) and size of a file, read in chunks without following symlinks."""
        hasher = hashlib.sha256()
        size = 0
        buffer = bytearray(self.chunk_size)
        view = memoryview(buffer)
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC)
        with os.fdopen(fd, "rb", buffering=0) as stream:
            while got := stream.readinto(view):
                hasher.update(view[:got])
                size += got
        return hasher.hexdigest(), size

    def verify(self, sha256_hex: str) -> bool:
        """Re-hash the stored blob (streaming); ``True`` if its content matches its name.

        Raises :class:`~keiin.blobs.errors.BlobNotFoundError` if it is not stored.
        """
        final = self.path(sha256_hex)
        digest, _ = self.hash_file(final)
        return digest == sha256_hex

    # -- removal (retention) -----------------------------------------------------------------

    def remove_expired(self, sha256_hex: str, *, allowed: bool) -> None:
        """Remove a blob whose retention period has ended -- the only way to delete one.

        The store does not know retention rules: the caller must have checked that every
        record referring to this blob is past its retention period and pass
        ``allowed=True`` (exactly ``True``; any other value, truthy or not, is refused with
        :class:`~keiin.blobs.errors.RetentionNotAllowedError`).
        """
        final = self.location(sha256_hex)
        if allowed is not True:
            raise RetentionNotAllowedError(
                f"refusing to remove blob {sha256_hex}: retention not confirmed (allowed=True)"
            )
        if not self.exists(sha256_hex):
            raise BlobNotFoundError(sha256_hex)
        os.unlink(final)
        _fsync_dir(final.parent)

    # -- integrity ---------------------------------------------------------------------------

    def scrub(
        self,
        *,
        verify_content: bool = True,
        stray_temp_age: timedelta | float = DEFAULT_STRAY_TEMP_AGE,
        clean_temp_older_than: timedelta | float | None = None,
        now: float | None = None,
    ) -> Iterator[ScrubFinding]:
        """Walk the whole store and yield every problem found (lazily, in name order).

        - every blob is re-hashed (unless ``verify_content=False``):
          :attr:`~FindingKind.MISMATCH`;
        - blob files not 0o440 and folders not 0o750: :attr:`~FindingKind.BAD_MODE`;
        - names that are not hex (or not 2-hex fan-out folders):
          :attr:`~FindingKind.BAD_NAME`; valid names under the wrong folders:
          :attr:`~FindingKind.MISPLACED`; symlinks and other non-regular entries:
          :attr:`~FindingKind.NOT_REGULAR`;
        - temporary files older than ``stray_temp_age`` (seconds or a timedelta):
          :attr:`~FindingKind.STRAY_TEMP`; if ``clean_temp_older_than`` is given, temporary
          files older than that are removed and reported as
          :attr:`~FindingKind.TEMP_REMOVED` instead.

        ``now`` (a :func:`time.time` value) is for tests. Nothing else is ever modified.
        """
        current = time.time() if now is None else now
        yield from self._scrub_temp(current, stray_temp_age, clean_temp_older_than)
        yield from self._scrub_blobs(verify_content)

    def _scrub_temp(
        self,
        now: float,
        stray_temp_age: timedelta | float,
        clean_temp_older_than: timedelta | float | None,
    ) -> Iterator[ScrubFinding]:
        stray = _timedelta_seconds(stray_temp_age)
        clean = None if clean_temp_older_than is None else _timedelta_seconds(clean_temp_older_than)
        for entry in _sorted_entries(self._tmp):
            path = Path(entry.path)
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # an upload just finished
            age = now - st.st_mtime
            if clean is not None and age > clean and not stat.S_ISDIR(st.st_mode):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    yield ScrubFinding(FindingKind.UNREADABLE, path, f"cannot remove: {exc}")
                    continue
                yield ScrubFinding(
                    FindingKind.TEMP_REMOVED, path, f"removed temporary file, {age:.0f} s old"
                )
            elif age > stray:
                yield ScrubFinding(FindingKind.STRAY_TEMP, path, f"temporary file {age:.0f} s old")

    def _scrub_blobs(self, verify_content: bool) -> Iterator[ScrubFinding]:
        if not self._blobs.is_dir():
            return
        yield from self._check_dir_mode(self._blobs)
        for level1 in _sorted_entries(self._blobs):
            yield from self._scrub_fanout(level1, (), verify_content)

    def _scrub_fanout(
        self, entry: os.DirEntry[str], prefix: tuple[str, ...], verify_content: bool
    ) -> Iterator[ScrubFinding]:
        path = Path(entry.path)
        if entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
            kind = FindingKind.BAD_NAME if entry.name not in _HEX_PAIR else FindingKind.NOT_REGULAR
            yield ScrubFinding(kind, path, "unexpected entry at a fan-out level")
            return
        if entry.name not in _HEX_PAIR:
            yield ScrubFinding(FindingKind.BAD_NAME, path, "fan-out folder is not two hex digits")
            return
        yield from self._check_dir_mode(path)
        parts = (*prefix, entry.name)
        for child in _sorted_entries(path):
            if len(parts) < 2:
                yield from self._scrub_fanout(child, parts, verify_content)
            else:
                yield from self._scrub_blob(child, "".join(parts), verify_content)

    def _scrub_blob(
        self, entry: os.DirEntry[str], fanout: str, verify_content: bool
    ) -> Iterator[ScrubFinding]:
        path = Path(entry.path)
        name = entry.name
        if not is_sha256_hex(name):
            yield ScrubFinding(FindingKind.BAD_NAME, path, "blob name is not 64 lower-case hex")
            return
        if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
            yield ScrubFinding(FindingKind.NOT_REGULAR, path, "not a regular file", name)
            return
        if name[:4] != fanout:
            yield ScrubFinding(FindingKind.MISPLACED, path, "blob under the wrong folders", name)
        try:
            mode = stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
        except OSError as exc:
            yield ScrubFinding(FindingKind.UNREADABLE, path, str(exc), name)
            return
        if mode != FILE_MODE:
            yield ScrubFinding(
                FindingKind.BAD_MODE, path, f"mode {mode:#o}, expected {FILE_MODE:#o}", name
            )
        if not verify_content:
            return
        try:
            digest, _ = self.hash_file(path)
        except OSError as exc:
            yield ScrubFinding(FindingKind.UNREADABLE, path, str(exc), name)
            return
        if digest != name:
            yield ScrubFinding(FindingKind.MISMATCH, path, f"content hashes to {digest}", name)

    def _check_dir_mode(self, path: Path) -> Iterator[ScrubFinding]:
        try:
            mode = stat.S_IMODE(os.lstat(path).st_mode)
        except OSError as exc:
            yield ScrubFinding(FindingKind.UNREADABLE, path, str(exc))
            return
        if mode != DIR_MODE:
            yield ScrubFinding(
                FindingKind.BAD_MODE, path, f"folder mode {mode:#o}, expected {DIR_MODE:#o}"
            )


def _sorted_entries(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            return sorted(entries, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


class _MemoryReader:
    """A minimal ``readinto`` reader over a memoryview, without copying the whole buffer."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def read(self, n: int = -1, /) -> bytes:
        end = self._view.nbytes if n < 0 else min(self._pos + n, self._view.nbytes)
        data = self._view[self._pos : end].tobytes()
        self._pos = end
        return data

    def readinto(self, target: memoryview) -> int:
        n = min(target.nbytes, self._view.nbytes - self._pos)
        target[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n
