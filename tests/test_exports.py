"""CSV and XLSX exports: header, typed cells, the list's filters and RBAC, no formula injection."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import psycopg
import pytest
from openpyxl import load_workbook

from geo.models import Role
from tests.conftest import assert_problem
from tests.lead_fixtures import sync_url


@pytest.fixture(scope="module")
async def ctx(client, db_url, make_user, auth_headers):  # noqa: ANN001, ANN201
    users = {r: await make_user(r) for r in (Role.ADMIN, Role.MANAGER, Role.OPS, Role.COMMERCIAL)}
    people = {k: (u, await auth_headers(user=u)) for k, u in users.items()}
    ids = []
    for i, name in enumerate(["Alpha", '=HYPERLINK("http://evil")', "Gamma"]):
        lon = 4.6 + i * 0.01
        square = {
            "type": "Polygon",
            "coordinates": [
                [
                    [lon, 45.9],
                    [lon + 0.003, 45.9],
                    [lon + 0.003, 45.903],
                    [lon, 45.903],
                    [lon, 45.9],
                ]
            ],
        }
        r = await client.post(
            "/api/leads",
            json={"geometry": square, "name": name, "commune_insee": "69114"},
            headers=people[Role.OPS][1],
        )
        assert r.status_code == 201, r.text
        ids.append(r.json())
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute(
            "UPDATE leads SET status='CLIENT_READY', quality_score=71.5 WHERE id=%s",
            (ids[2]["id"],),
        )
        conn.execute(
            "INSERT INTO lead_technical (lead_id, installable_mwc,"
            " specific_yield_kwh_kwc) VALUES (%s, 4.25, 1234.5)",
            (ids[2]["id"],),
        )
    return people, ids


async def test_csv(client, ctx) -> None:  # noqa: ANN001
    people, leads = ctx
    r = await client.get(
        "/api/leads/export.csv", params={"sort": "created_at"}, headers=people[Role.MANAGER][1]
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["id"] for row in rows] == [str(x["id"]) for x in leads]
    assert rows[1]["name"].startswith("'=")  # a spreadsheet must not run it
    gamma = rows[2]
    assert gamma["status"] == "CLIENT_READY" and float(gamma["quality_score"]) == 71.5
    assert float(gamma["installable_mwc"]) == 4.25
    assert float(gamma["area_ha"]) == pytest.approx(leads[2]["area_m2"] / 10_000, rel=1e-6)
    assert "owners" not in r.text.split("\n", 1)[0]


async def test_csv_filters_and_rbac(client, ctx) -> None:  # noqa: ANN001
    people, leads = ctx
    r = await client.get(
        "/api/leads/export.csv", params={"q": "alpha"}, headers=people[Role.ADMIN][1]
    )
    assert [row["name"] for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))] == [
        "Alpha"
    ]
    r = await client.get("/api/leads/export.csv", headers=people[Role.COMMERCIAL][1])
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [row["name"] for row in rows] == ["Gamma"]
    r = await client.get("/api/leads/export.csv", headers=_OTHER_HEADERS)
    assert list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))) == []
    assert_problem(
        await client.get(
            "/api/leads/export.csv", params={"status": "NOPE"}, headers=people[Role.ADMIN][1]
        ),
        422,
    )
    assert_problem(await client.get("/api/leads/export.csv"), 401)


_OTHER_HEADERS: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
async def _other_ops(auth_headers) -> None:  # noqa: ANN001
    _OTHER_HEADERS.update(await auth_headers(Role.OPS))


async def test_xlsx_typed_cells(client, ctx) -> None:  # noqa: ANN001
    people, leads = ctx
    r = await client.get(
        "/api/leads/export.xlsx", params={"sort": "created_at"}, headers=people[Role.MANAGER][1]
    )
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["leads"]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    assert header[:4] == ("id", "internal_name", "name", "status")
    assert ws["A1"].font.bold
    data = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert [d["id"] for d in data] == [x["id"] for x in leads]
    gamma = data[2]
    assert isinstance(gamma["id"], int)
    assert isinstance(gamma["created_at"], datetime)
    assert isinstance(gamma["area_ha"], float)
    assert gamma["quality_score"] == 71.5 and gamma["specific_yield_kwh_kwc"] == 1234.5
    # The formula-looking name is a plain string cell.
    cell = ws.cell(row=3, column=3)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
