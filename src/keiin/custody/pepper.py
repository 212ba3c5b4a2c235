"""The server pepper: a secret kept outside the database that every wrapping key depends on.

A backend only has to compute HMAC-SHA256 keyed with the pepper (:class:`Pepper`). Two backends:

- :class:`FilePepper` (default): 32 random bytes in a file readable by the service account only;
- :class:`keiin.custody.pkcs11_pepper.Pkcs11Pepper`: a non-extractable HMAC key inside a PKCS#11
  token, so the pepper never exists in the server's memory at all.

Each credential stores a :func:`pepper_fingerprint`, so a server started with the wrong pepper is
told so (:class:`~keiin.custody.errors.PepperMismatchError`) instead of reporting every signatory's
PIN as wrong and locking them all out.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import Protocol, runtime_checkable

from keiin.custody.errors import InsecurePepperError, PepperUnavailableError

PEPPER_BYTES = 32
FINGERPRINT_BYTES = 16
_FINGERPRINT_LABEL = b"keiin custody pepper fingerprint v1"


@runtime_checkable
class Pepper(Protocol):
    """A server pepper: computes HMAC-SHA256 keyed with a secret the database does not hold."""

    def mac(self, data: bytes) -> bytes:
        """Return HMAC-SHA256(pepper, ``data``) (32 bytes).

        Raises :class:`~keiin.custody.errors.PepperUnavailableError` when the secret cannot be
        used right now (e.g. the token is unreachable).
        """
        ...


def pepper_fingerprint(pepper: Pepper) -> bytes:
    """A 16-byte identifier of the pepper, stored in each credential record.

    It is an HMAC of a fixed label, so it reveals nothing about the pepper (nor about any PIN) and
    cannot be computed without the pepper.
    """
    return pepper.mac(_FINGERPRINT_LABEL)[:FINGERPRINT_BYTES]


class FilePepper:
    """A pepper held in a file of exactly 32 random bytes, mode 0600.

    Use :meth:`create` (new file, ``O_EXCL``), :meth:`load` (existing file) or
    :meth:`load_or_create`. Loading refuses a file that group or others may read or write
    (:class:`~keiin.custody.errors.InsecurePepperError`) and a symbolic link. Keep the file off
    the database's volume and out of database backups, and back it up separately: without it no
    signer key can ever be opened again.
    """

    __slots__ = ("_secret", "path")

    def __init__(self, secret: bytes, *, path: Path | None = None) -> None:
        """Wrap an in-memory pepper (tests; normally use :meth:`load` or :meth:`create`)."""
        if not isinstance(secret, bytes) or len(secret) != PEPPER_BYTES:
            raise ValueError(f"a pepper is exactly {PEPPER_BYTES} bytes")
        self._secret = secret
        self.path = path

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> FilePepper:
        """Create a new pepper file at ``path`` (mode 0600); ``FileExistsError`` if it exists."""
        path = Path(path)
        secret = secrets.token_bytes(PEPPER_BYTES)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o600)
        try:
            try:
                os.fchmod(fd, 0o600)  # whatever the umask did
                view = memoryview(secret)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)
        return cls(secret, path=path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FilePepper:
        """Load the pepper file at ``path``.

        Raises :class:`~keiin.custody.errors.PepperUnavailableError` if it is missing, not a
        regular file or not exactly 32 bytes, and
        :class:`~keiin.custody.errors.InsecurePepperError` if its mode gives group or others any
        permission.
        """
        path = Path(path)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise PepperUnavailableError(f"pepper file {path} does not exist") from None
        except OSError as exc:
            raise PepperUnavailableError(f"cannot open pepper file {path}: {exc}") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise PepperUnavailableError(f"pepper file {path} is not a regular file")
            if info.st_mode & 0o077:
                raise InsecurePepperError(
                    f"pepper file {path} has mode {stat.S_IMODE(info.st_mode):04o}; "
                    "it must not be accessible to group or others (chmod 600)"
                )
            data = os.read(fd, PEPPER_BYTES + 1)
        finally:
            os.close(fd)
        if len(data) != PEPPER_BYTES:
            raise PepperUnavailableError(
                f"pepper file {path} must hold exactly {PEPPER_BYTES} bytes"
            )
        return cls(data, path=path)

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str]) -> FilePepper:
        """Load the pepper file at ``path``, creating it first if it does not exist."""
        try:
            return cls.create(path)
        except FileExistsError:
            return cls.load(path)

    def mac(self, data: bytes) -> bytes:
        """HMAC-SHA256 keyed with the pepper."""
        return hmac.new(self._secret, data, hashlib.sha256).digest()

    def __repr__(self) -> str:
        return f"FilePepper(path={str(self.path)!r})"


def _fsync_directory(directory: Path) -> None:
    """Make a new directory entry durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
