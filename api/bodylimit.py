"""A cap on every request body, applied before anything reads or parses it (413).

A JSON body is parsed whole before a route runs (and before its token is checked): without a
cap, an anonymous 100 MB body costs seconds of CPU and its size in memory. The cap is checked on
the declared ``Content-Length`` first (refused before a byte is read) and counted while the body
streams in (a chunked body, or one longer than declared). Uploads have their own, larger limit,
enforced while their file streams to disk (``api.uploads``); this middleware only caps them at
that limit plus the multipart envelope.
"""

from __future__ import annotations

import re

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem_response


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body passes its cap: every reader (FastAPI's body
    parsing, the multipart reader) lets an HTTPException through, and the app's handler renders
    it as problem+json."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {limit:,} bytes.")
        self.limit = limit


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` (``max_upload_bytes`` on the paths of
    ``upload_paths``) with a 413, before they are read when the size is declared."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int, upload_paths: str
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_paths = re.compile(upload_paths)

    def limit_of(self, scope: Scope) -> int:
        """The body cap of a request."""
        if scope["method"] == "POST" and self.upload_paths.fullmatch(scope["path"]):
            return self.max_upload_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a counting ``receive``, or answer 413 at once."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 20 else None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem_response(
        413,
        f"The request body is larger than the limit of {limit:,} bytes.",
        slug="payload-too-large",
        # The body was not read: the client must not send another request on this connection
        # (what it sent next would be read as the rest of this one).
        headers={"Connection": "close"},
        limit=limit,
    )
    await response(scope, receive, send)
