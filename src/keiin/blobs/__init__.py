"""A write-once, content-addressed filesystem blob store (pure domain code, no Django).

The completed file of a contract is the *original*: it is stored once, addressed by the
SHA-256 of its bytes, never rewritten. Archive renewal appends incremental updates, and each
new version is simply a new blob. See :class:`~keiin.blobs.store.BlobStore` for the layout and
the crash-safety and retention rules.

- :class:`BlobStore` stores (:meth:`~BlobStore.put_stream`), reads
  (:meth:`~BlobStore.open`, :meth:`~BlobStore.path`) and checks
  (:meth:`~BlobStore.verify`, :meth:`~BlobStore.scrub`) blobs.
- :func:`validate_sha256_hex` is the strict name check every entry point uses.
"""

from __future__ import annotations

from keiin.blobs.errors import (
    BlobIntegrityError,
    BlobNotFoundError,
    BlobStoreError,
    BlobTooLargeError,
    InvalidBlobNameError,
    RetentionNotAllowedError,
)
from keiin.blobs.findings import FindingKind, ScrubFinding
from keiin.blobs.names import is_sha256_hex, validate_sha256_hex
from keiin.blobs.store import DEFAULT_CHUNK_SIZE, BlobRef, BlobStore

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "BlobIntegrityError",
    "BlobNotFoundError",
    "BlobRef",
    "BlobStore",
    "BlobStoreError",
    "BlobTooLargeError",
    "FindingKind",
    "InvalidBlobNameError",
    "RetentionNotAllowedError",
    "ScrubFinding",
    "is_sha256_hex",
    "validate_sha256_hex",
]
