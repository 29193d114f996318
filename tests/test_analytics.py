"""Analytics against hand-computed answers on a known data set; cache invalidated by writes."""

from __future__ import annotations

import asyncio
import statistics
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from api.services import analytics as svc
from api.services.leads_query import LeadFilters
from geo.models import LeadStatus, Role
from geo.visibility import Viewer
from tests.conftest import assert_problem, login
from tests.lead_fixtures import DUP, sync_url

NOW = datetime.now(UTC)
# (status, department, score, created days ago, assigned to the OPS user?)
LEADS = [
    ("NEW", "69", 10, 1, True),
    ("NEW", "69", None, 2, False),
    ("ENRICHED", "69", 35, 9, True),
    ("QUALIFIED", "15", 55, 15, True),
    ("QUALIFIED", "15", 58, 16, False),
    ("IN_REVIEW", "15", 61, 20, False),
    ("CLIENT_READY", "27", 77, 30, False),
    ("SOLD", "27", 88, 40, False),
    ("SOLD", "69", 92, 41, True),
    ("REJECTED", "17", 0, 3, True),
]
NEW_STAYS_DAYS = [1.0, 2.0, 3.0, 4.0, 10.0]  # finished NEW stays, on the first five leads


@pytest.fixture(scope="module")
async def ctx(db_url, make_user, auth_headers):
    users = {r: await make_user(r) for r in (Role.ADMIN, Role.MANAGER, Role.OPS, Role.COMMERCIAL)}
    people = {k: (u, await auth_headers(user=u)) for k, u in users.items()}
    ops_id = users[Role.OPS].id
    ids = []
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        for i, (status, dept, score, age, mine) in enumerate(LEADS):
            created = NOW - timedelta(days=age)
            row = conn.execute(
                "INSERT INTO leads (internal_name, status, department, quality_score, created_at,"
                " assignee_id, geom, status_changed_at) VALUES (%s, %s, %s, %s, %s, %s,"
                " ST_Multi(ST_MakeEnvelope(4.6, 45.9, 4.601 + %s * 0.001, 45.901, 4326)), %s)"
                " RETURNING id",
                (f"T-{i}", status, dept, score, created, ops_id if mine else None, i, created),
            ).fetchone()
            ids.append(row[0])
        for lid, days in zip(ids, NEW_STAYS_DAYS, strict=False):
            entered = NOW - timedelta(days=60)
            conn.execute(
                "INSERT INTO lead_status_history (lead_id, status, entered_at, left_at,"
                " changed_by_id) VALUES (%s, 'NEW', %s, %s, %s)",
                (lid, entered, entered + timedelta(days=days), ops_id),
            )
        # The OPS user qualified two leads 5 days ago, and one 100 days ago (outside 30 days).
        for lid, ago in ((ids[3], 5), (ids[4], 5), (ids[5], 100)):
            conn.execute(
                "INSERT INTO lead_status_history (lead_id, status, entered_at, changed_by_id)"
                " VALUES (%s, 'QUALIFIED', %s, %s)",
                (lid, NOW - timedelta(days=ago), ops_id),
            )
        conn.execute(
            "INSERT INTO lead_status_history (lead_id, status, entered_at) VALUES (%s, 'SOLD', %s)",
            (ids[7], NOW - timedelta(days=1)),
        )
    return people, ids


async def _get(client, path, headers, **params):
    r = await client.get(f"/api/analytics/{path}", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_funnel(client, ctx) -> None:
    people, _ = ctx
    f = await _get(client, "funnel", people[Role.MANAGER][1])
    counts = {
        "NEW": 2,
        "ENRICHED": 1,
        "QUALIFIED": 2,
        "IN_REVIEW": 1,
        "CLIENT_READY": 1,
        "SOLD": 2,
        "REJECTED": 1,
        "ARCHIVED": 0,
    }
    assert f["counts"] == counts
    assert f["total"] == 10
    reached = [9, 7, 6, 4, 3, 2]  # at or beyond each main-path stage, by hand
    assert [s["reached"] for s in f["stages"]] == reached
    assert [s["conversion_to_next"] for s in f["stages"]] == [
        round(reached[i + 1] / reached[i], 4) for i in range(5)
    ] + [None]
    # RBAC in the SQL: OPS count only theirs (4 assigned: NEW, ENRICHED, QUALIFIED, SOLD, REJ).
    ops = await _get(client, "funnel", people[Role.OPS][1])
    assert ops["total"] == 5
    sales = await _get(client, "funnel", people[Role.COMMERCIAL][1])
    assert sales["counts"]["SOLD"] == 2 and sales["counts"]["CLIENT_READY"] == 1
    assert sales["total"] == 3
    dept = await _get(client, "funnel", people[Role.MANAGER][1], department="15")
    assert dept["total"] == 3


async def test_scores_and_departments(client, ctx) -> None:
    people, _ = ctx
    scores = [s for _, _, s, _, _ in LEADS if s is not None]
    s = await _get(client, "scores", people[Role.ADMIN][1])
    assert s["scored"] == len(scores) and s["unscored"] == 1
    assert s["average"] == pytest.approx(statistics.mean(scores), abs=0.01)
    assert s["median"] == pytest.approx(statistics.median(scores), abs=0.01)
    hist = {b["from"]: b["count"] for b in s["histogram"]}
    for lo in range(0, 100, 10):
        assert hist[lo] == sum(1 for x in scores if lo <= x < lo + 10 or (lo == 90 and x == 100))
    d = await _get(client, "departments", people[Role.ADMIN][1])
    rows = {r["department"]: r for r in d["departments"]}
    for dept in ("69", "15", "27", "17"):
        mine = [x for x in LEADS if x[1] == dept]
        assert rows[dept]["leads"] == len(mine)
        assert rows[dept]["sold"] == sum(1 for x in mine if x[0] == "SOLD")
    assert d["departments"][0]["department"] == "69"  # most leads first


async def test_stage_times(client, ctx) -> None:
    people, _ = ctx
    st = await _get(client, "stage-times", people[Role.ADMIN][1])
    new = next(s for s in st["stages"] if s["status"] == "NEW")
    assert new["finished"] == 5
    assert new["median_days"] == pytest.approx(float(np.percentile(NEW_STAYS_DAYS, 50)), abs=1e-3)
    assert new["p90_days"] == pytest.approx(float(np.percentile(NEW_STAYS_DAYS, 90)), abs=1e-3)
    qualified = next(s for s in st["stages"] if s["status"] == "QUALIFIED")
    assert qualified["in_progress"] == 3 and qualified["median_days"] is None


async def test_weekly(client, ctx) -> None:
    people, _ = ctx
    w = await _get(client, "weekly", people[Role.ADMIN][1], weeks=12)
    weeks = w["weeks"]
    assert sum(x["created"] for x in weeks) == 10  # all created within 12 weeks
    assert sum(x["qualified"] for x in weeks) == 2  # the one 100 days ago is out of range
    assert sum(x["sold"] for x in weeks) == 1
    monday = (NOW - timedelta(days=5)).date()
    monday -= timedelta(days=monday.weekday())
    assert next(x for x in weeks if x["week"] == monday.isoformat())["qualified"] == 2
    assert_problem(
        await client.get(
            "/api/analytics/weekly", params={"weeks": 500}, headers=people[Role.ADMIN][1]
        ),
        422,
    )


async def test_throughput_staff_only(client, ctx) -> None:
    people, _ = ctx
    t = await _get(client, "throughput", people[Role.MANAGER][1], days=30)
    me = next(u for u in t["users"] if u["user_id"] == people[Role.OPS][0].id)
    assert me["qualified"] == 2 and me["assigned_now"] == 5
    assert_problem(await client.get("/api/analytics/throughput", headers=people[Role.OPS][1]), 403)
    assert_problem(
        await client.get("/api/analytics/throughput", headers=people[Role.COMMERCIAL][1]), 403
    )


async def test_history_figures_under_scope_and_filters(client, ctx) -> None:
    """Stage times, weekly and throughput read lead_stage_facts: the viewer scope and the lead
    filters still apply, by hand."""
    people, _ = ctx
    mgr, ops = people[Role.MANAGER][1], people[Role.OPS][1]

    def new_stage(answer):
        return next(s for s in answer["stages"] if s["status"] == "NEW")

    # OPS see leads 0, 2 and 3 of the five with a finished NEW stay: 1, 3 and 4 days.
    new = new_stage(await _get(client, "stage-times", ops))
    assert new["finished"] == 3
    assert new["median_days"] == pytest.approx(3.0, abs=1e-3)
    assert new["p90_days"] == pytest.approx(float(np.percentile([1, 3, 4], 90)), abs=1e-3)
    # Department 69: leads 0, 1 and 2 (1, 2, 3 days); nothing QUALIFIED there.
    st = await _get(client, "stage-times", mgr, department="69")
    assert new_stage(st)["finished"] == 3
    assert new_stage(st)["median_days"] == pytest.approx(2.0, abs=1e-3)
    assert next(s for s in st["stages"] if s["status"] == "QUALIFIED")["in_progress"] == 0
    # Created in the last 15.5 days: leads 0, 1, 2, 3 (1, 2, 3, 4 days), 3 is QUALIFIED.
    since = (NOW - timedelta(days=15.5)).isoformat()
    st = await _get(client, "stage-times", mgr, created_from=since)
    assert new_stage(st)["finished"] == 4
    assert new_stage(st)["median_days"] == pytest.approx(2.5, abs=1e-3)
    assert next(s for s in st["stages"] if s["status"] == "QUALIFIED")["in_progress"] == 1
    # Weekly for OPS: 5 created, lead 3 qualified; lead 4 (qualified) and 7 (sold) aren't theirs.
    w = (await _get(client, "weekly", ops, weeks=12))["weeks"]
    assert [sum(x[k] for x in w) for k in ("created", "qualified", "sold")] == [5, 1, 0]
    w = (await _get(client, "weekly", mgr, weeks=12, department="15"))["weeks"]
    assert [sum(x[k] for x in w) for k in ("created", "qualified", "sold")] == [3, 2, 0]
    # Throughput in department 15: both recent qualifications, one lead assigned (lead 3).
    t = await _get(client, "throughput", mgr, days=30, department="15")
    me = next(u for u in t["users"] if u["user_id"] == people[Role.OPS][0].id)
    assert (me["qualified"], me["assigned_now"]) == (2, 1)
    t = await _get(client, "throughput", mgr, days=30, department="69")
    me = next(u for u in t["users"] if u["user_id"] == people[Role.OPS][0].id)
    assert (me["qualified"], me["assigned_now"]) == (0, 3)


async def test_facts_answer_like_the_join(state, ctx, monkeypatch) -> None:
    """Every scope and filter: the lead_stage_facts answers equal the history⋈leads ones, and
    the answers computed over two connections equal those of one."""
    people, ids = ctx
    ops_id = people[Role.OPS][0].id
    viewers = [Viewer(user.id, role) for role, (user, _) in people.items()]
    filters = [
        LeadFilters(),
        LeadFilters(department="69"),
        LeadFilters(created_from=NOW - timedelta(days=15.5), created_to=NOW),
        LeadFilters(status=(LeadStatus.SOLD, LeadStatus.QUALIFIED, LeadStatus.ARCHIVED)),
        LeadFilters(score_min=50, score_max=90),
        LeadFilters(assignee_id=ops_id),
        LeadFilters(commune="69114"),
    ]

    async def answers(v: Viewer, f: LeadFilters) -> list[object]:
        async with state.sessions() as s, state.sessions() as other:
            t = await svc.throughput(s, v, f, 30)
            stages = await svc.stage_times(s, v, f)
            week = await svc.weekly(s, v, f, 12)
            # The routes split these over two connections at once: the same answers.
            assert await svc.stage_times(s, v, f, other=other) == stages
            assert await svc.weekly(s, v, f, 12, other=other) == week
            return [stages, week, {**t, "since": None}]

    for v in viewers:
        for f in filters:
            # Every scope reads the facts: OPS see the leads they created (geo.visibility), a
            # column lead_stage_facts copies since migration 0027.
            assert svc.fact_clauses(v, f) is not None, (v, f)
            fast = await answers(v, f)
            with monkeypatch.context() as m:
                m.setattr(svc, "fact_clauses", lambda *_: None)
                assert await answers(v, f) == fast, (v, f)
    # Filters on columns lead_stage_facts doesn't copy take the join.
    assert svc.fact_clauses(viewers[0], LeadFilters(q="T-1")) is None
    assert svc.fact_clauses(viewers[0], LeadFilters(bbox=(4.5, 45.8, 4.7, 46.0))) is None
    async with state.sessions() as s:
        st = await svc.stage_times(s, viewers[0], LeadFilters(bbox=(4.5, 45.8, 4.7, 46.0)))
    assert next(x for x in st["stages"] if x["status"] == "NEW")["finished"] == 5


async def test_cache_served_then_invalidated_by_a_write(client, ctx, db_url) -> None:
    people, _ = ctx
    h = people[Role.ADMIN][1]
    first = await _get(client, "funnel", h)
    # A row written behind the API's back (no layer-version bump): the cached answer stays.
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO leads (internal_name, geom) VALUES ('T-x',"
            " ST_Multi(ST_MakeEnvelope(4.6, 45.9, 4.601, 45.901, 4326)))"
        )
    assert await _get(client, "funnel", h) == first
    # A write through the API bumps the leads layer version: the next answer is fresh.
    square = {
        "type": "Polygon",
        "coordinates": [[[4.6, 45.9], [4.602, 45.9], [4.602, 45.902], [4.6, 45.902], [4.6, 45.9]]],
    }
    r = await client.post("/api/leads", json={**DUP, "geometry": square}, headers=h)
    assert r.status_code == 201
    # Stale-while-revalidate: the recent answer is served, marked, while it is recomputed...
    r = await client.get("/api/analytics/funnel", headers=h)
    assert r.headers.get("x-data-stale") == "true" and r.json() == first
    # ... and the next calls get the fresh one (both new leads counted).
    for _ in range(50):
        await asyncio.sleep(0.05)
        r = await client.get("/api/analytics/funnel", headers=h)
        if "x-data-stale" not in r.headers:
            break
    assert r.json()["counts"]["NEW"] == first["counts"]["NEW"] + 2


async def test_strict_cache_recomputes_after_a_write(settings, tmp_path, db_url) -> None:
    """With analytics_max_stale_s=0 the first answer after a write is already fresh."""
    import httpx
    from asgi_lifespan import LifespanManager

    from api.app import create_app
    from tests.conftest import make_settings

    strict = make_settings(db_url, tmp_path, leads={"analytics_max_stale_s": 0})
    app = create_app(strict)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            with psycopg.connect(sync_url(db_url)) as conn:
                email = conn.execute(
                    "SELECT email FROM users WHERE role='ADMIN' LIMIT 1"
                ).fetchone()[0]
            h = {"Authorization": "Bearer " + await login(c, email)}
            first = (await c.get("/api/analytics/funnel", headers=h)).json()
            square = {
                "type": "Polygon",
                "coordinates": [
                    [[4.7, 45.9], [4.702, 45.9], [4.702, 45.902], [4.7, 45.902], [4.7, 45.9]]
                ],
            }
            assert (
                await c.post("/api/leads", json={**DUP, "geometry": square}, headers=h)
            ).status_code == 201
            r = await c.get("/api/analytics/funnel", headers=h)
            assert "x-data-stale" not in r.headers
            assert r.json()["counts"]["NEW"] == first["counts"]["NEW"] + 1


async def test_unknown_filter_is_422(client, ctx) -> None:
    people, _ = ctx
    for path in ("funnel", "scores", "departments", "stage-times"):
        r = await client.get(
            f"/api/analytics/{path}", params={"colour": "red"}, headers=people[Role.ADMIN][1]
        )
        assert_problem(r, 422)
    assert_problem(await client.get("/api/analytics/funnel", headers={}), 401)


_FROM_HISTORY = """SELECT h.id, h.lead_id, h.status, h.entered_at,
    extract(epoch FROM h.left_at - h.entered_at)::float8 / 86400.0, h.changed_by_id,
    l.status, l.assignee_id, l.is_public, l.department, l.commune_insee, l.quality_score,
    l.created_at
    FROM lead_status_history h JOIN leads l ON l.id = h.lead_id ORDER BY h.id"""
_FACTS = """SELECT id, lead_id, stay_status, entered_at, days, changed_by_id, status,
    assignee_id, is_public, department, commune_insee, quality_score, created_at
    FROM lead_stage_facts ORDER BY id"""


def test_stage_facts_follow_every_write(ctx, db_url) -> None:
    """The triggers keep lead_stage_facts equal to lead_status_history ⋈ leads (rolled back)."""
    people, ids = ctx
    ops_id = people[Role.OPS][0].id
    with psycopg.connect(sync_url(db_url)) as conn:
        # The API's writes so far (lead creation, open history) are there already.
        assert conn.execute(_FACTS).fetchall() == conn.execute(_FROM_HISTORY).fetchall()
        # A move: the open stay closed, a new one opened, the lead updated.
        conn.execute(
            "UPDATE lead_status_history SET left_at = now() WHERE lead_id = %s AND left_at IS NULL",
            (ids[0],),
        )
        conn.execute(
            "INSERT INTO lead_status_history (lead_id, status, changed_by_id)"
            " VALUES (%s, 'ENRICHED', %s)",
            (ids[0], ops_id),
        )
        conn.execute(
            "UPDATE leads SET status = 'ENRICHED', quality_score = 42 WHERE id = %s", (ids[0],)
        )
        # Reassigned, made public, moved to another department; archived; a stay rewritten.
        conn.execute(
            "UPDATE leads SET assignee_id = NULL, is_public = true, department = '2A',"
            " commune_insee = '2A004' WHERE id = %s",
            (ids[1],),
        )
        conn.execute("UPDATE leads SET status = 'ARCHIVED' WHERE id = %s", (ids[2],))
        conn.execute(
            "UPDATE lead_status_history SET entered_at = entered_at - interval '1 day',"
            " changed_by_id = NULL WHERE lead_id = %s",
            (ids[3],),
        )
        # An update that changes none of the copied columns, then deletions.
        conn.execute("UPDATE leads SET notes = 'x' WHERE id = %s", (ids[4],))
        conn.execute("DELETE FROM lead_status_history WHERE lead_id = %s", (ids[5],))
        conn.execute("DELETE FROM leads WHERE id = %s", (ids[6],))
        facts = conn.execute(_FACTS).fetchall()
        assert facts == conn.execute(_FROM_HISTORY).fetchall()
        assert any(r[1] == ids[0] and r[2] == "ENRICHED" and r[4] is None for r in facts)
        conn.rollback()
