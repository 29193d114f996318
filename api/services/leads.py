"""Leads: create, read, edit, assign, move and archive, each in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from geoalchemy2 import WKBElement
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.leads import (
    AssignIn,
    FoncierIn,
    FoncierOut,
    LeadCreate,
    LeadUpdate,
    TransitionIn,
)
from api.services.leads_geometry import (
    Conn,
    GeometryLimits,
    PlacedGeometry,
    commune_facts,
    department_of,
    driver_connection,
    parcel_at,
    place_geojson,
    place_parcels,
    placed_from,
    read_geojson,
)
from api.services.notifications import notify, notify_status_changed
from geo.activity import bump_layer_version, log_activity
from geo.crypto import FieldCipher
from geo.errors import Conflict, InvalidInput, PermissionDenied, PreconditionFailed
from geo.leads import get_visible_lead
from geo.models import (
    Lead,
    LeadFoncier,
    LeadStatus,
    Role,
    User,
)
from geo.models.team import NotificationKind
from geo.pipeline import OPEN_STATUSES, apply_transition, check_may_change
from geo.visibility import Viewer

STAFF = (Role.ADMIN, Role.MANAGER)
ASSIGNED_TO_ME = NotificationKind.ASSIGNED_TO_ME


def viewer_of(user: User) -> Viewer:
    """The visibility identity of a user."""
    return Viewer(user.id, user.role)


def parse_if_match(value: str | None) -> int | None:
    """The version in an If-Match header (``"3"``, ``W/"3"`` or ``*``); None when absent."""
    if value is None or value.strip() == "*":
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise PreconditionFailed(f"If-Match {value!r} is not an ETag of this API")
    return int(raw)


def check_version(lead: Lead, expected: int | None) -> None:
    """412 when the client edits a version that is no longer current."""
    if expected is not None and expected != lead.version:
        raise PreconditionFailed(
            f"lead {lead.id} is at version {lead.version}, not {expected}: reload it",
            current_version=lead.version,
        )


def ensure_worker(user: User, lead: Lead) -> None:
    """COMMERCIAL never edit leads; OPS only the leads assigned to them (``geo.pipeline``)."""
    if user.role is Role.COMMERCIAL:
        raise PermissionDenied("only the assigned OPS user, a MANAGER or an ADMIN may edit a lead")
    check_may_change(user.role, user.id, lead.id, lead.assignee_id)


def name_prefix(insee: str | None) -> str:
    """The internal-name prefix ``<department>-<commune>`` (``69-114``; ``00-000`` unknown).

    The sequence after it comes from the ``lead_name_counters`` row of the prefix, upserted in
    the creating statement: concurrent creations in one commune queue on that row instead of
    reading the same count.
    """
    dept = department_of(insee) or "00"
    return f"{dept}-{insee[len(dept) :] if insee else '000'}"


_ASSIGNABLE = "SELECT role, is_active FROM users WHERE id = $1"


async def check_assignee(conn: Conn, assignee_id: int) -> None:
    """422 unless ``assignee_id`` is an active user who may hold leads (not COMMERCIAL)."""
    row = await conn.fetchrow(_ASSIGNABLE, assignee_id)
    if row is None or not row["is_active"] or row["role"] == Role.COMMERCIAL.value:
        raise InvalidInput(
            f"user {assignee_id} can't be assigned leads (unknown, inactive or sales)"
        )


CREATORS = (Role.ADMIN, Role.MANAGER, Role.OPS)

# One advisory lock per parcel (the site finder takes the same keys), so that two creations
# with a common parcel serialise and the second one sees the first.
_LOCK_PARCELS = """
SELECT count(pg_advisory_xact_lock(k))
FROM (SELECT DISTINCT hashtextextended('parcel:' || p, 0) AS k FROM unnest($1::text[]) AS p
      ORDER BY 1) AS keys
"""
# The active leads holding any of these parcels: more than 1 m² of the parcel inside the lead
# (a neighbour sharing an edge holds none of it).
_TAKEN = """
SELECT l.id, l.internal_name, l.status, array_agg(DISTINCT p.id ORDER BY p.id) AS parcel_ids
FROM parcels AS p
JOIN leads AS l ON l.geom && p.geom AND l.status = ANY($2::text[])
               AND ST_Intersects(l.geom, p.geom)
               AND ST_Area(ST_Intersection(l.geom, p.geom)::geography) > 1.0
WHERE p.id = ANY($1::text[])
GROUP BY l.id ORDER BY l.id
"""


# A drawn outline is a duplicate when it shares more than this part of its own area, or of an
# active lead's, with that lead: drawing by hand along a neighbour's edge leaves slivers, which
# are no duplicate; a drawing inside a lead, or around one, is.
DRAWN_OVERLAP_SHARE = 0.05
# The drawn creations serialise on this key, and with the parcel creations on the keys of the
# parcels they cover (the same as _LOCK_PARCELS'), so two overlapping drawings made at the same
# time see each other.
_LOCK_DRAWN = """
SELECT count(pg_advisory_xact_lock(k))
FROM (SELECT hashtextextended('leads:drawn', 0) AS k
      UNION
      SELECT hashtextextended('parcel:' || p.id, 0) FROM parcels AS p
      WHERE p.geom && ST_GeomFromEWKB($1) AND ST_Intersects(p.geom, ST_GeomFromEWKB($1))
      ORDER BY 1) AS keys
"""
# The active leads a drawn outline overlaps by more than $3 of the smaller of the two areas.
_OVERLAPPED = """
WITH g AS (SELECT ST_GeomFromEWKB($1) AS geom),
hits AS (
    SELECT l.id, l.internal_name, l.status,
           ST_Area(ST_Intersection(l.geom, g.geom)::geography) AS shared_m2,
           least(ST_Area(l.geom::geography), ST_Area(g.geom::geography)) AS smaller_m2
    FROM g JOIN leads AS l ON l.geom && g.geom AND l.status = ANY($2::text[])
                          AND ST_Intersects(l.geom, g.geom)
)
SELECT id, internal_name, status, shared_m2, shared_m2 / nullif(smaller_m2, 0) AS share
FROM hits WHERE shared_m2 > $3 * smaller_m2
ORDER BY id
"""


async def _check_outline_free(conn: Conn, body: LeadCreate, ewkb: bytes) -> list[int]:
    """409 ``lead.overlaps`` naming the active leads a drawn outline overlaps (more than
    :data:`DRAWN_OVERLAP_SHARE` of the smaller area), unless the request allows the duplicate
    (with its reason); the ids of those leads."""
    await conn.fetchval(_LOCK_DRAWN, ewkb)
    open_statuses = sorted(s.value for s in OPEN_STATUSES)
    rows = await conn.fetch(_OVERLAPPED, ewkb, open_statuses, DRAWN_OVERLAP_SHARE)
    if rows and not body.allow_duplicate:
        others = [
            {
                "id": r["id"],
                "internal_name": r["internal_name"],
                "status": r["status"],
                "shared_m2": round(float(r["shared_m2"]), 1),
                "share": round(float(r["share"]), 4),
            }
            for r in rows
        ]
        names = ", ".join(o["internal_name"] for o in others)
        raise Conflict(
            f"Le contour recouvre un lead actif ({names}) : envoyez allow_duplicate avec un "
            "duplicate_reason pour créer ce lead quand même",
            code="lead.overlaps",
            other_leads=others,
        )
    return [r["id"] for r in rows]


async def _check_parcels_free(conn: Conn, body: LeadCreate, parcel_ids: list[str]) -> list[int]:
    """409 ``lead.parcels_taken`` naming the active leads that hold one of ``parcel_ids``,
    unless the request allows the duplicate (with its reason); the ids of those leads."""
    if not parcel_ids:
        return []
    await conn.fetchval(_LOCK_PARCELS, parcel_ids)
    open_statuses = sorted(s.value for s in OPEN_STATUSES)
    rows = await conn.fetch(_TAKEN, parcel_ids, open_statuses)
    if rows and not body.allow_duplicate:
        others = [
            {
                "id": r["id"],
                "internal_name": r["internal_name"],
                "status": r["status"],
                "parcel_ids": list(r["parcel_ids"]),
            }
            for r in rows
        ]
        names = ", ".join(o["internal_name"] for o in others)
        raise Conflict(
            f"Une parcelle est déjà dans un lead actif ({names}) : envoyez allow_duplicate "
            "avec un duplicate_reason pour créer ce lead quand même",
            code="lead.parcels_taken",
            other_leads=others,
        )
    return [r["id"] for r in rows]


async def _place(
    conn: asyncpg.Connection, viewer: Viewer, body: LeadCreate, limits: GeometryLimits
) -> PlacedGeometry:
    """403 unless the caller creates leads, then the lead's geometry (no geometry work for a
    role that can't create)."""
    if viewer.role not in CREATORS:
        names = ", ".join(sorted(r.value for r in CREATORS))
        raise PermissionDenied(f"this action needs one of the roles: {names}")
    if body.geometry is not None:
        row = await read_geojson(conn, body.geometry.model_dump(), limits, repair=body.repair)
        return placed_from(row, limits, repair=body.repair)
    if body.parcel_ids:
        return await place_parcels(conn, body.parcel_ids, limits)
    assert body.point is not None
    pid = await parcel_at(conn, body.point.lat, body.point.lon)
    return await place_parcels(conn, [pid], limits)


async def _commune(
    conn: Conn, placed: PlacedGeometry, given: str | None
) -> tuple[str | None, str | None, str | None]:
    """(insee, name, department): the communes layer first, else the parcels', else the body's."""
    insee = placed.commune_insee or given
    name, dept = placed.commune_name, placed.department
    if insee and name is None:
        name, dept = await commune_facts(conn, insee)
    return insee, name, dept or department_of(insee)


# A new lead in one statement, hence one transaction with the caller's: the commune's name
# counter, the lead, its sourcing, land (parcels given), first status period, activity entry
# and the leads-layer version bump (last: concurrent creations queue on that row only until
# commit).
# $1 name prefix, $2 name, $3 assignee, $4 author, $5 public, $6 INSEE, $7 commune name,
# $8 department, $9 notes, $10 EWKB, $11 source, $12 parcel ids, $13 parcels, $14 activity.
CREATE_SQL = f"""
WITH counter AS (
    INSERT INTO lead_name_counters AS c (prefix, last_seq) VALUES ($1, 1)
    ON CONFLICT (prefix) DO UPDATE SET last_seq = c.last_seq + 1
    RETURNING last_seq
), l AS (
    INSERT INTO leads (internal_name, name, status, status_changed_at, assignee_id,
                       created_by_id, is_public, commune_insee, commune_name, department, notes,
                       geom, enrichment_stale)
    SELECT $1 || '-' || lpad(last_seq::text, greatest(4, length(last_seq::text)), '0'), $2,
           '{LeadStatus.NEW.value}', now(), $3, $4, $5, $6, $7, $8, $9, ST_GeomFromEWKB($10), true
    FROM counter
    RETURNING *
), sourcing AS (
    INSERT INTO lead_sourcing (lead_id, source, found_by_id, found_at, source_notes, parcel_ids)
    SELECT id, $11, $4, now(), $9, $12::jsonb FROM l
), land AS (
    INSERT INTO lead_foncier (lead_id, parcels) SELECT id, $13::jsonb FROM l WHERE $13 IS NOT NULL
), history AS (
    INSERT INTO lead_status_history (lead_id, status, entered_at, changed_by_id)
    SELECT id, status, status_changed_at, $4 FROM l
), activity AS (
    INSERT INTO activity_log (lead_id, user_id, action, entity, entity_id, after)
    SELECT id, $4, 'create', 'lead', id,
           $14::jsonb || jsonb_build_object('internal_name', internal_name) FROM l
), bump AS (
    INSERT INTO layer_versions AS v (layer, version) VALUES ('leads', 1)
    ON CONFLICT (layer) DO UPDATE SET version = v.version + 1, updated_at = now()
)
SELECT l.id, l.internal_name FROM l
"""


@dataclass(frozen=True)
class CreatedLead:
    """A new lead's id and internal name."""

    id: int
    internal_name: str


async def create_lead(
    session: AsyncSession, viewer: Viewer, body: LeadCreate, limits: GeometryLimits
) -> CreatedLead:
    """Validate, name and insert a lead with sourcing, history, land and activity, in the
    session's transaction (the caller commits): the checks read, then one statement writes
    everything, so a refusal writes nothing."""
    return await create_lead_on(await driver_connection(session), viewer, body, limits)


async def create_lead_on(
    conn: asyncpg.Connection, viewer: Viewer, body: LeadCreate, limits: GeometryLimits
) -> CreatedLead:
    """:func:`create_lead` on the driver connection of a session, inside its transaction (the
    site finder makes several leads in one)."""
    placed = await _place(conn, viewer, body, limits)
    assignee_id = body.assignee_id
    if viewer.role is Role.OPS:
        if assignee_id not in (None, viewer.user_id):
            raise PermissionDenied("OPS users create leads for themselves")
        assignee_id = viewer.user_id
    elif assignee_id is not None:
        await check_assignee(conn, assignee_id)
    insee, commune_name, dept = await _commune(conn, placed, body.commune_insee)
    parcel_ids = [p["id"] for p in placed.parcels] or None
    if body.geometry is not None:
        duplicates = await _check_outline_free(conn, body, placed.ewkb)
    else:
        duplicates = await _check_parcels_free(conn, body, parcel_ids or [])
    activity: dict[str, Any] = {
        "status": LeadStatus.NEW.value,
        "source": body.source.value,
        "area_m2": round(placed.area_m2, 1),
        "commune_insee": insee,
        "parcel_ids": parcel_ids,
        "repaired": placed.repaired,
    }
    if duplicates:  # allowed by the request: who decided it is the entry's author
        activity["duplicate_of"] = duplicates
        activity["duplicate_reason"] = body.duplicate_reason
    row = await conn.fetchrow(
        CREATE_SQL,
        name_prefix(insee),
        body.name,
        assignee_id,
        viewer.user_id,
        body.is_public,
        insee,
        commune_name,
        dept,
        body.notes,
        placed.ewkb,
        body.source.value,
        orjson.dumps(parcel_ids).decode() if parcel_ids else None,
        orjson.dumps(placed.parcels).decode() if placed.parcels else None,
        orjson.dumps(activity).decode(),
    )
    assert row is not None
    if assignee_id is not None and assignee_id != viewer.user_id:
        # Made for someone else (a manager, the site finder): they are told, in this transaction.
        await conn.execute(
            _NOTIFY_ASSIGNED, assignee_id, ASSIGNED_TO_ME.value, row["id"], viewer.user_id
        )
    return CreatedLead(row["id"], row["internal_name"])


_NOTIFY_ASSIGNED = (
    "INSERT INTO notifications (recipient_id, kind, lead_id, actor_id) VALUES ($1, $2, $3, $4)"
)


_EDITABLE = ("name", "notes", "is_public", "commune_insee")


async def update_lead(
    session: AsyncSession,
    user: User,
    lead_id: int,
    body: LeadUpdate,
    expected_version: int | None,
    limits: GeometryLimits,
) -> None:
    """Apply a PATCH under the row lock; a new geometry marks enrichment stale."""
    lead = await get_visible_lead(session, viewer_of(user), lead_id, for_update=True)
    ensure_worker(user, lead)
    check_version(lead, expected_version)
    sent = body.model_fields_set
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in _EDITABLE:
        if name in sent and getattr(body, name) != getattr(lead, name):
            before[name], after[name] = getattr(lead, name), getattr(body, name)
            setattr(lead, name, getattr(body, name))
    conn = await driver_connection(session)
    if "commune_insee" in after and lead.commune_insee:
        lead.commune_name, dept = await commune_facts(conn, lead.commune_insee)
        lead.department = dept or department_of(lead.commune_insee)
    if "geometry" in sent and body.geometry is not None:
        placed = await place_geojson(conn, body.geometry.model_dump(), limits, repair=body.repair)
        lead.geom = WKBElement(placed.ewkb, srid=4326, extended=True)
        lead.enrichment_stale = True
        if placed.commune_insee and "commune_insee" not in sent:
            lead.commune_insee = placed.commune_insee
            lead.commune_name, lead.department = placed.commune_name, placed.department
        before["geometry"], after["geometry"] = "previous", {"area_m2": round(placed.area_m2, 1)}
    if not after:
        return
    await log_activity(
        session, action="update", user_id=user.id, lead_id=lead.id, before=before, after=after
    )
    await bump_layer_version(session, "leads")
    await session.flush()


async def assign_lead(session: AsyncSession, user: User, lead_id: int, body: AssignIn) -> None:
    """Give the lead to a user (MANAGER/ADMIN; checked by the router)."""
    lead = await get_visible_lead(session, viewer_of(user), lead_id, for_update=True)
    if body.assignee_id is not None:
        await check_assignee(await driver_connection(session), body.assignee_id)
    if lead.assignee_id == body.assignee_id:
        return
    before = {"assignee_id": lead.assignee_id}
    lead.assignee_id = body.assignee_id
    await log_activity(
        session,
        action="assign",
        user_id=user.id,
        lead_id=lead.id,
        before=before,
        after={"assignee_id": body.assignee_id},
    )
    await notify(session, [body.assignee_id], ASSIGNED_TO_ME, lead.id, user.id)
    await bump_layer_version(session, "leads")
    await session.flush()


async def transition_lead(
    session: AsyncSession,
    user: User,
    lead_id: int,
    body: TransitionIn,
    expected_version: int | None,
) -> None:
    """Move a lead in the pipeline under the row lock (concurrent moves serialise)."""
    lead = await get_visible_lead(session, viewer_of(user), lead_id, for_update=True)
    check_version(lead, expected_version)
    previous = await apply_transition(  # OPS move only their own leads: checked there
        session, lead, body.status, user_id=user.id, role=user.role, reason=body.reason
    )
    await notify_status_changed(session, lead, previous.value, user.id)
    await session.flush()


async def archive_lead(session: AsyncSession, user: User, lead_id: int) -> None:
    """Soft delete: an open or rejected lead moves to ARCHIVED through the state machine
    (ADMIN)."""
    lead = await get_visible_lead(session, viewer_of(user), lead_id, for_update=True)
    if lead.status is LeadStatus.ARCHIVED:
        return
    if lead.status not in OPEN_STATUSES and lead.status is not LeadStatus.REJECTED:
        raise Conflict(
            f"a {lead.status.value} lead is kept as it is; only open or rejected leads are "
            "archived",
            current_status=lead.status.value,
        )
    previous = await apply_transition(
        session, lead, LeadStatus.ARCHIVED, user_id=user.id, role=user.role
    )
    await notify_status_changed(session, lead, previous.value, user.id)
    await session.flush()


def foncier_out(row: LeadFoncier | None, viewer: Viewer, cipher: FieldCipher) -> FoncierOut:
    """The foncier record; owners decrypted only for roles that may see them."""
    if row is None:
        return FoncierOut()
    owners = None
    if viewer.sees_owners:
        owners = cipher.decrypt_json(row.owners_encrypted) if row.owners_encrypted else []
    return FoncierOut(
        parcels=row.parcels,
        owners=owners,
        owner_count=row.owner_count,
        agreement_status=row.agreement_status,
        updated_at=row.updated_at,
    )


async def put_foncier(
    session: AsyncSession, user: User, lead_id: int, body: FoncierIn, cipher: FieldCipher
) -> LeadFoncier:
    """Replace owners (encrypted) and agreement status; the log never holds personal data."""
    lead = await get_visible_lead(session, viewer_of(user), lead_id, for_update=True)
    ensure_worker(user, lead)
    row = await session.get(LeadFoncier, lead_id)
    if row is None:
        row = LeadFoncier(lead_id=lead_id)
        session.add(row)
    before = {"owner_count": row.owner_count or 0, "agreement_status": row.agreement_status}
    owners = [o.model_dump() for o in body.owners]
    row.owners_encrypted = cipher.encrypt_json(owners)
    row.owner_count = len(owners)
    row.agreement_status = body.agreement_status
    row.updated_at = datetime.now(UTC)
    await log_activity(
        session,
        action="foncier_update",
        user_id=user.id,
        lead_id=lead_id,
        before=before,
        after={"owner_count": len(owners), "agreement_status": body.agreement_status},
    )
    await session.flush()
    return row
