"""The lead pipeline: the one state machine of statuses, transitions and the roles allowed.

Refusal messages are in French: the web app shows them to its (French) users as they are.

NEW → ENRICHED → QUALIFIED → IN_REVIEW → CLIENT_READY → SOLD; IN_REVIEW → QUALIFIED when QA sends
it back; REJECTED (reason required) and ARCHIVED from any open state (DOMAIN.md).

Beyond the table, two moves need facts about the lead (:func:`check_ready`): entering ENRICHED
needs a completed enrichment (``enriched_at``), entering QUALIFIED a score (``quality_score``).
A REJECTED lead is reopened by a MANAGER or ADMIN to a prospecting stage (NEW, ENRICHED or
QUALIFIED, with the same facts required; QA starts again from there) or archived (docs/api.md,
"Workflow").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from geo.activity import bump_layer_version, log_activity
from geo.errors import Conflict, InvalidInput, PermissionDenied
from geo.models import Lead, LeadStatus, LeadStatusHistory, Role

S = LeadStatus
OPEN_STATUSES = frozenset({S.NEW, S.ENRICHED, S.QUALIFIED, S.IN_REVIEW, S.CLIENT_READY})
CLOSED_STATUSES = frozenset({S.SOLD, S.REJECTED, S.ARCHIVED})
STAFF = frozenset({Role.ADMIN, Role.MANAGER})
WORKERS = frozenset({Role.ADMIN, Role.MANAGER, Role.OPS})

# (from, to) → roles allowed to make the move.
TRANSITIONS: dict[tuple[LeadStatus, LeadStatus], frozenset[Role]] = {
    (S.NEW, S.ENRICHED): WORKERS,  # normally made by the enrichment itself
    (S.ENRICHED, S.QUALIFIED): WORKERS,
    (S.QUALIFIED, S.IN_REVIEW): WORKERS,  # OPS submits to manager QA
    (S.IN_REVIEW, S.CLIENT_READY): STAFF,  # QA approves
    (S.IN_REVIEW, S.QUALIFIED): STAFF,  # QA sends back
    (S.CLIENT_READY, S.SOLD): STAFF | {Role.COMMERCIAL},
}
for _open in OPEN_STATUSES:
    # OPS may discard a site they are still prospecting; after QA only managers decide.
    _rejecters = WORKERS if _open in (S.NEW, S.ENRICHED, S.QUALIFIED) else STAFF
    TRANSITIONS[(_open, S.REJECTED)] = _rejecters
    TRANSITIONS[(_open, S.ARCHIVED)] = STAFF

# A rejected lead: a manager reopens it to a prospecting stage (QA starts again from there) or
# archives it for good.
for _reopen in (S.NEW, S.ENRICHED, S.QUALIFIED):
    TRANSITIONS[(S.REJECTED, _reopen)] = STAFF
TRANSITIONS[(S.REJECTED, S.ARCHIVED)] = STAFF

REASON_REQUIRED = frozenset({S.REJECTED})


@dataclass(frozen=True)
class LeadFacts:
    """What a lead holds that some moves need: a completed enrichment, a score."""

    enriched: bool
    scored: bool

    @classmethod
    def of(cls, enriched_at: object, quality_score: object) -> LeadFacts:
        """The facts from a lead's ``enriched_at`` and ``quality_score``."""
        return cls(enriched=enriched_at is not None, scored=quality_score is not None)


def allowed_targets(status: LeadStatus, role: Role) -> list[LeadStatus]:
    """The statuses ``role`` may move a lead to from ``status`` (the table only)."""
    return [to for (frm, to), roles in TRANSITIONS.items() if frm == status and role in roles]


def readiness_refusal(target: LeadStatus, facts: LeadFacts) -> Conflict | None:
    """The 409 a move to ``target`` gets for a lead missing what that stage needs, else None."""
    if target is S.ENRICHED and not facts.enriched:
        return Conflict(
            "Le lead n'a pas été enrichi : lancez l'enrichissement avant de le passer à ENRICHED",
            code="transition.needs_enrichment",
            target_status=target.value,
        )
    if target is S.QUALIFIED and not facts.scored:
        return Conflict(
            "Le lead n'a pas de score : enrichissez-le avant de le passer à QUALIFIED",
            code="transition.needs_score",
            target_status=target.value,
        )
    return None


def allowed_moves(
    status: LeadStatus,
    role: Role,
    facts: LeadFacts,
    *,
    user_id: int | None = None,
    assignee_id: int | None = None,
) -> list[LeadStatus]:
    """The moves this user may make now on this lead: the ones :func:`apply_transition` would
    accept (role, assignment and the lead's facts; a reason is asked for when needed). The
    lead detail and the Kanban cards show exactly these."""
    if not may_change(role, user_id, assignee_id):
        return []
    return [t for t in allowed_targets(status, role) if readiness_refusal(t, facts) is None]


def check_ready(target: LeadStatus, facts: LeadFacts) -> None:
    """Conflict (409, ``transition.needs_enrichment`` / ``transition.needs_score``) unless the
    lead has what ``target`` needs."""
    refusal = readiness_refusal(target, facts)
    if refusal is not None:
        raise refusal


def may_change(role: Role, user_id: int | None, assignee_id: int | None) -> bool:
    """Whether a user may change a lead they can see, as far as its assignment goes.

    The one rule (RBAC of the pipeline, docs/api.md): OPS change only the leads assigned to
    them — the public leads of others are theirs to read, not to edit, move or enrich. The other
    roles are bounded by their routes and by :data:`TRANSITIONS`. Used by every write: the
    transitions (:func:`apply_transition`), edits (``api.services.leads.ensure_worker``), the
    enrichment of one lead or a batch (``enrichment.engine``, ``api.services.enrichment``) and
    the moves a lead's detail offers.
    """
    return role is not Role.OPS or (user_id is not None and assignee_id == user_id)


def check_may_change(
    role: Role, user_id: int | None, lead_id: int, assignee_id: int | None
) -> None:
    """PermissionDenied (403) unless :func:`may_change`."""
    if not may_change(role, user_id, assignee_id):
        raise PermissionDenied(
            f"Le lead {lead_id} n'est pas assigné à cet utilisateur OPS : seuls l'OPS assigné, "
            "un MANAGER ou un ADMIN peuvent le modifier",
            code="lead.not_assigned",
            lead_id=lead_id,
        )


def check_transition(
    current: LeadStatus, target: LeadStatus, role: Role, reason: str | None = None
) -> None:
    """Raise Conflict (wrong state), PermissionDenied (wrong role) or InvalidInput (no reason)."""
    allowed = [s.value for s in allowed_targets(current, role)]
    roles = TRANSITIONS.get((current, target))
    if roles is None:
        raise Conflict(
            f"Un lead au statut {current.value} ne peut pas passer à {target.value}",
            code="transition.refused",
            current_status=current.value,
            target_status=target.value,
            allowed_transitions=allowed,
        )
    if role not in roles:
        raise PermissionDenied(
            f"Le rôle {role.value} ne peut pas faire passer un lead "
            f"de {current.value} à {target.value}",
            code="transition.role_refused",
            role=role.value,
            current_status=current.value,
            target_status=target.value,
            allowed_transitions=allowed,
        )
    if target in REASON_REQUIRED and not (reason and reason.strip()):
        raise InvalidInput(
            f"Un motif est obligatoire pour passer un lead à {target.value}",
            code="transition.reason_required",
            target_status=target.value,
        )


async def open_history(session: AsyncSession, lead: Lead, user_id: int | None) -> None:
    """The first status-history row of a new lead (caller's transaction)."""
    session.add(
        LeadStatusHistory(
            lead_id=lead.id,
            status=lead.status,
            changed_by_id=user_id,
            entered_at=lead.status_changed_at or datetime.now(UTC),
        )
    )


async def apply_transition(
    session: AsyncSession,
    lead: Lead,
    target: LeadStatus,
    *,
    user_id: int | None,
    role: Role,
    reason: str | None = None,
) -> LeadStatus:
    """Check and apply a move, with history and activity entries, in the caller's transaction.

    The caller should have loaded ``lead`` ``FOR UPDATE`` so concurrent moves serialise; the
    version column makes a stale in-memory lead fail instead of overwriting.
    """
    previous = lead.status
    check_may_change(role, user_id, lead.id, lead.assignee_id)
    check_transition(previous, target, role, reason)
    check_ready(target, LeadFacts.of(lead.enriched_at, lead.quality_score))
    now = datetime.now(UTC)
    await session.execute(
        update(LeadStatusHistory)
        .where(LeadStatusHistory.lead_id == lead.id, LeadStatusHistory.left_at.is_(None))
        .values(left_at=now)
    )
    session.add(
        LeadStatusHistory(
            lead_id=lead.id, status=target, entered_at=now, changed_by_id=user_id, reason=reason
        )
    )
    lead.status = target
    lead.status_changed_at = now
    if target is S.REJECTED:
        lead.rejection_reason = reason
    elif previous is S.REJECTED and target is not S.ARCHIVED:
        lead.rejection_reason = None  # reopened: the reason stays in the history and the log
    await log_activity(
        session,
        action="transition",
        user_id=user_id,
        lead_id=lead.id,
        before={"status": previous.value},
        after={"status": target.value, **({"reason": reason} if reason else {})},
    )
    await bump_layer_version(session, "leads")
    return previous
