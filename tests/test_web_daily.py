"""The web app as a daily tool, in Chromium (issue 20): ``web/e2e/daily.mjs``.

French messages for the server's error codes (a deactivated account says so), filters the URL
follows, dialogs that keep the focus, the CSV for French Excel, axe-core on every page with no
serious or critical violation, and a 390×844 pass. Same live server, demo data, users and bundle
as tests/test_web_e2e.py (its fixtures), plus a deactivated user and free parcels for leads.
"""

from __future__ import annotations

import json
import os
import subprocess

import psycopg
import pytest

from api.settings import Settings
from tests.conftest import PASSWORD, LiveServer
from tests.lead_fixtures import sync_url
from tests.test_web_e2e import (  # noqa: F401  (fixtures: the bundle, PVGIS stand-in, settings)
    ARTIFACTS,
    CHROMIUM,
    USERS,
    WEB,
    _seed,
    bundle,
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
        env = {
            **os.environ,
            "E2E_USERS": json.dumps({role: email for role, (email, _) in USERS.items()}),
            "E2E_PASSWORD": PASSWORD,
            "E2E_PARCELS": json.dumps(parcels),
            "E2E_DISABLED": DISABLED,
            "E2E_ARTIFACTS": str(ARTIFACTS),
            "CHROMIUM": CHROMIUM,
        }
        proc = subprocess.run(
            ["node", str(WEB / "e2e" / "daily.mjs"), server.url],
            cwd=WEB,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        server.stop()
    lines = proc.stdout.strip().splitlines()
    figures = json.loads(lines[-1]) if lines else {}
    assert proc.returncode == 0 and figures.get("ok"), (
        f"daily e2e failed (see {ARTIFACTS}/daily/failure.png)\n{figures.get('error')}\n"
        f"{proc.stderr[-4000:]}"
    )
    axe = figures["axe"]
    strict = {k: v for k, v in axe.items() if v["strict"]}
    assert len(strict) >= 15 and all(v["serious_or_critical"] == 0 for v in strict.values()), axe
    assert figures["csv_bytes"] > 100
    shown = {k: v for k, v in figures.items() if k != "screenshots"}
    print("web daily figures:", json.dumps(shown))
