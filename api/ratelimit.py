"""Per-IP rate limits as a pure ASGI middleware (login attempts and API requests)."""

from __future__ import annotations

import math
import time
from collections import deque

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import problem_response

LOGIN_PATHS = frozenset({"/api/auth/login", "/api/auth/token"})
# Paths a map or a browser fetches by the hundred: never counted against the API limit.
EXEMPT_PREFIXES = ("/tiles", "/ogc", "/assets", "/api/health", "/api/ready")


class SlidingWindow:
    """Counts events per key over the last ``window`` seconds (exact sliding log)."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float | None = None) -> int:
        """Record a hit; return 0 when allowed, else the seconds until the next one is."""
        now = time.monotonic() if now is None else now
        q = self._hits.setdefault(key, deque())
        cutoff = now - self.window
        while q and q[0] <= cutoff:
            q.popleft()
        if len(q) >= self.limit:
            return max(1, math.ceil(q[0] + self.window - now))
        q.append(now)
        if len(self._hits) > 100_000:  # bound memory under a scan of many source IPs
            self._prune(cutoff)
        return 0

    def _prune(self, cutoff: float) -> None:
        for key in [k for k, q in self._hits.items() if not q or q[-1] <= cutoff]:
            del self._hits[key]


class RateLimits:
    """The login and API limits of one process (0 disables a limit)."""

    def __init__(self, login_per_minute: int, api_per_minute: int) -> None:
        self.login = SlidingWindow(login_per_minute) if login_per_minute else None
        self.api = SlidingWindow(api_per_minute) if api_per_minute else None

    def refusal(self, scope: Scope) -> Response | None:
        """Count an HTTP request; its 429 + Retry-After when it is over a limit, else None."""
        path: str = scope["path"]
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        wait = 0
        what = ""
        if self.login and path in LOGIN_PATHS and scope["method"] == "POST":
            wait, what = self.login.hit(ip), "login attempts"
        elif self.api and path.startswith("/api/") and not path.startswith(EXEMPT_PREFIXES):
            wait, what = self.api.hit(ip), "API requests"
        if not wait:
            return None
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
        if scope["type"] == "http" and (response := self.limits.refusal(scope)) is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
