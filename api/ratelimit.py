"""Per-IP rate limits as a pure ASGI middleware (login attempts and API requests), counted in the
deployment's shared state (:mod:`geo.shared_state`): the limit holds across every process and
machine behind the load balancer, not per process."""

from __future__ import annotations

import logging
import math

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import problem_response
from geo.shared_state import SharedState, Throttled

log = logging.getLogger(__name__)

LOGIN_PATHS = frozenset({"/api/auth/login", "/api/auth/token"})
# Paths a map or a browser fetches by the hundred: never counted against the API limit.
EXEMPT_PREFIXES = ("/tiles", "/ogc", "/assets", "/api/health", "/api/ready")
WINDOW_S = 60.0  # the limits are per minute, in fixed windows opened by a client's first request


class RateLimits:
    """The login and API limits per client address (0 disables a limit)."""

    def __init__(
        self, login_per_minute: int, api_per_minute: int, store: SharedState | None = None
    ) -> None:
        self.login = login_per_minute
        self.api = api_per_minute
        # Set by the app's lifespan (api.app); until then, and whenever the store does not
        # answer, requests go through (fail open) with a log line.
        self.store = store
        self._warn = Throttled(log)

    async def refusal(self, scope: Scope) -> Response | None:
        """Count an HTTP request; its 429 + Retry-After when it is over a limit, else None."""
        path: str = scope["path"]
        if self.login and path in LOGIN_PATHS and scope["method"] == "POST":
            kind, limit, what = "login", self.login, "login attempts"
        elif self.api and path.startswith("/api/") and not path.startswith(EXEMPT_PREFIXES):
            kind, limit, what = "api", self.api, "API requests"
        else:
            return None
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        if self.store is None:
            self._warn.warning("rate limits not applied: no shared state yet")
            return None
        try:
            hit = await self.store.hit(f"ratelimit:{kind}:{ip}", WINDOW_S)
        except Exception as exc:  # the backend is down: serve rather than refuse everyone
            self._warn.warning("rate limits not applied (%s): requests are let through", exc)
            return None
        if hit.count <= limit:
            return None
        wait = max(1, math.ceil(hit.reset_s))
        return problem_response(
            429,
            f"Too many {what} from this address; retry in {wait} s.",
            None,
            slug="rate-limited",
            headers={"Retry-After": str(wait)},
        )


class RateLimitMiddleware:
    """429 + Retry-After past the login or API limit."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request and refuse it when over a limit."""
        if scope["type"] == "http" and (response := await self.limits.refusal(scope)) is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
