"""Times that say when something happened are the time of the write (``clock_timestamp()``), not
the start of its transaction (``now()``): concurrent moves of one lead sort by time as they were
made (migration 0019, ``geo.models.base.event_time``)."""

from __future__ import annotations

import asyncio
import itertools

import psycopg
from sqlalchemy import select

from geo.models import ActivityLog, Base, Lead, LeadStatus, Role
from tests.enrichment_helpers import ewkt, make_lead, rect
from tests.lead_fixtures import mark_enriched

N_MOVES = 50


def test_event_times_default_to_the_write_time(settings) -> None:
    columns = {
        (table.name, column.name)
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.server_default is not None
        and "clock_timestamp" in str(getattr(column.server_default, "arg", ""))
    }
    assert ("activity_log", "created_at") in columns
    assert ("enrichment_jobs", "created_at") in columns
    with psycopg.connect(settings.sync_database_url) as conn:
        defaults = {
            (t, c): d
            for t, c, d in conn.execute(
                "SELECT table_name, column_name, column_default FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        }
    # The migrations give the database the models' defaults (alembic check doesn't compare them).
    assert {key: defaults[key] for key in columns} == dict.fromkeys(columns, "clock_timestamp()")


async def test_activity_sorted_by_time_follows_concurrent_moves(
    client,
    state,
    auth_headers,
    db_url,
) -> None:
    headers = await auth_headers(Role.ADMIN)
    lead_id = await make_lead(state.sessions, ewkt(rect(0, 0, 300, 300)))
    mark_enriched(db_url, lead_id)  # ENRICHED needs an enrichment, QUALIFIED a score
    for status in ("ENRICHED", "QUALIFIED"):
        r = await client.post(
            f"/api/leads/{lead_id}/transition", json={"status": status}, headers=headers
        )
        assert r.status_code == 200, r.text
    # QUALIFIED ⇄ IN_REVIEW, 50 moves at once: each waits for the lead's row lock; those that
    # find the lead already where they wanted to go are refused (409).
    targets = itertools.islice(itertools.cycle(["IN_REVIEW", "QUALIFIED"]), N_MOVES)
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/leads/{lead_id}/transition", json={"status": status}, headers=headers
            )
            for status in targets
        )
    )
    assert {r.status_code for r in answers} <= {200, 409}, [r.text for r in answers]
    moved = sum(r.status_code == 200 for r in answers)
    assert moved >= 2

    async with state.sessions() as session:
        rows = (
            await session.scalars(
                select(ActivityLog)
                .where(ActivityLog.lead_id == lead_id, ActivityLog.action == "transition")
                .order_by(ActivityLog.id)
            )
        ).all()
        final = await session.scalar(select(Lead.status).where(Lead.id == lead_id))
    assert len(rows) == 2 + moved
    # Ids come from a sequence taken when each move writes, under the lock: the order of the
    # moves. Each move starts where the one before it ended, and the last is the lead's status.
    for before, after in itertools.pairwise(rows):
        assert after.before["status"] == before.after["status"]
    assert LeadStatus(rows[-1].after["status"]) is final
    by_time = sorted(rows, key=lambda row: (row.created_at, row.id))
    assert [row.id for row in by_time] == [row.id for row in rows]
    assert all(a.created_at < b.created_at for a, b in itertools.pairwise(rows))
