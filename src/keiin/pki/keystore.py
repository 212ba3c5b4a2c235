"""Private keys at rest: AES-256-GCM under a master key kept outside the database.

The default :class:`FileKeyStore` writes one file per key into a folder. Each file holds a
format tag, a random 96-bit nonce and the GCM ciphertext of the PKCS#8 DER key; the key's
reference is bound in as associated data, so a file renamed or swapped for another fails to
decrypt. Files are created exclusively and atomically: a key, once written, is never
overwritten. The master key is 32 random bytes in a file readable by the owner only; it can
live anywhere (``KEIIN_MASTER_KEY_FILE``), ideally not beside the data it protects.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
import uuid
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keiin.pki.keys import PrivateKey

_MAGIC = b"KEIINKEY1"
_AAD_PREFIX = b"keiin-keystore-v1:"


class KeyStoreError(Exception):
    """A key could not be stored or loaded (missing, tampered, wrong master key)."""


class KeyStore(Protocol):
    """Where private keys live. Backends: encrypted files (default); PKCS#11 later."""

    def put(self, key: PrivateKey) -> str:
        """Store ``key`` and return its opaque reference."""
        ...

    def get(self, ref: str) -> PrivateKey:
        """Load the key stored under ``ref``."""
        ...

    def destroy(self, ref: str) -> None:
        """Destroy the key stored under ``ref`` (best effort overwrite, then unlink)."""
        ...


def write_new_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create ``path`` with ``data`` atomically; fail if it already exists.

    The bytes go to a temporary file in the same folder which is fsynced and then hard-linked
    into place (``link`` fails if the target exists, unlike ``rename``), so a crash leaves
    either no file or the whole file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def load_or_create_master_key(path: Path) -> bytes:
    """Return the 32-byte master key in ``path``, creating it (mode 0600) on first use."""
    if not path.exists():
        try:
            write_new_file(path, base64.b64encode(secrets.token_bytes(32)) + b"\n")
        except FileExistsError:
            pass  # another process created it first; read theirs
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyStoreError(f"master key file {path} must not be readable by group or others")
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except ValueError as exc:
        raise KeyStoreError(f"master key file {path} is not valid base64") from exc
    if len(key) != 32:
        raise KeyStoreError(f"master key file {path} must hold 32 bytes, found {len(key)}")
    return key


class FileKeyStore:
    """Encrypted key files in one folder (see module docstring)."""

    def __init__(self, folder: Path, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self.folder = folder
        self._aead = AESGCM(master_key)

    def _path(self, ref: str) -> Path:
        try:
            canonical = uuid.UUID(hex=ref).hex
        except ValueError:
            raise KeyStoreError(f"malformed key reference {ref!r}") from None
        return self.folder / f"{canonical}.key"

    def put(self, key: PrivateKey) -> str:
        """Encrypt and store ``key``; return its new reference."""
        ref = uuid.uuid4().hex
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        nonce = secrets.token_bytes(12)
        blob = _MAGIC + nonce + self._aead.encrypt(nonce, der, _AAD_PREFIX + ref.encode())
        write_new_file(self._path(ref), blob)
        return ref

    def get(self, ref: str) -> PrivateKey:
        """Decrypt and return the key stored under ``ref``."""
        path = self._path(ref)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(f"no key {ref} in {self.folder}") from None
        if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 12 + 16:
            raise KeyStoreError(f"key file {path.name} has an unknown format")
        nonce = blob[len(_MAGIC) : len(_MAGIC) + 12]
        try:
            der = self._aead.decrypt(nonce, blob[len(_MAGIC) + 12 :], _AAD_PREFIX + ref.encode())
        except Exception as exc:  # InvalidTag: wrong master key or tampered file
            raise KeyStoreError(
                f"key {ref} does not decrypt: wrong master key or tampered file"
            ) from exc
        key = serialization.load_der_private_key(der, password=None)
        return key  # type: ignore[return-value]

    def destroy(self, ref: str) -> None:
        """Overwrite the key file with random bytes, fsync, then remove it."""
        path = self._path(ref)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        with open(path, "r+b") as fh:
            fh.write(secrets.token_bytes(size))
            fh.flush()
            os.fsync(fh.fileno())
        path.unlink()
        _fsync_dir(self.folder)
