"""Backup and restore round trip: real pg_dump/pg_restore on PostGIS, documents on an S3 server
(moto on 127.0.0.1), restored into a new database and a new bucket, served by the API."""

from __future__ import annotations

import tarfile
from pathlib import Path

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from api.backup import BackupError, backup, restore
from api.cli import _build_parser
from api.settings import to_plain_url
from geo.models import LeadStatus, Role
from tests.conftest import PASSWORD, create_database, drop_database, make_settings
from tests.dossier_factory import OWNERS, seed_site
from tests.test_storage_s3 import CREDS, moto_s3

REGION = "eu-west-3"


@pytest.fixture(scope="module")
def s3_url():
    yield from moto_s3("docs-a", "docs-b", "backups")


def storage_of(s3_url: str, bucket: str) -> dict[str, object]:
    return {"s3_bucket": bucket, "s3_endpoint_url": s3_url, "s3_region": REGION, **CREDS}


def restored_settings(settings, url: str, tmp: Path, s3_url: str):
    """The settings of the restored installation: another database and bucket, the same
    encryption keys (kept in the secret store, not in the archive)."""
    keys = settings.crypto.keys.get_secret_value()
    return make_settings(url, tmp, storage=storage_of(s3_url, "docs-b"), crypto={"keys": keys})


@pytest.fixture(scope="module")
def settings(db_url, tmp_path_factory, s3_url):
    return make_settings(
        db_url, tmp_path_factory.mktemp("lfs"), storage=storage_of(s3_url, "docs-a")
    )


PDF = b"%PDF-1.5\n" + bytes(range(256)) * 900 + b"\n%%EOF\n"


@pytest.fixture(scope="module")
async def seeded(state, client, auth_headers):
    """Leads with encrypted owners, reference layers, a document, comments and activity."""
    async with state.sessions() as s:
        lead_id = await seed_site(s, state.cipher, status=LeadStatus.CLIENT_READY, n_parcels=4)
    headers = await auth_headers(Role.ADMIN)
    r = await client.post(
        f"/api/leads/{lead_id}/documents",
        headers=headers,
        files={"file": ("plan de masse.pdf", PDF, "application/pdf")},
        data={"category": "other"},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/leads/{lead_id}/comments", headers=headers, json={"body": "Propriétaire vu."}
    )
    assert r.status_code == 201, r.text
    return {"lead_id": lead_id, "document": r.json()}


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(to_plain_url(url)) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            )
        ]
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


async def test_round_trip(settings, seeded, tmp_path, s3_url, tmp_path_factory) -> None:
    before = counts(settings.database_url)
    assert before["public.leads"] >= 1 and before["public.documents"] == 1
    assert before["public.parcels"] >= 4 and before["public.activity_log"] >= 2

    parser, handlers = _build_parser()
    args = parser.parse_args(["backup", "--to", str(tmp_path)])
    assert handlers["backup"](args, settings) == 0
    (archive,) = tmp_path.glob("lfs-backup-*.tar")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "database.dump" in names and "manifest.json" in names
    assert sum(n.startswith("documents/") for n in names) == 1

    name = f"lfs_restore_{tmp_path.name[-8:]}"
    url = create_database(name)
    try:
        target = restored_settings(settings, url, tmp_path_factory.mktemp("restored"), s3_url)
        args = parser.parse_args(["restore", str(archive)])
        assert handlers["restore"](args, target) == 0
        assert counts(url) == before
        # The restored API: the lead, its owners decrypted, the document's bytes.
        app = create_app(target)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                admin = await _admin(url, c)
                lead_id = seeded["lead_id"]
                detail = (await c.get(f"/api/leads/{lead_id}", headers=admin)).json()
                owners = detail["foncier"]["owners"]
                assert {o["name"] for o in owners} == {o["name"] for o in OWNERS}
                docs = (await c.get(f"/api/leads/{lead_id}/documents", headers=admin)).json()
                (doc,) = docs["items"]
                dl = await c.get(doc["download_url"], headers=admin)
                assert dl.status_code == 200 and dl.content == PDF
        # A second restore into the same (now full) database is refused, nothing changed
        # (the login above added its web session's refresh token: compared with now).
        full = counts(url)
        with pytest.raises(BackupError, match="not empty"):
            restore(target, str(archive))
        assert counts(url) == full
    finally:
        drop_database(name)


async def _admin(url: str, client: httpx.AsyncClient) -> dict[str, str]:
    """Log in as an ADMIN of the restored database (its users came with it)."""
    with psycopg.connect(to_plain_url(url)) as conn:
        row = conn.execute("SELECT email FROM users WHERE role = 'ADMIN' LIMIT 1").fetchone()
    assert row is not None
    r = await client.post("/api/auth/login", json={"email": row[0], "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_backup_to_s3_and_restore_from_it(settings, seeded, s3_url, tmp_path) -> None:
    result = backup(settings, "s3://backups/nightly")
    assert result.archive.startswith("s3://backups/nightly/lfs-backup-")
    name = f"lfs_restore_s3_{tmp_path.name[-8:]}"
    url = create_database(name)
    try:
        target = restored_settings(settings, url, tmp_path, s3_url)
        restored = restore(target, result.archive)
        assert restored.tables == result.tables
    finally:
        drop_database(name)


def test_damaged_archive_refused(settings, seeded, tmp_path) -> None:
    result = backup(settings, str(tmp_path))
    archive = Path(result.archive)
    # Rewrite the archive with one byte of the dump changed (the manifest kept as it was).
    bad = tmp_path / "bad.tar"
    with tarfile.open(archive) as src, tarfile.open(bad, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "database.dump":
                data = data[:-1] + bytes([data[-1] ^ 1])
            import io

            dst.addfile(member, io.BytesIO(data))
    name = f"lfs_restore_bad_{tmp_path.name[-8:]}"
    url = create_database(name)
    try:
        target = make_settings(url, tmp_path / "t")
        with pytest.raises(BackupError, match="checksum"):
            restore(target, str(bad))
        assert counts(url) == {}  # nothing restored
    finally:
        drop_database(name)
