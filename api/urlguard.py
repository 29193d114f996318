"""NUL bytes in a URL are refused with a 422 before any route sees them.

PostgreSQL can't hold NUL in text (``invalid byte sequence for encoding "UTF8": 0x00``): a
``%00`` in a query parameter reached the database, and in the streamed CSV export that was a 200
whose body was then cut. No parameter of ours has a use for it, so it is one rule in front of
every route rather than a check per parameter. Other control characters are refused where text
is taken (``api.schemas.text``: the search term ``q`` and every name).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import problem_response

MESSAGE = "NUL bytes (%00) are not allowed"


def nul_fields(scope: Scope) -> list[str]:
    """Where a request's URL holds a NUL byte: ``path``, ``query.<name>`` (empty: nowhere)."""
    out = ["path"] if "\x00" in scope["path"] else []
    raw: bytes = scope.get("query_string", b"")
    if b"%00" in raw or b"\x00" in raw:  # the usual case costs one scan of the bytes
        # Decoded as Starlette decodes it (UTF-8, errors replaced; '+' is a space).
        for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                out.append("query." + key.replace("\x00", "\\0"))
    return out


class NulGuard:
    """Answer a request whose path or query string holds a NUL byte with a 422 problem naming
    the parameters, before it reaches ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse or pass on."""
        fields = nul_fields(scope) if scope["type"] == "http" else []
        if not fields:
            await self.app(scope, receive, send)
            return
        response = problem_response(
            422,
            f"Invalid fields: {', '.join(fields)}",
            slug="invalid-input",
            errors=[{"field": f, "message": MESSAGE, "type": "nul_byte"} for f in fields],
        )
        await response(scope, receive, send)
