"""lead_counts (migrations 0009, 0011) and api.services.leads_counts.count_sql against count(*).

For many filter combinations × roles, the total read from lead_counts must equal
``count(*)`` over ``where_sql``; the table must stay exact (cell by cell, no zero cells) after
inserts, status, score and department updates (single and bulk), deletes, a truncate, and be
unchanged by a rolled-back transaction; the migration backfills it and drops it cleanly.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from alembic import command
from alembic.config import Config

from api.services.leads_counts import count_sql
from api.services.leads_query import LeadFilters
from api.services.leads_sql import Binds, where_sql
from api.settings import PROJECT_ROOT
from geo.models import LeadStatus, Role
from geo.visibility import Viewer
from tests.conftest import drop_database, fresh_database
from tests.lead_fixtures import sync_url

S = LeadStatus
STATUSES = list(LeadStatus)
DEPARTMENTS = [None, "15", "69", "2A", ""]
SCORES: list[float | None] = [
    None,
    None,
    0.0,
    0.5,
    1.0,
    39.0,
    39.99,
    40.0,
    40.01,
    55.5,
    99.9,
    100.0,
    -0.5,
    -1.0,
    -2.0,
    32766.0,
    32766.5,
    32767.0,
    32765.0,
    32765.5,
    40000.0,
    -32766.0,
    -32766.5,
    -32767.0,
    -32765.0,
    -32765.5,
    -40000.0,
    float("nan"),
    float("inf"),
    float("-inf"),
]
SCOPED = [Viewer(1, Role.ADMIN), Viewer(2, Role.MANAGER), Viewer(3, Role.COMMERCIAL)]

# The recount the table must always equal, cell by cell (same expressions as the migration).
_BUCKET = (
    "(CASE WHEN quality_score IS NULL THEN -32768 WHEN quality_score >= 32766 THEN 32766 "
    "WHEN quality_score < -32766 THEN -32766 ELSE floor(quality_score) END)::smallint"
)
# Migration 0011: statements fold the pending deltas when their ids cross a multiple of this.
FOLD_EVERY = 16

RECOUNT = f"""
SELECT status, coalesce(department, '') AS department, {_BUCKET} AS score_bucket,
       count(*)::int AS n, count(*) FILTER (WHERE quality_score = {_BUCKET})::int AS n_int
FROM leads GROUP BY 1, 2, 3
UNION ALL
SELECT status, coalesce(department, ''), 32767::smallint,
       count(*)::int, count(*) FILTER (WHERE quality_score = {_BUCKET})::int
FROM leads GROUP BY 1, 2
"""
# The cells as readers see them: lead_counts plus the deltas not folded in yet.
TABLE = """
SELECT status, department, score_bucket, sum(n)::int AS n, sum(n_int)::int AS n_int
FROM (SELECT status, department, score_bucket, n, n_int FROM lead_counts
      UNION ALL SELECT status, department, score_bucket, n, n_int FROM lead_count_deltas) c
GROUP BY 1, 2, 3 HAVING sum(n) <> 0 OR sum(n_int) <> 0
"""

_names = itertools.count()


def _filters(
    status: tuple[LeadStatus, ...] = (),
    department: str | None = None,
    score_min: float | None = None,
    score_max: float | None = None,
) -> LeadFilters:
    return LeadFilters(
        status=status, department=department, score_min=score_min, score_max=score_max
    )


STATUS_SETS: list[tuple[LeadStatus, ...]] = [
    (),
    (S.NEW,),
    (S.CLIENT_READY, S.SOLD),
    (S.ARCHIVED,),
    (S.ARCHIVED, S.NEW, S.SOLD),
    (S.QUALIFIED, S.IN_REVIEW, S.REJECTED, S.ENRICHED),
]
FULL_COMBOS = [
    _filters(st, dep, lo, hi)
    for st in STATUS_SETS
    for dep in (None, "15", "2A", "zz")
    for lo in (None, 0, 40, -1, 100.0, 32765, -32765)
    for hi in (None, 0, 40.0, 39, 100, -1, 32765, -32765)
]
SMALL_COMBOS = [
    _filters(st, dep, lo, hi)
    for st in ((), (S.NEW,), (S.CLIENT_READY, S.SOLD), (S.ARCHIVED, S.ENRICHED))
    for dep in (None, "69", "")
    for lo, hi in ((None, None), (40, None), (None, 40), (0, 100), (40, 40), (41, 39))
]


def _leads_sql(n: int) -> tuple[str, list[object]]:
    """An INSERT of n random leads (statuses, departments, scores incl. NULL/NaN/±inf)."""
    rows, values = [], []
    for _ in range(n):
        i = next(_names)
        base = len(values)
        rows.append(
            f"(${base + 1}, ${base + 2}, ${base + 3}, ${base + 4}::float8, "
            f"ST_Multi(ST_MakeEnvelope(4.8 + ${base + 5}::float8, 45.7, "
            f"4.801 + ${base + 5}::float8, 45.701, 4326)))"
        )
        values += [
            f"LC-{i:06d}",
            random.choice(STATUSES).value,
            random.choice(DEPARTMENTS),
            random.choice(SCORES),
            (i % 500) * 0.001,
        ]
    sql = (
        "INSERT INTO leads (internal_name, status, department, quality_score, geom) VALUES "
        + ", ".join(rows)
    )
    return sql, values


async def _insert(conn: asyncpg.Connection, n: int) -> None:
    sql, values = _leads_sql(n)
    await conn.execute(sql, *values)


async def _mismatches(conn: asyncpg.Connection, combos: list[LeadFilters]) -> list[str]:
    wrong = []
    for viewer in SCOPED:
        for f in combos:
            b1, b2 = Binds(), Binds()
            fast = count_sql(viewer, f, b1)
            assert fast is not None, f
            got = await conn.fetchval(f"SELECT {fast}", *b1.values)
            want = await conn.fetchval(
                f"SELECT count(*) FROM leads l WHERE {where_sql(viewer, f, b2)}", *b2.values
            )
            if got != want:
                wrong.append(f"{viewer.role} {f}: {got} != {want}")
    return wrong


async def _assert_exact(conn: asyncpg.Connection, combos: list[LeadFilters]) -> None:
    table = sorted(tuple(r) for r in await conn.fetch(TABLE))
    recount = sorted(tuple(r) for r in await conn.fetch(RECOUNT))
    assert table == recount
    assert all(r[3] > 0 for r in table), "a negative cell"
    assert not await conn.fetchval("SELECT count(*) FROM lead_counts WHERE n <= 0")
    assert await _mismatches(conn, combos) == []


@pytest.fixture(scope="module")
async def conn(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    random.seed(20261125)
    c = await asyncpg.connect(sync_url(db_url))
    await _insert(c, 600)
    try:
        yield c
    finally:
        await c.close()


async def test_every_shape_and_role_matches_count(conn: asyncpg.Connection) -> None:
    await _assert_exact(conn, FULL_COMBOS)


@pytest.mark.parametrize(
    ("viewer", "f"),
    [
        (Viewer(9, Role.OPS), LeadFilters()),
        (Viewer(1, Role.ADMIN), LeadFilters(assignee_id=3)),
        (Viewer(1, Role.ADMIN), LeadFilters(commune="69114")),
        (Viewer(1, Role.ADMIN), LeadFilters(bbox=(4.0, 45.0, 5.0, 46.0))),
        (Viewer(1, Role.ADMIN), LeadFilters(created_from=datetime(2026, 1, 1, tzinfo=UTC))),
        (Viewer(1, Role.MANAGER), LeadFilters(created_to=datetime(2026, 1, 1, tzinfo=UTC))),
        (Viewer(3, Role.COMMERCIAL), LeadFilters(q="site")),
        (Viewer(1, Role.ADMIN), LeadFilters(score_min=40.5)),
        (Viewer(1, Role.ADMIN), LeadFilters(score_max=39.99)),
        (Viewer(1, Role.ADMIN), LeadFilters(score_min=float("nan"))),
        (Viewer(1, Role.ADMIN), LeadFilters(score_max=float("inf"))),
        (Viewer(1, Role.ADMIN), LeadFilters(score_min=32766)),
        (Viewer(1, Role.ADMIN), LeadFilters(score_max=-32766.0)),
    ],
)
def test_other_shapes_fall_back_without_binding(viewer: Viewer, f: LeadFilters) -> None:
    binds = Binds(["uid", "jti"])
    assert count_sql(viewer, f, binds) is None
    assert binds.values == ["uid", "jti"]


async def test_binds_follow_the_callers(conn: asyncpg.Connection) -> None:
    """Placeholders continue the statement's numbering (the page statement binds first)."""
    binds = Binds(["a", "b"])
    sql = count_sql(Viewer(1, Role.ADMIN), _filters((S.NEW,), "69", 10, 90), binds)
    assert sql is not None and "$3" in sql and "$1" not in sql
    got = await conn.fetchval(f"SELECT {sql}, $1::text, $2::text", *binds.values)
    want = await conn.fetchval(
        "SELECT count(*) FROM leads WHERE status = 'NEW' AND department = '69' "
        "AND quality_score BETWEEN 10 AND 90"
    )
    assert got == want


async def test_inserts(conn: asyncpg.Connection) -> None:
    await _insert(conn, 1)
    await _insert(conn, 1)
    await _insert(conn, 150)
    await _assert_exact(conn, SMALL_COMBOS)


async def test_status_transitions(conn: asyncpg.Connection) -> None:
    ids = await conn.fetch("SELECT id FROM leads ORDER BY id LIMIT 30")
    for k, row in enumerate(ids):
        await conn.execute(
            "UPDATE leads SET status = $1 WHERE id = $2", STATUSES[k % len(STATUSES)], row["id"]
        )
    await conn.execute("UPDATE leads SET status = 'SOLD' WHERE status = 'CLIENT_READY'")
    await _assert_exact(conn, SMALL_COMBOS)


async def test_score_updates_single_and_bulk(conn: asyncpg.Connection) -> None:
    one = await conn.fetchval("SELECT id FROM leads WHERE quality_score IS NULL LIMIT 1")
    await conn.execute("UPDATE leads SET quality_score = 40 WHERE id = $1", one)
    await conn.execute("UPDATE leads SET quality_score = 40.25 WHERE id = $1", one)
    await conn.execute("UPDATE leads SET quality_score = NULL WHERE id = $1", one)
    await _assert_exact(conn, SMALL_COMBOS)
    # The enrichment engine's shape: thousands of scores in one statement.
    await conn.execute(
        "UPDATE leads SET quality_score = CASE WHEN id % 4 = 0 THEN NULL "
        "WHEN id % 4 = 1 THEN (id % 101)::float8 ELSE (id % 1000) / 10.0 END "
        "WHERE id % 3 <> 0"
    )
    await _assert_exact(conn, SMALL_COMBOS)
    # The same values again: every row cancels out, nothing written.
    before = await conn.fetch(TABLE + " ORDER BY 1, 2, 3")
    await conn.execute("UPDATE leads SET quality_score = quality_score, notes = 'x'")
    assert await conn.fetch(TABLE + " ORDER BY 1, 2, 3") == before


async def test_department_change(conn: asyncpg.Connection) -> None:
    await conn.execute("UPDATE leads SET department = '15' WHERE id = (SELECT min(id) FROM leads)")
    await conn.execute("UPDATE leads SET department = NULL WHERE department = '2A'")
    await conn.execute(
        "UPDATE leads SET department = '69', status = 'NEW', quality_score = 12 WHERE id % 5 = 0"
    )
    await _assert_exact(conn, SMALL_COMBOS)


async def test_deletes(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM leads WHERE id = (SELECT max(id) FROM leads)")
    await conn.execute("DELETE FROM leads WHERE id % 7 = 0")
    await _assert_exact(conn, SMALL_COMBOS)
    # A cell emptied by a delete is removed, and comes back on the next insert.
    cell = await conn.fetchrow(
        "SELECT * FROM lead_counts WHERE score_bucket <> 32767 ORDER BY n, status LIMIT 1"
    )
    assert not await conn.fetchval("SELECT count(*) FROM lead_count_deltas")
    await conn.execute(
        f"DELETE FROM leads WHERE status = $1 AND coalesce(department, '') = $2 AND {_BUCKET} = $3",
        cell["status"],
        cell["department"],
        cell["score_bucket"],
    )
    await _assert_exact(conn, SMALL_COMBOS)


async def test_rolled_back_transaction_changes_nothing(conn: asyncpg.Connection) -> None:
    before = await conn.fetch(TABLE + " ORDER BY 1, 2, 3")
    tx = conn.transaction()
    await tx.start()
    try:
        await _insert(conn, 40)
        await conn.execute("UPDATE leads SET quality_score = 77 WHERE id % 2 = 0")
        await conn.execute("UPDATE leads SET status = 'ARCHIVED' WHERE id % 3 = 0")
        await conn.execute("DELETE FROM leads WHERE id % 11 = 0")
        await _assert_exact(conn, SMALL_COMBOS)  # exact inside the writing transaction
        await conn.execute("TRUNCATE leads CASCADE")
        assert await conn.fetchval("SELECT count(*) FROM lead_counts") == 0
        assert await conn.fetchval("SELECT count(*) FROM lead_count_deltas") == 0
    finally:
        await tx.rollback()
    assert await conn.fetch(TABLE + " ORDER BY 1, 2, 3") == before
    await _assert_exact(conn, SMALL_COMBOS)


async def test_concurrent_writers_stay_exact(conn: asyncpg.Connection, db_url: str) -> None:
    others = [await asyncpg.connect(sync_url(db_url)) for _ in range(4)]
    try:

        async def work(c: asyncpg.Connection, k: int) -> None:
            for j in range(10):
                async with c.transaction():
                    sql, values = _leads_sql(3)
                    await c.execute(sql, *values)
                    await c.execute(
                        "UPDATE leads SET quality_score = $1 WHERE id % 13 = $2", j * 10, k
                    )

        import asyncio

        await asyncio.gather(*(work(c, k) for k, c in enumerate(others)))
    finally:
        for c in others:
            await c.close()
    await _assert_exact(conn, SMALL_COMBOS)
    # Idle again: a large statement folds whatever was appended while the lock was taken.
    await _insert(conn, FOLD_EVERY)
    assert not await conn.fetchval("SELECT count(*) FROM lead_count_deltas")
    await _assert_exact(conn, SMALL_COMBOS)


async def test_single_row_writes_fold_in_batches(conn: asyncpg.Connection) -> None:
    """One-lead statements (every creation) append their delta and fold only when the deltas'
    ids cross a multiple of FOLD_EVERY (migration 0011): the pending rows stay few."""
    pending, folds = [], 0
    for _ in range(3 * FOLD_EVERY):
        await _insert(conn, 1)
        n = await conn.fetchval("SELECT count(*) FROM lead_count_deltas")
        folds += bool(pending) and n < pending[-1]
        pending.append(n)
    assert max(pending) <= 2 * FOLD_EVERY and folds >= 2
    await _assert_exact(conn, SMALL_COMBOS)


async def test_a_writer_holding_the_fold_lock_blocks_nobody(
    conn: asyncpg.Connection, db_url: str
) -> None:
    """While one transaction holds the fold lock (and its cells), others append and commit."""
    other = await asyncpg.connect(sync_url(db_url))
    try:
        async with conn.transaction():
            await conn.execute("UPDATE leads SET status = 'NEW' WHERE id % 10 = 1")
            await conn.execute("SET LOCAL lock_timeout = '1s'")
            async with other.transaction():
                await other.execute("SET LOCAL lock_timeout = '1s'")
                sql, values = _leads_sql(5)
                await other.execute(sql, *values)
                await other.execute("UPDATE leads SET status = 'SOLD' WHERE id % 10 = 2")
            assert await conn.fetchval("SELECT count(*) FROM lead_count_deltas") > 0
            await _assert_exact(conn, SMALL_COMBOS)
    finally:
        await other.close()
    await _assert_exact(conn, SMALL_COMBOS)


def test_migration_backfills_and_drops(template_db: str) -> None:
    """Downgrade to 0008 drops table, triggers and functions; upgrade backfills from leads."""
    import asyncio

    name, url = fresh_database(template_db)
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    try:

        async def seed_and(check: str) -> object:
            c = await asyncpg.connect(sync_url(url))
            try:
                if check == "seed":
                    await _insert(c, 200)
                    return None
                if check == "gone":
                    return await c.fetchval(
                        "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'lead_counts%')"
                        " + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'lead_counts%')"
                        " + (SELECT count(*) FROM pg_class WHERE relname = 'lead_counts')"
                    )
                await _assert_exact(c, SMALL_COMBOS)
                return None
            finally:
                await c.close()

        asyncio.run(seed_and("seed"))
        command.downgrade(cfg, "0008_analytics")
        assert asyncio.run(seed_and("gone")) == 0
        command.upgrade(cfg, "head")
        asyncio.run(seed_and("exact"))
    finally:
        drop_database(name)
