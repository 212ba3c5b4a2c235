"""The ASGI entry point: a tiny path router in front of Django.

``/ocsp`` goes to the raw-ASGI OCSP responder and ``/tsa`` to the time-stamping authority;
everything else is Django. The fast paths skip Django's middleware, sessions
and templates — they are machine protocols that need none of it.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keiin.web.settings")

from django.core.asgi import get_asgi_application

django_app = get_asgi_application()

from keiin.web.ca.ocsp_endpoint import OcspEndpoint  # noqa: E402
from keiin.web.timestamping.endpoint import TsaEndpoint  # noqa: E402

ocsp_app = OcspEndpoint()
tsa_app = TsaEndpoint()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Route one ASGI connection."""
    kind = scope["type"]
    if kind == "http":
        path: str = scope["path"]
        if path == "/ocsp" or path.startswith("/ocsp/"):
            await ocsp_app(scope, receive, send)
            return
        if path == "/tsa":
            await tsa_app(scope, receive, send)
            return
        await django_app(scope, receive, send)
        return
    if kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    raise ValueError(f"unsupported ASGI scope type {kind!r}")
