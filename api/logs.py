"""Logs never carry a token: a filter redacts them in every record, uvicorn's access log included.

A tile token travels in URLs (``?token=``), and uvicorn's access log writes each request's path
with its query string; a message or an exception may quote a URL, a header or a token too. The
filter rewrites a record's message, its arguments and its exception text before any handler
formats it: ``token=…`` (``access_token=…`` too), ``Bearer …`` and anything shaped like a JWT
become ``[redacted]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"
_SECRETS = re.compile(
    # a query parameter ending in "token" (token=, access_token=, ?token%3D…), up to its end
    r"(?P<param>token(?:=|%3D))[^&\s\"'#<>]+"
    # a bearer credential
    r"|(?P<bearer>\bbearer\s+)[\w\-.~+/]+=*"
    # a JWT anywhere: base64url header {"…, a payload, a signature
    r"|eyJ[\w-]+\.[\w-]+\.[\w-]*",
    re.IGNORECASE,
)
# Loggers whose handlers get the filter when there are handlers on them (uvicorn's own).
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


def redact(text: str) -> str:
    """``text`` with every token in it replaced by ``[redacted]``."""
    return _SECRETS.sub(_replacement, text)


def _replacement(match: re.Match[str]) -> str:
    prefix = match.group("param") or match.group("bearer") or ""
    return prefix + REDACTED


def _redact_arg(arg: Any) -> Any:
    if isinstance(arg, str):
        return redact(arg)
    if arg is None or isinstance(arg, int | float | bool | bytes):
        return arg
    # Any other object (a URL, an exception, headers…) as the text it would print, when that
    # holds a token; otherwise the object itself, so that %d or %r format it as before.
    text = str(arg)
    clean = redact(text)
    return arg if clean == text else clean


class RedactTokens(logging.Filter):
    """Rewrites each record so that no token reaches a log line; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message, its arguments and its exception text in place."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        if record.exc_info and not record.exc_text:
            # Formatted here once (handlers reuse exc_text) so the traceback is redacted too.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_token_redaction(loggers: Iterable[str] = LOGGERS) -> None:
    """Add the filter to every handler of these loggers (idempotent): call it once logging is
    configured (the app's lifespan, after uvicorn's dictConfig; the ``leadfactory`` command)."""
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactTokens) for f in handler.filters):
                handler.addFilter(RedactTokens())
