"""Exceptions of :mod:`keiin.pdf`."""

from __future__ import annotations


class PdfInputError(ValueError):
    """The input is not a PDF this service can sign; ``reason`` says why (for the user)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PdfSigningError(RuntimeError):
    """Signing failed for a reason outside the input document (TSA, revocation data, key)."""
