"""Prometheus metrics of the enrichment engine (PVGIS calls) and its worker (task durations).

Module-level, as prometheus-client wants them: with ``PROMETHEUS_MULTIPROC_DIR`` set (``leadfactory
serve`` sets it for itself and the worker it starts) each process writes its values to a file
there, and the API's ``GET /metrics`` adds them up.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PVGIS_CALLS = Counter(
    "lfs_pvgis_calls",
    "PVGIS PVcalc HTTP calls by outcome (ok, 429, error: another status, a timeout, a network "
    "failure or an unusable answer), and leads given the offline estimate (estimate) because "
    "PVGIS could not answer.",
    ["outcome"],
)
TASK_SECONDS = Histogram(
    "lfs_enrichment_task_seconds",
    "Duration of an enrichment task (one chunk of leads) in the worker, by outcome (ok, error).",
    ["outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)


def pvgis_outcome(status: int | None) -> str:
    """The outcome label of a PVGIS HTTP answer (None: no answer at all)."""
    if status == 200:
        return "ok"
    if status == 429:
        return "429"
    return "error"
