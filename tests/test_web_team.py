"""The pipeline as a team uses it, in Chromium (issue 20): ``web/e2e/team.mjs``.

OPS mentions the manager in a comment (the completion picked with the mouse); the manager sees
the bell's count, opens the notification and lands on the lead; then selects three rows of the
list (click, shift-click) and assigns them at once; axe-core with no serious or critical
violation on the new UI. Same live server, demo data, users and bundle as tests/test_web_e2e.py.
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
    """Four large demo parcels of 69114 to make leads from."""
    with psycopg.connect(sync_url(db_url)) as conn:
        rows = conn.execute(
            "SELECT id FROM parcels WHERE commune = '69114' AND area_m2 BETWEEN 2000 AND 200000"
            " ORDER BY area_m2 DESC LIMIT 4"
        ).fetchall()
    return [r[0] for r in rows]


async def test_web_team(settings: Settings, db_url: str) -> None:  # noqa: F811
    await _seed(settings)
    parcels = _parcels(db_url)
    assert len(parcels) == 4, parcels
    server = LiveServer(settings).start()
    try:
        figures = run_scenario(
            "team.mjs", server.url, "team/failure.png", E2E_PARCELS=json.dumps(parcels)
        )
    finally:
        server.stop()
    axe = figures["axe"]
    assert set(axe) >= {
        "mention-completion",
        "notifications-open",
        "bulk-bar",
        "kanban-totals",
        "team-390",
    }
    assert all(v["serious_or_critical"] == 0 for v in axe.values()), axe
    assert figures["bulk_assigned"] == 3
    assert figures["unread_after"] == figures["unread_before"] - 1
    print("web team figures:", json.dumps({k: v for k, v in figures.items() if k != "screenshots"}))
