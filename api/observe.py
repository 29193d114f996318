"""Each request observed once, outermost: its id, its latency in the metrics, one log line, and
its unexpected error reported to Sentry.

The app's outermost middleware (``api.app``): around the body limit, so its 413s are observed
too. Only Starlette's ServerErrorMiddleware is outside it: an unexpected error is reported here,
and the 500 that middleware renders carries the request id (``api.errors``).

The request id is the client's ``X-Request-ID`` when it is a safe token (1-128 letters, digits
and ``._:-``; anything else could forge log lines or carry data), else a new random one; it is
returned in the response's ``X-Request-ID``, kept in ``request.state.request_id`` and written
in the log line and the error reports. The log line names the route template, never the path
(ids, searches) or the query string (tokens), and the user's id, never their token.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import sentry_sdk
from sentry_sdk.types import Event, Hint
from starlette.types import Message, Receive, Scope, Send

from api.error_reports import report_error
from api.metrics import observe_request

log = logging.getLogger("lfs.request")

HEADER = b"x-request-id"
_SAFE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
UNMATCHED = "<unmatched>"  # no route: 404s of any path are one series, not one per path

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is safe, else a new random id."""
    for key, value in scope["headers"]:
        if key == HEADER:
            given = value.decode("latin-1")
            if _SAFE_ID.fullmatch(given):
                return given
            break
    return secrets.token_hex(16)


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/api/leads/{lead_id}``), never the path."""
    # FastAPI keeps the routes of an included router with their own path ("/auth/me"); the
    # full template ("/api/auth/me") is on the route context it selected, when it did.
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    route = scope.get("route")
    return str(
        getattr(context, "path_format", None)
        or getattr(route, "path_format", None)
        or getattr(route, "path", None)
        or UNMATCHED
    )


class RequestObserver:
    """Request id, latency metrics, the request's log line and its error report."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Observe an HTTP request; anything else passes through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = rid
        if not sentry_sdk.get_client().is_active():
            await self._observe(scope, receive, send, rid)
            return
        # Whatever is reported while this request runs (api.errors reports the 500s it
        # renders) carries its request id, route and user id.
        with sentry_sdk.isolation_scope() as report:
            report.set_tag("request_id", rid)
            report.add_event_processor(_describe_request(scope))
            await self._observe(scope, receive, send, rid)

    async def _observe(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        started = time.perf_counter()
        status = 500  # what the server sends if the app sends nothing
        header = rid.encode()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER, header)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Raised past every handler (already reported by api.errors when it rendered the
            # 500: the SDK drops the same exception the second time).
            report_error(exc)
            raise
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            observe_request(scope["method"], route, status, seconds)
            if log.isEnabledFor(logging.INFO):
                _log(scope, rid, route, status, seconds)


def _log(scope: Scope, rid: str, route: str, status: int, seconds: float) -> None:
    user_id = scope["state"].get("user_id")
    client = scope.get("client")
    ms = round(seconds * 1000, 1)
    log.info(
        "%s %s %d %.1f ms id=%s user=%s",
        scope["method"],
        route,
        status,
        ms,
        rid,
        user_id if user_id is not None else "-",
        extra={
            "request_id": rid,
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": ms,
            "user_id": user_id,
            "client": client[0] if client else None,
        },
    )


def _describe_request(scope: Scope) -> Callable[[Event, Hint], Event]:
    """An event processor adding the request's route, method and user id, read when an event
    is captured (the route is known once the router has run)."""

    def describe(event: Event, hint: Hint) -> Event:
        route = route_template(scope)
        event.setdefault("tags", {})["route"] = route
        event["transaction"] = f"{scope['method']} {route}"
        user_id = scope["state"].get("user_id")
        if user_id is not None:
            event["user"] = {"id": str(user_id)}
        # The method and the route template only: no query string, header, cookie or body.
        event["request"] = {"method": scope["method"], "url": route}
        return event

    return describe
