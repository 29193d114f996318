"""The state machine's rules, checked against the table of DOMAIN.md written out by hand."""

from __future__ import annotations

import pytest

from geo.errors import Conflict, InvalidInput, PermissionDenied
from geo.models import LeadStatus as S
from geo.models import Role
from geo.pipeline import LeadFacts, allowed_moves, allowed_targets, check_ready, check_transition


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
    for closed in (S.SOLD, S.ARCHIVED):
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


def test_enriched_needs_enrichment_qualified_needs_score() -> None:
    bare, enriched, scored = LeadFacts(False, False), LeadFacts(True, False), LeadFacts(True, True)
    with pytest.raises(Conflict) as exc:
        check_ready(S.ENRICHED, bare)
    assert exc.value.code == "transition.needs_enrichment"
    check_ready(S.ENRICHED, enriched)
    with pytest.raises(Conflict) as exc:
        check_ready(S.QUALIFIED, enriched)
    assert exc.value.code == "transition.needs_score"
    check_ready(S.QUALIFIED, scored)
    check_ready(S.REJECTED, bare)  # the other moves need nothing
    # The moves offered are the ones the checks accept.
    assert allowed_moves(S.NEW, Role.OPS, bare, user_id=1, assignee_id=1) == [S.REJECTED]
    assert set(allowed_moves(S.NEW, Role.OPS, enriched, user_id=1, assignee_id=1)) == {
        S.ENRICHED,
        S.REJECTED,
    }
    assert S.QUALIFIED not in allowed_moves(S.ENRICHED, Role.MANAGER, enriched)
    assert S.QUALIFIED in allowed_moves(S.ENRICHED, Role.MANAGER, scored)
    # Not their lead: an OPS may make no move at all.
    assert allowed_moves(S.NEW, Role.OPS, scored, user_id=1, assignee_id=2) == []


def test_rejected_lead_is_reopened_or_archived_by_managers_only() -> None:
    scored = LeadFacts(True, True)
    for role in (Role.MANAGER, Role.ADMIN):
        assert set(allowed_moves(S.REJECTED, role, scored)) == {
            S.NEW,
            S.ENRICHED,
            S.QUALIFIED,
            S.ARCHIVED,
        }
        # A lead rejected before any enrichment goes back to NEW (or is archived) only.
        assert set(allowed_moves(S.REJECTED, role, LeadFacts(False, False))) == {
            S.NEW,
            S.ARCHIVED,
        }
    for role in (Role.OPS, Role.COMMERCIAL):
        assert allowed_moves(S.REJECTED, role, scored, user_id=1, assignee_id=1) == []
        with pytest.raises(PermissionDenied):
            check_transition(S.REJECTED, S.NEW, role)
    # Straight back to QA or the client is not a reopening.
    for target in (S.IN_REVIEW, S.CLIENT_READY, S.SOLD):
        with pytest.raises(Conflict):
            check_transition(S.REJECTED, target, Role.ADMIN)
