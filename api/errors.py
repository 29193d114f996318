"""RFC 9457 problem+json for every error; the one map from domain errors to HTTP statuses."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from api.error_reports import report_error
from api.logsafe import log_error
from geo import errors as e

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

STATUS: dict[type[e.DomainError], int] = {
    e.BadRequest: 400,
    e.NotAuthenticated: 401,
    e.PermissionDenied: 403,
    e.NotFound: 404,
    e.Conflict: 409,
    e.PreconditionFailed: 412,
    e.PayloadTooLarge: 413,
    e.UnsupportedMediaType: 415,
    e.InvalidInput: 422,
    e.RateLimited: 429,
    e.ServiceUnavailable: 503,
}

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


# The code of a problem built from a slug or a bare status (middlewares, Starlette's errors).
SLUG_CODES = {
    "bad-request": "request.bad",
    "malformed-json": "request.malformed_json",
    "invalid-input": "request.invalid",
    "rate-limited": "request.rate_limited",
    "payload-too-large": "upload.too_large",
    "unsupported-media-type": "upload.unsupported_type",
    "precondition-failed": "resource.stale",
    "conflict": "resource.conflict",
    "not-ready": "service.not_ready",
    "timeout": "service.timeout",
    "service-unavailable": "service.unavailable",
}
STATUS_CODES = {
    400: "request.bad",
    401: "auth.required",
    403: "auth.forbidden",
    404: "http.not_found",
    405: "http.method_not_allowed",
    406: "http.not_acceptable",
    409: "resource.conflict",
    412: "resource.stale",
    413: "upload.too_large",
    415: "upload.unsupported_type",
    422: "request.invalid",
    429: "request.rate_limited",
    500: "server.error",
    503: "service.unavailable",
}


def code_for(status: int, slug: str | None = None) -> str:
    """The machine code of a problem that names none (from its slug, else its status)."""
    if slug in SLUG_CODES:
        return SLUG_CODES[slug]
    return STATUS_CODES.get(status, "http.error")


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="Dotted location of the field, e.g. body.email")
    message: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field("about:blank", description="URI identifying the problem type")
    title: str
    status: int
    code: str = Field(
        description="Stable machine code of the problem (docs/api.md, 'Error codes')",
        # A list display: typed as the JSON values json_schema_extra takes (a list[str] is not).
        json_schema_extra={"enum": [*sorted(e.CODES)]},
    )
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


def status_for(exc: e.DomainError) -> int:
    """The HTTP status of a domain error (nearest mapped base class)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def problem_response(
    status: int,
    detail: str | None,
    request: Request | None = None,
    *,
    title: str | None = None,
    slug: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """Render a problem+json response; ``code`` defaults to the slug's or the status's."""
    body: dict[str, Any] = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "code": code or code_for(status, slug),
    }
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
    body.update({k: v for k, v in extensions.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        out.append({"field": loc, "message": str(err.get("msg", "")), "type": err.get("type", "")})
    return out


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.DomainError)
    status = status_for(exc)
    headers = None
    if isinstance(exc, e.RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return problem_response(
        status,
        exc.detail,
        request,
        title=exc.title,
        slug=exc.slug,
        code=exc.code,
        headers=headers,
        **exc.extensions,
    )


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    if any(err["type"] == "json_invalid" for err in errors):
        return problem_response(
            400,
            "The request body is not valid JSON.",
            request,
            slug="malformed-json",
            errors=errors,
        )
    fields = ", ".join(err["field"] for err in errors)
    return problem_response(
        422, f"Invalid fields: {fields}", request, slug="invalid-input", errors=errors
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return problem_response(exc.status_code, detail, request, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method served at the request's path. FastAPI makes one route per method and
    Starlette's 405 names the methods of the first route whose path matched (``Allow: GET``
    for a lead that also takes PATCH and DELETE)."""
    path = request.scope["path"]
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):  # nested routers included
        if route.path and route.methods and _path_regex(route.path).match(path):
            methods |= route.methods
    return sorted(methods)


@lru_cache(maxsize=512)
def _path_regex(path: str) -> re.Pattern[str]:
    return compile_path(path)[0]


async def _stale(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(
        412,
        "The resource was changed by someone else; reload it and try again.",
        request,
        slug="precondition-failed",
    )


async def _integrity(request: Request, exc: Exception) -> JSONResponse:
    # A constraint the API layer did not anticipate: a conflict, never a 500 with SQL in it.
    return _conflict(request, exc)


def _database_problem(
    request: Request, exc: Exception, sqlstate: str, lost_connection: bool
) -> JSONResponse:
    if sqlstate == "57014":  # query_canceled: statement_timeout
        return problem_response(
            503, "The query took too long.", request, slug="timeout", headers={"Retry-After": "1"}
        )
    if sqlstate.startswith("22"):  # data exception: a value PostgreSQL could not take
        return problem_response(
            422, "A value is out of range or malformed.", request, slug="invalid-input"
        )
    if sqlstate in ("23505", "23503"):  # unique / foreign key on a plain-SQL path
        return _conflict(request, exc)
    if lost_connection or sqlstate.startswith("08") or sqlstate in ("57P01", "57P03"):
        return problem_response(
            503,
            "The database is unavailable.",
            request,
            slug="service-unavailable",
            headers={"Retry-After": "5"},
        )
    log_error(log, logging.ERROR, f"database error on {_route(request)}", exc)
    report_error(exc)
    return problem_response(500, "Internal server error.", request)


def _route(request: Request) -> str:
    """The matched route's path template (``/api/leads/{lead_id}``): the request's own path may
    carry what a client typed, which the logs above INFO never hold (``api.logsafe``)."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', None) or '(no route)'}"


def _conflict(request: Request, exc: Exception) -> JSONResponse:
    """409 for a constraint the API layer did not anticipate."""
    log_error(log, logging.WARNING, f"integrity error on {_route(request)}", exc, with_stack=False)
    return problem_response(
        409, "The change conflicts with existing data.", request, slug="conflict"
    )


async def _db(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return _database_problem(request, exc, sqlstate, exc.connection_invalidated)


async def _pg(request: Request, exc: Exception) -> JSONResponse:
    # Statements sent on an asyncpg connection itself (a lead's checks and insert on its
    # session's driver connection, the tile service's pool): same answers as _db.
    sqlstate = getattr(exc, "sqlstate", None) or ""
    lost = isinstance(exc, OSError | asyncpg.InterfaceError)  # refused, reset, closed
    return _database_problem(request, exc, sqlstate, lost)


async def _pool_timeout(request: Request, exc: Exception) -> JSONResponse:
    # Every pooled connection busy for the pool's timeout: the process is overloaded.
    log_error(
        log,
        logging.WARNING,
        f"no free database connection on {_route(request)}",
        exc,
        with_stack=False,
    )
    return problem_response(
        503,
        "The server is busy; try again shortly.",
        request,
        slug="service-unavailable",
        headers={"Retry-After": "2"},
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log_error(log, logging.ERROR, f"unhandled error on {_route(request)}", exc)
    report_error(exc)
    # Starlette's ServerErrorMiddleware sends this outside every middleware, the request
    # observer (api.observe) included: the request id it chose goes on the 500 here.
    rid = getattr(request.state, "request_id", None)
    headers = {"X-Request-ID": rid} if rid else None
    return problem_response(500, "Internal server error.", request, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers once: every error leaves as problem+json, no stack trace."""
    app.add_exception_handler(e.DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(StaleDataError, _stale)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DBAPIError, _db)
    app.add_exception_handler(PoolTimeout, _pool_timeout)
    app.add_exception_handler(asyncpg.PostgresError, _pg)
    app.add_exception_handler(asyncpg.InterfaceError, _pg)
    app.add_exception_handler(ConnectionError, _pg)
    app.add_exception_handler(Exception, _unhandled)
