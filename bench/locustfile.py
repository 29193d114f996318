"""Simulated people at work, for locust: ``bench/loadtest.py`` runs it against a served app.

Each simulated person logs in once, then works with think time between actions (2–10 s), in the
proportions of a prospecting team (OPS most, then sales, managers, an admin). The request names
are route templates, so locust's statistics are per route.

What keeps it a working day rather than a request loop:

- People arrive over a ramp (``bench/loadtest.py`` starts 2 a second: a team of 500 in about
  four minutes, a harsher morning than a real one) and log in once each. The login and
  tile-token figures are those of that ramp; every other route's figures are taken once
  everyone has arrived (the statistics are reset then, the two ramp routes kept), so they are
  the steady state at that many people, not an average over a half-empty ramp.
- A sales person exports now and then (about once every five minutes of work: weight 1 of 46
  actions, 2–10 s apart), and exports what the web app's buttons request (the pipeline page:
  an xlsx or a French CSV with the page's filters — a department most times, a lowest score
  sometimes, no status: everything the role may see), the way the web app does: asked of the
  worker (``POST /api/leads/exports``), polled every second, then downloaded.
- ``FastHttpUser`` (geventhttpclient): the generator runs on the same 2 cores as the server, and
  the requests-based ``HttpUser`` costs several times its CPU per request; ``bench/loadtest.py``
  measures and prints the generator's CPU beside the server's.

Environment: ``LFS_LOAD_PASSWORD`` (the seeded users' password), ``LFS_LOAD_MAX_LEAD`` (the
highest lead id), ``LFS_LOAD_USERS`` (JSON: role → list of e-mails).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from typing import Any
from urllib.parse import urlencode

import gevent
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.stats import StatsEntry

PASSWORD = os.environ.get("LFS_LOAD_PASSWORD", "bench-password-123")
MAX_LEAD = int(os.environ.get("LFS_LOAD_MAX_LEAD", "100000"))
USERS: dict[str, list[str]] = json.loads(os.environ.get("LFS_LOAD_USERS", "{}"))
STATUSES = ["NEW", "ENRICHED", "QUALIFIED", "IN_REVIEW", "CLIENT_READY", "SOLD"]
DEPARTMENTS = ["15", "17", "27", "69"]
SORTS = ["-created_at", "-quality_score", "area_m2", "-updated_at"]
# Prospecting areas (lon, lat) in the seeded départements.
CENTRES = [(2.45, 45.03), (-0.63, 45.75), (1.15, 49.1), (4.65, 45.97)]
# LFS_LOAD_LEGACY=1: the people of a version before issue 18's work (the "before" figures, run
# with PYTHONPATH pointing at a checkout of it and bench/loadtest.py --db on its own seeded
# database): its lead creation takes no declared duplicates, its exports are the in-request
# routes, its CSV has no dialect.
LEGACY = os.environ.get("LFS_LOAD_LEGACY") == "1"
# Requests made while arriving: their figures are the ramp's (see _steady_state).
RAMP_ROUTES = {"/api/auth/login", "/api/auth/tile-token"}


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    environment.events.spawning_complete.add_listener(lambda **_: _steady_state(environment))


def _steady_state(environment: Environment) -> None:
    """Everyone has arrived: from now on the statistics are the steady state at this many
    people; the logins and tile tokens of the ramp are kept (they happen only then)."""
    stats = environment.stats
    if stats is None:
        return
    kept = []
    for (name, method), entry in stats.entries.items():
        if name in RAMP_ROUTES:
            copy = StatsEntry(stats, name, method, entry.use_response_times_cache)
            copy.extend(entry)
            kept.append(copy)
    stats.reset_all()
    for copy in kept:
        stats.entries[(copy.name, copy.method)] = copy


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a position."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


class Person(FastHttpUser):
    """What every role does: log in once, look at the map, the list and leads."""

    abstract = True
    role = "OPS"
    wait_time = between(2, 10)

    def on_start(self) -> None:
        """Log in (once per simulated person) and get a tile token. Locust starts people in
        whole batches each second (2 at the same instant at 2 a second); a person logs in at a
        random moment of that second, as arrivals do, not in lockstep with another."""
        gevent.sleep(random.uniform(0, 1))
        emails = USERS.get(self.role) or [f"{self.role.lower()}1@bench.local"]
        email = random.choice(emails)
        r = self.client.post(
            "/api/auth/login", json={"email": email, "password": PASSWORD}, name="/api/auth/login"
        )
        self.auth = {"Authorization": f"Bearer {r.json().get('access_token', '')}"}
        r = self.client.post("/api/auth/tile-token", headers=self.auth, name="/api/auth/tile-token")
        self.tile_token = r.json().get("token", "") if r.ok else ""
        self.centre = random.choice(CENTRES)
        self.my_leads: list[int] = []

    def get(self, path: str, name: str, params: dict[str, Any] | None = None) -> Any:
        if params:
            path = f"{path}?{urlencode(params, doseq=True)}"
        return self.client.get(path, headers=self.auth, name=name)

    def map_move(self) -> None:
        """A pan or zoom: the 3 x 2 tiles of the view, leads and communes layers."""
        lon, lat = self.centre
        lon += random.uniform(-0.05, 0.05)
        lat += random.uniform(-0.05, 0.05)
        z = random.choice([11, 12, 13, 14, 15])
        x0, y0 = tile_of(lon, lat, z)
        for dx in range(3):
            for dy in range(2):
                self.client.get(
                    f"/tiles/leads,communes/{z}/{x0 + dx}/{y0 + dy}.mvt?token={self.tile_token}",
                    name="/tiles/{layers}/{z}/{x}/{y}.mvt",
                )

    def list_page(self, **extra: Any) -> None:
        params: dict[str, Any] = {"page_size": 50, "sort": random.choice(SORTS)}
        if random.random() < 0.5:
            params["status"] = random.sample(STATUSES, 2)
        if random.random() < 0.5:
            params["department"] = random.choice(DEPARTMENTS)
        if random.random() < 0.2:
            params["score_min"] = random.randint(0, 80)
        if random.random() < 0.1:
            params["q"] = str(random.randint(10, 99))
        params.update(extra)
        r = self.get("/api/leads", "/api/leads", params=params)
        if r.ok:
            self.seen = [item["id"] for item in r.json().get("items", [])]

    def detail(self) -> dict[str, Any] | None:
        ids = getattr(self, "seen", None) or [random.randint(1, MAX_LEAD)]
        lead_id = random.choice(ids)
        with self.client.get(
            f"/api/leads/{lead_id}", headers=self.auth, name="/api/leads/{id}", catch_response=True
        ) as r:
            if r.status_code == 404:  # not visible to this role: a normal answer
                r.success()
                return None
            return r.json() if r.ok else None


class Ops(Person):
    """Prospectors: map, list, leads, comments, moves, a few creations."""

    role = "OPS"
    weight = 60

    @task(6)
    def map(self) -> None:
        self.map_move()

    @task(4)
    def browse(self) -> None:
        self.list_page()

    @task(4)
    def open_lead(self) -> None:
        self.detail()

    @task(1)
    def comment(self) -> None:
        lead = self.detail()
        if lead is not None:
            self.client.post(
                f"/api/leads/{lead['id']}/comments",
                headers=self.auth,
                json={"body": "Vu le propriétaire, à rappeler."},
                name="/api/leads/{id}/comments",
            )

    @task(1)
    def create(self) -> None:
        lon, lat = self.centre
        x, y = lon + random.uniform(-0.05, 0.05), lat + random.uniform(-0.05, 0.05)
        d = random.uniform(0.001, 0.004)
        ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
        r = self.client.post(
            "/api/leads",
            headers=self.auth,
            json={
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "name": "Prospection",
                # Random squares overlap other leads: declared duplicates (else 409 lead.overlaps).
                **({} if LEGACY else {"allow_duplicate": True, "duplicate_reason": "load test"}),
            },
            name="/api/leads (create)",
        )
        if r.ok:
            self.my_leads.append(r.json()["id"])

    @task(1)
    def move(self) -> None:
        if not self.my_leads:
            return
        lead_id = random.choice(self.my_leads)
        r = self.get(f"/api/leads/{lead_id}", "/api/leads/{id}")
        allowed = r.json().get("allowed_transitions", []) if r.ok else []
        targets = [s for s in allowed if s not in ("REJECTED", "ARCHIVED")]
        if not targets and r.ok and r.json().get("status") == "NEW":
            # Not enriched yet, so it can't move on: the lead page's "Enrichir" (this lead, now).
            self.client.post(
                f"/api/enrichment/{lead_id}", headers=self.auth, name="/api/enrichment/{id}"
            )
        elif targets:
            self.client.post(
                f"/api/leads/{lead_id}/transition",
                headers=self.auth | {"If-Match": r.headers.get("etag", "")},
                json={"status": random.choice(targets)},
                name="/api/leads/{id}/transition",
            )


class Manager(Person):
    """Managers: the pipeline, analytics, QA reviews, an enrichment batch now and then."""

    role = "MANAGER"
    weight = 15

    @task(3)
    def browse(self) -> None:
        self.list_page(status=["IN_REVIEW", "QUALIFIED"])

    @task(3)
    def open_lead(self) -> None:
        self.detail()

    @task(2)
    def dashboards(self) -> None:
        for name in random.sample(["funnel", "weekly", "scores", "departments"], 2):
            self.get(f"/api/analytics/{name}", "/api/analytics/{name}")
        self.get("/api/pipeline", "/api/pipeline")

    @task(2)
    def map(self) -> None:
        self.map_move()

    @task(1)
    def enrich_batch(self) -> None:
        ids = getattr(self, "seen", None) or []
        if ids:
            self.client.post(
                "/api/enrichment/batch",
                headers=self.auth,
                json={"lead_ids": ids[:10]},
                name="/api/enrichment/batch",
            )


class Sales(Person):
    """Sales: client-ready leads, their details, an export now and then."""

    role = "COMMERCIAL"
    weight = 20

    @task(20)
    def browse(self) -> None:
        self.list_page(status=["CLIENT_READY"])

    @task(20)
    def open_lead(self) -> None:
        self.detail()

    @task(1)
    def export(self) -> None:
        """The pipeline page's buttons: the workbook or the French CSV of the page's filters,
        asked of the worker, polled every second as the web app does, then downloaded. The time
        from asking to written is a JOB line of its own (not a route: no request waits for it)."""
        params: dict[str, Any] = {}
        if random.random() < 0.6:
            params["department"] = random.choice(DEPARTMENTS)
        if random.random() < 0.25:
            params["score_min"] = random.choice([40, 60, 80])
        if random.random() < 0.5:
            params["format"] = "xlsx"
        else:
            params.update(format="csv", dialect="fr")
        asked = time.monotonic()
        if LEGACY:  # the in-request routes, the CSV without a dialect
            fmt = params.pop("format")
            params.pop("dialect", None)
            self.get(f"/api/leads/export.{fmt}", f"/api/leads/export.{fmt}", params=params)
            return
        r = self.client.post(
            f"/api/leads/exports?{urlencode(params)}", headers=self.auth, name="/api/leads/exports"
        )
        if not r.ok:
            return
        job = r.json()
        while job["status"] in ("queued", "running") and time.monotonic() - asked < 300:
            gevent.sleep(1)
            r = self.get(f"/api/leads/exports/{job['id']}", "/api/leads/exports/{id}")
            if not r.ok:
                return
            job = r.json()
        written = job["status"] == "done"
        self.environment.events.request.fire(
            request_type="JOB",
            name=f"export {params['format']} (asked -> written)",
            response_time=(time.monotonic() - asked) * 1000,
            response_length=job.get("size_bytes") or 0,
            exception=None if written else RuntimeError(job.get("error") or job["status"]),
            context={},
        )
        if written:
            self.get(job["file_url"], "/api/leads/exports/{id}/file")

    @task(5)
    def map(self) -> None:
        self.map_move()


class Admin(Person):
    """The administrator: users and analytics."""

    role = "ADMIN"
    weight = 5

    @task(1)
    def users(self) -> None:
        self.get("/api/users", "/api/users")

    @task(1)
    def dashboards(self) -> None:
        self.get("/api/analytics/funnel", "/api/analytics/{name}")

    @task(1)
    def browse(self) -> None:
        self.list_page()
