"""One PVGIS budget for the whole deployment: two real processes against a stand-in that answers
429 above 30 calls per second (issue 16)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.pvgis_budget_client import run_two
from tests.pvgis_standin import PvgisStandin

CALLS = 75  # per process: 150 calls, 6 s at 25/s shared


@pytest.fixture
def standin() -> Iterator[PvgisStandin]:
    s = PvgisStandin(rate=30).start()
    yield s
    s.stop()


def _two_processes(db_url: str, standin: PvgisStandin, shared: bool) -> list[dict[str, int]]:
    extra = ["--shared"] if shared else []
    return [figures for figures, _ in run_two(db_url, standin.url, CALLS, *extra)]


def test_two_processes_share_one_budget(db_url, standin) -> None:
    t0 = time.monotonic()
    counts = _two_processes(db_url, standin, shared=True)
    elapsed = time.monotonic() - t0
    assert standin.too_many == 0
    assert [c["ok"] for c in counts] == [CALLS, CALLS]  # every call got its PVGIS answer
    assert len(standin.calls) == 2 * CALLS
    assert elapsed >= 2 * CALLS / 25 - 1.0  # 25 calls/s for both together, not each


def test_per_process_budgets_go_over(db_url, standin) -> None:
    # The control: each process with its own 25 calls/s makes 50/s, and PVGIS says 429.
    counts = _two_processes(db_url, standin, shared=False)
    assert standin.too_many > 0
    assert sum(c["failed"] for c in counts) == standin.too_many
