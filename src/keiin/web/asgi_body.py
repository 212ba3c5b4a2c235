"""Reading a request body on the raw-ASGI fast paths (OCSP, TSA)."""

from __future__ import annotations

from typing import Any


async def read_body(receive: Any, limit: int, first: dict[str, Any] | None = None) -> bytes | None:
    """The whole body, or None if the client went away or sent more than ``limit`` bytes.

    ``first`` is an ``http.request`` message the caller has already received, if any.
    """
    chunks = []
    size = 0
    while True:
        message, first = (first, None) if first is not None else (await receive(), None)
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
