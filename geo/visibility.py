"""Who may see which lead: one SQL predicate reused by the REST list, tiles and OGC items."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.sql import FromClause

from geo.models import Lead, LeadStatus, Role

COMMERCIAL_STATUSES = (LeadStatus.CLIENT_READY, LeadStatus.SOLD)


@dataclass(frozen=True)
class Viewer:
    """The identity a query is run for: user id and role."""

    user_id: int
    role: Role

    @property
    def scope(self) -> str:
        """A cache-key fragment: viewers with the same scope see the same leads."""
        if self.role in (Role.ADMIN, Role.MANAGER):
            return "all"
        if self.role is Role.COMMERCIAL:
            return "commercial"
        return f"ops:{self.user_id}"

    @property
    def sees_owners(self) -> bool:
        """Owners' personal data is for the people who deal with the land, not the buyers."""
        return self.role in (Role.ADMIN, Role.MANAGER, Role.OPS)


def lead_visibility(viewer: Viewer, leads: FromClause | type[Lead] = Lead) -> ColumnElement[bool]:
    """The WHERE clause restricting leads to what ``viewer`` may see.

    OPS: leads assigned to them plus public ones; COMMERCIAL: CLIENT_READY and SOLD only;
    MANAGER and ADMIN: everything. ``leads`` may be the ORM class or an aliased table.
    """
    cols = leads.c if isinstance(leads, FromClause) else leads.__table__.c  # type: ignore[union-attr]
    if viewer.role in (Role.ADMIN, Role.MANAGER):
        return true()
    if viewer.role is Role.COMMERCIAL:
        return cols.status.in_([s.value for s in COMMERCIAL_STATUSES])
    if viewer.role is Role.OPS:
        return or_(cols.assignee_id == viewer.user_id, cols.is_public.is_(True))
    return false()


def visibility_sql(viewer: Viewer, alias: str, bind: Callable[[Any], str]) -> str:
    """:func:`lead_visibility` as SQL text, for the plain-SQL hot paths (api.services.leads_sql).

    ``bind(value)`` binds a parameter and returns its placeholder. Tests check that both forms
    select the same leads for every role.
    """
    if viewer.role in (Role.ADMIN, Role.MANAGER):
        return "TRUE"
    if viewer.role is Role.COMMERCIAL:
        statuses = ", ".join(f"'{s.value}'" for s in COMMERCIAL_STATUSES)
        return f"{alias}.status IN ({statuses})"
    if viewer.role is Role.OPS:
        return f"({alias}.assignee_id = {bind(viewer.user_id)} OR {alias}.is_public)"
    return "FALSE"
