"""Strict blob names: exactly 64 lower-case hexadecimal characters (a SHA-256 digest).

Every public entry point of the store validates its name with :func:`validate_sha256_hex`
before building a path, so no name can contain a separator, ``..``, NUL or anything else
that would lead outside the store's root.
"""

from __future__ import annotations

import re

from keiin.blobs.errors import InvalidBlobNameError

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def is_sha256_hex(name: object) -> bool:
    """Whether ``name`` is a ``str`` of exactly 64 characters from ``0-9a-f``."""
    return isinstance(name, str) and _SHA256_HEX.fullmatch(name) is not None


def validate_sha256_hex(name: object) -> str:
    """Return ``name`` unchanged if it is a valid blob name, else raise
    :class:`~keiin.blobs.errors.InvalidBlobNameError` (a :class:`ValueError`)."""
    if not is_sha256_hex(name):
        shown = repr(name)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise InvalidBlobNameError(f"not a lower-case SHA-256 hex name: {shown}")
    assert isinstance(name, str)
    return name
