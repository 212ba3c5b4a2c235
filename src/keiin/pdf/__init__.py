"""PDF signing for Keiin: PAdES certification and approval signatures with pyHanko.

A pure package (no Django): the web layer supplies the signer (from :mod:`keiin.custody`), a
time-stamp transport (Keiin's TSA in-process or over HTTP) and a revocation source (Keiin's CA).

* :func:`keiin.pdf.signing.certify` — the operator's certification signature (DocMDP), B-T.
* :func:`keiin.pdf.signing.approve` — a signatory's approval signature, B-LTA, in the order that
  validates offline: signature with timestamp → DSS with revocation data fetched after that
  timestamp → document timestamp.
"""

from keiin.pdf.errors import PdfInputError, PdfSigningError
from keiin.pdf.revinfo import RevocationData, RevocationSource
from keiin.pdf.signing import SignatureDetails, SignatureField, approve, certify
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
    "certify",
    "default_japanese_font",
]
