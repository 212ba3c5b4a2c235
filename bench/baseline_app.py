"""The baseline for HTTP benchmarks: a bare ASGI app that returns one fixed body.

Served by granian with the same options as ``keiin serve``; the harness sets
``BENCH_BODY_FILE`` (the exact bytes to return, e.g. a real OCSP response) and
``BENCH_CONTENT_TYPE``. Every request — any method, any path — gets that body; a request
body (POST) is read to the end first, as a real endpoint would. The cost measured is
granian plus one Python ASGI call: the ceiling a raw-ASGI Keiin endpoint can reach.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
_HEADERS = [
    (b"content-type", os.environ.get("BENCH_CONTENT_TYPE", "application/octet-stream").encode()),
    (b"content-length", str(len(_BODY)).encode()),
]
_START = {"type": "http.response.start", "status": 200, "headers": _HEADERS}
_BODY_MESSAGE = {"type": "http.response.body", "body": _BODY}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request with the fixed body."""
    if scope["type"] == "http":
        if scope["method"] == "POST":
            while (await receive()).get("more_body", False):
                pass
        await send(_START)
        await send(_BODY_MESSAGE)
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
