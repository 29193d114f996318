"""Test fixtures: a real PostGIS database per test module, cloned from a migrated template.

The run's template database is built once by running the Alembic migrations; each test module
gets its own copy (``CREATE DATABASE … TEMPLATE``), so modules are isolated without cleaning
tables, and tests can use real concurrent connections. Everything is dropped at the end.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from api.app import create_app
from api.cli import run_migrations
from api.security import hash_password
from api.settings import Settings, resolve_dev_secrets, to_plain_url
from api.state import AppState
from geo.models import Role, User
from tests.geocoder_standin import GeocoderStandin
from tests.tile_standin import TileStandin

RUN_ID = f"lfs_t{os.getpid()}_{uuid.uuid4().hex[:6]}"
_counter = itertools.count()
# Everything the tests read is inside the repository: data/ (the demo files) and tests/fixtures/
# (provenance of both in data/SOURCES.md); tests/test_self_contained.py keeps it so.
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
FIXTURES = ROOT / "tests" / "fixtures"
PASSWORD = "correct-horse-battery"
# A cheap bcrypt hash for factory users (cost 10 is the floor the product accepts).
_PASSWORD_HASH = hash_password(PASSWORD, rounds=10)


def read_json(path: Path) -> Any:
    """A JSON file of the repository, gzipped (``.gz``) or not."""
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.exit("DATABASE_URL is not set: run the tests with `make test`", returncode=2)
    return to_plain_url(url)


def db_url_for(name: str) -> str:
    """The server URL pointed at another database."""
    base = _server_url().rsplit("/", 1)[0]
    return f"{base}/{name}"


def _admin_sql(sql: str) -> None:
    with psycopg.connect(db_url_for("postgres"), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def create_database(name: str, template: str | None = None) -> str:
    """Create a database (optionally from a template); return its URL."""
    tpl = f' TEMPLATE "{template}"' if template else ""
    _admin_sql(f'CREATE DATABASE "{name}"{tpl}')
    return db_url_for(name)


def drop_database(name: str) -> None:
    """Drop a database, disconnecting whoever is still on it."""
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    """A database migrated to head, used as the template of every module's database."""
    name = f"{RUN_ID}_tpl"
    url = create_database(name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        run_migrations(url)
        yield name
    finally:
        drop_database(name)


def fresh_database(template_db: str) -> tuple[str, str]:
    """A new database cloned from the template: (name, url)."""
    name = f"{RUN_ID}_{next(_counter)}"
    return name, create_database(name, template_db)


@pytest.fixture(scope="module")
def db_url(template_db: str) -> Iterator[str]:
    """This module's own database."""
    name, url = fresh_database(template_db)
    try:
        yield url
    finally:
        drop_database(name)


def make_settings(db_url: str, tmp: Path, **overrides: object) -> Settings:
    """Test settings: explicit, no environment, limits off unless a test sets them."""
    base: dict[str, object] = {
        "environment": "test",
        "database_url": db_url,
        "data_dir": tmp,
        "rate_limit": {"login_per_minute": 0, "api_per_minute": 0},
        "auth": {"bcrypt_rounds": 10},
        "storage": {"local_dir": tmp / "files"},
        "pvgis": {"base_url": "http://127.0.0.1:9/api", "retries": 0, "timeout_s": 2},
        "web_dist": tmp / "no-web",
        # No basemap: a test never asks the IGN Géoplateforme for tiles (tests/tile_standin.py).
        "basemap": {"sources": []},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}  # type: ignore[dict-item]
        else:
            base[key] = value
    return resolve_dev_secrets(Settings.model_validate(base))


@pytest.fixture(scope="module")
def settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for this module's app."""
    return make_settings(db_url, tmp_path_factory.mktemp("lfs"))


@pytest.fixture(scope="module")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app, with its lifespan running."""
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture(scope="module")
def state(app: FastAPI) -> AppState:
    """The running app's state (engine, sessions, cipher)."""
    s: AppState = app.state.lfs
    return s


@pytest.fixture(scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client speaking to the app in process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


UserFactory = Callable[..., Awaitable[User]]


@pytest.fixture(scope="module")
def make_user(state: AppState) -> UserFactory:
    """Create a user directly in the database (password: PASSWORD)."""

    async def _make(role: Role = Role.OPS, email: str | None = None, **kw: object) -> User:
        async with state.sessions() as session:
            user = User(
                email=email or f"{role.value.lower()}-{uuid.uuid4().hex[:8]}@example.fr",
                password_hash=_PASSWORD_HASH,
                role=role,
                full_name=str(kw.pop("full_name", f"Test {role.value.title()}")),
                **kw,
            )
            session.add(user)
            await session.commit()
            return user

    return _make


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the API and return the access token."""
    r = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


HeadersFactory = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture(scope="module")
def auth_headers(client: httpx.AsyncClient, make_user: UserFactory) -> HeadersFactory:
    """A new user of a role, logged in: its Authorization header."""

    async def _headers(role: Role = Role.OPS, user: User | None = None) -> dict[str, str]:
        user = user or await make_user(role)
        return {"Authorization": f"Bearer {await login(client, user.email)}"}

    return _headers


@pytest.fixture(scope="module")
async def people(make_user: UserFactory, auth_headers: HeadersFactory) -> dict[str, Any]:
    """One user per ``tests.lead_fixtures.PEOPLE`` entry (admin, manager, ops, ops2, sales),
    logged in: ``{key: (user, Authorization header)}``. A module may define its own."""
    from tests.lead_fixtures import make_people  # it imports this module

    return await make_people(make_user, auth_headers)


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    """Assert an RFC 9457 problem+json answer with this status; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert "Traceback" not in response.text
    return body


class LiveServer:
    """The app served by uvicorn in a thread on a free loopback port (for GDAL, browsers…)."""

    def __init__(self, settings: Settings) -> None:
        import socket
        import threading

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        """Start and wait until it accepts connections."""
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """This module's app served over real HTTP on 127.0.0.1 (its own process-wide thread)."""
    server = LiveServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tiles() -> Iterator[TileStandin]:
    """A raster tile server on loopback (the basemaps' stand-in, tests/tile_standin.py)."""
    s = TileStandin().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def geocoder() -> Iterator[GeocoderStandin]:
    """A BAN-protocol geocoder on loopback (tests/geocoder_standin.py)."""
    s = GeocoderStandin().start()
    yield s
    s.stop()
