"""Errors are logged without the values they carry (api.logsafe, api.errors): no SQL parameter,
failing input or exception message at WARNING and above; the class, SQLSTATE and stack stay."""

from __future__ import annotations

import logging
import sys

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import text

from api.logsafe import SafeExceptionFilter
from tests.conftest import assert_problem

SECRET = "Mme-Secret-Dupont-0612345678"


@pytest.fixture(scope="module")
def boom_app(app, state):
    """The app with three routes that fail the ways a request can: a NOT NULL violation, a
    PostgreSQL error quoting its input, a Python exception quoting a value."""

    async def not_null() -> None:
        async with state.sessions() as s:
            await s.execute(text("CREATE TEMP TABLE boom (a int NOT NULL, b text)"))
            await s.execute(text("INSERT INTO boom VALUES (:a, :b)"), {"a": None, "b": SECRET})

    async def pg_quotes_input() -> None:
        async with state.sessions() as s:
            await s.execute(text("SELECT to_tsquery(:q)"), {"q": SECRET + " &"})

    async def python_quotes_value() -> None:
        raise ValueError(f"{SECRET} cannot be used in worksheets.")

    for path, endpoint in [
        ("/boom/not-null", not_null),
        ("/boom/pg", pg_quotes_input),
        ("/boom/python", python_quotes_value),
    ]:
        # Ahead of the web app's catch-all route.
        app.router.routes.insert(0, APIRoute(path, endpoint, methods=["GET"]))
    return app


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        logging.Formatter().format(r) for r in caplog.records if r.levelno >= logging.WARNING
    )


async def test_integrity_error_logs_no_parameters(boom_app, client, caplog) -> None:
    with caplog.at_level(logging.DEBUG, logger="api.errors"):
        assert_problem(await client.get("/boom/not-null"), 409)
    logged = _logged(caplog)
    assert "NotNullViolationError" in logged and "sqlstate=23502" in logged
    assert "column=a" in logged and "GET /boom/not-null" in logged
    assert SECRET not in logged
    # The whole exception is there for whoever turns DEBUG on.
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records)


async def test_database_error_logs_no_input(boom_app, client, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="api.errors"):
        assert_problem(await client.get("/boom/pg"), 500)
    logged = _logged(caplog)
    assert "sqlstate=42601" in logged and "pg_quotes_input" in logged  # class, state, stack
    assert SECRET not in logged


async def test_unhandled_error_logs_no_message(boom_app, caplog) -> None:
    # The 500 is re-raised for the server's log (ServerErrorMiddleware): keep the answer.
    transport = httpx.ASGITransport(app=boom_app, raise_app_exceptions=False)
    with caplog.at_level(logging.INFO, logger="api.errors"):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.get("/boom/python")
    assert_problem(r, 500)
    logged = _logged(caplog)
    assert "ValueError" in logged and "python_quotes_value" in logged
    assert SECRET not in logged


def test_server_log_filter_keeps_class_and_stack_not_message() -> None:
    # uvicorn's "Exception in ASGI application" goes through this filter (api.server).
    try:
        raise KeyError(SECRET)
    except KeyError:
        record = logging.LogRecord(
            "uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application", (), None
        )
        record.exc_info = sys.exc_info()
    assert SafeExceptionFilter().filter(record)
    out = logging.Formatter().format(record)
    assert "Exception in ASGI application" in out and "KeyError" in out
    assert "test_server_log_filter_keeps_class_and_stack_not_message" in out
    assert SECRET not in out
