"""A minimal ASGI app answering its process id (tests of api.server's workers)."""

from __future__ import annotations

import os
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer the worker's pid to any HTTP request."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    body = str(os.getpid())
    await send({"type": "http.response.body", "body": body.encode()})
