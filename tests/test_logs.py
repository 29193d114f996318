"""No token reaches a log line: the filter on its own, then `leadfactory serve`'s real logs."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from uvicorn.logging import AccessFormatter

from api.logs import REDACTED, RedactTokens, redact
from api.settings import PROJECT_ROOT, Settings
from geo.models import Role
from tests.conftest import login

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3In0.c2lnbmF0dXJl"


def test_redact() -> None:
    assert redact(f"GET /ogc/collections/leads/items?token={JWT}&limit=2") == (
        f"GET /ogc/collections/leads/items?token={REDACTED}&limit=2"
    )
    assert (
        redact("/tiles/x.json?access_token=abc123&v=1")
        == f"/tiles/x.json?access_token={REDACTED}&v=1"
    )
    assert redact("url=%2Fogc%3Ftoken%3Dabc") == f"url=%2Fogc%3Ftoken%3D{REDACTED}"
    assert redact("Authorization: Bearer abc.def-ghi") == f"Authorization: Bearer {REDACTED}"
    assert redact(f"got {JWT} here") == f"got {REDACTED} here"
    assert redact("token count: 3, /api/leads?q=tokens") == "token count: 3, /api/leads?q=tokens"


def _record(
    msg: str, args: tuple[object, ...], exc: BaseException | None = None
) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, msg, args, exc_info)


def test_filter_on_uvicorn_access_records_and_tracebacks() -> None:
    # uvicorn's access record: (client, method, path with query, HTTP version, status).
    record = _record(
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/tiles/leads/4/8/5.mvt?token={JWT}", "1.1", 200),
    )
    assert RedactTokens().filter(record) is True
    line = AccessFormatter(fmt="%(message)s", use_colors=False).format(record)
    assert JWT not in line and f"token={REDACTED}" in line and "200" in line
    try:
        raise ValueError(f"bad url /ogc?token={JWT}")
    except ValueError as exc:
        record = _record("failed on %s", (httpx.URL(f"http://h/ogc?token={JWT}"),), exc)
    RedactTokens().filter(record)
    line = logging.Formatter().format(record)
    assert JWT not in line and "on http://h/ogc?token=[redacted]" in line, line
    assert "ValueError: bad url /ogc?token=[redacted]" in line, line
    # Numbers keep their %d formatting.
    record = _record("%d tiles", (3,))
    RedactTokens().filter(record)
    assert record.getMessage() == "3 tiles"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_served_access_log_has_no_token(
    client: httpx.AsyncClient,
    make_user,
    settings: Settings,
    tmp_path: Path,
) -> None:
    user = await make_user(Role.MANAGER)
    access = await login(client, user.email)
    bearer = {"Authorization": f"Bearer {access}"}
    tile = (await client.post("/api/auth/tile-token", headers=bearer)).json()["token"]
    port = _free_port()
    assert settings.auth.jwt_secret is not None and settings.crypto.keys is not None
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LFS_ENVIRONMENT": "test",
        "LFS_AUTH__JWT_SECRET": settings.auth.jwt_secret.get_secret_value(),
        "LFS_CRYPTO__KEYS": settings.crypto.keys.get_secret_value(),
        "LFS_DATA_DIR": str(tmp_path),
        "LFS_WEB_DIST": str(tmp_path / "no-web"),
        "LFS_RATE_LIMIT__API_PER_MINUTE": "0",
    }
    log = (tmp_path / "server.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--log-level", "info"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            while True:
                try:
                    if (await http.get("/api/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.2)
            r = await http.get("/ogc/collections/leads/items", params={"token": tile, "limit": 1})
            assert r.status_code == 200, r.text
            assert (await http.get(f"/tiles/leads/4/8/5.mvt?token={tile}")).status_code in (
                200,
                204,
            )
            # Refused, and not logged either.
            r = await http.get("/ogc/collections/leads/items", params={"token": access})
            assert r.status_code == 401
            assert (await http.get("/api/auth/me", headers=bearer)).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    log.seek(0)
    text = log.read()
    assert "/ogc/collections/leads/items?token=" in text, text  # the access log is on
    assert tile not in text and access not in text, text
    assert f"token={REDACTED}" in text
