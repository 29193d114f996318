"""Input types that accept exactly what the OpenAPI document says they accept.

What the document promises is what schemathesis sends and what a client generated from it
sends: an id or a page the database can't hold was a 422 from PostgreSQL ("out of range") for a
value the document called valid, and ``created_to=0.5`` was taken for a Unix timestamp.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

import annotated_types as at
from pydantic import AfterValidator, BeforeValidator

# The largest bigint that survives the OpenAPI document: FastAPI's model of it keeps bounds as
# floats, and 2**63 - 1 became 2**63, past the column.
BIGINT_MAX = 2**62
INT_MAX = 2**31 - 1


def _not_a_boolean(value: Any) -> Any:
    # pydantic's lax mode takes JSON true for the integer 1: {"assignee_id": true} assigned
    # the lead to user 1.
    if isinstance(value, bool):
        raise ValueError("an integer, not a boolean")
    return value


_INTEGER = BeforeValidator(_not_a_boolean)
# Ids bounded by their column: users.id is an integer, the other ids bigints.
UserId = Annotated[int, at.Ge(1), at.Le(INT_MAX), _INTEGER]
RowId = Annotated[int, at.Ge(1), at.Le(BIGINT_MAX), _INTEGER]
# A page number: its offset must stay a bigint for any page size.
Page = Annotated[int, at.Ge(1), at.Le(100_000), _INTEGER]

# RFC 3339's date-time (what OpenAPI's ``format: date-time`` means): a date, ``T``, a time and
# its offset. pydantic alone also takes numbers, naive times and other ISO 8601 forms.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.fullmatch(value)):
        return value
    raise ValueError("an RFC 3339 date-time with its offset, e.g. 2026-12-05T10:00:00Z")


def _utc(value: datetime) -> datetime:
    """In UTC; an instant before year 1 or after 9999 in UTC (``0001-01-01T00:00:00+01:00``)
    is the first or last instant Python holds, which bounds the same rows."""
    if value.tzinfo is None:  # a datetime from Python code, not from a request
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return _FIRST if value.year == 1 else _LAST


DateTime = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_utc)]

# A WGS84 box as four comma-separated decimals: longitudes in [-180, 180], latitudes in
# [-90, 90] (the document's pattern; the order of the corners is free).
_LON = r"-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[0-9]{1,2})(?:\.[0-9]+)?)"
_LAT = r"-?(?:90(?:\.0+)?|[0-8]?[0-9](?:\.[0-9]+)?)"
BBOX_PATTERN = rf"^{_LON},{_LAT},{_LON},{_LAT}$"
