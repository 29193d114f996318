"""Enrichment from the API side: settings → engine config, the PVGIS client, batch jobs."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.settings import Settings
from api.state import AppState
from enrichment.config import (
    DEFAULT_ZONE_RULES,
    EconomicAssumptions,
    EnrichmentConfig,
    PvgisConfig,
    ScoreConfig,
)
from enrichment.criteria import CRITERIA
from enrichment.pvgis import PvgisClient
from geo.errors import InvalidInput, NotFound
from geo.models import EnrichmentJob, Lead, Role
from geo.pipeline import check_may_change, may_change
from geo.visibility import Viewer, lead_visibility

MAX_BATCH = 100_000


def enrichment_config(settings: Settings) -> EnrichmentConfig:
    """The engine's configuration from the settings groups pvgis, economics, score, enrichment."""
    s = settings.score
    # Each criterion's weight: its setting (LFS_SCORE__WEIGHT_<KEY>) when it has one, else the
    # registry's default.
    weights = {c.key: float(getattr(s, f"weight_{c.key}", c.weight)) for c in CRITERIA.values()}
    rules = {**DEFAULT_ZONE_RULES, **{k: (v[0], float(v[1])) for k, v in s.zone_rules.items()}}
    return EnrichmentConfig(
        pvgis=PvgisConfig(**settings.pvgis.model_dump()),
        economics=EconomicAssumptions(**settings.economics.model_dump()),
        score=ScoreConfig(weights=weights, zone_rules=rules),
        nearby_radius_m=settings.enrichment.nearby_radius_m,
        grid_radius_m=settings.enrichment.grid_radius_m,
    )


def pvgis_client(state: AppState) -> PvgisClient:
    """The app's PVGIS client (one per process; its rate limit is the database's, shared)."""
    if state.pvgis is None:
        # One budget for every process of the deployment (the database's slot, or Redis).
        state.pvgis = PvgisClient(
            enrichment_config(state.settings).pvgis, engine=state.engine, shared=state.shared
        )
        state.on_close.append(state.pvgis.aclose)
    return state.pvgis


async def select_batch_leads(
    session: AsyncSession, viewer: Viewer, lead_ids: list[int] | None, filters: Any | None
) -> list[int]:
    """The ids to enrich: given ones the viewer may see (404 otherwise) and change (403
    otherwise: ``geo.pipeline.may_change``), or the filtered leads the viewer may change."""
    if lead_ids is not None:
        wanted = sorted(set(lead_ids))
        visible = select(Lead.id, Lead.assignee_id).where(
            Lead.id.in_(wanted), lead_visibility(viewer)
        )
        found = {i: assignee for i, assignee in await session.execute(visible)}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise NotFound(f"leads not found: {missing[:20]}", missing=missing[:100])
        for i in wanted:
            check_may_change(viewer.role, viewer.user_id, i, found[i])
        return wanted
    from api.services.leads_query import filter_clauses  # the list's own filters (issue 3)

    if filters is None:
        raise InvalidInput("give lead_ids or filters")

    rows = await session.execute(
        select(Lead.id, Lead.assignee_id).where(*filter_clauses(viewer, filters)).order_by(Lead.id)
    )
    ids = [i for i, assignee in rows if may_change(viewer.role, viewer.user_id, assignee)]
    if len(ids) > MAX_BATCH:
        raise InvalidInput(f"{len(ids)} leads match: narrow the filters (at most {MAX_BATCH})")
    return list(ids)


async def create_job(conn: psycopg.AsyncConnection, lead_ids: list[int], user_id: int) -> int:
    """A job row in the caller's transaction (status queued, or done when there is nothing).

    On the psycopg connection its tasks are deferred through (``api.queue.create_batch``), so
    the row and the tasks commit together.
    """
    cur = await conn.execute(
        "INSERT INTO enrichment_jobs (status, total, done, failed, lead_ids, failures, "
        "created_by_id, finished_at) VALUES (%(status)s, %(total)s, 0, 0, %(ids)s, '[]', "
        "%(user)s, CASE WHEN %(total)s = 0 THEN clock_timestamp() END) RETURNING id",
        {
            "status": "queued" if lead_ids else "done",
            "total": len(lead_ids),
            "ids": Jsonb(lead_ids),
            "user": user_id,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def get_job(session: AsyncSession, viewer: Viewer, job_id: int) -> EnrichmentJob:
    """A job its creator, a manager or an admin may read; 404 for anyone else."""
    job = await session.get(EnrichmentJob, job_id)
    if job is None or (
        viewer.role not in (Role.ADMIN, Role.MANAGER) and job.created_by_id != viewer.user_id
    ):
        raise NotFound(f"enrichment job {job_id} not found")
    return job


async def record_failure(
    sessions: async_sessionmaker[AsyncSession], job_id: int, lead_id: int, reason: str
) -> None:
    """Count a failed lead once (a retried task can't count it twice) with its reason."""
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE enrichment_jobs SET failed = failed + 1, "
                "failures = coalesce(failures, '[]'::jsonb) "
                "  || jsonb_build_array(jsonb_build_object("
                "       'lead_id', CAST(:lead AS bigint), 'reason', CAST(:reason AS text))), "
                "status = CASE WHEN done + failed + 1 >= total THEN 'done' ELSE 'running' END, "
                "finished_at = CASE WHEN done + failed + 1 >= total THEN clock_timestamp() END "
                "WHERE id = :id AND NOT coalesce(failures, '[]'::jsonb) "
                "  @> jsonb_build_array(jsonb_build_object('lead_id', CAST(:lead AS bigint)))"
            ),
            {"id": job_id, "lead": lead_id, "reason": reason[:500]},
        )
