"""The state machine's rules, checked against the table of DOMAIN.md written out by hand."""

from __future__ import annotations

import pytest

from geo.errors import Conflict, InvalidInput, PermissionDenied
from geo.models import LeadStatus as S
from geo.models import Role
from geo.pipeline import allowed_targets, check_transition


def test_happy_path_by_role() -> None:
    check_transition(S.NEW, S.ENRICHED, Role.OPS)
    check_transition(S.ENRICHED, S.QUALIFIED, Role.OPS)
    check_transition(S.QUALIFIED, S.IN_REVIEW, Role.OPS)
    check_transition(S.IN_REVIEW, S.CLIENT_READY, Role.MANAGER)
    check_transition(S.IN_REVIEW, S.QUALIFIED, Role.MANAGER)
    check_transition(S.CLIENT_READY, S.SOLD, Role.COMMERCIAL)


def test_wrong_role_is_forbidden_wrong_state_is_conflict() -> None:
    with pytest.raises(PermissionDenied):
        check_transition(S.IN_REVIEW, S.CLIENT_READY, Role.OPS)
    with pytest.raises(PermissionDenied):
        check_transition(S.ENRICHED, S.QUALIFIED, Role.COMMERCIAL)
    with pytest.raises(Conflict) as exc:
        check_transition(S.NEW, S.SOLD, Role.ADMIN)
    assert set(exc.value.extensions["allowed_transitions"]) == {"ENRICHED", "REJECTED", "ARCHIVED"}
    for closed in (S.SOLD, S.REJECTED, S.ARCHIVED):
        assert allowed_targets(closed, Role.ADMIN) == []


def test_reject_needs_reason_and_archive_from_any_open_state() -> None:
    with pytest.raises(InvalidInput):
        check_transition(S.ENRICHED, S.REJECTED, Role.MANAGER, reason="  ")
    check_transition(S.ENRICHED, S.REJECTED, Role.MANAGER, reason="zone Natura 2000")
    for s in (S.NEW, S.ENRICHED, S.QUALIFIED, S.IN_REVIEW, S.CLIENT_READY):
        check_transition(s, S.ARCHIVED, Role.MANAGER)
        with pytest.raises(PermissionDenied):
            check_transition(s, S.ARCHIVED, Role.OPS)
    # After QA, only managers reject.
    with pytest.raises(PermissionDenied):
        check_transition(S.IN_REVIEW, S.REJECTED, Role.OPS, reason="x")
