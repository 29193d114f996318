"""Loading leads under the caller's visibility (404 for leads one may not see)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.errors import NotFound
from geo.models import Lead
from geo.visibility import Viewer, lead_visibility


async def get_visible_lead(
    session: AsyncSession, viewer: Viewer, lead_id: int, *, for_update: bool = False
) -> Lead:
    """The lead if ``viewer`` may see it; NotFound otherwise (existence is not leaked)."""
    stmt = select(Lead).where(Lead.id == lead_id, lead_visibility(viewer))
    if for_update:
        stmt = stmt.with_for_update()
    lead = await session.scalar(stmt)
    if lead is None:
        raise NotFound(f"lead {lead_id} not found", code="lead.not_found", lead_id=lead_id)
    return lead
