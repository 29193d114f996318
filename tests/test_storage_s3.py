"""The S3 storage backend against a real S3-compatible server (moto in server mode on 127.0.0.1):
uploads, streaming downloads, deletes and the dossier through the API, and a failing bucket
leaving no record behind."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import func, select

from geo.models import Document, LeadStatus, Role
from reports.storage import S3Storage, StorageMissing
from tests.conftest import assert_problem, make_settings
from tests.dossier_factory import seed_site

BUCKET = "lfs-documents"
CREDS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_s3(*buckets: str) -> Iterator[str]:
    """An S3 server (moto) on a free loopback port with these buckets: its URL, until closed."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="eu-west-3",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for bucket in buckets:
        client.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
        )
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_url():
    yield from moto_s3(BUCKET)


@pytest.fixture(scope="module")
def settings(db_url, tmp_path_factory, s3_url):
    return make_settings(
        db_url,
        tmp_path_factory.mktemp("lfs"),
        storage={"s3_bucket": BUCKET, "s3_endpoint_url": s3_url, "s3_region": "eu-west-3", **CREDS},
    )


def bucket_keys(s3_url: str) -> list[str]:
    c = boto3.client(
        "s3",
        endpoint_url=s3_url,
        region_name="eu-west-3",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return [o["Key"] for o in c.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


@pytest.fixture(scope="module")
async def lead_id(state):
    async with state.sessions() as s:
        return await seed_site(s, state.cipher, status=LeadStatus.CLIENT_READY, n_parcels=4)


async def test_upload_download_delete_on_s3(client, auth_headers, lead_id, s3_url, settings):
    headers = await auth_headers(Role.MANAGER)
    data = b"%PDF-1.5\n" + bytes(range(256)) * 2000  # 512 KB: more than one download chunk
    r = await client.post(
        f"/api/leads/{lead_id}/documents",
        headers=headers,
        files={"file": ("titre de propriété.pdf", data)},
        data={"category": "title_deed"},
    )
    assert r.status_code == 201, r.text
    doc = r.json()
    keys = bucket_keys(s3_url)
    assert len(keys) == 1 and keys[0].startswith(f"leads/{lead_id}/")
    local = settings.storage.local_dir
    assert not local.exists() or not any(local.rglob("*.pdf"))  # nothing written locally
    dl = await client.get(doc["download_url"], headers=headers)
    assert dl.status_code == 200 and dl.content == data
    assert "attachment" in dl.headers["content-disposition"]
    r = await client.delete(doc["download_url"], headers=headers)
    assert r.status_code == 204
    assert bucket_keys(s3_url) == []


async def test_dossier_stored_on_s3(client, auth_headers, lead_id, s3_url):
    headers = await auth_headers(Role.COMMERCIAL)
    r = await client.post(f"/api/leads/{lead_id}/generate-pdf", headers=headers)
    assert r.status_code == 201, r.text
    assert any(k.endswith("-commercial.pdf") for k in bucket_keys(s3_url))
    pdf = await client.get(r.json()["download_url"], headers=headers)
    assert pdf.content.startswith(b"%PDF")


async def test_unreachable_bucket_is_503_and_records_nothing(
    db_url, tmp_path_factory, s3_url, state, make_user, lead_id
):
    """The storage write fails (no such bucket): 503, and no document row is left."""
    import httpx
    from asgi_lifespan import LifespanManager

    from api.app import create_app
    from tests.conftest import PASSWORD

    bad = make_settings(
        db_url,
        tmp_path_factory.mktemp("lfs"),
        storage={"s3_bucket": "no-such-bucket", "s3_endpoint_url": s3_url, **CREDS},
    )
    app = create_app(bad)
    user = await make_user(Role.ADMIN)
    async with state.sessions() as s:
        before = await s.scalar(select(func.count()).select_from(Document))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            tok = (
                await c.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
            ).json()
            h = {"Authorization": f"Bearer {tok['access_token']}"}
            r = await c.post(
                f"/api/leads/{lead_id}/documents",
                headers=h,
                files={"file": ("a.pdf", b"%PDF-1.4 nope")},
            )
            assert_problem(r, 503)
    async with state.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Document)) == before


def test_s3_storage_interface(s3_url, tmp_path):
    st = S3Storage(
        BUCKET,
        endpoint_url=s3_url,
        region="eu-west-3",
        access_key_id="testing",
        secret_access_key="testing",
        prefix="unit",
    )
    src = tmp_path / "f.bin"
    src.write_bytes(b"abc" * 1000)
    st.put_file("a/b.bin", src, "application/octet-stream")
    assert st.exists("a/b.bin")
    assert st.read_bytes("a/b.bin") == b"abc" * 1000
    assert "unit/a/b.bin" in bucket_keys(s3_url)
    listed = list(st.iter_objects("a"))
    assert [k for k, _ in listed] == ["a/b.bin"] and listed[0][1].tzinfo is not None
    st.delete("a/b.bin")
    st.delete("a/b.bin")  # idempotent
    assert not st.exists("a/b.bin")
    with pytest.raises(StorageMissing):
        st.open_chunks("a/b.bin")
