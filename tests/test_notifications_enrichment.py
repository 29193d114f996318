"""An enrichment that moves a lead NEW → ENRICHED tells its creator and assignee (not the one
who ran it), in the enrichment's transaction."""

from __future__ import annotations

from geo.models import Role
from tests.enrichment_helpers import add_commune, ewkt, make_lead, pvgis_fixtures, rect

standin, settings = pvgis_fixtures("enrnotif", pvgis={"retries": 2, "backoff_s": 0.01})


async def test_enrichment_move_notifies_creator_and_assignee(
    client, state, auth_headers, make_user
) -> None:
    await add_commune(state.sessions, "03001", "Testville", rect(-10_000, -10_000, 30_000, 10_000))
    creator, assignee, manager = (
        await make_user(Role.OPS),
        await make_user(Role.OPS),
        await make_user(Role.MANAGER),
    )
    lead_id = await make_lead(
        state.sessions,
        ewkt(rect(0, 0, 500, 300)),
        assignee_id=assignee.id,
        user_id=creator.id,
    )
    r = await client.post(f"/api/enrichment/{lead_id}", headers=await auth_headers(user=manager))
    assert r.status_code == 200, r.text
    for who in (creator, assignee):
        got = (await client.get("/api/notifications", headers=await auth_headers(user=who))).json()
        moved = [n for n in got["items"] if n["lead_id"] == lead_id]
        assert [(n["kind"], n["data"], n["actor_id"]) for n in moved] == [
            ("status_changed", {"from": "NEW", "to": "ENRICHED"}, manager.id)
        ]
    # The one who ran it is not told.
    got = (await client.get("/api/notifications", headers=await auth_headers(user=manager))).json()
    assert got["total"] == 0
