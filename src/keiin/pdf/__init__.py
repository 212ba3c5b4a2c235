"""PDF signing for Keiin: PAdES certification and approval signatures with pyHanko.

A pure package (no Django): the web layer supplies the signer (from :mod:`keiin.custody`), a
time-stamp transport (Keiin's TSA in-process or over HTTP) and a revocation source (Keiin's CA).

* :func:`keiin.pdf.signing.certify` — the operator's certification signature (DocMDP), B-T.
* :func:`keiin.pdf.signing.approve` — a signatory's approval signature, B-LTA, in the order that
  validates offline: signature with timestamp → DSS with revocation data fetched after that
  timestamp → document timestamp.
* :func:`~keiin.pdf.signing.certify_file` / :func:`~keiin.pdf.signing.approve_file` — the same
  from file to file, streaming (memory stays flat for any file size).
* :mod:`keiin.pdf.template` — contract PDFs generated from Japanese text.
* :mod:`keiin.pdf.validation` — offline validation of every signature and document timestamp.
"""

from keiin.pdf.errors import PdfInputError, PdfSigningError
from keiin.pdf.revinfo import RevocationData, RevocationSource
from keiin.pdf.signing import (
    SignatureDetails,
    SignatureField,
    approve,
    approve_file,
    async_approve_file,
    async_certify_file,
    certify,
    certify_file,
)
from keiin.pdf.stamp import StampFontError, VisibleStamp, default_japanese_font
from keiin.pdf.timestamper import CallableTimeStamper

__all__ = [
    "CallableTimeStamper",
    "PdfInputError",
    "PdfSigningError",
    "RevocationData",
    "RevocationSource",
    "SignatureDetails",
    "SignatureField",
    "StampFontError",
    "VisibleStamp",
    "approve",
    "approve_file",
    "async_approve_file",
    "async_certify_file",
    "certify",
    "certify_file",
    "default_japanese_font",
]
