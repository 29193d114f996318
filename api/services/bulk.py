"""Bulk actions on the lead list (MANAGER/ADMIN): assign or move many leads at once.

Each lead goes through the single-lead service (``api.services.leads``: the same visibility,
workflow and RBAC rules, notifications included) in its own transaction, so one refusal never
undoes the others; the answer says, per lead, ok or the refusal's code and French message.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import status_for
from api.schemas.bulk import BulkAssign, BulkOut, BulkResult, BulkTransition
from api.schemas.leads import AssignIn, TransitionIn
from api.services import leads as leads_svc
from api.services.leads_geometry import driver_connection
from geo.errors import DomainError
from geo.models import User

# French messages of the refusals whose ``detail`` is English (the workflow's are French).
_FRENCH = {
    "lead.not_found": "Lead introuvable, ou que vous ne pouvez pas voir",
    "resource.not_found": "Lead introuvable, ou que vous ne pouvez pas voir",
    "resource.conflict": "L'état du lead ne permet pas cette action",
    "resource.stale": "Le lead a été modifié entre-temps",
    "auth.forbidden": "Votre rôle ne permet pas cette action",
    "request.invalid": "Valeur refusée pour ce lead",
}


def french_message(exc: DomainError) -> str:
    """The French text of a refusal: the workflow's own detail (written in French), else the
    code's."""
    if exc.code.startswith("transition.") or exc.code == "lead.not_assigned":
        return exc.detail
    return _FRENCH.get(exc.code, exc.detail)


async def check_assignee(session: AsyncSession, assignee_id: int | None) -> None:
    """422 for the whole request when the assignee can't take leads (unknown, inactive, sales):
    no lead would accept them."""
    if assignee_id is not None:
        await leads_svc.check_assignee(await driver_connection(session), assignee_id)


async def apply_bulk(
    sessions: async_sessionmaker[AsyncSession], user: User, body: BulkAssign | BulkTransition
) -> BulkOut:
    """Apply the action to each lead in its own transaction; one result per distinct id."""
    results: list[BulkResult] = []
    for lead_id in dict.fromkeys(body.ids):
        try:
            async with sessions() as session, session.begin():
                if isinstance(body, BulkAssign):
                    await leads_svc.assign_lead(
                        session, user, lead_id, AssignIn(assignee_id=body.assignee_id)
                    )
                else:
                    move = TransitionIn(status=body.status, reason=body.reason)
                    await leads_svc.transition_lead(session, user, lead_id, move, None)
        except DomainError as exc:
            results.append(
                BulkResult(
                    id=lead_id,
                    ok=False,
                    status=status_for(exc),
                    code=exc.code,
                    message=french_message(exc),
                    extensions=exc.extensions or None,
                )
            )
        else:
            results.append(BulkResult(id=lead_id, ok=True, status=200))
    ok = sum(r.ok for r in results)
    return BulkOut(results=results, ok=ok, failed=len(results) - ok)
