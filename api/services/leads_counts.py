"""Exact lead-list totals from ``lead_counts`` instead of counting up to 100k leads.

``lead_counts`` plus the deltas not folded into it yet (``lead_count_deltas``; migration 0009,
kept by triggers in the writing transaction) give the number of leads per (status, department,
score bucket): ``n`` leads, ``n_int`` of them with an integer score equal to the bucket. The
department is '' when NULL; the bucket is floor(quality_score) clamped to [-32766, 32766] (NaN
and +inf in 32766), :data:`NULL_BUCKET` when NULL. Every lead is also counted in its (status,
department)'s :data:`TOTAL_BUCKET` row: a total without a score filter reads those few rows.

For an integer k inside the clamp, on non-NULL scores (NaN included, which PostgreSQL sorts
above every number):

* ``quality_score >= k`` ⟺ ``bucket >= k``;
* ``quality_score <= k`` ⟺ ``bucket < k`` or (``bucket = k`` and the score is exactly k), hence
  ``n`` below k plus ``n_int`` at k.

:func:`count_sql` answers the filter shapes this table can answer exactly and returns None for
the others (the caller counts leads). It calls the function ``lead_total`` (migration 0012,
whose text holds the bucket constants below), which sums the cells and the pending deltas in
the calling statement's snapshot with statements prepared once per connection.
``tests/test_lead_counts.py`` checks it against ``count(*)`` over
:func:`~api.services.leads_sql.where_sql` for every shape and role.
"""

from __future__ import annotations

import math

from api.services.binds import Binds
from api.services.leads_query import LeadFilters
from geo.models import LeadStatus, Role
from geo.visibility import COMMERCIAL_STATUSES, Viewer

NULL_BUCKET = -32768
TOTAL_BUCKET = 32767
# Integer bounds answered exactly: the clamped end buckets -32766 (scores below -32766) and
# 32766 (scores from 32766, NaN) mix values on both sides of ±32766.
MIN_BOUND = -32765
MAX_BOUND = 32765

_SCOPED_ROLES = (Role.ADMIN, Role.MANAGER, Role.COMMERCIAL)


def _integer_bound(value: float | None) -> int | None | bool:
    """The bound as an int; None when absent; False when it can't be answered exactly."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        return False
    k = int(value)
    return k if MIN_BOUND <= k <= MAX_BOUND else False


def count_sql(
    viewer: Viewer,
    f: LeadFilters,
    binds: Binds,
    statuses: tuple[LeadStatus, ...] | None = None,
) -> str | None:
    """A bigint SQL expression giving exactly
    ``(SELECT count(*) FROM leads l WHERE <where_sql(viewer, f, binds)>)`` from lead_counts, or
    None when the filters need the leads themselves (nothing is bound then). ``statuses``, when
    given, stands for ``f.status`` (a per-status count of the same filters).

    Answered: ADMIN/MANAGER and COMMERCIAL viewers, with any of the statuses (default: all but
    ARCHIVED), a department, integer score_min/score_max. Not answered: OPS viewers (their
    leads depend on the assignee and is_public), assignee, commune, bbox, created range, q,
    fractional score bounds.
    """
    if viewer.role not in _SCOPED_ROLES:
        return None
    if f.assignee_id is not None or f.commune or f.bbox or f.created_from or f.created_to or f.q:
        return None
    low = _integer_bound(f.score_min)
    high = _integer_bound(f.score_max)
    if low is False or high is False:
        return None
    # Decided: from here on values are bound. The visibility of these roles reads only status.
    if statuses is None:
        statuses = f.status
    statuses = statuses or tuple(s for s in LeadStatus if s is not LeadStatus.ARCHIVED)
    if viewer.role is Role.COMMERCIAL:
        statuses = tuple(s for s in statuses if s in COMMERCIAL_STATUSES)
    args = (
        f"{binds.add([s.value for s in statuses])}::text[]",
        f"{binds.add(f.department or None)}::text",
        f"{binds.add(low)}::integer",
        f"{binds.add(high)}::integer",
    )
    return f"lead_total({', '.join(args)})"
