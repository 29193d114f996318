"""The "Prospection" page (the site finder, issue 17) end to end in Debian's Chromium.

The browser part is ``web/e2e/prospection.mjs``; this module reuses the live-server fixtures of
``tests/test_web_e2e.py`` (the built bundle, the demo data, one user per role, a PVGIS stand-in)
in its own database, and adds a procrastinate worker in process so runs queued as background jobs
(202) finish as they do under ``make run``; a synchronous run (201) does not need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.queue import make_queue
from api.schemas.site_searches import CriteriaIn
from api.settings import Settings
from geo.models import EnvZoneType, UrbanZoneType
from tests.conftest import PASSWORD, LiveServer
from tests.test_web_e2e import (  # noqa: F401 (fixtures)
    ARTIFACTS,
    CHROMIUM,
    USERS,
    WEB,
    _seed,
    bundle,
    run_scenario,
    settings,
    standin,
)

pytestmark = pytest.mark.slow


class QueueWorker:
    """A procrastinate worker (every queue: site-finder chunks, enrichment) on its own event loop
    in a thread, until ``stop``."""

    def __init__(self, app_settings: Settings) -> None:
        self.settings = app_settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.task = self.loop.create_task(self._main())
        try:
            self.loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass
        except BaseException as e:  # reported by stop()
            self.error = e
        finally:
            self.loop.close()

    async def _main(self) -> None:
        queue = make_queue(self.settings, 2)
        async with queue.open_async():
            await queue.run_worker_async(
                concurrency=2,
                install_signal_handlers=False,
                delete_jobs="successful",
            )

    def start(self) -> QueueWorker:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.task is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended on its own
                self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the worker did not stop"
        assert self.error is None, f"the worker failed: {self.error!r}"


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[LiveServer]:  # noqa: F811
    """The app with the demo data and its users, served on loopback, with a queue worker."""
    asyncio.run(_seed(settings))
    server = LiveServer(settings).start()
    worker = QueueWorker(settings).start()
    try:
        yield server
    finally:
        worker.stop()
        server.stop()


def _token(url: str, email: str) -> dict[str, str]:
    r = httpx.post(f"{url}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_defaults_for_the_form(live: LiveServer, settings: Settings) -> None:  # noqa: F811
    ops = _token(live.url, USERS["OPS"][0])
    r = httpx.get(f"{live.url}/api/site-searches/defaults", headers=ops, timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    # The same defaults a search gets when it leaves its criteria out.
    assert body["criteria"] == CriteriaIn().model_dump(mode="json")
    assert body["criteria"]["min_buildable_ha"] == 5.0
    assert body["criteria"]["excluded_zones"]["zone_humide"] == 50.0
    assert body["zone_types"] == [t.value for t in EnvZoneType]
    assert body["plu_types"] == [t.value for t in UrbanZoneType]
    assert body["max_results"] == settings.site_finder.max_results
    created = httpx.post(
        f"{live.url}/api/site-searches",
        headers=ops,
        json={"name": "sans critères", "territory": {"communes": ["69114"]}},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    assert created.json()["criteria"] == body["criteria"]

    sales = _token(live.url, USERS["COMMERCIAL"][0])
    r = httpx.get(f"{live.url}/api/site-searches/defaults", headers=sales, timeout=30)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")


def test_prospection_page_end_to_end(live: LiveServer) -> None:
    figures = run_scenario("prospection.mjs", live.url, "prospection-failure.png")
    shots = {s["file"] for s in figures["screenshots"]}
    assert all((ARTIFACTS / f).is_file() for f in shots) and len(shots) >= 4
    assert len(figures["leads"]) == 3
    assert figures["map_candidates"] >= 3
    shown = {k: v for k, v in figures.items() if k != "screenshots"}
    print("prospection e2e figures:", json.dumps(shown))
