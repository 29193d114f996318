"""Fields of PATCH bodies: "leave it out" and "set it to null" are different requests."""

from __future__ import annotations

from typing import Any

from pydantic import Field


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable(description: str | None = None) -> Any:
    """A PATCH field that may be left out but not sent as null, for a column that can't be null.

    Declared with its plain type (``is_public: bool = omittable()``): a ``null`` fails
    validation (422 naming the field) instead of reaching the database's NOT NULL constraint
    (it was a 409 "conflicts with existing data") or being silently ignored. Left out, the
    attribute is None and absent from ``model_fields_set``, which is what PATCH handlers read;
    the OpenAPI schema shows the type without a ``null`` default.
    """
    return Field(default=None, description=description, json_schema_extra=_no_default)
