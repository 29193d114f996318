"""Log lines as JSON objects (one per line) in production, plain text elsewhere.

A JSON line holds the time, level, logger, process id and message, plus the structured fields
a record carries in ``extra`` (the request line of :mod:`api.observe`: request id, route,
status, duration, user id). The filters already on the handlers (token redaction, safe
exceptions) run before the formatter, so what they remove never reaches either form.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# The attributes every LogRecord has: anything else was passed as ``extra``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,  # which of serve's workers
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


def use_json_logs(loggers: tuple[str, ...] = LOGGERS) -> None:
    """Give every handler of these loggers the JSON formatter (the root logger gets a stderr
    handler if it has none, as in a freshly spawned server worker)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(JsonFormatter())
