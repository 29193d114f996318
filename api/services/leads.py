"""Leads: create, read, edit, assign, move and archive, each in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.leads import (
    AssignIn,
    FoncierIn,
    FoncierOut,
    LeadCreate,
    LeadOut,
    LeadUpdate,
    TransitionIn,
)
from api.services.leads_geometry import (
    GeometryLimits,
    PlacedGeometry,
    commune_facts,
    department_of,
    parcel_at,
    place_geojson,
    place_parcels,
)
from api.services.leads_query import lead_out, lead_out_select
from geo.activity import bump_layer_version, log_activity
from geo.crypto import FieldCipher
from geo.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from geo.leads import get_visible_lead
from geo.models import (
    Lead,
    LeadFoncier,
    LeadNameCounter,
    LeadSourcing,
    LeadStatus,
    Role,
    User,
)
from geo.pipeline import OPEN_STATUSES, apply_transition, open_history
from geo.visibility import Viewer, lead_visibility

STAFF = (Role.ADMIN, Role.MANAGER)


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
    """OPS work only on the leads assigned to them; COMMERCIAL never edit leads."""
    if user.role in STAFF:
        return
    if user.role is Role.OPS and lead.assignee_id == user.id:
        return
    raise PermissionDenied("only the assigned OPS user, a MANAGER or an ADMIN may change this lead")


async def next_internal_name(session: AsyncSession, insee: str | None) -> str:
    """``<department>-<commune>-<sequence>``, e.g. ``69-114-0007``; atomic under concurrency.

    The counter row is upserted and locked by the INSERT … ON CONFLICT, so two concurrent
    creations in one commune wait for each other instead of reading the same count.
    """
    dept = department_of(insee) or "00"
    prefix = f"{dept}-{insee[len(dept) :] if insee else '000'}"
    upsert = (
        insert(LeadNameCounter)
        .values(prefix=prefix, last_seq=1)
        .on_conflict_do_update(
            index_elements=[LeadNameCounter.prefix],
            set_={"last_seq": LeadNameCounter.last_seq + 1},
        )
        .returning(LeadNameCounter.last_seq)
    )
    seq = await session.scalar(upsert)
    return f"{prefix}-{seq:04d}"


async def _check_assignee(session: AsyncSession, assignee_id: int) -> User:
    user = await session.get(User, assignee_id)
    if user is None or not user.is_active or user.role is Role.COMMERCIAL:
        raise InvalidInput(
            f"user {assignee_id} can't be assigned leads (unknown, inactive or sales)"
        )
    return user


async def _place(
    session: AsyncSession, body: LeadCreate | LeadUpdate, limits: GeometryLimits
) -> PlacedGeometry:
    if isinstance(body, LeadCreate) and body.parcel_ids:
        return await place_parcels(session, body.parcel_ids, limits)
    if isinstance(body, LeadCreate) and body.point:
        pid = await parcel_at(session, body.point.lat, body.point.lon)
        return await place_parcels(session, [pid], limits)
    assert body.geometry is not None
    return await place_geojson(session, body.geometry.model_dump(), limits, repair=body.repair)


async def _commune(
    session: AsyncSession, placed: PlacedGeometry, given: str | None
) -> tuple[str | None, str | None, str | None]:
    """(insee, name, department): the communes layer first, else the parcels', else the body's."""
    insee = placed.commune_insee or given
    name, dept = placed.commune_name, placed.department
    if insee and name is None:
        name, dept = await commune_facts(session, insee)
    return insee, name, dept or department_of(insee)


async def create_lead(
    session: AsyncSession, user: User, body: LeadCreate, limits: GeometryLimits
) -> int:
    """Validate, name and insert a lead with sourcing, history, foncier and activity."""
    if user.role is Role.COMMERCIAL:
        raise PermissionDenied("sales users don't create leads")
    assignee_id = body.assignee_id
    if user.role is Role.OPS:
        if assignee_id not in (None, user.id):
            raise PermissionDenied("OPS users create leads for themselves")
        assignee_id = user.id
    elif assignee_id is not None:
        await _check_assignee(session, assignee_id)
    placed = await _place(session, body, limits)
    insee, commune_name, dept = await _commune(session, placed, body.commune_insee)
    now = datetime.now(UTC)
    lead = Lead(
        internal_name=await next_internal_name(session, insee),
        name=body.name,
        status=LeadStatus.NEW,
        status_changed_at=now,
        assignee_id=assignee_id,
        created_by_id=user.id,
        is_public=body.is_public,
        commune_insee=insee,
        commune_name=commune_name,
        department=dept,
        notes=body.notes,
        geom=placed.geom,
        enrichment_stale=True,
    )
    session.add(lead)
    await session.flush()
    parcel_ids = [p["id"] for p in placed.parcels] or None
    session.add(
        LeadSourcing(
            lead_id=lead.id,
            source=body.source,
            found_by_id=user.id,
            found_at=now,
            source_notes=body.notes,
            parcel_ids=parcel_ids,
        )
    )
    if placed.parcels:
        session.add(LeadFoncier(lead_id=lead.id, parcels=placed.parcels))
    await open_history(session, lead, user.id)
    await log_activity(
        session,
        action="create",
        user_id=user.id,
        lead_id=lead.id,
        after={
            "internal_name": lead.internal_name,
            "status": lead.status,
            "source": body.source,
            "area_m2": round(placed.area_m2, 1),
            "commune_insee": insee,
            "parcel_ids": parcel_ids,
            "repaired": placed.repaired,
        },
    )
    await bump_layer_version(session, "leads")
    return lead.id


async def get_lead_out(session: AsyncSession, viewer: Viewer, lead_id: int) -> LeadOut:
    """A visible lead as LeadOut (404 otherwise)."""
    row = (
        await session.execute(lead_out_select().where(Lead.id == lead_id, lead_visibility(viewer)))
    ).first()
    if row is None:
        raise NotFound(f"lead {lead_id} not found")
    return lead_out(row)


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
    if "commune_insee" in after and lead.commune_insee:
        lead.commune_name, dept = await commune_facts(session, lead.commune_insee)
        lead.department = dept or department_of(lead.commune_insee)
    if "geometry" in sent and body.geometry is not None:
        placed = await place_geojson(
            session, body.geometry.model_dump(), limits, repair=body.repair
        )
        lead.geom = placed.geom
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
        await _check_assignee(session, body.assignee_id)
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
    if user.role is Role.OPS:
        ensure_worker(user, lead)
    await apply_transition(
        session, lead, body.status, user_id=user.id, role=user.role, reason=body.reason
    )
    await session.flush()


async def archive_lead(session: AsyncSession, user: User, lead_id: int) -> None:
    """Soft delete: an open lead moves to ARCHIVED through the state machine (ADMIN)."""
    lead = await get_visible_lead(session, viewer_of(user), lead_id, for_update=True)
    if lead.status is LeadStatus.ARCHIVED:
        return
    if lead.status not in OPEN_STATUSES:
        raise Conflict(
            f"a {lead.status.value} lead is kept as it is; only open leads are archived",
            current_status=lead.status.value,
        )
    await apply_transition(session, lead, LeadStatus.ARCHIVED, user_id=user.id, role=user.role)
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
