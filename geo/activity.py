"""The activity log and per-layer data versions: written in the caller's transaction."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from geo.models import ActivityLog, LayerVersion


def jsonable(value: Any) -> Any:
    """Make a value JSON-serialisable for the log (enums, dates, decimals, nested)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return value


async def log_activity(
    session: AsyncSession,
    *,
    action: str,
    user_id: int | None,
    lead_id: int | None = None,
    entity: str = "lead",
    entity_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> ActivityLog:
    """Add an activity entry (who, what, before/after) to the current transaction."""
    entry = ActivityLog(
        lead_id=lead_id,
        user_id=user_id,
        action=action,
        entity=entity,
        entity_id=entity_id if entity_id is not None else lead_id,
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
    )
    session.add(entry)
    return entry


async def bump_layer_version(session: AsyncSession, layer: str) -> None:
    """Increment a layer's data version (tile ETags and caches key on it), in this transaction."""
    stmt = insert(LayerVersion).values(layer=layer, version=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[LayerVersion.layer],
        set_={"version": LayerVersion.version + 1, "updated_at": func.clock_timestamp()},
    )
    await session.execute(stmt)
