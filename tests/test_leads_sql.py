"""The lead list, detail and create on SQLAlchemy: what they select and the JSON they answer.

The list's filters and RBAC are one definition (``leads_query.filter_clauses`` with
``geo.visibility.lead_visibility``): checked here against the leads' own attributes in Python
for every role and filter, with the total and the page order; the detail and list JSON must be
what the response models describe; the token is checked against the database at each request
(revocation, disabled user, role change at once).
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import select

from api.schemas.leads import LeadDetail, LeadOut, LeadPage
from api.security import ClaimsCache, create_token
from api.services.leads_query import LeadFilters, SortKey
from geo.errors import NotAuthenticated
from geo.models import Lead, LeadStatus, Role
from geo.visibility import COMMERCIAL_STATUSES, Viewer
from tests.conftest import assert_problem, make_settings
from tests.lead_fixtures import square, sync_url

ROOT = Path(__file__).resolve().parent.parent


STATUSES = ["NEW", "ENRICHED", "QUALIFIED", "IN_REVIEW", "CLIENT_READY", "SOLD", "REJECTED"]


@pytest.fixture(scope="module")
async def leads(client, people, db_url):
    """21 leads: three owners, public or not, every status, scores, two departments."""
    made = []
    for i in range(21):
        who = ["ops", "ops2", "manager"][i % 3]
        body = {
            "geometry": square(4.5 + i * 0.01, 45.7 + (i % 4) * 0.01),
            "name": f"Site {i}",
            "commune_insee": "69114" if i % 2 else "01053",
            "is_public": i % 5 == 0,
            "notes": "friche_industrielle" if i % 7 == 0 else None,
        }
        r = await client.post("/api/leads", json=body, headers=people[who][1])
        assert r.status_code == 201, r.text
        made.append(r.json())
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        for i, lead in enumerate(made):
            score = None if i % 6 == 0 else 10.5 + i * 4
            conn.execute(
                "UPDATE leads SET status=%s, quality_score=%s WHERE id=%s",
                (STATUSES[i % len(STATUSES)], score, lead["id"]),
            )
        conn.execute("UPDATE layer_versions SET version = version + 1 WHERE layer = 'leads'")
    return made


FILTERS = [
    LeadFilters(),
    LeadFilters(status=(LeadStatus.NEW, LeadStatus.SOLD)),
    LeadFilters(status=(LeadStatus.ARCHIVED,)),
    LeadFilters(department="69"),
    LeadFilters(commune="01053", score_min=30),
    LeadFilters(score_min=20.5, score_max=70),
    LeadFilters(bbox=(4.55, 45.69, 4.66, 45.75)),
    LeadFilters(q="friche_"),
    LeadFilters(q="%"),
    LeadFilters(created_from=datetime.now(UTC) - timedelta(days=1), department="01"),
    LeadFilters(created_to=datetime.now(UTC) - timedelta(days=1)),
    LeadFilters(created_to=datetime.now() + timedelta(days=1)),  # naive: taken as UTC
]


def _selected(lead: Lead, viewer: Viewer, f: LeadFilters) -> bool:
    """The list's rules written out in Python, on a loaded lead."""
    if viewer.role is Role.COMMERCIAL and lead.status not in COMMERCIAL_STATUSES:
        return False
    if viewer.role is Role.OPS and not (lead.assignee_id == viewer.user_id or lead.is_public):
        return False
    if f.status and lead.status not in f.status:
        return False
    if not f.status and lead.status is LeadStatus.ARCHIVED:
        return False
    score = lead.quality_score
    if f.score_min is not None and (score is None or score < f.score_min):
        return False
    if f.score_max is not None and (score is None or score > f.score_max):
        return False
    if f.department and lead.department != f.department:
        return False
    if f.commune and lead.commune_insee != f.commune:
        return False
    if f.created_from and lead.created_at < f.created_from:
        return False
    if f.created_to:
        to = f.created_to if f.created_to.tzinfo else f.created_to.replace(tzinfo=UTC)
        if lead.created_at >= to:
            return False
    if f.q:
        parts = [lead.name, lead.internal_name, lead.commune_name, lead.notes]
        text = " ".join(p or "" for p in parts)  # SEARCH_EXPR
        if f.q.lower() not in text.lower():
            return False
    return True


def _params(f: LeadFilters) -> dict[str, object]:
    out: dict[str, object] = {}
    if f.status:
        out["status"] = [s.value for s in f.status]
    for name in ("score_min", "score_max", "department", "commune", "q"):
        if getattr(f, name) is not None:
            out[name] = getattr(f, name)
    for name in ("created_from", "created_to"):
        value = getattr(f, name)
        if value is not None:  # the API takes an offset: a naive one is UTC here
            out[name] = (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return out


class _Rev:
    """Reverses the order of a value (strings and datetimes too)."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __lt__(self, other: _Rev) -> bool:
        return other.value < self.value  # type: ignore[operator]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rev) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


def _key(sort: str, item: dict[str, typing.Any]) -> tuple[object, ...]:
    """The list's order in Python: the key (descending NULL scores last), then the id."""
    name = sort.lstrip("-")
    value = item[name]
    desc = sort.startswith("-")
    if name in ("created_at", "updated_at", "status_changed_at"):
        value = datetime.fromisoformat(value)
    if name == "quality_score":
        missing = value is None
        number = 0.0 if missing else value
        return (missing, -number if desc else number, -item["id"] if desc else item["id"])
    if desc:
        return (_Rev(value), -item["id"])
    return (value, item["id"])


async def test_list_selects_what_the_rules_say(client, state, people, leads) -> None:
    """For every role and filter (bbox aside: geometry, tested by test_leads), the list's total
    and items are the leads the rules written out in Python select."""
    async with state.sessions() as session:
        every = list(await session.scalars(select(Lead)))
    sizes = set()
    for (user, headers), f in itertools.product(people.values(), FILTERS):
        if f.bbox:
            continue
        viewer = Viewer(user.id, user.role)
        want = {lead.id for lead in every if _selected(lead, viewer, f)}
        params = {**_params(f), "page_size": 200}
        r = await client.get("/api/leads", params=params, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert {i["id"] for i in page["items"]} == want, (viewer.role, f)
        assert page["total"] == len(want), (viewer.role, f)
        sizes.add(len(want))
    # The fixture gives the matrix teeth: roles and filters select many different sets.
    assert 0 in sizes and len(sizes) >= 8


S = LeadStatus
STATUS_SETS = [(), (S.NEW, S.SOLD), (S.SOLD, S.NEW, S.SOLD), (S.ARCHIVED,), tuple(S)]


async def test_pages_follow_the_sort(client, people, leads) -> None:
    """Pages are slices of one order (ties broken by the id, NULL scores last when descending),
    for every sort key, with statuses, pages past the end included."""
    h = people["admin"][1]
    for statuses, sort in itertools.product(STATUS_SETS, typing.get_args(SortKey)):
        base: dict[str, object] = {"sort": sort}
        if statuses:
            base["status"] = [s.value for s in statuses]
        whole = await client.get("/api/leads", params={**base, "page_size": 200}, headers=h)
        items = whole.json()["items"]
        if sort.lstrip("-") != "internal_name":  # collation: PostgreSQL's, not Python's
            assert items == sorted(items, key=lambda i: _key(sort, i)), (statuses, sort)
        ids = [i["id"] for i in items]
        for page, size in ((1, 3), (2, 2), (3, 1), (2, 3), (1500, 3)):
            r = await client.get(
                "/api/leads", params={**base, "page": page, "page_size": size}, headers=h
            )
            got = [i["id"] for i in r.json()["items"]]
            assert got == ids[(page - 1) * size : page * size], (statuses, sort, page, size)
            assert r.json()["total"] == len(ids)


async def test_list_json_is_a_lead_page(client, people, leads) -> None:
    r = await client.get("/api/leads", params={"page_size": 5}, headers=people["admin"][1])
    page = LeadPage.model_validate_json(r.content)
    assert page.total == 21 and len(page.items) == 5 and page.page == 1
    first = r.json()["items"][0]
    assert first["created_at"].endswith("Z") and first["geometry"]["type"] == "MultiPolygon"
    assert set(first) == set(LeadOut.model_fields)


async def test_list_total_follows_writes(client, people, leads) -> None:
    h = people["manager"][1]
    before = (await client.get("/api/leads", params={"department": "01"}, headers=h)).json()
    r = await client.post(
        "/api/leads",
        json={"geometry": square(4.9, 45.9), "commune_insee": "01053"},
        headers=h,
    )
    assert r.status_code == 201
    after = (await client.get("/api/leads", params={"department": "01"}, headers=h)).json()
    assert after["total"] == before["total"] + 1  # the cached total was counted before the write
    assert r.json()["id"] in {i["id"] for i in after["items"]}
    await client.delete(f"/api/leads/{r.json()['id']}", headers=people["admin"][1])


async def test_detail_json_is_a_lead_detail(client, people, leads) -> None:
    lead = leads[3]
    h = people["manager"][1]
    await client.post(f"/api/leads/{lead['id']}/comments", json={"body": "à voir"}, headers=h)
    r = await client.get(f"/api/leads/{lead['id']}", headers=h)
    detail = LeadDetail.model_validate_json(r.content)
    assert r.headers["etag"] == f'"{detail.version}"'
    assert detail.id == lead["id"] and detail.internal_name == lead["internal_name"]
    assert detail.sourcing and detail.sourcing["source"] == "map"
    assert [c.body for c in detail.comments] == ["à voir"]
    assert {a.action for a in detail.activity} >= {"create", "comment_create"}
    assert detail.status_history and detail.status_history[0].status is LeadStatus.NEW
    assert set(r.json()) == set(LeadDetail.model_fields)


async def test_detail_and_create_check_the_bearer_token_first(client, leads) -> None:
    """The detail and create routes take the caller from the one token dependency: the same
    401s (the create's before its body is validated), and their OpenAPI operations declare the
    bearer scheme."""
    url = f"/api/leads/{leads[0]['id']}"
    for headers in (
        {},
        {"Authorization": "Basic YTpi"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-jwt"},
    ):
        assert_problem(await client.get(url, headers=headers), 401)
        # The create too, before its body is validated (this body is invalid).
        assert_problem(await client.post("/api/leads", json={"name": 1}, headers=headers), 401)
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    assert paths["/api/leads/{lead_id}"]["get"]["security"] == [{"OAuth2PasswordBearer": []}]
    assert paths["/api/leads"]["post"]["security"] == [{"OAuth2PasswordBearer": []}]
    assert paths["/api/leads"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LeadCreate"
    }


async def test_list_reads_its_query_in_one_validation(client, people, leads) -> None:
    """The list validates its query string as one model (FastAPI's query model): 422s naming
    the field, the unknown parameters named, and the same OpenAPI parameters as the same filters
    on the exports route."""
    h = people["admin"][1]
    for params, field in (
        ({"status": ["NEW", "BOGUS"]}, "query.status.1"),
        ({"page_size": 201}, "query.page_size"),
        ({"sort": "name"}, "query.sort"),
        ({"score_min": "x"}, "query.score_min"),
    ):
        r = await client.get("/api/leads", params=params, headers=h)
        assert_problem(r, 422)
        assert field in {e["field"] for e in r.json()["errors"]}, r.json()
    r = await client.get("/api/leads", params={"colour": "red", "page": 2}, headers=h)
    assert_problem(r, 422)
    assert r.json()["unknown"] == ["colour"]
    r = await client.get("/api/leads", params={"score_min": 50, "score_max": 10}, headers=h)
    assert_problem(r, 422)
    r = await client.get(
        "/api/leads", params={"status": ["SOLD", "NEW"], "department": "69"}, headers=h
    )
    assert r.status_code == 200 and {i["status"] for i in r.json()["items"]} <= {"SOLD", "NEW"}
    spec = (await client.get("/api/openapi.json")).json()["paths"]

    def bare(param: dict) -> dict:
        schema = {k: v for k, v in param["schema"].items() if k not in ("title", "description")}
        return {**param, "schema": schema}

    ours = {p["name"]: bare(p) for p in spec["/api/leads"]["get"]["parameters"]}
    export = spec["/api/leads/export.csv"]["get"]["parameters"]
    fastapis = {p["name"]: bare(p) for p in export if p["name"] != "dialect"}  # the CSV's own
    assert set(ours) == set(fastapis) | {"page", "page_size"}
    assert all(ours[name] == fastapis[name] for name in fastapis)


async def test_token_checked_at_each_request(client, people, leads, make_user, db_url) -> None:
    from tests.conftest import login

    user = await make_user(Role.MANAGER)
    h = {"Authorization": f"Bearer {await login(client, user.email)}"}
    new_lead = next(m for i, m in enumerate(leads) if STATUSES[i % len(STATUSES)] == "NEW")
    paths = ["/api/leads", f"/api/leads/{new_lead['id']}"]
    for path in paths:
        assert (await client.get(path, headers=h)).status_code == 200
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        # Demoted to sales: the token still says MANAGER, the database decides at once.
        conn.execute("UPDATE users SET role='COMMERCIAL' WHERE id=%s", (user.id,))
        assert_problem(await client.get(paths[1], headers=h), 404)
        statuses = {i["status"] for i in (await client.get(paths[0], headers=h)).json()["items"]}
        assert statuses <= {"CLIENT_READY", "SOLD"}
        create = {"geometry": square(4.7, 45.6), "commune_insee": "69114"}
        assert_problem(await client.post("/api/leads", json=create, headers=h), 403)
        conn.execute("UPDATE users SET is_active=false WHERE id=%s", (user.id,))
        for path in paths:
            assert assert_problem(await client.get(path, headers=h), 401)["detail"] == (
                "user unknown or disabled"
            )
        conn.execute("UPDATE users SET is_active=true, role='MANAGER' WHERE id=%s", (user.id,))
    assert (await client.post("/api/auth/logout", headers=h)).status_code == 200
    for path in paths:
        assert assert_problem(await client.get(path, headers=h), 401)["detail"] == "token revoked"
    assert_problem(await client.post("/api/leads", json=create, headers=h), 401)


def test_claims_cache_checks_expiry_at_each_use() -> None:
    token, _ = create_token(7, Role.OPS, "s" * 40, timedelta(seconds=1))
    cache = ClaimsCache()
    assert cache.decode(token, "s" * 40).user_id == 7
    time.sleep(1.1)
    with pytest.raises(NotAuthenticated, match="expired"):
        cache.decode(token, "s" * 40)
    with pytest.raises(NotAuthenticated, match="invalid"):
        cache.decode(token + "x", "s" * 40)


async def test_database_down_is_a_503(db_url, tmp_path) -> None:
    from asgi_lifespan import LifespanManager

    from api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    settings = make_settings(f"postgresql://postgres@127.0.0.1:{dead}/nowhere", tmp_path)
    app = create_app(settings)
    token, _ = create_token(
        1, Role.ADMIN, settings.auth.jwt_secret.get_secret_value(), timedelta(minutes=5)
    )
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            h = {"Authorization": f"Bearer {token}"}
            for path in ("/api/leads", "/api/leads/1"):
                assert_problem(await c.get(path, headers=h), 503)


def test_workers_share_the_port_evenly(tmp_path: Path) -> None:
    """``serve --workers 2``: one SO_REUSEPORT socket per worker, both get connections."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "from api.server import serve; "
        f"serve('127.0.0.1', {port}, workers=2, app='tests.pid_app:app', factory=False, "
        "log_level='warning')"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ))
    try:
        pids: set[str] = set()
        deadline = time.monotonic() + 30
        while len(pids) < 2 and time.monotonic() < deadline:
            try:
                # A new connection each time: the kernel spreads them by address hash.
                pids.add(httpx.get(f"http://127.0.0.1:{port}/", timeout=2).text)
            except httpx.HTTPError:
                time.sleep(0.2)
        assert len(pids) == 2
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
