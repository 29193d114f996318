"""Who may see what: one SQL predicate per kind of row, written once and reused everywhere.

Leads (:func:`lead_visibility`): the REST list, tiles and OGC items. Documents that carry owners'
personal data (:func:`document_visibility`) and the activity entries that name them
(:func:`activity_visibility`): the document routes, the lead detail, the activity log, the lead
workbook and the dossier's annexes. The lead detail's JSON statement takes the document and
activity clauses as SQL text (:func:`clause_sql`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, and_, false, func, not_, or_, true, type_coerce
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql import FromClause

from geo.models import (
    ActivityLog,
    Document,
    DocumentCategory,
    Lead,
    LeadStatus,
    Role,
    SiteSearch,
)

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

    OPS: leads assigned to them, public ones and the ones they created (a creator keeps read
    access and the timeline after a reassignment; editing follows the assignment,
    ``geo.pipeline.may_change``); COMMERCIAL: CLIENT_READY and SOLD only;
    MANAGER and ADMIN: everything. ``leads`` may be the ORM class or an aliased table.
    """
    cols = leads.c if isinstance(leads, FromClause) else leads.__table__.c
    if viewer.role in (Role.ADMIN, Role.MANAGER):
        return true()
    if viewer.role is Role.COMMERCIAL:
        return cols.status.in_([s.value for s in COMMERCIAL_STATUSES])
    if viewer.role is Role.OPS:
        return or_(
            cols.assignee_id == viewer.user_id,
            cols.is_public.is_(True),
            cols.created_by_id == viewer.user_id,
        )
    return false()


def search_visibility(viewer: Viewer) -> ColumnElement[bool]:
    """The WHERE clause restricting site searches (and so their runs and sites) to ``viewer``:
    MANAGER and ADMIN every search, OPS their own, COMMERCIAL none (they don't prospect)."""
    if viewer.role in (Role.ADMIN, Role.MANAGER):
        return true()
    if viewer.role is Role.OPS:
        return SiteSearch.owner_id == viewer.user_id
    return false()


# Documents that name the owners (deeds, signed promises) and dossiers made for internal use
# carry personal data: roles that may not see owners (COMMERCIAL) see none of them, nor any
# trace of them — their file names carry owners' names (``acte-propriete-DUPONT-Jean.pdf``).
PERSONAL_CATEGORIES = (DocumentCategory.TITLE_DEED, DocumentCategory.SIGNED_PROMISE)
# A generated dossier's audience is in its server-chosen file name (uploads can't use the
# ``dossier`` category): only the commercial version is free of personal data.
COMMERCIAL_DOSSIER_SUFFIX = "-commercial.pdf"


def shareable_document(
    category: ColumnElement[Any], filename: ColumnElement[Any]
) -> ColumnElement[bool]:
    """SQL: true for a document free of owners' personal data, from its category and file name
    (text expressions). Never true when either is unknown (NULL): an entry we can't classify
    stays hidden."""
    return and_(
        category.not_in([c.value for c in PERSONAL_CATEGORIES]),
        or_(
            category != DocumentCategory.DOSSIER.value,
            filename.endswith(COMMERCIAL_DOSSIER_SUFFIX),
        ),
    )


def _columns(table: FromClause | type[Any]) -> Any:
    return table.c if isinstance(table, FromClause) else table.__table__.c


def document_visibility(
    sees_owners: bool, documents: FromClause | type[Document] = Document
) -> ColumnElement[bool]:
    """The WHERE clause restricting documents to those a viewer may know of (``sees_owners``:
    :attr:`Viewer.sees_owners`, or a dossier's audience). ``documents`` may be an alias."""
    if sees_owners:
        return true()
    cols = _columns(documents)
    return shareable_document(type_coerce(cols.category, String), cols.filename)


def activity_visibility(
    sees_owners: bool, entries: FromClause | type[ActivityLog] = ActivityLog
) -> ColumnElement[bool]:
    """The WHERE clause restricting activity entries to those a viewer may see: for a viewer
    who may not see owners, no entry about a document they may not see (an upload, deletion or
    generated dossier records the file's name, category and size in ``before``/``after``).

    An entry is about a file when its entity is ``document`` or its values name a file; its
    category and name are read from ``after`` (upload, dossier) or ``before`` (deletion).
    """
    if sees_owners:
        return true()
    c = _columns(entries)
    names_a_file = or_(
        c.entity == "document",
        func.coalesce(c.after.has_key("filename"), False),
        func.coalesce(c.before.has_key("filename"), False),
    )
    category = func.coalesce(c.after["category"].astext, c.before["category"].astext)
    filename = func.coalesce(c.after["filename"].astext, c.before["filename"].astext)
    return or_(not_(names_a_file), shareable_document(category, filename))


def clause_sql(clause: ColumnElement[bool]) -> str:
    """A clause of this module as PostgreSQL text for SQL written as text (its values are
    this module's constants, rendered as literals; nothing user-supplied goes through here),
    in parentheses so that it can be ANDed as it is."""
    sql = clause.compile(dialect=asyncpg_dialect(), compile_kwargs={"literal_binds": True})
    return f"({sql})"
