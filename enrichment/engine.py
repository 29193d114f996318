"""One lead's enrichment: the sun and the spatial joins concurrently, then ONE write transaction.

The write holds a per-lead advisory lock for the whole enrichment, so a lead is never enriched
twice at the same time (the API refuses with 409, a worker waits its turn). Results depend only
on the inputs (lead geometry, reference layers, PVGIS answer, settings): re-enriching gives the
same figures.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Table, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from enrichment import criteria as cr
from enrichment import score as sc
from enrichment.config import EnrichmentConfig
from enrichment.economics import economics, installable_mwc
from enrichment.pvgis import PvgisClient, SunResult
from enrichment.spatial import (
    LeadFacts,
    Part,
    leads_facts,
    no_poste_message,
    spatial_parts_many,
)
from enrichment.sun import sun_data, sun_parts
from geo.activity import bump_layer_version, log_activity
from geo.errors import Conflict, DomainError, InvalidInput, NotFound
from geo.models import (
    Lead,
    LeadEconomic,
    LeadFoncier,
    LeadNetwork,
    LeadRegulatory,
    LeadStatus,
    LeadStatusHistory,
    LeadTechnical,
    Role,
)
from geo.notify import status_changed
from geo.pipeline import check_may_change, check_transition

# Advisory-lock namespace ("EN" in the high bits) + lead id: one lock per lead.
LOCK_BASE = 0x454E << 48


@dataclass(frozen=True)
class Actor:
    """Who enriches: a user (API) or the batch job's creator (worker); None id = system."""

    user_id: int | None
    role: Role


async def _lock_many(
    session: AsyncSession, lead_ids: list[int], wait: bool, failures: dict[int, DomainError]
) -> list[int]:
    """Take each lead's advisory lock for this transaction; the leads we hold, in order.

    Waiting (worker): every lock in ascending order in one statement, so two chunks sharing leads
    can't deadlock. Not waiting (API): a lead someone else is enriching fails with a Conflict.
    """
    keys = sorted(LOCK_BASE + i for i in lead_ids)
    if wait:
        await session.execute(_LOCK_WAIT, {"keys": keys})
        return lead_ids
    busy = {k - LOCK_BASE for k in (await session.execute(_LOCK_TRY, {"keys": keys})).scalars()}
    for i in busy:
        failures[i] = Conflict(
            f"Le lead {i} est en cours d'enrichissement, réessayez dans un instant"
        )
    return [i for i in lead_ids if i not in busy]


_KEYS = bindparam("keys", type_=ARRAY(BigInteger))
_IDS = bindparam("ids", type_=ARRAY(BigInteger))
_LOCK_WAIT = text("SELECT pg_advisory_xact_lock(k) FROM unnest(:keys) AS k").bindparams(_KEYS)
_LOCK_TRY = text(
    "SELECT k FROM unnest(:keys) AS k WHERE NOT pg_try_advisory_xact_lock(k)"
).bindparams(_KEYS)
_DONE_IN_JOB = text(
    "SELECT DISTINCT lead_id FROM activity_log WHERE lead_id = ANY(:ids) AND action = 'enrich' "
    "AND (after ->> 'job_id')::bigint = :job"
).bindparams(_IDS)


async def done_in_job(session: AsyncSession, lead_id: int, job_id: int) -> bool:
    """Whether this job has already enriched this lead (a retried task must not do it twice)."""
    return lead_id in await done_in_job_many(session, [lead_id], job_id)


async def done_in_job_many(session: AsyncSession, lead_ids: list[int], job_id: int) -> set[int]:
    """The leads of ``lead_ids`` this job has already enriched, in one query."""
    rows = await session.execute(_DONE_IN_JOB, {"ids": lead_ids, "job": job_id})
    return set(rows.scalars())


async def _spatial(
    sessions: async_sessionmaker[AsyncSession], facts: list[LeadFacts], config: EnrichmentConfig
) -> dict[int, dict[str, Part]]:
    async with sessions() as session:
        conn = await session.connection()
        return await spatial_parts_many(conn, facts, config)


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


async def _upsert_many(session: AsyncSession, model: type, rows: list[dict[str, Any]]) -> None:
    """Every lead's row of one table in one executemany (rows share their keys, lead_id first)."""
    if not rows:
        return
    table: Table = model.__table__  # type: ignore[attr-defined]
    stmt = _upsert_statement(table, tuple(k for k in rows[0] if k != "lead_id"))
    await session.execute(stmt, rows)


def compute(
    facts: LeadFacts,
    sun: SunResult | None,
    sun_p: Part,
    parts: dict[str, Part],
    config: EnrichmentConfig,
) -> dict[str, Any]:
    """Economics, grid choice, verdict and score from the gathered facts (pure)."""
    env, grid, surf = parts["environment"], parts["grid"], parts["surface"]
    usable = surf.data["usable_surface_m2"]
    mwc = installable_mwc(usable, config.economics)
    chosen = _choose_poste(grid.data["nearest"], mwc)
    no_poste = not grid.data["nearest"] and not grid.partial
    if no_poste:
        # Inside the postes' coverage and nothing within the radius: a fact of the loaded data.
        grid.note(no_poste_message(config.grid_radius_m), partial=False)
    environment = cr.environment_assessment(parts, config)
    verdict, reasons, exclusions = environment.verdict, environment.reasons, environment.exclusions
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
    criteria = cr.evaluate_all(
        cr.ScoreInput(facts, sun, parts, config, mwc, chosen, no_poste, environment)
    )
    result = sc.score(criteria, exclusions, config.score)
    env.data.update(verdict=verdict, reasons=reasons)
    eco_part = Part(data=eco)
    if sun is None:
        eco_part.note("Pas de chiffres de production : pas de données d'ensoleillement")
    if chosen is None:
        why = (
            no_poste_message(config.grid_radius_m).lower()
            if no_poste
            else "données des postes sources absentes pour cette zone"
        )
        eco_part.note(f"Coût de raccordement, LCOE et temps de retour non calculables : {why}")
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
    """Enrich one lead (the chunk path with one id); None if the job did it already.

    Raises the lead's DomainError (NotFound, InvalidInput, Conflict…) when it can't be enriched.
    """
    results, failures = await enrich_leads(
        sessions,
        [lead_id],
        actor=actor,
        config=config,
        pvgis=pvgis,
        job_id=job_id,
        wait_for_lock=wait_for_lock,
    )
    if lead_id in failures:
        raise failures[lead_id]
    return results.get(lead_id)


async def enrich_leads(
    sessions: async_sessionmaker[AsyncSession],
    lead_ids: Sequence[int],
    *,
    actor: Actor,
    config: EnrichmentConfig,
    pvgis: PvgisClient | None,
    job_id: int | None = None,
    wait_for_lock: bool = False,
) -> tuple[dict[int, dict[str, Any]], dict[int, DomainError]]:
    """Enrich a chunk of leads set-based and write them all in ONE transaction.

    One statement per spatial part for the whole chunk, the chunk's PVGIS cells read from the
    cache in one query and fetched concurrently, then per lead the pure computation, then
    multi-row writes. Answers ``(results, failures)``: the result of each lead enriched, and for
    each lead that could not be (missing, no geometry, locked by someone else when not waiting,
    transition refused) its DomainError — those leads are left untouched, the others commit.
    A lead this job has already enriched is in neither.
    """
    ids = list(dict.fromkeys(lead_ids))
    results: dict[int, dict[str, Any]] = {}
    failures: dict[int, DomainError] = {}
    async with sessions() as session, session.begin():
        ids = await _lock_many(session, ids, wait_for_lock, failures)
        if job_id is not None and ids:
            done = await done_in_job_many(session, ids, job_id)
            ids = [i for i in ids if i not in done]
        if not ids:
            return results, failures
        # Who may enrich what is the pipeline's rule (an OPS user only their own leads): refused
        # leads are left out before the sun and the spatial work, and checked again on the
        # locked rows below (a lead reassigned meanwhile).
        ids = await _changeable(session, ids, actor, failures)
        if not ids:
            return results, failures
        facts = await leads_facts(await session.connection(), ids)
        ok: list[LeadFacts] = []
        for i in ids:
            f = facts.get(i)
            if f is None:
                failures[i] = NotFound(f"Lead {i} introuvable")
            elif f.empty or f.lat is None or f.lon is None or f.area_m2 <= 0:
                failures[i] = InvalidInput(f"Le lead {i} n'a pas de géométrie à enrichir")
            else:
                ok.append(f)
        if not ok:
            return results, failures
        points = [(f.lat, f.lon) for f in ok]
        suns, spatial = await asyncio.gather(
            sun_parts(sessions, pvgis, points, config.pvgis),  # type: ignore[arg-type]
            _spatial(sessions, ok, config),
        )
        stmt = (
            select(Lead)
            .where(Lead.id.in_([f.id for f in ok]))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        leads = {lead.id: lead for lead in (await session.scalars(stmt))}
        now = datetime.now(UTC)
        rows: dict[type, list[dict[str, Any]]] = defaultdict(list)
        moved: list[Lead] = []
        for f, (sun, sun_p) in zip(ok, suns, strict=True):
            lead = leads[f.id]
            try:
                check_may_change(actor.role, actor.user_id, lead.id, lead.assignee_id)
                if lead.status is LeadStatus.NEW:
                    check_transition(lead.status, LeadStatus.ENRICHED, actor.role)
            except DomainError as exc:
                failures[f.id] = exc
                continue
            parts = spatial[f.id]
            derived = compute(f, sun, sun_p, parts, config)
            all_parts = {"sun": sun_p, **parts, "economics": derived["economics"]}
            all_parts["sun"].data = sun_data(sun)
            for model, values in _rows(sun, all_parts, derived, now).items():
                rows[model].append({"lead_id": f.id, **values})
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
                lead_id=f.id,
                before=before,
                after=after,
            )
            if lead.status is LeadStatus.NEW:
                moved.append(lead)
            results[f.id] = {
                "lead_id": f.id,
                "status": LeadStatus.ENRICHED.value
                if lead.status is LeadStatus.NEW
                else lead.status.value,
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
        if not results:
            return results, failures
        for model in (LeadTechnical, LeadRegulatory, LeadNetwork, LeadFoncier, LeadEconomic):
            await _upsert_many(session, model, rows[model])
        await _enter_enriched(session, moved, actor)
        await bump_layer_version(session, "leads")
        if job_id is not None:
            await record_done(session, job_id, len(results))
        await session.flush()
    return results, failures


async def _changeable(
    session: AsyncSession, ids: list[int], actor: Actor, failures: dict[int, DomainError]
) -> list[int]:
    """The leads ``actor`` may change (``geo.pipeline.may_change``); the others fail with 403."""
    rows = await session.execute(select(Lead.id, Lead.assignee_id).where(Lead.id.in_(ids)))
    assignee = {lead_id: assignee_id for lead_id, assignee_id in rows}
    kept = []
    for i in ids:
        try:
            if i in assignee:  # a missing lead fails later, as not found
                check_may_change(actor.role, actor.user_id, i, assignee[i])
            kept.append(i)
        except DomainError as exc:
            failures[i] = exc
    return kept


async def _enter_enriched(session: AsyncSession, leads: list[Lead], actor: Actor) -> None:
    """NEW → ENRICHED for these leads at once, writing what ``geo.pipeline.apply_transition``
    writes for each (previous history row closed, new history row, activity entry); the caller
    bumps the layer version once for the chunk. The move was checked by the caller."""
    if not leads:
        return
    now = datetime.now(UTC)
    await session.execute(
        update(LeadStatusHistory)
        .where(
            LeadStatusHistory.lead_id.in_([lead.id for lead in leads]),
            LeadStatusHistory.left_at.is_(None),
        )
        .values(left_at=now)
    )
    for lead in leads:
        previous = lead.status
        session.add(
            LeadStatusHistory(
                lead_id=lead.id,
                status=LeadStatus.ENRICHED,
                entered_at=now,
                changed_by_id=actor.user_id,
                reason=None,
            )
        )
        lead.status = LeadStatus.ENRICHED
        lead.status_changed_at = now
        await log_activity(
            session,
            action="transition",
            user_id=actor.user_id,
            lead_id=lead.id,
            before={"status": previous.value},
            after={"status": LeadStatus.ENRICHED.value},
        )
        # The lead's creator and assignee are told it moved (not the one who ran it).
        await status_changed(session, lead, previous.value, actor.user_id)


def _rows(
    sun: SunResult | None, parts: dict[str, Part], derived: dict[str, Any], now: datetime
) -> dict[type, dict[str, Any]]:
    """One lead's row of each lead_* table (without lead_id)."""
    env, grid, urb, surf, eco = (
        parts["environment"].data,
        parts["grid"].data,
        parts["urbanism"].data,
        parts["surface"].data,
        parts["economics"].data,
    )
    plu = urb["plu_zones"]
    constraints = [m for name in ("environment", "urbanism") for m in parts[name].messages]
    chosen = grid["chosen"]
    return {
        LeadTechnical: {
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
        LeadRegulatory: {
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
        LeadNetwork: {
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
        # Owners and agreement are people's work: only the parcels are refreshed.
        LeadFoncier: {"parcels": urb["parcels"]},
        LeadEconomic: {
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
    }


async def record_done(session: AsyncSession, job_id: int, n: int = 1) -> None:
    """Count ``n`` more leads done in the caller's transaction; close the job when all are in."""
    await session.execute(
        text(
            "UPDATE enrichment_jobs SET done = done + :n, "
            "status = CASE WHEN done + :n + failed >= total THEN 'done' ELSE 'running' END, "
            "finished_at = CASE WHEN done + :n + failed >= total THEN clock_timestamp() END "
            "WHERE id = :id"
        ),
        {"id": job_id, "n": n},
    )
