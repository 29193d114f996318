"""Behind a reverse proxy, with a real `leadfactory serve`: X-Forwarded-For is honoured from the
configured proxies only (the per-IP rate limit and the log see the real client), ignored from
anyone else; the JSON request log: one line per request, its id, route, status, user, no token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.settings import Settings
from geo.models import Role
from tests.conftest import HeadersFactory
from tests.server_process import ServerProcess, wait_until

LIMITED = "/api/web/config"  # cheap, anonymous, counted by the API rate limit


def serve(settings: Settings, log: Path, **env: str) -> ServerProcess:
    """`leadfactory serve` with the API limit at 3 a minute and its request log on."""
    server = ServerProcess(settings, log, LFS_RATE_LIMIT__API_PER_MINUTE="3", **env)
    server.argv = [a for a in server.argv if a != "--no-access-log"]
    server.argv[server.argv.index("--log-level") + 1] = "info"
    return server


def statuses(server: ServerProcess, *forwarded: str) -> list[int]:
    """The status of one request per X-Forwarded-For value, in order."""
    with httpx.Client(base_url=server.url) as c:
        return [c.get(LIMITED, headers={"X-Forwarded-For": f}).status_code for f in forwarded]


def json_lines(log: Path) -> list[dict[str, Any]]:
    """The server's log lines, each parsed (fails on a line that is not JSON)."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@pytest.fixture
def servers() -> Any:
    started: list[ServerProcess] = []
    yield started
    for s in started:
        s.close()


async def test_forged_forwarded_for_is_ignored_and_json_log(
    settings: Settings,
    tmp_path: Path,
    client: httpx.AsyncClient,
    auth_headers: HeadersFactory,
    servers: list[Any],
) -> None:
    headers = await auth_headers(Role.OPS)
    # A tile token: the one kind of token a URL may carry (and a log line must not).
    token = (await client.post("/api/auth/tile-token", headers=headers)).json()["token"]
    log = tmp_path / "untrusted.log"
    server = serve(settings, log, LFS_LOG_FORMAT="json")
    servers.append(server)
    server.start()
    # Four "different clients" by their forged header: one bucket (127.0.0.1), the 4th refused.
    assert statuses(server, "203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4") == [
        200,
        200,
        200,
        429,
    ]
    with httpx.Client(base_url=server.url) as c:
        r = c.get(
            f"/ogc/collections/leads/items?token={token}&limit=1",
            headers={"X-Request-ID": "trace-42", "X-Forwarded-For": "203.0.113.9"},
        )
        assert r.status_code == 200 and r.headers["x-request-id"] == "trace-42"
    # The line is written once the answer is sent: wait for it before the server is killed.
    wait_until(lambda: "trace-42" in log.read_text(), 10, "the request's log line")
    server.close()

    lines = json_lines(log)
    requests = [line for line in lines if line["logger"] == "lfs.request"]
    limited = [line for line in requests if line["route"] == LIMITED or line["status"] == 429]
    # The refusal comes before routing: no route template, one series for all of them.
    assert [(line["route"], line["status"]) for line in limited] == [
        *[(LIMITED, 200)] * 3,
        ("<unmatched>", 429),
    ]
    assert {line["client"] for line in requests} == {"127.0.0.1"}
    ogc = [line for line in requests if line["request_id"] == "trace-42"]
    assert len(ogc) == 1, requests  # one line per request
    assert ogc[0]["route"] == "/ogc/collections/{collection_id}/items"
    assert ogc[0]["status"] == 200 and isinstance(ogc[0]["user_id"], int)
    assert ogc[0]["method"] == "GET" and ogc[0]["duration_ms"] >= 0
    assert all(len(line["request_id"]) == 32 for line in requests if line is not ogc[0])
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]  # replaced
    assert token not in log.read_text()


async def test_forwarded_for_from_a_trusted_proxy(
    settings: Settings, tmp_path: Path, servers: list[Any]
) -> None:
    log = tmp_path / "trusted.log"
    server = serve(settings, log, LFS_FORWARDED_ALLOW_IPS="10.9.8.7, 127.0.0.1")
    servers.append(server)
    server.start()
    # Each real client has its own bucket: 3 from one address pass, its 4th is refused, and
    # another address still passes.
    got = statuses(server, *["198.51.100.7"] * 4, "198.51.100.8", "192.0.2.1, 198.51.100.9")
    assert got == [200, 200, 200, 429, 200, 200]
    # The access log names the client the proxy vouched for (the last hop it appended).
    wait_until(lambda: "198.51.100.9" in log.read_text(), 10, "the last request's log line")
    server.close()
    assert "198.51.100.7" in log.read_text()
