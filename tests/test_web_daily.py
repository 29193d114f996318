"""The web app as a daily tool, in Chromium (issue 20): ``web/e2e/daily.mjs``.

French messages for the server's error codes (a deactivated account says so), filters the URL
follows, dialogs that keep the focus, the CSV for French Excel, axe-core on every page with no
serious or critical violation, and a 390×844 pass. Same live server, demo data, users and bundle
as tests/test_web_e2e.py (its fixtures), plus a deactivated user and free parcels for leads.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from api.settings import Settings
from tests.conftest import LiveServer
from tests.lead_fixtures import sync_url
from tests.server_process import worker_process
from tests.test_web_e2e import (  # noqa: F401  (fixtures: the bundle, PVGIS stand-in, settings)
    ARTIFACTS,
    CHROMIUM,
    USERS,
    WEB,
    _seed,
    bundle,
    run_scenario,
    settings,
    standin,
)

pytestmark = pytest.mark.slow

DISABLED = "ancien@lfs.test"


def _more(db_url: str) -> list[str]:
    """A deactivated user (same password), and the largest demo parcels of 69114 to make leads
    from (the API refuses sites under 100 m²)."""
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (email, full_name, role, password_hash, is_active)"
            " SELECT %s, 'Ancien Ops', 'OPS', password_hash, false FROM users"
            " WHERE email = %s",
            (DISABLED, USERS["OPS"][0]),
        )
        rows = conn.execute(
            "SELECT id FROM parcels WHERE commune = '69114' AND area_m2 BETWEEN 2000 AND 200000"
            " ORDER BY area_m2 DESC LIMIT 4"
        ).fetchall()
    return [r[0] for r in rows]


async def test_web_daily(settings: Settings, db_url: str) -> None:  # noqa: F811
    await _seed(settings)
    parcels = _more(db_url)
    assert len(parcels) >= 2, parcels
    server = LiveServer(settings).start()
    try:
        # The worker writes the pipeline page's CSV (POST /api/leads/exports).
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with worker_process(settings, ARTIFACTS / "daily-worker.log"):
            figures = run_scenario(
                "daily.mjs",
                server.url,
                "daily/failure.png",
                E2E_PARCELS=json.dumps(parcels),
                E2E_DISABLED=DISABLED,
            )
    finally:
        server.stop()
    axe = figures["axe"]
    strict = {k: v for k, v in axe.items() if v["strict"]}
    assert len(strict) >= 15 and all(v["serious_or_critical"] == 0 for v in strict.values()), axe
    assert figures["csv_bytes"] > 100
    shown = {k: v for k, v in figures.items() if k != "screenshots"}
    print("web daily figures:", json.dumps(shown))
