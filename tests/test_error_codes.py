"""Every problem+json carries a stable machine code; the web app's list of codes is the server's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

import api.app  # noqa: F401  (imports every module that defines a DomainError subclass)
from api.errors import SLUG_CODES, STATUS_CODES, Problem, code_for
from geo import errors as e
from geo.models import Role
from tests.conftest import PASSWORD, HeadersFactory, UserFactory, assert_problem
from tests.lead_fixtures import square

ROOT = Path(__file__).resolve().parents[1]
WEB_CODES = ROOT / "web" / "src" / "api" / "problemCodes.json"


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_every_domain_error_class_has_a_declared_code() -> None:
    classes = [e.DomainError, *_subclasses(e.DomainError)]
    assert len(classes) >= 12
    for cls in classes:
        assert cls.code in e.CODES, cls


def test_status_classes_define_their_own_code() -> None:
    from api.errors import STATUS

    codes = [vars(cls).get("code") for cls in STATUS]  # each its own, not its parent's
    assert None not in codes, codes
    assert len(set(codes)) == len(codes)


def test_every_code_named_in_the_sources_is_declared() -> None:
    named: set[str] = set()
    for package in ("api", "geo", "enrichment", "tiles", "reports"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            named |= set(re.findall(r'\bcode\s*=\s*"([a-z_]+\.[a-z_]+)"', text))
    named |= set(SLUG_CODES.values()) | set(STATUS_CODES.values()) | {"http.error"}
    assert named, "the scan found nothing"
    assert named - set(e.CODES) == set()
    # every declared code is used somewhere (no dead entries the web has to translate)
    assert set(e.CODES) - named == set()


def test_the_web_list_is_the_server_list() -> None:
    web = json.loads(WEB_CODES.read_text(encoding="utf-8"))
    assert web == sorted(e.CODES), (
        "web/src/api/problemCodes.json differs from geo.errors.CODES: write it with "
        "`.venv/bin/python -c 'import json, geo.errors as e; print(json.dumps(sorted(e.CODES), "
        "indent=1))' > web/src/api/problemCodes.json` and add the French messages"
    )


def test_openapi_problem_code_is_an_enum() -> None:
    schema = Problem.model_json_schema()
    assert schema["properties"]["code"]["enum"] == sorted(e.CODES)
    assert "code" in schema["required"]


def test_code_for_slug_and_status() -> None:
    assert code_for(413, "payload-too-large") == "upload.too_large"
    assert code_for(404) == "http.not_found"
    assert code_for(418) == "http.error"
    assert e.NotFound("x", code="lead.not_found").code == "lead.not_found"
    assert e.NotFound("x").code == "resource.not_found"
    assert e.RateLimited("x", retry_after=3).code == "request.rate_limited"


def _code(response: httpx.Response, status: int) -> object:
    return assert_problem(response, status)["code"]


async def test_login_codes_say_why(client: httpx.AsyncClient, make_user: UserFactory) -> None:
    user = await make_user(Role.OPS)
    bad = {"email": user.email, "password": "not-the-password"}
    assert _code(await client.post("/api/auth/login", json=bad), 401) == "auth.bad_credentials"
    nobody = {"email": "nobody@example.fr", "password": PASSWORD}
    assert _code(await client.post("/api/auth/login", json=nobody), 401) == "auth.bad_credentials"
    off = await make_user(Role.OPS, is_active=False)
    # a deactivated account says so, but only to whoever gives its password
    r = await client.post("/api/auth/login", json={"email": off.email, "password": PASSWORD})
    assert _code(r, 401) == "auth.account_disabled"
    r = await client.post("/api/auth/login", json={"email": off.email, "password": "nope-nope"})
    assert _code(r, 401) == "auth.bad_credentials"
    assert _code(await client.get("/api/leads"), 401) == "auth.required"


async def test_user_admin_codes(client: httpx.AsyncClient, auth_headers: HeadersFactory) -> None:
    admin = await auth_headers(Role.ADMIN)
    body = {"email": "codes@example.fr", "password": "a-good-password", "role": "OPS"}
    assert (await client.post("/api/users", headers=admin, json=body)).status_code == 201
    r = await client.post("/api/users", headers=admin, json=body)
    assert _code(r, 409) == "user.email_taken"
    assert _code(await client.get("/api/users/999999", headers=admin), 404) == "user.not_found"
    ops = await auth_headers(Role.OPS)
    assert _code(await client.get("/api/users/1", headers=ops), 403) == "auth.forbidden"
    r = await client.post("/api/users", headers=admin, json={**body, "role": "KING"})
    assert _code(r, 422) == "request.invalid"
    r = await client.post(
        "/api/users",
        headers={**admin, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert _code(r, 400) == "request.malformed_json"
    assert _code(await client.get("/api/nothing-here", headers=admin), 404) == "http.not_found"


@pytest.fixture(scope="module")
async def crew(auth_headers: HeadersFactory) -> dict[str, dict[str, str]]:
    return {
        "ops": await auth_headers(Role.OPS),
        "manager": await auth_headers(Role.MANAGER),
    }


async def test_workflow_codes(client: httpx.AsyncClient, crew: dict[str, dict[str, str]]) -> None:
    r = await client.post(
        "/api/leads",
        json={"geometry": square(4.61, 45.71), "commune_insee": "69114", "name": "Codes"},
        headers=crew["ops"],
    )
    assert r.status_code == 201, r.text
    lid = r.json()["id"]
    url = f"/api/leads/{lid}/transition"
    body = assert_problem(await client.post(url, json={"status": "SOLD"}, headers=crew["ops"]), 409)
    assert body["code"] == "transition.refused"
    assert (body["current_status"], body["target_status"]) == ("NEW", "SOLD")
    r = await client.post(url, json={"status": "REJECTED"}, headers=crew["manager"])
    assert _code(r, 422) == "transition.reason_required"
    r = await client.get("/api/leads/999999/comments", headers=crew["ops"])
    assert _code(r, 404) == "lead.not_found"
