"""Analytics for managers (issue 20): the period (from/to), the person (assignee or creator,
copied into lead_stage_facts by migration 0027), the managers' QA reviews, the funnel's every
lead, and cache keys that tell these filters apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from api.services import analytics as svc
from api.services.leads_query import LeadFilters
from geo.models import Role
from geo.visibility import Viewer
from tests.conftest import assert_problem
from tests.lead_fixtures import sync_url

NOW = datetime.now(UTC)
PARIS = ZoneInfo("Europe/Paris")


def _day(ago: float) -> str:
    """The Paris calendar day ``ago`` days back, as the web app sends it."""
    return (NOW - timedelta(days=ago)).astimezone(PARIS).date().isoformat()


@pytest.fixture(scope="module")
async def team(db_url, make_user, auth_headers):
    roles = {
        "admin": Role.ADMIN,
        "m1": Role.MANAGER,
        "m2": Role.MANAGER,
        "o1": Role.OPS,
        "o2": Role.OPS,
    }
    users = {k: await make_user(r, full_name=k.upper()) for k, r in roles.items()}
    heads = {k: await auth_headers(user=u) for k, u in users.items()}
    uid = {k: u.id for k, u in users.items()}
    # (name, status, created days ago, creator, assignee)
    leads = [
        ("A", "CLIENT_READY", 12, "o1", "o1"),
        ("B", "QUALIFIED", 7, "o1", "o1"),
        ("C", "REJECTED", 42, "o2", "o1"),  # created by o2, assigned to o1
        ("D", "NEW", 2, "o2", "o2"),
        ("E", "ARCHIVED", 50, "o1", None),
    ]
    ids: dict[str, int] = {}
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        for i, (name, status, age, creator, assignee) in enumerate(leads):
            created = NOW - timedelta(days=age)
            ids[name] = conn.execute(
                "INSERT INTO leads (internal_name, status, department, created_at, created_by_id,"
                " assignee_id, geom, status_changed_at) VALUES (%s, %s, '69', %s, %s, %s,"
                " ST_Multi(ST_MakeEnvelope(4.6, 45.9, 4.601 + %s * 0.001, 45.901, 4326)), %s)"
                " RETURNING id",
                (f"TT-{name}", status, created, uid[creator], uid.get(assignee or ""), i, created),
            ).fetchone()[0]

        def stay(lead: str, status: str, entered: float, left: float | None, by: str) -> None:
            conn.execute(
                "INSERT INTO lead_status_history (lead_id, status, entered_at, left_at,"
                " changed_by_id) VALUES (%s, %s, %s, %s, %s)",
                (
                    ids[lead],
                    status,
                    NOW - timedelta(days=entered),
                    None if left is None else NOW - timedelta(days=left),
                    uid[by],
                ),
            )

        # A: in review 10 → 8 days ago, approved by m1.
        stay("A", "IN_REVIEW", 10, 8, "o1")
        stay("A", "CLIENT_READY", 8, None, "m1")
        # B: in review 6 → 5 days ago, sent back by m1.
        stay("B", "IN_REVIEW", 6, 5, "o1")
        stay("B", "QUALIFIED", 5, None, "m1")
        # C: in review 40 → 36 days ago, rejected by m2 (outside the last 30 days).
        stay("C", "IN_REVIEW", 40, 36, "o1")
        stay("C", "REJECTED", 36, None, "m2")
        stay("D", "NEW", 2, None, "o2")
    return uid, heads, ids


async def _get(client, path, headers, **params):
    r = await client.get(f"/api/analytics/{path}", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_managers_reviews_in_the_team_table(client, team) -> None:
    uid, heads, _ = team
    t = await _get(client, "throughput", heads["m1"])
    rows = {r["user_id"]: r for r in t["reviews"]}
    m1 = rows[uid["m1"]]
    assert (m1["decisions"], m1["approved"], m1["sent_back"], m1["rejected"]) == (2, 1, 1, 0)
    assert m1["approval_rate"] == 0.5
    assert m1["median_review_days"] == pytest.approx(1.5, abs=1e-3)  # stays of 2 and 1 days
    assert m1["role"] == "MANAGER" and m1["full_name"] == "M1"
    # m2 decided 36 days ago: listed (an active manager), nothing in the last 30 days.
    m2 = rows[uid["m2"]]
    assert m2["decisions"] == 0 and m2["approval_rate"] is None
    assert m2["median_review_days"] is None
    assert uid["o1"] not in rows  # OPS don't review
    # Over a period that holds it: m2's rejection, 4 days in review.
    t = await _get(client, "throughput", heads["admin"], **{"from": _day(45), "to": _day(0)})
    m2 = {r["user_id"]: r for r in t["reviews"]}[uid["m2"]]
    assert (m2["decisions"], m2["rejected"], m2["approval_rate"]) == (1, 1, 0.0)
    assert m2["median_review_days"] == pytest.approx(4.0, abs=1e-3)
    assert t["since"].startswith(_day(45)) and t["until"] is not None
    # A period that ends before the decisions: none.
    t = await _get(client, "throughput", heads["admin"], **{"from": _day(60), "to": _day(45)})
    assert all(r["decisions"] == 0 for r in t["reviews"])


async def test_person_is_assignee_or_creator(client, team) -> None:
    uid, heads, _ = team
    # o2 created C (assigned to o1) and D: both are o2's; E is archived (not counted).
    f = await _get(client, "funnel", heads["admin"], person=uid["o2"])
    assert f["total"] == 2 and f["counts"]["REJECTED"] == 1 and f["counts"]["NEW"] == 1
    f = await _get(client, "funnel", heads["admin"], person=uid["o1"])
    assert f["total"] == 3  # A, B (created and assigned), C (assigned)
    # The history figures too: C's review is o2's lead, through the facts' created_by_id.
    t = await _get(client, "throughput", heads["admin"], person=uid["o2"], **{"from": _day(45)})
    rows = {r["user_id"]: r for r in t["reviews"]}
    assert rows[uid["m2"]]["decisions"] == 1 and rows[uid["m1"]]["decisions"] == 0
    st = await _get(client, "stage-times", heads["admin"], person=uid["o2"])
    in_review = next(s for s in st["stages"] if s["status"] == "IN_REVIEW")
    assert in_review["finished"] == 1 and in_review["median_days"] == pytest.approx(4.0)


async def test_facts_and_join_agree_with_person_and_period(state, team, monkeypatch) -> None:
    uid, _, _ = team
    scopes = [
        svc.Scope(person=uid["o2"]),
        svc.Scope(person=uid["o1"], start=NOW - timedelta(days=9)),
        svc.Scope(start=NOW - timedelta(days=45), end=NOW - timedelta(days=6)),
    ]
    viewers = [Viewer(uid["admin"], Role.ADMIN), Viewer(uid["o2"], Role.OPS)]

    async def answers(v: Viewer, sc: svc.Scope) -> list[object]:
        async with state.sessions() as s:
            t = await svc.throughput(s, v, LeadFilters(), 30, sc)
            return [
                await svc.stage_times(s, v, LeadFilters(), sc),
                await svc.weekly(s, v, LeadFilters(), 12, sc),
                {**t, "since": None},
            ]

    for v in viewers:
        for sc in scopes:
            assert svc.fact_clauses(v, LeadFilters(), sc) is not None
            fast = await answers(v, sc)
            with monkeypatch.context() as m:
                m.setattr(svc, "fact_clauses", lambda *_: None)
                assert await answers(v, sc) == fast, (v, sc)


async def test_period_counts_leads_created_in_it(client, team) -> None:
    _, heads, _ = team
    # Created 12 and 7 days ago: A and B; C (42), D (2) and E (50, archived) are out.
    f = await _get(client, "funnel", heads["admin"], **{"from": _day(13), "to": _day(5)})
    assert f["total"] == 2 and f["counts"]["CLIENT_READY"] == 1 and f["counts"]["QUALIFIED"] == 1
    w = await _get(client, "weekly", heads["admin"], **{"from": _day(20), "to": _day(0)})
    assert 3 <= len(w["weeks"]) <= 4
    assert sum(x["created"] for x in w["weeks"]) == 3  # A, B, D
    d = await _get(client, "departments", heads["admin"], **{"from": _day(3)})
    assert d["departments"][0]["leads"] == 1  # D


async def test_the_funnel_accounts_for_every_lead(client, team) -> None:
    _, heads, _ = team
    f = await _get(
        client,
        "funnel",
        heads["admin"],
        status=["NEW", "QUALIFIED", "CLIENT_READY", "REJECTED", "ARCHIVED"],
    )
    on_path = sum(s["count"] for s in f["stages"])
    assert on_path + f["rejected"] + f["archived"] == f["total"] == 5


async def test_cache_keys_tell_the_filters_apart(client, team) -> None:
    uid, heads, _ = team
    h = heads["admin"]
    # Asked in turn, each answer is its own (a key without person or period would serve the
    # first one to the others).
    everyone = await _get(client, "funnel", h)
    mine = await _get(client, "funnel", h, person=uid["o2"])
    recent = await _get(client, "funnel", h, **{"from": _day(3)})
    assert (everyone["total"], mine["total"], recent["total"]) == (4, 2, 1)
    assert (await _get(client, "funnel", h))["total"] == 4
    assert (await _get(client, "funnel", h, person=uid["o1"]))["total"] == 3
    r30 = await _get(client, "throughput", h)
    r45 = await _get(client, "throughput", h, **{"from": _day(45)})
    m2 = uid["m2"]
    assert {r["user_id"]: r["decisions"] for r in r30["reviews"]}[m2] == 0
    assert {r["user_id"]: r["decisions"] for r in r45["reviews"]}[m2] == 1


async def test_bad_period_and_person_are_422(client, team) -> None:
    _, heads, _ = team
    h = heads["admin"]
    r = await client.get(
        "/api/analytics/funnel", params={"from": _day(1), "to": _day(5)}, headers=h
    )
    assert assert_problem(r, 422)["code"] == "request.invalid"
    for params in ({"from": "hier"}, {"person": "0"}, {"persons": "1"}):
        r = await client.get("/api/analytics/funnel", params=params, headers=h)
        assert_problem(r, 422)
