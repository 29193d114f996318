"""The set-based chunk path (what a queued task runs) against the single-lead path: the same
leads store the same results either way, and one bad lead in a chunk fails alone."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from api.queue import WorkerContext, enrich_chunk
from api.services import enrichment as svc
from enrichment.engine import Actor, enrich_leads
from geo.errors import InvalidInput, NotFound
from geo.models import (
    ActivityLog,
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
from tests.enrichment_helpers import (
    add_commune,
    add_parcel,
    add_plu,
    add_poste,
    add_zone,
    ewkt,
    make_lead,
    pt,
    pvgis_fixtures,
    rect,
)

COMMUNE = rect(-10_000, -10_000, 30_000, 10_000)
SHAPES = [
    rect(0, 0, 500, 300),  # under a ZNIEFF I and two PLU zones, over parcels
    rect(20_000, 0, 20_300, 300),  # half under an APPB (hard exclusion)
    rect(4000, 0, 4300, 300),  # nothing under it, zones nearby
    rect(40_000, 0, 40_200, 200),  # outside every commune
]
TABLES = (LeadTechnical, LeadRegulatory, LeadNetwork, LeadFoncier, LeadEconomic)


standin, settings = pvgis_fixtures("chunk", rate=1000, pvgis={"retries": 1, "backoff_s": 0.01})


@pytest.fixture(scope="module")
async def world(state) -> None:
    s = state.sessions
    await add_commune(s, "03001", "Testville", COMMUNE)
    await add_zone(s, "znieff1", "Z1IN", rect(-200, -100, 100, 400))
    await add_zone(s, "natura2000_zsc", "ZSC1", rect(1500, 0, 2500, 300))
    await add_zone(s, "appb", "APPB1", rect(19_900, -50, 20_150, 350))
    for i, (x, y, mw) in enumerate([(2050, 150, 50.0), (250, -2850, 80.0), (-750, 1150, 1.0)]):
        await add_poste(s, f"P{i}", pt(x, y), mw)
    await add_plu(s, "u1", "U", "Ux", rect(-100, -50, 200, 350))
    await add_plu(s, "a1", "A", "A", rect(200, -50, 600, 350))
    await add_parcel(s, "03001000AB0001", rect(0, 0, 250, 300))
    await add_parcel(s, "03001000AB0002", rect(250, 0, 500, 300))


def _kwargs(state) -> dict[str, Any]:
    return {
        "actor": Actor(None, Role.ADMIN),
        "config": svc.enrichment_config(state.settings),
        "pvgis": svc.pvgis_client(state),
    }


async def _stored(state, lead_id: int) -> dict[str, Any]:
    """Everything the enrichment stored for a lead, minus ids and timestamps."""
    out: dict[str, Any] = {}
    async with state.sessions() as session:
        for model in TABLES:
            row = await session.get(model, lead_id)
            assert row is not None, model
            values = {
                c.key: getattr(row, c.key)
                for c in model.__table__.columns  # type: ignore[attr-defined]
                if c.key not in ("lead_id", "computed_at", "created_at", "updated_at")
            }
            if model is LeadTechnical and values["pvgis_inputs"]:
                values["pvgis_inputs"] = {
                    k: v for k, v in values["pvgis_inputs"].items() if k != "cached"
                }
            out[model.__tablename__] = values
        lead = await session.get(Lead, lead_id)
        out["lead"] = {
            "status": lead.status,
            "quality_score": lead.quality_score,
            "completeness": lead.completeness,
            "score_breakdown": lead.score_breakdown,
            "enrichment_stale": lead.enrichment_stale,
            "commune_insee": lead.commune_insee,
        }
    return out


async def test_chunk_stores_what_the_single_path_stores(client, state, auth_headers, world) -> None:
    singles = [await make_lead(state.sessions, ewkt(g)) for g in SHAPES]
    chunk = [await make_lead(state.sessions, ewkt(g)) for g in SHAPES]
    headers = await auth_headers(Role.ADMIN)
    for lead_id in singles:
        r = await client.post(f"/api/enrichment/{lead_id}", headers=headers)
        assert r.status_code == 200, r.text
    results, failures = await enrich_leads(state.sessions, chunk, **_kwargs(state))
    assert failures == {}
    assert sorted(results) == sorted(chunk)
    for one, many in zip(singles, chunk, strict=True):
        assert await _stored(state, many) == await _stored(state, one)
    # The chunk's answers are what the API answers for one lead (but the lead id).
    r = await client.post(f"/api/enrichment/{singles[0]}", headers=headers)
    api = r.json()
    mine = results[chunk[0]]
    assert {k: v for k, v in api.items() if k != "lead_id"} == {
        k: v for k, v in mine.items() if k != "lead_id"
    } | {"status": "ENRICHED"}
    # Re-enriching the chunk gives the same stored results.
    before = [await _stored(state, i) for i in chunk]
    await enrich_leads(state.sessions, chunk, **_kwargs(state))
    assert [await _stored(state, i) for i in chunk] == before
    async with state.sessions() as session:  # one NEW → ENRICHED move each, as the single path
        for lead_id in chunk:
            history = (
                await session.scalars(
                    select(LeadStatusHistory)
                    .where(LeadStatusHistory.lead_id == lead_id)
                    .order_by(LeadStatusHistory.id)
                )
            ).all()
            assert [(h.status, h.left_at is None) for h in history] == [
                (LeadStatus.NEW, False),
                (LeadStatus.ENRICHED, True),
            ]
            actions = (
                await session.scalars(
                    select(ActivityLog.action)
                    .where(ActivityLog.lead_id == lead_id)
                    .order_by(ActivityLog.id)
                )
            ).all()
            assert actions == ["enrich", "transition", "enrich"]


async def test_one_bad_lead_fails_alone(state, settings, world) -> None:
    good1 = await make_lead(state.sessions, ewkt(SHAPES[0]))
    empty = await make_lead(state.sessions, "SRID=4326;MULTIPOLYGON EMPTY")
    good2 = await make_lead(state.sessions, ewkt(SHAPES[2]))
    missing = 10_000_000
    results, failures = await enrich_leads(
        state.sessions, [good1, empty, missing, good2], **_kwargs(state)
    )
    assert sorted(results) == sorted([good1, good2])
    assert isinstance(failures[empty], InvalidInput)
    assert failures[empty].detail == f"Le lead {empty} n'a pas de géométrie à enrichir"
    assert isinstance(failures[missing], NotFound)
    async with state.sessions() as session:
        assert await session.get(LeadTechnical, empty) is None
        assert (await session.get(Lead, empty)).status is LeadStatus.NEW
        for lead_id in (good1, good2):
            assert (await session.get(Lead, lead_id)).status is LeadStatus.ENRICHED

    # Through the worker's task function: progress counters and the failure's reason.
    good3 = await make_lead(state.sessions, ewkt(SHAPES[1]))
    empty2 = await make_lead(state.sessions, "SRID=4326;MULTIPOLYGON EMPTY")
    ids = [good3, empty2, good1]
    async with state.sessions() as session, session.begin():
        job_id = await session.scalar(
            text(
                "INSERT INTO enrichment_jobs (status, total, lead_ids, failures) "
                "VALUES ('queued', 3, CAST(:ids AS jsonb), '[]') RETURNING id"
            ),
            {"ids": str(ids)},
        )
    ctx = WorkerContext.build(settings, 2)
    try:
        await enrich_chunk(ctx, job_id, ids, last_attempt=False)
        await enrich_chunk(ctx, job_id, ids, last_attempt=False)  # a retried task: no change
    finally:
        await ctx.close()
    async with state.sessions() as session:
        job = (
            (
                await session.execute(
                    text(
                        "SELECT status, done, failed, failures FROM enrichment_jobs WHERE id = :i"
                    ),
                    {"i": job_id},
                )
            )
            .mappings()
            .one()
        )
        assert (job["status"], job["done"], job["failed"]) == ("done", 2, 1)
        assert job["failures"] == [
            {"lead_id": empty2, "reason": f"Le lead {empty2} n'a pas de géométrie à enrichir"}
        ]
