"""Documents of a lead on the local storage: upload checks (magic bytes, empty, size limit,
category), list, streaming download, delete rights, RBAC, activity, no half-done uploads."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from geo.models import ActivityLog, Document, DocumentCategory, Lead, LeadStatus, Role
from reports.documents import create_document
from reports.filetypes import CONTENT_TYPES
from reports.storage import LocalStorage
from tests.conftest import assert_problem, make_settings
from tests.dossier_factory import seed_site

LIMIT_MB = 0.25  # 262,144 bytes


@pytest.fixture(scope="module")
def settings(db_url, tmp_path_factory):
    return make_settings(
        db_url, tmp_path_factory.mktemp("lfs"), storage={"max_upload_mb": LIMIT_MB}
    )


@pytest.fixture(scope="module")
async def ops(make_user):
    return await make_user(Role.OPS)


@pytest.fixture(scope="module")
async def ops_headers(auth_headers, ops):
    return await auth_headers(user=ops)


@pytest.fixture(scope="module")
async def lead_id(state, ops):
    async with state.sessions() as s:
        return await seed_site(
            s, state.cipher, enriched=False, n_parcels=2, status=LeadStatus.NEW, assignee_id=ops.id
        )


def stored_files(settings) -> list[Path]:
    root = Path(settings.storage.local_dir)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def post(client, headers, lead_id, name, data, category="other"):
    return await client.post(
        f"/api/leads/{lead_id}/documents",
        headers=headers,
        files={"file": (name, data)},
        data={"category": category},
    )


def ooxml(kind: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(f"{kind}/document.xml", "<x/>")
    return buf.getvalue()


def zipped_shapefile() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for ext in ("shp", "shx", "dbf", "prj"):
            z.writestr(f"parcelles.{ext}", b"\0" * 100)
    return buf.getvalue()


ACCEPTED = [
    ("titre.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "application/pdf", "title_deed"),
    ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png", "photo"),
    ("photo.jpg", b"\xff\xd8\xff\xe0\0\x10JFIF" + b"\0" * 64, "image/jpeg", "photo"),
    (
        "etude.docx",
        ooxml("word"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "grid_study",
    ),
    (
        "bilan.xlsx",
        ooxml("xl"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "other",
    ),
    ("ancien.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "application/msword", "other"),
    (
        "site.geojson",
        b'{"type": "FeatureCollection", "features": []}',
        "application/geo+json",
        "other",
    ),
    (
        "bom.geojson",
        b'\xef\xbb\xbf{"type": "Point", "coordinates": [4.65, 45.97]}',
        "application/geo+json",
        "other",
    ),
    (
        "site.kml",
        b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"></kml>',
        "application/vnd.google-earth.kml+xml",
        "plu_extract",
    ),
    ("parcelles.zip", zipped_shapefile(), "application/x-zipped-shp", "other"),
]


@pytest.mark.parametrize(("name", "data", "ctype", "category"), ACCEPTED)
async def test_accepted_types(client, ops_headers, lead_id, name, data, ctype, category):
    r = await post(client, ops_headers, lead_id, name, data, category)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["content_type"] == ctype
    assert ctype in CONTENT_TYPES  # what the download's OpenAPI response lists
    assert body["category"] == category
    assert body["size_bytes"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert r.headers["location"] == body["download_url"]


REFUSED = [
    ("facture.pdf", b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff" + b"\0" * 64),  # PE executable
    ("plan.pdf", b"\x7fELF\x02\x01\x01" + b"\0" * 64),  # ELF executable
    ("script.pdf", b"#!/bin/sh\nrm -rf /\n"),
    ("notes.txt", b"just some text"),
    ("data.json", b'{"not": "geojson"}'),
    ("archive.zip", b"PK\x03\x04garbage"),
    # Nested 100,000 deep: sniffing never recurses per level (it was a RecursionError, a 500).
    ("deep.geojson", b'{"type": "Feature", "geometry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("open.geojson", b'{"type": "Feature", "geometry": ' + b"[" * 100_000),
]


@pytest.mark.parametrize(("name", "data"), REFUSED)
async def test_refused_types_are_415_and_leave_nothing(
    client, ops_headers, lead_id, settings, state, name, data
):
    before = len(stored_files(settings))
    assert_problem(await post(client, ops_headers, lead_id, name, data), 415)
    assert len(stored_files(settings)) == before


async def test_empty_file_is_422(client, ops_headers, lead_id):
    assert_problem(await post(client, ops_headers, lead_id, "vide.pdf", b""), 422)


async def test_unknown_category_is_422(client, ops_headers, lead_id):
    body = assert_problem(
        await post(client, ops_headers, lead_id, "a.pdf", b"%PDF-1.4", "dossier"), 422
    )
    assert "category" in str(body["detail"])


async def test_missing_file_and_wrong_content_type(client, ops_headers, lead_id):
    r = await client.post(
        f"/api/leads/{lead_id}/documents",
        headers=ops_headers,
        data={"category": "other"},
        files={"other": ("x", b"y")},
    )
    assert_problem(r, 422)
    r = await client.post(
        f"/api/leads/{lead_id}/documents", headers=ops_headers, json={"file": "x"}
    )
    assert_problem(r, 415)


async def test_over_the_limit_is_413_declared_length(client, ops_headers, lead_id, settings):
    before = len(stored_files(settings))
    big = b"%PDF-1.4\n" + b"0" * int(LIMIT_MB * 1024 * 1024 * 2)
    assert_problem(await post(client, ops_headers, lead_id, "gros.pdf", big), 413)
    assert len(stored_files(settings)) == before


async def test_over_the_limit_is_413_when_streamed(client, ops_headers, lead_id, settings):
    """No Content-Length (chunked): the reader stops as soon as the limit is passed."""
    boundary = "lfsboundary42"
    sent = {"chunks": 0}

    async def body():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="flux.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n'
        ).encode()
        for _ in range(64):  # 64 × 64 KiB = 4 MiB offered, limit is 256 KiB
            sent["chunks"] += 1
            yield b"0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {**ops_headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    r = await client.post(f"/api/leads/{lead_id}/documents", headers=headers, content=body())
    assert_problem(r, 413)
    assert sent["chunks"] < 10  # stopped reading early
    exactly = b"%PDF-1.4\n" + b"0" * (int(LIMIT_MB * 1024 * 1024) - 9)
    r = await post(client, ops_headers, lead_id, "juste.pdf", exactly)
    assert r.status_code == 201, r.text  # the limit itself is allowed


async def test_list_download_and_activity(client, ops_headers, lead_id, state):
    data = b"%PDF-1.4\n% telechargement " + bytes(range(256)) * 40
    up = (
        await post(client, ops_headers, lead_id, "Étude réseau 2026.pdf", data, "grid_study")
    ).json()
    r = await client.get(f"/api/leads/{lead_id}/documents", headers=ops_headers)
    assert r.status_code == 200
    ids = [d["id"] for d in r.json()["items"]]
    assert up["id"] == ids[0]  # newest first
    assert r.json()["total"] == len(ids)
    r = await client.get(
        f"/api/leads/{lead_id}/documents", headers=ops_headers, params={"category": "grid_study"}
    )
    assert {d["category"] for d in r.json()["items"]} == {"grid_study"}
    dl = await client.get(up["download_url"], headers=ops_headers)
    assert dl.status_code == 200
    assert dl.content == data
    assert dl.headers["content-type"] == "application/pdf"
    cd = dl.headers["content-disposition"]
    assert cd.startswith("attachment;")
    assert "filename*=UTF-8''%C3%89tude%20r%C3%A9seau%202026.pdf" in cd
    async with state.sessions() as s:
        n = await s.scalar(
            select(func.count())
            .select_from(ActivityLog)
            .where(
                ActivityLog.lead_id == lead_id,
                ActivityLog.action == "document_uploaded",
                ActivityLog.entity_id == up["id"],
            )
        )
    assert n == 1


async def test_rbac_invisible_lead_and_foreign_document(client, auth_headers, lead_id, state):
    other_ops = await auth_headers(Role.OPS)
    assert_problem(await client.get(f"/api/leads/{lead_id}/documents", headers=other_ops), 404)
    assert_problem(await post(client, other_ops, lead_id, "a.pdf", b"%PDF-1.4 x"), 404)
    buyer = await auth_headers(Role.COMMERCIAL)  # lead is NEW: invisible to buyers
    assert_problem(await client.get(f"/api/leads/{lead_id}/documents", headers=buyer), 404)
    assert_problem(await client.get(f"/api/leads/{lead_id}/documents"), 401)
    async with state.sessions() as s:
        doc_id = await s.scalar(select(Document.id).where(Document.lead_id == lead_id).limit(1))
        other = await seed_site(s, state.cipher, enriched=False, n_parcels=1)
    mgr = await auth_headers(Role.MANAGER)
    # A document id under another lead's URL is not found.
    assert_problem(await client.get(f"/api/leads/{other}/documents/{doc_id}", headers=mgr), 404)


async def test_delete_rights(
    client, auth_headers, ops_headers, lead_id, state, settings, make_user
):
    up = (await post(client, ops_headers, lead_id, "a-supprimer.pdf", b"%PDF-1.4 del")).json()
    # Another OPS who can see the lead (made public) but did not upload it may not delete.
    async with state.sessions() as s:
        lead = await s.get(Lead, lead_id)
        lead.is_public = True
        await s.commit()
    other = await auth_headers(Role.OPS)
    assert_problem(await client.delete(up["download_url"], headers=other), 403)
    files_before = len(stored_files(settings))
    r = await client.delete(up["download_url"], headers=ops_headers)  # the uploader
    assert r.status_code == 204
    assert len(stored_files(settings)) == files_before - 1
    assert_problem(await client.get(up["download_url"], headers=ops_headers), 404)
    up2 = (await post(client, ops_headers, lead_id, "b.pdf", b"%PDF-1.4 del2")).json()
    mgr = await auth_headers(Role.MANAGER)
    assert (await client.delete(up2["download_url"], headers=mgr)).status_code == 204
    async with state.sessions() as s:
        logged = await s.scalar(
            select(func.count())
            .select_from(ActivityLog)
            .where(ActivityLog.action == "document_deleted", ActivityLog.lead_id == lead_id)
        )
    assert logged == 2


async def test_failed_insert_leaves_no_file(state, settings, tmp_path):
    """A real database failure (the lead vanished: foreign key violation) after the file was
    written: the stored object is removed again."""
    storage = LocalStorage(tmp_path / "store")
    src = tmp_path / "x.pdf"
    src.write_bytes(b"%PDF-1.4 orphan?")
    ghost = Lead(id=987654321)
    async with state.sessions() as s:
        with pytest.raises(Exception, match="foreign key|ForeignKey|violates"):
            await create_document(
                s,
                storage,
                lead=ghost,
                user_id=None,
                path=src,
                filename="x.pdf",
                content_type="application/pdf",
                size_bytes=16,
                sha256="0" * 64,
                category=DocumentCategory.OTHER,
            )
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []
    async with state.sessions() as s:
        assert (
            await s.scalar(
                select(func.count()).select_from(Document).where(Document.lead_id == 987654321)
            )
            == 0
        )


async def test_missing_file_on_download_is_404_not_500(client, ops_headers, lead_id, settings):
    up = (await post(client, ops_headers, lead_id, "perdu.pdf", b"%PDF-1.4 lost")).json()
    for p in stored_files(settings):
        if p.read_bytes() == b"%PDF-1.4 lost":
            p.unlink()
    assert_problem(await client.get(up["download_url"], headers=ops_headers), 404)


def test_storage_keys_cannot_escape(tmp_path):
    s = LocalStorage(tmp_path)
    with pytest.raises(ValueError):
        s.exists("../etc/passwd")


async def test_413_over_real_http(live_server, ops_headers, lead_id):
    """Through uvicorn on a real socket, the client gets the 413 problem, not a reset."""
    import asyncio

    import httpx

    big = b"%PDF-1.4\n" + b"0" * (4 * 1024 * 1024)

    def send() -> httpx.Response:
        with httpx.Client(base_url=live_server.url, timeout=30) as c:
            return c.post(
                f"/api/leads/{lead_id}/documents",
                headers=ops_headers,
                files={"file": ("gros.pdf", big)},
            )

    assert_problem(await asyncio.to_thread(send), 413)

    def send_chunked() -> httpx.Response:
        boundary = "lfsb"

        def body():
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="flux.pdf"\r\n\r\n%PDF-1.4\n'
            ).encode()
            for _ in range(64):
                yield b"0" * 65536
            yield f"\r\n--{boundary}--\r\n".encode()

        headers = {**ops_headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        with httpx.Client(base_url=live_server.url, timeout=30) as c:
            return c.post(f"/api/leads/{lead_id}/documents", headers=headers, content=body())

    assert_problem(await asyncio.to_thread(send_chunked), 413)
