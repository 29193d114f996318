"""LFS_SENTRY_DSN: an unexpected error is reported to Sentry (a stand-in on loopback) with its
route and request id, and without the token, the query string or the body."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
from pydantic import SecretStr

import api.routers.leads
import api.web
from api.app import create_app
from api.error_reports import init_error_reports, scrub
from api.settings import Settings
from geo.models import Role
from tests.conftest import HeadersFactory
from tests.sentry_standin import SentryStandin, parse_envelope

OWNER = "Jeanne Propriétaire, 3 chemin des Vignes"


@pytest.fixture
def standin() -> Iterator[SentryStandin]:
    s = SentryStandin().start()
    try:
        yield s
    finally:
        sentry_sdk.get_client().close()  # the SDK is process-wide: off for the next tests
        sentry_sdk.init(dsn=None)
        s.stop()


def test_envelope_parser() -> None:
    body = (
        b'{"event_id":"abc"}\n{"type":"event","length":13}\n{"message":1}\n'
        b'{"type":"attachment"}\nline\n'
    )
    header, items = parse_envelope(body)
    assert header == {"event_id": "abc"}
    assert items == [
        ({"type": "event", "length": 13}, b'{"message":1}'),
        ({"type": "attachment"}, b"line"),
    ]


async def test_a_500_is_reported_with_route_and_request_id_without_secrets(
    standin: SentryStandin,
    settings: Settings,
    auth_headers: HeadersFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = await auth_headers(Role.OPS)
    token = headers["Authorization"].removeprefix("Bearer ")
    app = create_app(settings.model_copy(update={"sentry_dsn": SecretStr(standin.dsn)}))
    assert sentry_sdk.get_client().is_active()

    def broken_list(*args: object, **kwargs: object) -> None:
        # Reached once authenticated, as the real list: the report names the user.
        raise RuntimeError(f"owner {OWNER} could not be read")

    def broken_config(settings: object) -> None:
        raise ValueError(f"bad value {OWNER}")

    # The lead list's first step once authenticated (its query check: the URL carries a token)
    # and a configuration read.
    monkeypatch.setattr(api.routers.leads, "_reject_unknown", broken_list)
    monkeypatch.setattr(api.web, "public_mapbox_token", broken_config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r1 = await c.get(
                f"/api/leads?q=secret-search&token={token}",
                headers={**headers, "X-Request-ID": "req-hot-1"},
            )
            r2 = await c.get(
                "/api/web/config?access_token=zq-query-secret-9431",
                headers={
                    **headers,
                    "X-Request-ID": "req-full-2",
                    "Cookie": "session=zq-cookie-secret-5527",
                },
            )
            assert (await c.get("/api/leads/999999999", headers=headers)).status_code == 404
    assert r1.status_code == 500 and r2.status_code == 500
    assert r1.headers["x-request-id"] == "req-hot-1"
    assert r1.headers["content-type"] == "application/problem+json"
    assert sentry_sdk.flush(timeout=10) is None
    events = standin.events()
    assert standin.paths and all(p == "/api/42/envelope/" for p in standin.paths)
    by_id = {e["tags"]["request_id"]: e for e in events}
    assert set(by_id) == {"req-hot-1", "req-full-2"}, events  # once each; the 404 is not an error
    hot, full = by_id["req-hot-1"], by_id["req-full-2"]
    assert hot["tags"]["route"] == "/api/leads" and hot["transaction"] == "GET /api/leads"
    assert full["tags"]["route"] == "/api/web/config"
    assert hot["exception"]["values"][-1]["type"] == "RuntimeError"
    assert full["exception"]["values"][-1]["type"] == "ValueError"
    assert set(hot["user"]) == {"id"} and hot["user"]["id"].isdigit()  # the id, nothing else
    assert hot["tags"]["component"] == "api"
    raw = b"".join(standin.envelopes).decode()
    # Secrets long enough never to turn up by chance in the envelopes' random hex ids.
    for secret in (
        token,
        "secret-search",
        "access_token",
        "zq-query-secret",
        "zq-cookie-secret",
        "Jeanne",
        "Cookie",
    ):
        assert secret not in raw, secret
    assert "authorization" not in raw.lower()


def test_scrub_strips_what_the_sdk_could_add() -> None:
    try:
        raise KeyError(OWNER)
    except KeyError as exc:
        hint = {"exc_info": (type(exc), exc, exc.__traceback__)}
    event = {
        "request": {
            "url": "http://h/api/x?token=abc",
            "method": "GET",
            "query_string": "token=abc",
            "headers": {"Authorization": "Bearer abc"},
            "cookies": {"s": "1"},
            "data": {"password": "pw"},
        },
        "exception": {"values": [{"type": "KeyError", "value": repr(OWNER)}]},
        "logentry": {"message": "failed for %s", "params": [OWNER], "formatted": OWNER},
        "breadcrumbs": {"values": [{"message": OWNER}]},
        "extra": {"sys.argv": ["leadfactory", "users", "create", "--password", "pw"]},
    }
    out: dict[str, Any] = scrub(event, hint)  # type: ignore[arg-type, assignment]
    assert out["request"] == {"url": "http://h/api/x", "method": "GET"}
    assert out["exception"]["values"][0]["value"] == "KeyError"
    assert out["logentry"] == {"message": "failed for %s"}
    assert OWNER not in json.dumps(out) and "pw" not in json.dumps(out)


def test_worker_errors_are_reported_scrubbed(standin: SentryStandin, settings: Settings) -> None:
    """The worker's configuration: an error it logs (``api.queue``: a lead that failed on its
    last attempt) is an event tagged ``worker``, its exception without its message."""
    assert init_error_reports(
        settings.model_copy(update={"sentry_dsn": SecretStr(standin.dsn)}), "worker"
    )
    try:
        raise RuntimeError(f"cannot write owner {OWNER}")
    except RuntimeError:
        logging.getLogger("api.queue").exception("lead %s failed in job %s", 12, 3)
    sentry_sdk.flush(timeout=10)
    (event,) = standin.events()
    assert event["tags"]["component"] == "worker" and event["server_name"] == "worker"
    assert event["exception"]["values"][-1] == {
        **event["exception"]["values"][-1],
        "type": "RuntimeError",
        "value": "RuntimeError",
    }
    assert event["logentry"] == {"message": "lead %s failed in job %s"}
    assert "sys.argv" not in event.get("extra", {}) and "_meta" not in event
    assert "Jeanne" not in b"".join(standin.envelopes).decode()
