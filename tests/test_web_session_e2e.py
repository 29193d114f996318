"""The web session in Chromium (issue 20): ``web/e2e/session.mjs``.

Log in, close every tab, paste a lead URL in a new tab → the lead (the httpOnly refresh cookie,
no token in the page's storage); the browser restarted on its profile → still the lead; the user
deactivated by an ADMIN through the API → the page's next request lands on the login page,
which says the account is deactivated. Same live server, demo data, users and bundle as
tests/test_web_e2e.py (its fixtures).
"""

from __future__ import annotations

import json

import psycopg
import pytest

from api.settings import Settings
from tests.conftest import LiveServer
from tests.lead_fixtures import sync_url
from tests.test_web_e2e import (  # noqa: F401  (fixtures: the bundle, PVGIS stand-in, settings)
    _seed,
    bundle,
    run_scenario,
    settings,
    standin,
)

pytestmark = pytest.mark.slow


def _parcels(db_url: str) -> list[str]:
    """Demo parcels of 69114 large enough for a lead."""
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id FROM parcels WHERE commune = '69114' AND area_m2 BETWEEN 2000 AND 200000"
            " ORDER BY area_m2 DESC LIMIT 2"
        ).fetchall()
    return [r[0] for r in rows]


async def test_web_session(settings: Settings, db_url: str) -> None:  # noqa: F811
    await _seed(settings)
    parcels = _parcels(db_url)
    assert parcels
    server = LiveServer(settings).start()
    try:
        figures = run_scenario(
            "session.mjs", server.url, "session/failure.png", E2E_PARCELS=json.dumps(parcels)
        )
    finally:
        server.stop()
    assert figures["new_tab_to_lead_ms"] > 0 and figures["restart_to_lead_ms"] > 0
    assert all(v["serious_or_critical"] == 0 for v in figures["axe"].values()), figures["axe"]
    with psycopg.connect(sync_url(db_url)) as conn:
        # The deactivation revoked every refresh token of the user.
        open_ = conn.execute(
            "SELECT count(*) FROM refresh_tokens r JOIN users u ON u.id = r.user_id"
            " WHERE u.email = 'ops@lfs.test' AND r.revoked_at IS NULL"
        ).fetchone()
    assert open_ == (0,)
    print(
        "web session figures:", json.dumps({k: v for k, v in figures.items() if k != "screenshots"})
    )
