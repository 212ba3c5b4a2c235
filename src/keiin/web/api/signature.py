"""Webhook signatures: ``X-Keiin-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``.

The timestamp (``X-Keiin-Timestamp``, Unix seconds) is signed with the body so that a receiver
can refuse old deliveries replayed later. docs/api.md shows the receiver's side.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "v1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Keiin-Signature`` header value for ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """Whether ``header`` signs ``body`` at ``timestamp``, no more than ``tolerance`` s away."""
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - moment) > tolerance:
        return False
    expected = sign(secret, moment, body)
    return any(
        hmac.compare_digest(expected.encode(), part.strip().encode()) for part in header.split(",")
    )
