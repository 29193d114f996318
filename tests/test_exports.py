"""CSV and XLSX exports: header, typed cells, the list's filters and RBAC, no formula injection."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import socket
import threading
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from openpyxl import load_workbook

from api.app import create_app
from api.services import exports as exports_service
from geo.models import Role
from tests.conftest import assert_problem
from tests.lead_fixtures import DUP, sync_url


@pytest.fixture(scope="module")
async def ctx(client, db_url, make_user, auth_headers):
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
            json={**DUP, "geometry": square, "name": name, "commune_insee": "69114"},
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


async def test_csv(client, ctx) -> None:
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


async def test_csv_for_french_excel(client, ctx) -> None:
    people, leads = ctx
    r = await client.get(
        "/api/leads/export.csv",
        params={"sort": "created_at", "dialect": "fr"},
        headers=people[Role.MANAGER][1],
    )
    assert r.status_code == 200, r.text
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeffN°;Référence;Nom;Statut;")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert [row["N°"] for row in rows] == [str(x["id"]) for x in leads]
    gamma = rows[2]
    assert gamma["Statut"] == "Prêt client" and gamma["Score (/100)"] == "71,5"
    assert gamma["Puissance installable (MWc)"] == "4,25"
    assert rows[1]["Nom"].startswith("'=")  # still never a formula
    created = datetime.fromisoformat(leads[0]["created_at"]).astimezone(ZoneInfo("Europe/Paris"))
    assert rows[0]["Créé le"] == created.strftime("%d/%m/%Y %H:%M")
    # the standard CSV is unchanged by the option's existence; a bad dialect is a 422
    r = await client.get(
        "/api/leads/export.csv", params={"dialect": "xls"}, headers=people[Role.MANAGER][1]
    )
    assert assert_problem(r, 422)["code"] == "request.invalid"


async def test_csv_filters_and_rbac(client, ctx) -> None:
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
async def _other_ops(auth_headers) -> None:
    _OTHER_HEADERS.update(await auth_headers(Role.OPS))


async def test_xlsx_typed_cells(client, ctx) -> None:
    people, leads = ctx
    r = await client.get(
        "/api/leads/export.xlsx", params={"sort": "created_at"}, headers=people[Role.MANAGER][1]
    )
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["Leads"]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    # French headers, one per column, no machine name left
    assert header[:4] == ("N°", "Référence", "Nom", "Statut")
    assert len(set(header)) == len(header) == len(exports_service.HEADERS)
    assert set(exports_service.FRENCH_HEADERS) == set(exports_service.HEADERS)
    assert ws["A1"].font.bold
    data = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert [d["N°"] for d in data] == [x["id"] for x in leads]
    gamma = data[2]
    assert isinstance(gamma["N°"], int)
    assert gamma["Statut"] == "Prêt client" and data[0]["Statut"] == "Nouveau"
    assert gamma["Public"] in ("oui", "non")
    # a real date cell, in Paris time (the API's created_at is UTC)
    created = datetime.fromisoformat(leads[2]["created_at"])
    assert isinstance(gamma["Créé le"], datetime)
    expected = created.astimezone(ZoneInfo("Europe/Paris")).replace(tzinfo=None)
    assert abs((gamma["Créé le"] - expected).total_seconds()) < 1
    assert gamma["Créé le"] != created.astimezone(UTC).replace(tzinfo=None)  # +1 h in winter
    assert ws.cell(row=4, column=header.index("Créé le") + 1).number_format == "dd/mm/yyyy hh:mm"
    assert isinstance(gamma["Surface (ha)"], float)
    assert gamma["Score (/100)"] == 71.5 and gamma["Productible (kWh/kWc/an)"] == 1234.5
    assert ws.cell(row=4, column=header.index("Score (/100)") + 1).number_format == "#,##0.00"
    # The formula-looking name is a plain string cell.
    cell = ws.cell(row=3, column=3)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


# --- errors of a streamed export: before the first byte a problem, after it a broken transfer --


def _http_get(base_url: str, path: str, headers: dict[str, str]) -> tuple[int, str, bytes, str]:
    """GET over a real socket: (status, content type, bytes received, transport error or '')."""
    received = b""
    with httpx.Client(base_url=base_url, timeout=30) as c:
        with c.stream("GET", path, headers=headers) as r:
            try:
                for chunk in r.iter_raw():
                    received += chunk
            except httpx.HTTPError as exc:
                return r.status_code, r.headers.get("content-type", ""), received, repr(exc)
            return r.status_code, r.headers.get("content-type", ""), received, ""


async def test_nul_in_a_filter_is_a_problem_before_any_byte(live_server, ctx) -> None:
    """``?q=%00`` was a 200 whose body was cut when PostgreSQL refused the NUL."""
    people, _ = ctx
    status, ctype, body, broken = await asyncio.to_thread(
        _http_get, live_server.url, "/api/leads/export.csv?q=%00", people[Role.ADMIN][1]
    )
    assert not broken and status == 422 and ctype.startswith("application/problem+json")
    assert json.loads(body)["status"] == 422


async def test_query_error_before_the_first_byte_is_a_problem(settings, db_url, ctx) -> None:
    """The query answers before the 200 is sent: a statement timeout (here: the leads table
    locked by another transaction) is a 503 problem, not a 200 cut short."""
    people, _ = ctx
    app = create_app(settings.model_copy(update={"db_statement_timeout_ms": 300}))
    with psycopg.connect(sync_url(db_url)) as locker:
        locker.execute("LOCK TABLE leads IN ACCESS EXCLUSIVE MODE")
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                r = await c.get("/api/leads/export.csv", headers=people[Role.ADMIN][1])
        locker.rollback()
    body = assert_problem(r, 503)
    assert body["type"] == "/problems/timeout" and r.headers["retry-after"]


class _TerminateExportAfterFirstChunk:
    """In the server's seat, around the app: when the export's first chunk has gone out, the
    database connection serving it is terminated — a real database error in mid-stream."""

    def __init__(self, app: Any, db_url: str) -> None:
        self.app = app
        self.db_url = db_url
        self.terminated = 0

    def _terminate(self) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                # The export's statement (pg_stat_activity keeps its first 1 kB).
                "AND state = 'idle in transaction' "
                "AND query LIKE 'SELECT leads.id AS id, leads.internal_name AS internal_name%'"
            ).fetchall()
        self.terminated = len(rows)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        first = [scope.get("path") == "/api/leads/export.csv"]

        async def spy(message: dict[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body" and first[0]:
                first[0] = False
                await asyncio.to_thread(self._terminate)

        await self.app(scope, receive, spy)


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_database_error_in_mid_stream_breaks_the_transfer(
    settings, db_url, ctx, monkeypatch, encoding
) -> None:
    """After the first bytes nothing can change the 200: the transfer is aborted (no final
    chunk), so the client can't take a cut file for a complete one (gzipped or not)."""
    import uvicorn

    people, leads = ctx
    monkeypatch.setattr(exports_service, "BATCH", 2)  # the first chunk: header + 2 of 3 rows
    app = _TerminateExportAfterFirstChunk(create_app(settings), sync_url(db_url))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive()
            await asyncio.sleep(0.05)
        status, _, body, broken = await asyncio.to_thread(
            _http_get,
            f"http://127.0.0.1:{port}",
            "/api/leads/export.csv?sort=created_at",
            {**people[Role.MANAGER][1], "Accept-Encoding": encoding},
        )
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
    assert app.terminated == 1  # the export's connection, and only it
    assert status == 200 and body
    assert "incomplete chunked read" in broken, broken
    if encoding == "identity":
        # What did arrive is the header and the first batch, not the whole file.
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert rows[0][:2] == ["id", "internal_name"] and len(rows) == 1 + 2 < 1 + len(leads)
