"""Checking an input PDF before signing: really a PDF, readable, not encrypted, signable."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import BinaryIO

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import MDPPerm, enumerate_sig_fields
from pyhanko.sign.validation import EmbeddedPdfSignature, read_certification_data

from keiin.pdf.errors import PdfInputError

#: The PDF header must start within this many bytes (ISO 32000-2 §7.5.2 tolerance in practice).
HEADER_WINDOW = 1024


@dataclass(frozen=True)
class OpenedPdf:
    """A checked input: the writer for the next incremental update, and what it holds."""

    writer: IncrementalPdfFileWriter
    certified: bool
    #: Names of the signature fields that exist and are not signed yet.
    empty_fields: frozenset[str]
    #: The signatures and document timestamps already in the PDF (parsed once, here).
    signatures: tuple[EmbeddedPdfSignature, ...] = ()


def as_stream(pdf: bytes | bytearray | memoryview | BinaryIO) -> BinaryIO:
    """``pdf`` as a seekable binary stream: bytes are wrapped (not copied), streams pass."""
    if isinstance(pdf, bytes | bytearray | memoryview):
        return BytesIO(pdf)
    if not (hasattr(pdf, "read") and hasattr(pdf, "seek")):
        raise TypeError("pdf must be bytes or a seekable binary stream")
    return pdf


def open_for_update(
    pdf: bytes | bytearray | memoryview | BinaryIO,
    *,
    allow_signed: bool,
    field_name: str | None = None,
) -> OpenedPdf:
    """Open ``pdf`` for an incremental update, or raise :class:`PdfInputError` saying why not.

    ``pdf`` is bytes or a seekable binary stream holding the whole file from offset 0; a
    stream is read as needed (never whole into memory) and, if it is also writable, the
    returned writer can append the update to it in place (pyHanko's ``in_place=True``).

    ``allow_signed=False`` refuses a document that already carries any signature (a
    certification signature must come first). With ``allow_signed=True``, a certified document
    whose DocMDP level forbids changes is refused. ``field_name`` must not name a field that
    is already signed.
    """
    stream = as_stream(pdf)
    stream.seek(0)
    if b"%PDF-" not in stream.read(HEADER_WINDOW):
        raise PdfInputError("not a PDF file (no %PDF- header)")
    try:
        writer = IncrementalPdfFileWriter(stream, strict=False)
        reader = writer.prev
        if reader.encrypted:
            raise PdfInputError("the PDF is encrypted; upload an unencrypted file")
        signatures = reader.embedded_signatures
        certification = read_certification_data(reader) if signatures else None
        empty = frozenset(name for name, _, _ in enumerate_sig_fields(reader, filled_status=False))
        if reader.root["/Pages"]["/Count"] < 1:
            raise PdfInputError("the PDF has no pages")
    except PdfInputError:
        raise
    except Exception as exc:  # any parser failure (zlib, unknown filters, bad structure…)
        raise PdfInputError(f"the PDF cannot be read: {exc or type(exc).__name__}") from exc
    if signatures and not allow_signed:
        raise PdfInputError("the PDF is already signed")
    if certification is not None and certification.permission == MDPPerm.NO_CHANGES:
        raise PdfInputError("the PDF is certified with no changes allowed; it cannot be signed")
    if field_name is not None and any(s.field_name == field_name for s in signatures):
        raise PdfInputError(f"the signature field {field_name!r} is already signed")
    return OpenedPdf(writer, certification is not None, empty, tuple(signatures))
