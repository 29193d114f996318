"""Documents that carry owners' personal data (title deeds, signed promises, internal dossiers)
leave no trace for COMMERCIAL on any surface: document routes, activity log, lead detail (hot
path and full stack), lead workbook, dossier annexes, list exports and search. ADMIN, MANAGER
and OPS see everything as before. The rule is ``geo.visibility``'s, written once."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from api.storage import make_storage
from geo.activity import log_activity
from geo.models import ActivityLog, Document, DocumentCategory, Lead, LeadStatus
from geo.visibility import (
    COMMERCIAL_DOSSIER_SUFFIX,
    activity_visibility,
    clause_sql,
    document_visibility,
)
from reports.documents import create_document
from reports.facts import load_facts
from tests.dossier_factory import seed_site

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

# (file name, category, bytes, hidden from COMMERCIAL?) — the answer, stated by construction.
UPLOADS = [
    ("acte-propriete-DUPONT-Jean.pdf", "title_deed", PDF + b"deed", True),
    ("promesse-signee-MARTIN-Paul.pdf", "signed_promise", PDF + b"promise!", True),
    ("etude-raccordement.pdf", "grid_study", PDF + b"grid study", False),
    ("photo-site.png", "photo", PNG, False),
]
DELETED = ("acte-ancien-DURAND-Marie.pdf", "title_deed", PDF + b"old deed, deleted", True)
INTERNAL_DOSSIER = "dossier-27-412-0001-20261204-1200.pdf"
COMMERCIAL_DOSSIER = "dossier-27-412-0001-20261204-1201" + COMMERCIAL_DOSSIER_SUFFIX
HIDDEN_NAMES = {n for n, _, _, hidden in UPLOADS if hidden} | {DELETED[0], INTERNAL_DOSSIER}
SHOWN_NAMES = {n for n, _, _, hidden in UPLOADS if not hidden} | {COMMERCIAL_DOSSIER}
# What a hidden document's file name gives away: the owners' names.
OWNER_WORDS = ("DUPONT", "MARTIN", "DURAND")
ROLES = ("admin", "manager", "ops", "sales")


@pytest.fixture(scope="module")
async def site(client, state, people, settings) -> dict[str, Any]:
    """A CLIENT_READY lead assigned to the OPS user, with every kind of document, one deleted."""
    async with state.sessions() as s:
        lead_id = await seed_site(
            s,
            state.cipher,
            enriched=False,
            n_parcels=2,
            status=LeadStatus.CLIENT_READY,
            assignee_id=people["ops"][0].id,
        )
    mgr = people["manager"][1]
    docs: dict[str, dict[str, Any]] = {}
    for name, category, data, _ in [*UPLOADS, DELETED]:
        r = await client.post(
            f"/api/leads/{lead_id}/documents",
            headers=mgr,
            files={"file": (name, data)},
            data={"category": category},
        )
        assert r.status_code == 201, r.text
        docs[name] = r.json()
    r = await client.delete(docs[DELETED[0]]["download_url"], headers=mgr)
    assert r.status_code == 204
    # Dossiers are stored by the function generate-pdf uses (rendering one takes seconds).
    storage = make_storage(settings.storage)
    tmp = Path(settings.storage.local_dir).parent / "dossier.pdf"
    for name in (INTERNAL_DOSSIER, COMMERCIAL_DOSSIER):
        data = PDF + name.encode()
        tmp.write_bytes(data)
        async with state.sessions() as s:
            lead = await s.get(Lead, lead_id)
            assert lead is not None
            doc = await create_document(
                s,
                storage,
                lead=lead,
                user_id=people["manager"][0].id,
                path=tmp,
                filename=name,
                content_type="application/pdf",
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                category=DocumentCategory.DOSSIER,
                action="dossier_generated",
            )
            docs[name] = {"id": doc.id, "size_bytes": len(data)}
    return {"id": lead_id, "docs": docs}


def _hidden_ids(site: dict[str, Any]) -> set[int]:
    return {site["docs"][n]["id"] for n in HIDDEN_NAMES}


def _named_files(entries: list[dict[str, Any]]) -> set[str]:
    """The file names an activity list mentions (in before or after)."""
    out = set()
    for e in entries:
        for values in (e["before"], e["after"]):
            if values and "filename" in values:
                out.add(values["filename"])
    return out


def assert_no_trace(raw: bytes) -> None:
    """Nothing of a hidden document in a response body: no owner's name, no hidden file."""
    for word in OWNER_WORDS:
        assert word.encode() not in raw, word
    assert INTERNAL_DOSSIER.encode() not in raw


@pytest.mark.parametrize("role", ROLES)
async def test_activity_log(client, site, people, role) -> None:
    r = await client.get(f"/api/leads/{site['id']}/activity", headers=people[role][1])
    assert r.status_code == 200, r.text
    page = r.json()
    named = _named_files(page["items"])
    doc_entries = [e for e in page["items"] if e["entity"] == "document"]
    if role == "sales":
        assert named == SHOWN_NAMES
        assert not {e["entity_id"] for e in doc_entries} & _hidden_ids(site)
        assert_no_trace(r.content)
        # Left out of the total too: the uploads of the deed, the promise and the deleted
        # deed, that deletion and the internal dossier are 5 of the lead's entries.
        everything = await client.get(
            f"/api/leads/{site['id']}/activity", headers=people["manager"][1]
        )
        assert page["total"] == everything.json()["total"] - 5
    else:
        assert named == HIDDEN_NAMES | SHOWN_NAMES
        assert {"document_uploaded", "document_deleted", "dossier_generated"} <= {
            e["action"] for e in doc_entries
        }
        assert page["total"] == len(page["items"])


@pytest.mark.parametrize("role", ROLES)
async def test_lead_detail(client, site, people, role) -> None:
    r = await client.get(f"/api/leads/{site['id']}", headers=people[role][1])
    assert r.status_code == 200, r.text
    detail = r.json()
    listed = {d["filename"] for d in detail["documents"]}
    named = _named_files(detail["activity"])
    if role == "sales":
        assert listed == SHOWN_NAMES
        assert named == SHOWN_NAMES
        assert_no_trace(r.content)
    else:
        assert listed == (HIDDEN_NAMES - {DELETED[0]}) | SHOWN_NAMES
        assert named == HIDDEN_NAMES | SHOWN_NAMES


@pytest.mark.parametrize("role", ROLES)
async def test_document_list_and_download(client, site, people, role) -> None:
    h = people[role][1]
    r = await client.get(f"/api/leads/{site['id']}/documents", headers=h)
    listed = {d["filename"] for d in r.json()["items"]}
    hidden_now = HIDDEN_NAMES - {DELETED[0]}
    assert listed == (SHOWN_NAMES if role == "sales" else hidden_now | SHOWN_NAMES)
    for name in hidden_now:
        doc_id = site["docs"][name]["id"]
        r = await client.get(f"/api/leads/{site['id']}/documents/{doc_id}", headers=h)
        assert r.status_code == (404 if role == "sales" else 200)


def _sheet_rows(wb: Any, title: str) -> list[dict[str, Any]]:
    rows = list(wb[title].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.mark.parametrize("role", ROLES)
async def test_lead_workbook(client, site, people, role) -> None:
    r = await client.get(f"/api/leads/{site['id']}/export.xlsx", headers=people[role][1])
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    documents = _sheet_rows(wb, "Documents")
    activity = _sheet_rows(wb, "Activité")
    doc_entries = {a["entity_id"] for a in activity if a["entity"] == "document"}
    listed = {d["filename"] for d in documents}
    if role == "sales":
        assert listed == SHOWN_NAMES
        sizes = {d["size_bytes"] for d in documents}
        assert sizes == {site["docs"][n]["size_bytes"] for n in SHOWN_NAMES}
        assert not doc_entries & _hidden_ids(site)
        # Not in any sheet, in any form: the workbook's XML, uncompressed.
        with zipfile.ZipFile(io.BytesIO(r.content)) as z:
            for part in z.namelist():
                assert_no_trace(z.read(part))
    else:
        assert listed == (HIDDEN_NAMES - {DELETED[0]}) | SHOWN_NAMES
        assert _hidden_ids(site) <= doc_entries
        # Before/after are JSON text cells for these roles.
        named = [
            json.loads(a[key]).get("filename")
            for a in activity
            for key in ("before", "after")
            if a[key] and "filename" in a[key]
        ]
        assert set(named) == HIDDEN_NAMES | SHOWN_NAMES


async def test_dossier_annexes(state, site) -> None:
    """A commercial dossier appends no deed, promise or dossier; an internal one every upload."""
    async with state.sessions() as s:
        lead = await s.get(Lead, site["id"])
        assert lead is not None
        commercial = await load_facts(s, lead, cipher=state.cipher, include_owners=False)
        internal = await load_facts(s, lead, cipher=state.cipher, include_owners=True)
    uploads_now = {n for n, *_ in UPLOADS}
    assert {d["filename"] for d in internal.annex_documents} == uploads_now
    assert {d["filename"] for d in commercial.annex_documents} == {
        n for n, _, _, hidden in UPLOADS if not hidden
    }


@pytest.mark.parametrize("role", ROLES)
async def test_search_and_list_exports(client, site, people, role) -> None:
    """Searches and list exports hold lead text only: a hidden file's owner name finds nothing
    (the lead is found by its own name), and no export names a document."""
    h = people[role][1]
    for word in OWNER_WORDS:
        r = await client.get("/api/leads", params={"q": word}, headers=h)
        assert r.status_code == 200 and r.json()["total"] == 0
    r = await client.get("/api/leads", params={"q": "Longs Champs"}, headers=h)
    assert site["id"] in [x["id"] for x in r.json()["items"]]
    for fmt in ("csv", "xlsx"):
        r = await client.get(f"/api/leads/export.{fmt}", headers=h)
        assert r.status_code == 200
        raw = r.content
        if fmt == "xlsx":
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                raw = b"".join(z.read(p) for p in z.namelist())
        assert_no_trace(raw)


async def _ids_both_ways(
    session: Any, model: Any, rule: Any, lead_id: int, sees: bool | None
) -> tuple[set[int], set[int]]:
    """A lead's rows of ``model`` under ``rule(sees)`` through the ORM clause and through its SQL
    text (``sees`` None: no rule, every row)."""
    table = model.__table__
    alias = table.alias("x")
    orm = select(model.id).where(model.lead_id == lead_id)
    sql = f"SELECT x.id FROM {table.name} x WHERE x.lead_id = :lid"
    if sees is not None:
        orm = orm.where(rule(sees))
        sql += " AND " + clause_sql(rule(sees, alias))
    return (
        set(await session.scalars(orm)),
        set(await session.scalars(text(sql), {"lid": lead_id})),
    )


async def test_one_rule_in_both_forms(state, site) -> None:
    """The plain-SQL text of the rule (hot detail) selects what the ORM clause selects: all
    rows for a viewer who sees owners, the shown ones only for the others."""
    shown_docs = {site["docs"][n]["id"] for n in SHOWN_NAMES}
    async with state.sessions() as s:
        for model, rule in ((Document, document_visibility), (ActivityLog, activity_visibility)):
            every, _ = await _ids_both_ways(s, model, rule, site["id"], None)
            for sees in (True, False):
                orm, sql = await _ids_both_ways(s, model, rule, site["id"], sees)
                assert orm == sql
                if sees:
                    assert sql == every
                elif model is Document:
                    assert sql == shown_docs
                else:  # the 5 entries about hidden documents (test_activity_log)
                    assert len(every - sql) == 5


async def test_unclassifiable_document_entry_stays_hidden(state, site) -> None:
    """An entry about a document without a category (never written today) is hidden from
    COMMERCIAL rather than shown: the rule fails closed."""
    async with state.sessions() as s:
        entry = await log_activity(
            s,
            action="document_uploaded",
            user_id=None,
            lead_id=site["id"],
            entity="document",
            entity_id=10**9,
            after={"filename": "sans-categorie.pdf"},
        )
        await s.flush()
        shown = await s.scalar(
            select(ActivityLog.id).where(ActivityLog.id == entry.id, activity_visibility(False))
        )
        assert shown is None
        await s.rollback()
