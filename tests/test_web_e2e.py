"""The web app end to end in Debian's Chromium, against the real API on PostGIS with the demo data.

The browser part is ``web/e2e/run.mjs`` (playwright-core, ``/usr/bin/chromium``); this module
gives it a live server (uvicorn on a loopback port) with the demo dataset of ``data/``, a PVGIS
stand-in, one user per role, and the freshly built bundle. Screenshots and figures go to
``test-artifacts/web/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.security import hash_password
from api.settings import PROJECT_ROOT, Settings
from geo.db import make_engine, make_sessionmaker
from geo.importers.demo import load_demo
from geo.models import Role, User
from tests.conftest import PASSWORD, LiveServer, make_settings
from tests.pvgis_standin import PvgisStandin
from tests.server_process import worker_process

pytestmark = pytest.mark.slow

WEB = PROJECT_ROOT / "web"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "web"
USERS = {
    "ADMIN": ("admin@lfs.test", "Alice Admin"),
    "MANAGER": ("manager@lfs.test", "Marc Manager"),
    "OPS": ("ops@lfs.test", "Olivia Ops"),
    "COMMERCIAL": ("sales@lfs.test", "Chloé Commerciale"),
}


def _require_tools() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (make test installs Debian's chromium)")
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js is missing")


@pytest.fixture(scope="module")
def bundle() -> Path:
    """The web app built from the current sources (a no-op when already up to date)."""
    _require_tools()
    subprocess.run([str(PROJECT_ROOT / "scripts" / "build-web.sh")], check=True, timeout=900)
    dist = WEB / "dist"
    assert (dist / "index.html").is_file()
    return dist


@pytest.fixture(scope="module")
def standin() -> Iterator[PvgisStandin]:
    """PVGIS on loopback, speaking the real protocol."""
    s = PvgisStandin().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def settings(
    db_url: str, tmp_path_factory: pytest.TempPathFactory, standin: PvgisStandin, bundle: Path
) -> Settings:
    """Settings serving the built bundle, with PVGIS pointed at the stand-in."""
    return make_settings(
        db_url,
        tmp_path_factory.mktemp("web"),
        web_dist=bundle,
        pvgis={"base_url": standin.url, "retries": 1},
    )


async def _seed(settings: Settings) -> None:
    engine = make_engine(settings.async_database_url)
    try:
        factory = make_sessionmaker(engine)
        await load_demo(factory, PROJECT_ROOT / "data")
        password_hash = hash_password(PASSWORD, rounds=10)
        async with factory() as session:
            for role, (email, name) in USERS.items():
                session.add(
                    User(email=email, full_name=name, role=Role(role), password_hash=password_hash)
                )
            await session.commit()
    finally:
        await engine.dispose()


def run_scenario(script: str, url: str, failure: str, **env: str) -> dict:
    """Run ``web/e2e/<script>`` in Chromium against ``url``; its figures, once it has passed
    (``failure`` names the screenshot it leaves otherwise)."""
    proc = subprocess.run(
        ["node", str(WEB / "e2e" / script), url],
        cwd=WEB,
        env={
            **os.environ,
            "E2E_USERS": json.dumps({role: email for role, (email, _) in USERS.items()}),
            "E2E_PASSWORD": PASSWORD,
            "E2E_ARTIFACTS": str(ARTIFACTS),
            "CHROMIUM": CHROMIUM,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = proc.stdout.strip().splitlines()
    figures = json.loads(lines[-1]) if lines else {}
    assert proc.returncode == 0 and figures.get("ok"), (
        f"{script} failed (see {ARTIFACTS / failure})\n{figures.get('error')}\n"
        f"{proc.stderr[-4000:]}"
    )
    return figures


async def test_web_app_end_to_end(settings: Settings) -> None:
    await _seed(settings)
    server = LiveServer(settings).start()
    try:
        # The worker writes the pipeline page's Excel export (POST /api/leads/exports).
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with worker_process(settings, ARTIFACTS / "worker.log"):
            figures = run_scenario("run.mjs", server.url, "failure.png")
    finally:
        server.stop()
    shots = {s["file"] for s in figures["screenshots"]}
    assert len(shots) == 12 and all((ARTIFACTS / f).is_file() for f in shots)
    assert figures["parcels_rendered_z15"] > 50
    assert figures["pdf_bytes"] > 1000
    print("web e2e figures:", json.dumps({k: v for k, v in figures.items() if k != "screenshots"}))
