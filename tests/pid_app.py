"""A minimal ASGI app answering its process id (tests of api.server's workers)."""

from __future__ import annotations

import os
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer the worker's pid and its LFS_HOT_POOL_SIZE to any HTTP request."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    body = f"{os.getpid()} {os.environ.get('LFS_HOT_POOL_SIZE')}"
    await send({"type": "http.response.body", "body": body.encode()})
