"""Where contract files live: the blob store, a scratch folder, and the upload check.

Every version of a contract is a blob in :class:`keiin.blobs.BlobStore` under
``KEIIN_BLOB_DIR`` (content-addressed, write-once). Signing writes its output into a scratch
file under the same folder (same filesystem, so storing it is a streamed copy at worst), and
uploads stream into the store chunk by chunk: no contract file is ever held in memory whole by
this module.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from keiin.blobs import BlobRef, BlobStore, BlobTooLargeError
from keiin.pdf.errors import PdfInputError
from keiin.pdf.inputs import open_for_update


class UploadError(Exception):
    """An upload refused with a reason that can be shown to the person."""


@lru_cache(maxsize=4)
def _store_at(root: str) -> BlobStore:
    return BlobStore(Path(root))


def blob_store() -> BlobStore:
    """The contract blob store (``KEIIN_BLOB_DIR``)."""
    return _store_at(str(settings.KEIIN_BLOB_DIR))


def scratch_dir() -> Path:
    """A private folder for files being signed, next to the blobs."""
    path = Path(settings.KEIIN_BLOB_DIR) / "work"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def scratch_file(suffix: str = ".pdf") -> Iterator[tuple[Path, BinaryIO]]:
    """A new scratch file opened for writing and reading; removed on exit."""
    fd, name = tempfile.mkstemp(prefix="sign-", suffix=suffix, dir=scratch_dir())
    path = Path(name)
    try:
        with os.fdopen(fd, "w+b") as stream:
            yield path, stream
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def max_upload_bytes() -> int:
    """The upload size limit (``KEIIN_CONTRACT_MAX_BYTES``)."""
    return int(settings.KEIIN_CONTRACT_MAX_BYTES)


def store_upload(readable: BinaryIO, *, allow_signed: bool = False) -> BlobRef:
    """Stream an uploaded PDF into the store after checking it; :class:`UploadError` if not.

    Checked: the size limit (reading stops one byte past it), really a PDF that pyHanko can
    read, not encrypted, has pages, and carries no signature unless ``allow_signed`` (then a
    certification forbidding changes is still refused). A refused file leaves nothing behind
    that any record refers to (a stored but refused blob is removed by the next scrub of
    unreferenced blobs; it is never a version).
    """
    store = blob_store()
    try:
        ref = store.put_stream(readable, max_bytes=max_upload_bytes())
    except BlobTooLargeError:
        limit = max_upload_bytes() // (1024 * 1024)
        raise UploadError(f"the file is larger than the limit of {limit} MiB") from None
    if ref.size == 0:
        raise UploadError("the file is empty")
    try:
        check_pdf(ref.sha256_hex, allow_signed=allow_signed)
    except UploadError:
        if not _referenced(ref.sha256_hex):
            with contextlib.suppress(Exception):
                store.remove_expired(ref.sha256_hex, allowed=True)
        raise
    return ref


def store_file(path: Path) -> BlobRef:
    """Store a file written by Keiin itself (a signing result), streaming it."""
    with open(path, "rb") as stream:
        return blob_store().put_stream(stream)


def check_pdf(sha256_hex: str, *, allow_signed: bool) -> None:
    """The upload checks of :func:`store_upload` on a stored blob."""
    with blob_store().open(sha256_hex) as stream:
        try:
            open_for_update(stream, allow_signed=allow_signed)
        except PdfInputError as exc:
            raise UploadError(str(exc)) from None
    if allow_signed:
        _check_existing_signatures(sha256_hex)


def _check_existing_signatures(sha256_hex: str) -> None:
    """An already-signed upload must not be tampered with: every signature must be intact."""
    from keiin.pdf.validation import validate_document

    with blob_store().open(sha256_hex) as stream:
        report = validate_document(stream, trust_roots=())
    broken = [s.field_name for s in report.signatures if not s.intact]
    if broken:
        raise UploadError(
            "the PDF was changed after it was signed (signature "
            + ", ".join(broken)
            + " no longer matches the document)"
        )


def _referenced(sha256_hex: str) -> bool:
    from keiin.web.contracts.models import ContractVersion

    return ContractVersion.objects.filter(sha256=sha256_hex).exists()
