"""Lead exports written by a worker (POST /api/leads/exports): asked, polled, downloaded, the
same bytes as the in-request export; only the asker sees theirs; a bounded number waiting per
person; failures said; expired files removed; a real ``leadfactory worker`` process writes one."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import timedelta

import psycopg
import pytest
from openpyxl import load_workbook

from api.services import lead_exports as svc
from api.storage import make_storage
from geo.models import Role
from reports.storage import LocalStorage
from tests.conftest import assert_problem
from tests.lead_fixtures import DUP, sync_url
from tests.server_process import worker_process


@pytest.fixture(scope="module")
async def people(client, make_user, auth_headers):
    users = {r: await make_user(r) for r in (Role.ADMIN, Role.MANAGER, Role.OPS, Role.COMMERCIAL)}
    people = {k: (u, await auth_headers(user=u)) for k, u in users.items()}
    for i, name in enumerate(["Export un", "Export deux", "Export trois"]):
        lon = 4.7 + i * 0.01
        ring = [[lon, 45.8], [lon + 0.003, 45.8], [lon + 0.003, 45.803], [lon, 45.803], [lon, 45.8]]
        r = await client.post(
            "/api/leads",
            json={**DUP, "geometry": {"type": "Polygon", "coordinates": [ring]}, "name": name},
            headers=people[Role.OPS][1],
        )
        assert r.status_code == 201, r.text
    return people


@pytest.fixture(scope="module")
def storage(settings):
    return make_storage(settings.storage)


def _clear(db_url: str) -> None:
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute("DELETE FROM lead_exports")
        conn.execute("DELETE FROM procrastinate_jobs WHERE task_name = %s", (svc.EXPORT_TASK,))


async def _ask(client, headers, **params) -> dict:
    r = await client.post("/api/leads/exports", params=params, headers=headers)
    assert r.status_code == 202, r.text
    body = r.json()
    assert r.headers["location"] == f"/api/leads/exports/{body['id']}"
    return body


async def test_asked_polled_downloaded_same_bytes_as_in_request(
    client, state, storage, people, db_url
) -> None:
    _clear(db_url)
    headers = people[Role.MANAGER][1]
    params = {"format": "csv", "dialect": "fr", "sort": "created_at", "q": "Export"}
    body = await _ask(client, headers, **params)
    assert body["status"] == "queued" and body["file_url"] is None and body["rows"] is None
    # The row and its task were written together.
    with psycopg.connect(sync_url(db_url)) as conn:
        args = conn.execute(
            "SELECT args FROM procrastinate_jobs WHERE task_name = %s AND status = 'todo'",
            (svc.EXPORT_TASK,),
        ).fetchall()
    assert args == [({"export_id": body["id"]},)]
    # Not written yet: the file is a 409 that says so.
    r = await client.get(f"/api/leads/exports/{body['id']}/file", headers=headers)
    assert_problem(r, 409)
    assert r.json()["code"] == "export.not_ready" and r.json()["export_status"] == "queued"

    await svc.write_export(state.sessions, storage, body["id"])  # the worker's part

    r = await client.get(f"/api/leads/exports/{body['id']}", headers=headers)
    done = r.json()
    assert done["status"] == "done" and done["rows"] == 3, done
    assert done["file_url"] == f"/api/leads/exports/{body['id']}/file"
    assert done["expires_at"] > done["finished_at"]
    r = await client.get(done["file_url"], headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert done["filename"] in r.headers["content-disposition"]
    # Stored gzipped by the worker, sent as stored to a client taking gzip (httpx does)...
    assert r.headers["content-encoding"] == "gzip" and "Accept-Encoding" in r.headers["vary"]
    assert done["size_bytes"] == len(r.content)
    # ...and unzipped for one that does not.
    plain = await client.get(done["file_url"], headers={**headers, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert int(plain.headers["content-length"]) == done["size_bytes"]
    assert plain.content == r.content
    in_request = await client.get(
        "/api/leads/export.csv",
        params={k: v for k, v in params.items() if k != "format"},
        headers=headers,
    )
    assert r.content == in_request.content
    assert r.content.decode("utf-8-sig").count("Export ") == 3


async def test_workbook_same_cells_as_in_request(client, state, storage, people, db_url) -> None:
    _clear(db_url)
    headers = people[Role.MANAGER][1]
    body = await _ask(client, headers, format="xlsx", q="Export", sort="created_at")
    await svc.write_export(state.sessions, storage, body["id"])
    r = await client.get(f"/api/leads/exports/{body['id']}/file", headers=headers)
    assert r.headers["content-type"] == svc.XLSX
    assert "content-encoding" not in r.headers  # a zip already: not gzipped again
    in_request = await client.get(
        "/api/leads/export.xlsx", params={"q": "Export", "sort": "created_at"}, headers=headers
    )

    def cells(data: bytes) -> list[tuple]:
        return list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))

    assert cells(r.content) == cells(in_request.content)
    assert len(cells(r.content)) == 4  # header + 3 leads


async def test_rbac_only_the_asker_and_what_they_may_see(
    client, state, storage, people, db_url
) -> None:
    _clear(db_url)
    sales = people[Role.COMMERCIAL][1]
    body = await _ask(client, sales, format="csv", q="Export")
    await svc.write_export(state.sessions, storage, body["id"])
    r = await client.get(f"/api/leads/exports/{body['id']}", headers=sales)
    assert r.json()["rows"] == 0  # the three leads are NEW: not for sales people
    # Someone else's export is not found, even by an admin.
    for other in (people[Role.ADMIN][1], people[Role.MANAGER][1]):
        for path in (f"/api/leads/exports/{body['id']}", f"/api/leads/exports/{body['id']}/file"):
            r = await client.get(path, headers=other)
            assert_problem(r, 404)
            assert r.json()["code"] == "export.not_found"
    assert_problem(await client.post("/api/leads/exports", params={"format": "csv"}), 401)


async def test_bad_requests(client, people, db_url) -> None:
    _clear(db_url)
    headers = people[Role.OPS][1]
    for params in (
        {},  # format is required
        {"format": "pdf"},
        {"format": "csv", "dialect": "xls"},
        {"format": "csv", "status": "NOPE"},
        {"format": "csv", "colour": "red"},  # unknown parameter
        {"format": "csv", "score_min": "80", "score_max": "20"},
    ):
        r = await client.post("/api/leads/exports", params=params, headers=headers)
        assert_problem(r, 422)
    for path in ("/api/leads/exports/0", "/api/leads/exports/99999999"):
        assert (await client.get(path, headers=headers)).status_code in (404, 422)
    with psycopg.connect(sync_url(db_url)) as conn:
        assert conn.execute("SELECT count(*) FROM lead_exports").fetchone() == (0,)


async def test_a_bounded_number_waiting_per_person(client, settings, people, db_url) -> None:
    _clear(db_url)
    headers = people[Role.OPS][1]
    waiting_max = settings.leads.exports_waiting_max
    asked = await asyncio.gather(
        *(
            client.post("/api/leads/exports", params={"format": "csv"}, headers=headers)
            for _ in range(waiting_max + 2)
        )
    )
    codes = sorted(r.status_code for r in asked)
    assert codes == [202] * waiting_max + [429, 429]
    refused = next(r for r in asked if r.status_code == 429)
    assert_problem(refused, 429)
    assert refused.json()["code"] == "export.too_many"
    assert refused.headers["retry-after"] == "5"
    # Another person is not held back.
    await _ask(client, people[Role.MANAGER][1], format="csv")
    with psycopg.connect(sync_url(db_url)) as conn:
        tasks = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s", (svc.EXPORT_TASK,)
        ).fetchone()
    assert tasks == (waiting_max + 1,)


async def test_failure_is_said_and_expired_exports_removed(
    client, state, storage, people, db_url, tmp_path
) -> None:
    _clear(db_url)
    headers = people[Role.MANAGER][1]
    body = await _ask(client, headers, format="csv", q="Export")
    # A storage that can't be written (its root is a file): a real OSError from the put.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    with pytest.raises(OSError):
        await svc.write_export(state.sessions, LocalStorage(blocked), body["id"])
    await svc.fail_export(state.sessions, body["id"], OSError("disk"))
    r = await client.get(f"/api/leads/exports/{body['id']}", headers=headers)
    assert r.json()["status"] == "failed"
    assert r.json()["error"] == "the export could not be written (OSError)"
    assert r.json()["file_url"] is None
    assert (
        await client.get(f"/api/leads/exports/{body['id']}/file", headers=headers)
    ).status_code == 409

    kept = await _ask(client, headers, format="csv", q="Export")
    await svc.write_export(state.sessions, storage, kept["id"])
    old = await _ask(client, headers, format="xlsx", q="Export")
    await svc.write_export(state.sessions, storage, old["id"])
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute(
            "UPDATE lead_exports SET finished_at = finished_at - interval '25 hours'"
            " WHERE id IN (%s, %s)",
            (old["id"], body["id"]),
        )
        key = conn.execute(
            "SELECT storage_key FROM lead_exports WHERE id = %s", (old["id"],)
        ).fetchone()[0]
    assert storage.exists(key)
    removed = await svc.remove_expired(state.sessions, storage, timedelta(hours=24))
    assert removed == 2
    assert not storage.exists(key)
    for gone in (old, body):
        r = await client.get(f"/api/leads/exports/{gone['id']}", headers=headers)
        assert r.json()["code"] == "export.not_found"
    r = await client.get(f"/api/leads/exports/{kept['id']}/file", headers=headers)
    assert r.status_code == 200


async def test_a_real_worker_writes_it(client, settings, people, db_url, tmp_path) -> None:
    """``leadfactory worker`` (its own process, the same storage settings) drains the queue."""
    _clear(db_url)
    headers = people[Role.MANAGER][1]
    body = await _ask(client, headers, format="csv", q="Export")
    log = tmp_path / "worker.log"
    with worker_process(settings, log):
        deadline = time.monotonic() + 60
        while True:
            r = await client.get(f"/api/leads/exports/{body['id']}", headers=headers)
            if r.json()["status"] in ("done", "failed") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    assert r.json()["status"] == "done", (r.json(), log.read_text()[-2000:])
    assert r.json()["rows"] == 3
    r = await client.get(f"/api/leads/exports/{body['id']}/file", headers=headers)
    assert r.status_code == 200 and r.content.decode("utf-8-sig").count("Export ") == 3
