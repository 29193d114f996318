"""The lead list, detail and create, answered before the framework's layers.

A request reaches a FastAPI route through ten ASGI layers (server errors, telemetry, body
limit, rate limit, CORS, gzip, exception handlers, exit stack, router, route handler), which
cost ~35 % of the API's CPU for a list page and more for a detail at 50 clients
(``bench/bench_leads_api.py``; ``docs/api.md``, "Performance"). These three requests are most of
the API's traffic, so :class:`LeadFactoryAPI` answers them itself, the same way:

* the same code: :func:`~api.routers.leads.list_response`, :func:`~api.routers.leads.
  detail_response` and :func:`~api.routers.leads.created_response`, which the FastAPI routes
  call too (they stay for the OpenAPI document and for the requests left to them, below);
* the same rate limits (:class:`~api.ratelimit.RateLimits`: the middleware's own windows);
* errors rendered by the app's exception handlers (``api.errors``), picked as Starlette picks
  them; an unexpected one is the 500 ServerErrorMiddleware sends, re-raised for the server's
  log;
* the create's body read as FastAPI reads it: malformed JSON is a 400 before the token is
  looked at, a bad token a 401 before the body is validated, an invalid body a 422 naming the
  ``body.*`` fields, a body without a JSON content type is not parsed;
* gzip as ``GZipMiddleware`` does it (same level and minimum size, ``Vary: Accept-Encoding``),
  and the ``Vary: Origin`` of ``CORSMiddleware``.

Left to the full stack: requests with an ``Origin`` header (CORS: browsers send it cross-site
and on same-origin writes), every other method and path, ids outside the detail route's range
(its 422), and every request while FastAPI's OpenTelemetry instrumentation is on (checked each
second).
``tests/test_hot_routes.py`` sends each request both ways and compares the answers.
"""

from __future__ import annotations

import email.message
import gzip
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from api.deps import request_claims
from api.ratelimit import RateLimits
from api.routers.leads import created_response, detail_response, list_response
from api.schemas.leads import LeadCreate

# The app's GZipMiddleware settings (api.app), which this module applies the same way.
GZIP_MINIMUM_SIZE = 1024
# Level 5: ~4x cheaper CPU than the default 9 for a few % larger JSON (measured on lists).
GZIP_LEVEL = 5
GZIP_THREAD_MINIMUM_SIZE = 128 * 1024  # GZipMiddleware's default: larger bodies in a thread

LEADS = "/api/leads"
_LEAD_PREFIX = LEADS + "/"
DETAIL = LEADS + "/{lead_id}"
MAX_LEAD_ID = 2**62  # the detail route's Path(le=...)
TELEMETRY_RECHECK_S = 1.0

Handler = Callable[[Request], Awaitable[Response]]
_EMPTY = object()  # no body at all (a JSON null is a body)


async def _detail(request: Request) -> Response:
    return await detail_response(request, int(request.scope["path"][len(_LEAD_PREFIX) :]))


def _json_body(request: Request, raw: bytes) -> Any:
    """The body as FastAPI's route handler reads it for a model parameter: parsed when its
    content type is JSON (``application/json`` or ``application/*+json``), the bytes when it
    has another, ``_EMPTY`` when there is none; malformed JSON is the same 400
    (``json_invalid``)."""
    if not raw:
        return _EMPTY
    content_type = request.headers.get("content-type")
    if not content_type:
        return raw  # FastAPI's strict content type: no header, no JSON
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    if message.get_content_maintype() != "application" or not (
        subtype == "json" or subtype.endswith("+json")
    ):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except Exception as exc:  # not UTF-8, nested too deep, an int too long: FastAPI's 400
        raise _unparsable() from exc


def _unparsable() -> HTTPException:
    return HTTPException(status_code=400, detail="There was an error parsing the body")


async def _create(request: Request) -> Response:
    try:
        raw = await request.body()
    except HTTPException:  # the body limit's 413 (api.bodylimit), as FastAPI lets it through
        raise
    except Exception as exc:  # a broken upload: FastAPI's own answer
        raise _unparsable() from exc
    body = _json_body(request, raw)
    state, claims = request_claims(request)  # 401 before the body's validation, as the route
    if body is _EMPTY:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        lead = LeadCreate.model_validate(body, from_attributes=True)
    except ValidationError as exc:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=body) from exc
    return await created_response(state, claims, lead)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class HotRoutes:
    """Matches and serves the three hot requests for ``app``; ``enabled`` False sends every
    request through the full stack (tests compare both ways)."""

    def __init__(self, app: FastAPI, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits
        self.enabled = True
        self.served = 0  # requests answered here
        self._telemetry_at = -TELEMETRY_RECHECK_S
        self._telemetry_on = False

    def match(self, scope: Scope) -> Handler | None:
        """The handler of an HTTP request this module answers, else None."""
        if not self.enabled:
            return None
        path: str = scope["path"]
        method: str = scope["method"]
        if path == LEADS:
            handler = list_response if method == "GET" else _create if method == "POST" else None
        elif method == "GET" and path.startswith(_LEAD_PREFIX):
            rest = path[len(_LEAD_PREFIX) :]
            ok = rest.isascii() and rest.isdigit() and len(rest) <= 20
            handler = _detail if ok and 1 <= int(rest) <= MAX_LEAD_ID else None
        else:
            return None
        if handler is None or _header(scope, b"origin") is not None:
            return None
        return None if self._telemetry() else handler

    def _telemetry(self) -> bool:
        """Whether FastAPI's OpenTelemetry instrumentation is on, asked at most once a second
        (the question reads the global tracer and meter providers: ~3 % of a list page's CPU)."""
        now = time.monotonic()
        if now - self._telemetry_at >= TELEMETRY_RECHECK_S:
            telemetry = getattr(self.app, "_native_telemetry", None)
            self._telemetry_on = telemetry is not None and bool(telemetry.enabled())
            self._telemetry_at = now
        return self._telemetry_on

    async def serve(self, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request with ``handler``, as the full stack would."""
        self.served += 1
        scope["app"] = self.app
        # For api.observe (metrics, log line): the template of the route this stands for.
        scope["route_template"] = DETAIL if handler is _detail else LEADS
        request = Request(scope, receive)
        refusal = self.limits.refusal(scope)
        if refusal is not None:  # as the outermost middleware sends it: no gzip, no Vary
            await refusal(scope, receive, send)
            return
        try:
            response = await handler(request)
        except Exception as exc:  # every error leaves as the app's problem+json
            handled = _handler(self.app, exc, unhandled=False)
            if handled is None:
                # As ServerErrorMiddleware, outside CORS and gzip: the 500 as it is, then the
                # exception again for the server's log.
                error = await _call(_handler(self.app, exc, unhandled=True), request, exc)
                await error(scope, receive, send)
                raise
            response = await _call(handled, request, exc)
        await _send(scope, send, response)


ExceptionHandler = Callable[[Request, Exception], Any]


def _handler(app: FastAPI, exc: Exception, *, unhandled: bool) -> ExceptionHandler | None:
    """The app's handler of ``exc`` as Starlette picks it: by the exception's classes, nearest
    first, among the handlers ExceptionMiddleware holds (all but ``Exception`` and 500), or the
    ServerErrorMiddleware's (``Exception`` or 500) when ``unhandled``."""
    handlers = app.exception_handlers
    if unhandled:
        return handlers.get(500) or handlers.get(Exception)
    for cls in type(exc).__mro__:
        if cls is not Exception and cls in handlers:
            return handlers[cls]
    return None


async def _call(handler: ExceptionHandler | None, request: Request, exc: Exception) -> Response:
    if handler is None:
        raise exc
    response = handler(request, exc)
    if not isinstance(response, Response):
        response = await response
    return response


async def _send(scope: Scope, send: Send, response: Response) -> None:
    """Send a complete response, gzipped as GZipMiddleware would, with the ``Vary: Origin`` that
    CORSMiddleware adds to an answer without an Origin."""
    body = response.body
    headers = response.raw_headers
    if len(body) >= GZIP_MINIMUM_SIZE:
        headers = _vary(headers, b"Accept-Encoding")
        if b"gzip" in (_header(scope, b"accept-encoding") or b""):
            if len(body) < GZIP_THREAD_MINIMUM_SIZE:
                body = _gzip(body)
            else:  # as GZipMiddleware: off the event loop
                body = await anyio.to_thread.run_sync(_gzip, body)
            headers = [(k, v) for k, v in headers if k != b"content-length"]
            headers += [(b"content-encoding", b"gzip"), (b"content-length", b"%d" % len(body))]
    headers = _vary(headers, b"Origin")
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _gzip(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def _vary(headers: list[tuple[bytes, bytes]], name: bytes) -> list[tuple[bytes, bytes]]:
    for i, (key, value) in enumerate(headers):
        if key == b"vary":
            return [*headers[:i], (key, value + b", " + name), *headers[i + 1 :]]
    return [*headers, (b"vary", name)]


class LeadFactoryAPI(FastAPI):
    """The FastAPI app, answering the lead list, detail and create through :attr:`hot` first."""

    hot: HotRoutes | None = None
    # What receives every request first (the body limit, api.bodylimit), then :meth:`dispatch`.
    entry: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Every request through :attr:`entry` when set, else :meth:`dispatch`."""
        if self.entry is not None:
            await self.entry(scope, receive, send)
        else:
            await self.dispatch(scope, receive, send)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a hot request directly, anything else through the framework."""
        hot = self.hot
        if hot is not None and scope["type"] == "http":
            handler = hot.match(scope)
            if handler is not None:
                await hot.serve(handler, scope, receive, send)
                return
        await super().__call__(scope, receive, send)
