"""CORS: credentials for the configured origins only; /tiles and /ogc readable from anywhere.

Starlette's ``CORSMiddleware`` with ``allow_credentials`` adds ``Access-Control-Allow-Credentials:
true`` to its answer to any request that has an ``Origin``, allowed or not. The tile and OGC
routes answer every origin with ``Access-Control-Allow-Origin: *`` (a map page anywhere may read
the public reference layers, and the leads with a tile token in the URL), so a foreign origin got
``*`` together with credentials: a combination browsers refuse and that says the wrong thing.
Here an origin outside ``settings.cors_origins`` never gets the credentials header; the
configured ones get the credentialed answer as before (their own origin echoed).

The ``*`` of /tiles and /ogc is set here and only here, on every answer (a 401, 404 or 400 as
well as a tile, a request without ``Origin`` as well as a cross-origin one): set by each handler,
the error answers went without it and a cross-origin page saw a network failure instead of the
401 that tells it to renew its token. A request without ``Origin`` gets it too, so that a shared
cache holding that answer (public, immutable tiles) can serve it to any page.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

CREDENTIALS = "access-control-allow-credentials"
# Readable from any origin, without credentials (the token, if any, is in the URL).
PUBLIC_PREFIXES = ("/tiles/", "/ogc/")


def _public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES) or path == "/ogc"


class CredentialedOriginsCORS(CORSMiddleware):
    """``CORSMiddleware`` whose credentials header goes to the configured origins only."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Starlette's CORS; /tiles and /ogc answers without ``Origin`` get ``*`` as well."""
        if scope["type"] != "http" or not _public(scope["path"]):
            await super().__call__(scope, receive, send)
            return
        if "origin" in Headers(scope=scope):
            await super().__call__(scope, receive, send)
            return

        async def anywhere(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                MutableHeaders(scope=msg)["access-control-allow-origin"] = "*"
            await send(msg)

        await self.app(scope, receive, anywhere)

    def _foreign(self, request_headers: Headers) -> bool:
        origin = request_headers.get("origin")
        return origin is not None and not self.is_allowed_origin(origin)

    async def simple_response(
        self, scope: Scope, receive: Receive, send: Send, request_headers: Headers
    ) -> None:
        """Starlette's answer; on /tiles and /ogc, ``*`` for any other origin, errors included."""
        if not _public(scope["path"]) or not self._foreign(request_headers):
            await super().simple_response(scope, receive, send, request_headers)
            return

        async def anywhere(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                MutableHeaders(scope=msg)["access-control-allow-origin"] = "*"
            await send(msg)

        await super().simple_response(scope, receive, anywhere, request_headers)

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        """Starlette's answer, less the credentials header for a foreign origin."""
        if not self._foreign(request_headers):
            await super().send(message, send, request_headers)
            return

        async def without_credentials(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                del MutableHeaders(scope=msg)[CREDENTIALS]
            await send(msg)

        await super().send(message, without_credentials, request_headers)

    def preflight_response(self, request_headers: Headers) -> Response:
        """Starlette's preflight answer, less the credentials header for a foreign origin."""
        response = super().preflight_response(request_headers)
        if self._foreign(request_headers) and CREDENTIALS in response.headers:
            del response.headers[CREDENTIALS]
        return response
