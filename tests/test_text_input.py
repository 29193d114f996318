"""Free text at input (``api.schemas.text``) and NUL bytes in URLs (``api.urlguard``).

Names, contacts and search terms hold no control character; notes, comments, reasons and
addresses keep line feeds and tabs (a CR or CRLF is stored as LF). A refused value is a 422
naming the field, and nothing is written. A NUL byte anywhere in a URL is a 422 before any
route runs, authenticated or not."""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
import pytest

from api.schemas.text import refused_character
from tests.conftest import assert_problem
from tests.lead_fixtures import square, sync_url

# One of each kind: C0 (NUL, SOH, ESC, VT), DEL, C1 (NEL, CSI).
REFUSED = ["\x00", "\x01", "\x1b", "\x0b", "\x7f", "\x85", "\x9b"]
IDS = [f"U+{ord(c):04X}" for c in REFUSED]


@pytest.fixture(scope="module")
async def lead(client, people) -> dict[str, Any]:
    r = await client.post(
        "/api/leads",
        json={"geometry": square(4.61, 45.91), "name": "Site texte", "commune_insee": "69114"},
        headers=people["ops"][1],
    )
    assert r.status_code == 201, r.text
    return r.json()


def _fields(response: Any, status: int = 422) -> set[str]:
    body = assert_problem(response, status)
    return {e["field"] for e in body.get("errors") or []}


def _stored(db_url: str, sql: str, *args: object) -> Any:
    with psycopg.connect(sync_url(db_url)) as conn:
        row = conn.execute(sql, args).fetchone()
    return row[0] if row else None


@pytest.mark.parametrize("char", REFUSED, ids=IDS)
async def test_lead_name_and_notes(client, people, lead, db_url, char) -> None:
    ops = people["ops"][1]
    # The create: the same model, the same 422.
    r = await client.post(
        "/api/leads",
        json={"geometry": square(4.62, 45.91), "name": f"ctrl{char}char"},
        headers=ops,
    )
    assert _fields(r) == {"body.name"}
    r = await client.patch(f"/api/leads/{lead['id']}", json={"name": f"a{char}"}, headers=ops)
    assert _fields(r) == {"body.name"}
    r = await client.patch(f"/api/leads/{lead['id']}", json={"notes": f"a{char}"}, headers=ops)
    assert _fields(r) == {"body.notes"}
    assert _stored(db_url, "SELECT name FROM leads WHERE id = %s", lead["id"]) == "Site texte"


async def test_line_breaks_where_text_has_lines(client, people, lead, db_url) -> None:
    ops = people["ops"][1]
    lid = lead["id"]
    r = await client.patch(
        f"/api/leads/{lid}", json={"notes": "ligne 1\r\nligne 2\r\tretrait\nfin"}, headers=ops
    )
    assert r.status_code == 200, r.text
    notes = _stored(db_url, "SELECT notes FROM leads WHERE id = %s", lid)
    assert notes == "ligne 1\nligne 2\n\tretrait\nfin"
    for name in ("deux\nlignes", "tab\tulation"):
        r = await client.patch(f"/api/leads/{lid}", json={"name": name}, headers=ops)
        assert _fields(r) == {"body.name"}
    r = await client.post(
        f"/api/leads/{lid}/comments", json={"body": "RDV mairie\r\n\t- lundi"}, headers=ops
    )
    assert r.status_code == 201 and r.json()["body"] == "RDV mairie\n\t- lundi"
    # Letters of every script, emoji and typographic spaces are text, not control characters.
    name = "Étang de l'Œuvre — Zoë 🌞\u00a0Nord"
    r = await client.patch(f"/api/leads/{lid}", json={"name": name}, headers=ops)
    assert r.status_code == 200 and r.json()["name"] == name


@pytest.mark.parametrize("char", REFUSED, ids=IDS)
async def test_comments_reasons_owners(client, people, lead, char) -> None:
    ops = people["ops"][1]
    lid = lead["id"]
    r = await client.post(f"/api/leads/{lid}/comments", json={"body": f"x{char}"}, headers=ops)
    assert _fields(r) == {"body.body"}
    ok = await client.post(f"/api/leads/{lid}/comments", json={"body": "propre"}, headers=ops)
    cid = ok.json()["id"]
    r = await client.patch(
        f"/api/leads/{lid}/comments/{cid}", json={"body": f"x{char}"}, headers=ops
    )
    assert _fields(r) == {"body.body"}
    r = await client.post(
        f"/api/leads/{lid}/transition",
        json={"status": "REJECTED", "reason": f"zone{char}protégée"},
        headers=ops,
    )
    assert _fields(r) == {"body.reason"}
    owner = {"name": "GFA du Moulin", "type": "company"}
    for key in ("name", "address", "contact"):
        r = await client.put(
            f"/api/leads/{lid}/foncier",
            json={"owners": [{**owner, key: f"x{char}"}], "agreement_status": "contacted"},
            headers=ops,
        )
        assert _fields(r) == {f"body.owners.0.{key}"}


@pytest.mark.parametrize("char", ["\x01", "\n", "\x9b"], ids=["U+0001", "U+000A", "U+009B"])
async def test_user_names_and_batch_search(client, people, make_user, char) -> None:
    admin = people["admin"][1]
    target = await make_user()
    r = await client.patch(
        f"/api/users/{target.id}", json={"full_name": f"Jean{char}"}, headers=admin
    )
    assert _fields(r) == {"body.full_name"}
    r = await client.post(
        "/api/users",
        json={
            "email": "ctrl@example.fr",
            "password": "Lune-Pelle-Orage-1987-vent",
            "role": "OPS",
            "full_name": f"Jean{char}",
        },
        headers=admin,
    )
    assert "body.full_name" in _fields(r)
    r = await client.post(
        "/api/enrichment/batch", json={"filters": {"q": f"a{char}b"}}, headers=admin
    )
    assert _fields(r) == {"body.filters.q"}
    r = await client.patch(
        f"/api/users/{target.id}", json={"full_name": "Jean Dupont"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["full_name"] == "Jean Dupont"


async def test_upload_file_name(client, people, lead) -> None:
    r = await client.post(
        f"/api/leads/{lead['id']}/documents",
        headers=people["ops"][1],
        files={"file": ("acte\x1b[2J.pdf", b"%PDF-1.4\n1 0 obj\n")},
    )
    body = assert_problem(r, 422)
    assert "U+001B" in str(body["detail"])
    r = await client.get(f"/api/leads/{lead['id']}/documents", headers=people["ops"][1])
    assert r.json()["total"] == 0


@pytest.mark.parametrize(
    "url",
    [
        "/api/leads?q=%00",  # the list
        "/api/leads?q=a%00b&page=1",
        "/api/leads/1?x=%00",  # the detail takes no parameter, but a NUL is still refused
        "/api/leads/export.csv?q=%00",
        "/api/leads/export.xlsx?department=%00",
        "/api/analytics/funnel?q=%00",
        "/api/pipeline?department=69%00",
        "/api/reference/search?q=%00",
        "/api/reference/parcels/69114000AA%00030",  # in the path
        "/tiles/leads/1/1/1.mvt?token=%00",
        "/ogc/collections?f=%00",
        "/api/health?%00=1",  # in a name
    ],
)
@pytest.mark.parametrize("authenticated", [True, False], ids=["token", "anonymous"])
async def test_nul_in_a_url_is_a_422_everywhere(client, people, url, authenticated) -> None:
    headers = people["admin"][1] if authenticated else {}
    r = await client.get(url, headers=headers)
    fields = _fields(r)
    assert fields and all(f == "path" or f.startswith("query.") for f in fields)
    name = re.search(r"[?&]([^=&]*)=[^&]*%00", url)
    if name and name.group(1):
        assert f"query.{name.group(1)}" in fields


@pytest.mark.parametrize("url", ["/api/leads?q=%01", "/api/leads/export.csv?q=a%1Bb"])
async def test_control_characters_in_the_search_term(client, people, url) -> None:
    assert _fields(await client.get(url, headers=people["sales"][1])) == {"query.q"}


async def test_the_openapi_document_states_the_rule(client) -> None:
    """The pattern published for a field refuses exactly what the API refuses (Python's re
    reads the JSON Schema's \\uXXXX escapes)."""
    spec = (await client.get("/api/openapi.json")).json()
    schemas = spec["components"]["schemas"]

    def pattern(model: str, field: str) -> str:
        prop = schemas[model]["properties"][field]
        for option in prop.get("anyOf", [prop]):
            if "pattern" in option:
                return str(option["pattern"])
        raise AssertionError(f"{model}.{field} has no pattern")

    samples = [*REFUSED, "\t", "\n", "\r", "a", "é", "🌞", "\u00a0", "\u2028"]
    for model, field, multiline in (
        ("LeadCreate", "name", False),
        ("LeadUpdate", "notes", True),
        ("CommentIn", "body", True),
        ("Owner", "contact", False),
    ):
        compiled = re.compile(pattern(model, field))
        for c in samples:
            published = compiled.fullmatch(f"x{c}y") is not None
            accepted = refused_character(f"x{c}y", multiline=multiline) is None
            assert published == accepted, (model, field, hex(ord(c)))


async def test_unpaired_surrogate(client, people, lead) -> None:
    """A JSON ``\\ud800`` can't be stored as UTF-8: a 422, on the create and the PATCH."""
    ops = {**people["ops"][1], "Content-Type": "application/json"}
    geometry = json.dumps(square(4.63, 45.91))
    r = await client.post(
        "/api/leads", content=f'{{"geometry":{geometry},"name":"a\\ud800b"}}', headers=ops
    )
    assert _fields(r) == {"body.name"}
    r = await client.patch(f"/api/leads/{lead['id']}", content='{"notes":"\\udfff"}', headers=ops)
    assert _fields(r) == {"body.notes"}
