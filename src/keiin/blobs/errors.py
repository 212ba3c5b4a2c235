"""Exceptions raised by :mod:`keiin.blobs`."""

from __future__ import annotations


class BlobStoreError(Exception):
    """Base class of every blob-store error."""


class InvalidBlobNameError(BlobStoreError, ValueError):
    """A blob name is not exactly 64 lower-case hexadecimal characters."""


class BlobNotFoundError(BlobStoreError, LookupError):
    """No blob is stored under that name."""

    def __init__(self, sha256_hex: str) -> None:
        super().__init__(f"no blob {sha256_hex}")
        self.sha256_hex = sha256_hex


class BlobTooLargeError(BlobStoreError):
    """The stream is longer than the ``max_bytes`` the caller allowed; nothing was stored."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"blob exceeds the limit of {max_bytes} bytes")
        self.max_bytes = max_bytes


class BlobIntegrityError(BlobStoreError):
    """A stored blob does not match its address (size or content)."""


class RetentionNotAllowedError(BlobStoreError, PermissionError):
    """:meth:`~keiin.blobs.store.BlobStore.remove_expired` was called without ``allowed=True``."""
