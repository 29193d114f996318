"""One lead's enrichment: the sun and the spatial joins concurrently, then ONE write transaction.

The write holds a per-lead advisory lock for the whole enrichment, so a lead is never enriched
twice at the same time (the API refuses with 409, a worker waits its turn). Results depend only
on the inputs (lead geometry, reference layers, PVGIS answer, settings): re-enriching gives the
same figures.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from enrichment import score as sc
from enrichment.config import EnrichmentConfig
from enrichment.economics import economics, installable_mwc
from enrichment.pvgis import PvgisClient, SunResult
from enrichment.spatial import (
    OUTSIDE_FRANCE,
    PLU_LAYER_EMPTY,
    LeadFacts,
    Part,
    lead_facts,
    spatial_parts,
)
from enrichment.sun import sun_data, sun_part
from enrichment.wording import SEP
from geo.activity import bump_layer_version, log_activity
from geo.errors import Conflict, InvalidInput, NotFound
from geo.models import (
    Lead,
    LeadEconomic,
    LeadFoncier,
    LeadNetwork,
    LeadRegulatory,
    LeadStatus,
    LeadTechnical,
    Role,
)
from geo.pipeline import apply_transition

# Advisory-lock namespace ("EN" in the high bits) + lead id: one lock per lead.
LOCK_BASE = 0x454E << 48


@dataclass(frozen=True)
class Actor:
    """Who enriches: a user (API) or the batch job's creator (worker); None id = system."""

    user_id: int | None
    role: Role


async def _lock(session: AsyncSession, lead_id: int, wait: bool) -> None:
    if wait:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_BASE + lead_id})
        return
    got = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_BASE + lead_id}
    )
    if not got:
        raise Conflict(
            f"Le lead {lead_id} est en cours d'enrichissement, réessayez dans un instant"
        )


async def done_in_job(session: AsyncSession, lead_id: int, job_id: int) -> bool:
    """Whether this job has already enriched this lead (a retried task must not do it twice)."""
    found = await session.scalar(
        text(
            "SELECT 1 FROM activity_log WHERE lead_id = :lead AND action = 'enrich' "
            "AND (after ->> 'job_id')::bigint = :job LIMIT 1"
        ),
        {"lead": lead_id, "job": job_id},
    )
    return found is not None


async def _spatial(
    sessions: async_sessionmaker[AsyncSession], facts: LeadFacts, config: EnrichmentConfig
) -> dict[str, Part]:
    async with sessions() as session:
        conn = await session.connection()
        return await spatial_parts(conn, facts, config)


def _choose_poste(nearest: list[dict[str, Any]], mwc: float) -> dict[str, Any] | None:
    """The nearest poste with enough available capacity, else the nearest one."""
    for p in nearest:
        avail = p.get("capacity_available_mw")
        if avail is not None and avail >= mwc:
            return p
    return nearest[0] if nearest else None


@cache
def _upsert_statement(table: Table, columns: tuple[str, ...]) -> Any:
    """INSERT … ON CONFLICT (lead_id) DO UPDATE, built once per table and column set.

    Core on the Table with typed bind parameters: building an ORM insert with literal values per
    lead cost a quarter of a worker's CPU (coercions and cache keys over the JSON payloads).
    """
    stmt = insert(table).values(
        {c: bindparam(c, type_=table.c[c].type) for c in ("lead_id", *columns)}
    )
    return stmt.on_conflict_do_update(
        index_elements=["lead_id"], set_={c: stmt.excluded[c] for c in columns}
    )


async def _upsert(session: AsyncSession, model: type, lead_id: int, values: dict[str, Any]) -> None:
    table: Table = model.__table__  # type: ignore[attr-defined]
    stmt = _upsert_statement(table, tuple(values))
    await session.execute(stmt, {"lead_id": lead_id, **values})


def compute(
    facts: LeadFacts,
    sun: SunResult | None,
    sun_p: Part,
    parts: dict[str, Part],
    config: EnrichmentConfig,
) -> dict[str, Any]:
    """Economics, grid choice, verdict and score from the gathered facts (pure)."""
    env, grid, urb, surf = parts["environment"], parts["grid"], parts["urbanism"], parts["surface"]
    usable = surf.data["usable_surface_m2"]
    mwc = installable_mwc(usable, config.economics)
    chosen = _choose_poste(grid.data["nearest"], mwc)
    if not grid.data["nearest"] and not grid.partial:
        grid.note("Aucun poste source trouvé")
    verdict: str | None
    verdict, reasons, exclusions, env_c = sc.environment_verdict(env.data["zones"], config.score)
    if env.partial:
        env_c = sc.Criterion(0.5, SEP.join(env.messages), "missing")
        verdict = None
    eco = economics(
        surface_m2=surf.data["surface_m2"],
        usable_m2=usable,
        specific_yield=sun.specific_yield_kwh_kwc if sun else None,
        distance_m=chosen["distance_m"] if chosen else None,
        quote_part_eur_kw=chosen.get("quote_part_eur_kw") if chosen else None,
        a=config.economics,
    )
    capacity_ok = None
    if chosen and chosen.get("capacity_available_mw") is not None:
        capacity_ok = chosen["capacity_available_mw"] >= mwc
    grid.data.update(
        chosen=chosen,
        capacity_ok=capacity_ok,
        installable_mwc=mwc,
        connection_cost_eur=eco["connection_cost_eur"],
        connection_voltage=eco["connection_voltage"],
    )
    plu_known = not {OUTSIDE_FRANCE, PLU_LAYER_EMPTY} & set(urb.messages)
    criteria = {
        "grid": sc.grid_criterion(chosen, mwc, grid.partial),
        "surface": sc.surface_criterion(usable),
        "sun": sc.sun_criterion(
            sun.specific_yield_kwh_kwc if sun else None, sun.source if sun else None
        ),
        "environment": env_c,
        "urbanism": sc.urbanism_criterion(urb.data["plu_zones"], plu_known),
        "owners": sc.owners_criterion(facts.owner_count),
    }
    result = sc.score(criteria, exclusions, config.score)
    env.data.update(verdict=verdict, reasons=reasons)
    eco_part = Part(data=eco)
    if sun is None:
        eco_part.note("Pas de chiffres de production : pas de données d'ensoleillement")
    if chosen is None:
        eco_part.note("Pas de coût de raccordement : aucun poste source connu")
    return {"economics": eco_part, "score": result, "verdict": verdict, "reasons": reasons}


async def enrich_lead(
    sessions: async_sessionmaker[AsyncSession],
    lead_id: int,
    *,
    actor: Actor,
    config: EnrichmentConfig,
    pvgis: PvgisClient | None,
    job_id: int | None = None,
    wait_for_lock: bool = False,
) -> dict[str, Any] | None:
    """Enrich one lead and write every result in one transaction; None if the job did it already."""
    async with sessions() as session, session.begin():
        await _lock(session, lead_id, wait_for_lock)
        if job_id is not None and await done_in_job(session, lead_id, job_id):
            return None
        facts = await lead_facts(await session.connection(), lead_id)
        if facts is None:
            raise NotFound(f"Lead {lead_id} introuvable")
        if facts.empty or facts.lat is None or facts.area_m2 <= 0:
            raise InvalidInput(f"Le lead {lead_id} n'a pas de géométrie à enrichir")
        assert facts.lon is not None
        (sun, sun_p), parts = await asyncio.gather(
            sun_part(sessions, pvgis, facts.lat, facts.lon, config.pvgis),
            _spatial(sessions, facts, config),
        )
        derived = compute(facts, sun, sun_p, parts, config)
        all_parts = {"sun": sun_p, **parts, "economics": derived["economics"]}
        all_parts["sun"].data = sun_data(sun)
        lead = await session.get(Lead, lead_id, with_for_update=True, populate_existing=True)
        assert lead is not None
        await _write(session, lead, facts, sun, all_parts, derived)
        partial = sorted(name for name, p in all_parts.items() if p.partial)
        stale = sun is None or sun.source != "pvgis" or bool(partial)
        before = {"quality_score": lead.quality_score, "completeness": lead.completeness}
        result = derived["score"]
        lead.quality_score = result["score"]
        lead.completeness = result["completeness"]
        lead.score_breakdown = result
        lead.enrichment_stale = stale
        lead.enriched_at = datetime.now(UTC)
        communes = parts["urbanism"].data["communes"]
        if communes and not lead.commune_insee:
            lead.commune_insee = communes[0]["insee"]
            lead.commune_name = communes[0]["name"]
            lead.department = communes[0]["department"]
        after: dict[str, Any] = {
            "quality_score": result["score"],
            "completeness": result["completeness"],
            "partial": partial,
            "sun_source": sun.source if sun else None,
        }
        if job_id is not None:
            after["job_id"] = job_id
        await log_activity(
            session,
            action="enrich",
            user_id=actor.user_id,
            lead_id=lead_id,
            before=before,
            after=after,
        )
        if lead.status is LeadStatus.NEW:
            await apply_transition(
                session, lead, LeadStatus.ENRICHED, user_id=actor.user_id, role=actor.role
            )
        else:
            await bump_layer_version(session, "leads")
        if job_id is not None:
            await record_done(session, job_id)
        await session.flush()
        return {
            "lead_id": lead_id,
            "status": lead.status.value,
            "quality_score": result["score"],
            "completeness": result["completeness"],
            "enrichment_stale": stale,
            "partial": partial,
            "parts": {
                name: {"partial": p.partial, "messages": p.messages, "data": p.data}
                for name, p in all_parts.items()
            },
            "score": result,
        }


async def _write(
    session: AsyncSession,
    lead: Lead,
    facts: LeadFacts,
    sun: SunResult | None,
    parts: dict[str, Part],
    derived: dict[str, Any],
) -> None:
    now = datetime.now(UTC)
    env, grid, urb, surf, eco = (
        parts["environment"].data,
        parts["grid"].data,
        parts["urbanism"].data,
        parts["surface"].data,
        parts["economics"].data,
    )
    await _upsert(
        session,
        LeadTechnical,
        lead.id,
        {
            "surface_m2": surf["surface_m2"],
            "usable_surface_m2": surf["usable_surface_m2"],
            "irradiation_kwh_m2": sun.irradiation_kwh_m2 if sun else None,
            "specific_yield_kwh_kwc": sun.specific_yield_kwh_kwc if sun else None,
            "installable_mwc": eco["installable_mwc"],
            "annual_production_mwh": eco["annual_production_mwh"],
            "optimal_tilt_deg": sun.optimal_tilt_deg if sun else None,
            "monthly": sun.monthly if sun else None,
            "pvgis_inputs": sun.inputs if sun else None,
            "radiation_database": sun.radiation_database if sun else None,
            "source": sun.source if sun else None,
            "computed_at": now,
        },
    )
    plu = urb["plu_zones"]
    constraints = [m for name in ("environment", "urbanism") for m in parts[name].messages]
    await _upsert(
        session,
        LeadRegulatory,
        lead.id,
        {
            "zones": env["zones"],
            "nearby_zones": env["nearby"],
            "plu_zones": plu,
            "plu_zone_type": plu[0]["type"] if plu else None,
            "plu_label": plu[0]["label"] if plu else None,
            "constraints": constraints,
            "verdict": derived["verdict"],
            "reasons": derived["reasons"],
            "computed_at": now,
        },
    )
    chosen = grid["chosen"]
    await _upsert(
        session,
        LeadNetwork,
        lead.id,
        {
            "nearest": grid["nearest"],
            "chosen_substation_id": chosen["id"] if chosen else None,
            "distance_m": chosen["distance_m"] if chosen else None,
            "capacity_available_mw": chosen.get("capacity_available_mw") if chosen else None,
            "capacity_ok": grid["capacity_ok"],
            "quote_part_eur_kw": chosen.get("quote_part_eur_kw") if chosen else None,
            "connection_cost_eur": grid["connection_cost_eur"],
            "connection_voltage": grid["connection_voltage"] if chosen else None,
            "computed_at": now,
        },
    )
    # Owners and agreement are people's work: only the parcels are refreshed.
    await _upsert(session, LeadFoncier, lead.id, {"parcels": urb["parcels"]})
    await _upsert(
        session,
        LeadEconomic,
        lead.id,
        {
            k: eco[k]
            for k in (
                "capex_eur",
                "opex_eur_yr",
                "connection_cost_eur",
                "annual_revenue_eur",
                "land_rent_eur_yr",
                "simple_payback_years",
                "lcoe_eur_mwh",
                "tariff_eur_mwh",
                "assumptions",
            )
        }
        | {"computed_at": now},
    )


async def record_done(session: AsyncSession, job_id: int) -> None:
    """Count one more lead done in the caller's transaction; close the job when all are through."""
    await session.execute(
        text(
            "UPDATE enrichment_jobs SET done = done + 1, "
            "status = CASE WHEN done + 1 + failed >= total THEN 'done' ELSE 'running' END, "
            "finished_at = CASE WHEN done + 1 + failed >= total THEN now() END "
            "WHERE id = :id"
        ),
        {"id": job_id},
    )
