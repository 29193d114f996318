"""Errors in the logs without the values they carry.

An exception's message is not ours to log at WARNING and above: SQLAlchemy's carries the
statement's parameters (``[parameters: (None, 'the lead's notes')]``), PostgreSQL's the
offending input (``invalid input syntax for type integer: "…"``), a library's the value it
refused (openpyxl's ``IllegalCharacterError`` quotes the cell). What is safe, and enough to find
the fault: the exception classes, the SQLSTATE, the schema names PostgreSQL reports (constraint,
table, column) and the stack (file, line, function, code). The full exception goes to DEBUG.
"""

from __future__ import annotations

import logging
import traceback

import asyncpg

_SCHEMA_NAMES = ("constraint_name", "table_name", "column_name")


def _postgres_error(exc: BaseException) -> asyncpg.PostgresError | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, asyncpg.PostgresError):
            return cur
        seen.add(id(cur))
        orig = getattr(cur, "orig", None)
        cur = orig if isinstance(orig, BaseException) else cur.__cause__
    return None


def describe(exc: BaseException) -> str:
    """The exception's class chain, SQLSTATE and schema names; never its message."""
    names = [type(exc).__name__]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(names) < 5:
        names.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    text = " <- ".join(names)
    pg = _postgres_error(exc)
    if pg is not None:
        fields = [f"sqlstate={pg.sqlstate}"]
        fields += [f"{n.split('_')[0]}={getattr(pg, n)}" for n in _SCHEMA_NAMES if getattr(pg, n)]
        text += f" ({', '.join(fields)})"
    return text


def stack(exc: BaseException) -> str:
    """Where it was raised: the traceback's frames, without the exception's message."""
    return "".join(traceback.format_tb(exc.__traceback__)).rstrip()


def log_error(
    logger: logging.Logger, level: int, what: str, exc: BaseException, *, with_stack: bool = True
) -> None:
    """Log ``what: <describe(exc)>`` (and the stack) at ``level``, the whole exception at DEBUG."""
    if with_stack:
        logger.log(level, "%s: %s\n%s", what, describe(exc), stack(exc))
    else:
        logger.log(level, "%s: %s", what, describe(exc))
    logger.debug("%s (full exception)", what, exc_info=exc)


class SafeExceptionFilter(logging.Filter):
    """For loggers we don't write to (uvicorn's "Exception in ASGI application"): a record's
    exception is rendered as :func:`describe` and :func:`stack` instead of its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's exception; keep the record."""
        if record.exc_info and record.exc_info[1] is not None and record.levelno > logging.DEBUG:
            exc = record.exc_info[1]
            record.exc_info = None
            record.exc_text = f"{describe(exc)}\n{stack(exc)}"
        return True
