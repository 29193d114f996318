"""The map tools in the browser (issue 20): basemaps, box and lasso selection, measures,
constraints, export and address search, through ``web/e2e/maptools.mjs`` (real mouse).

The server of tests/test_web_e2e.py (demo data, one user per role, the built bundle, the PVGIS
stand-in) with two more stand-ins on loopback: a raster tile server as the basemaps
(``LFS_BASEMAP__SOURCES``: Plan and Photo) and a BAN-protocol geocoder. The browser must ask the
tile stand-in for the basemap's tiles; the scenario checks the rest on the page.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.settings import Settings
from tests.conftest import LiveServer, make_settings
from tests.geocoder_standin import GeocoderStandin
from tests.pvgis_standin import PvgisStandin
from tests.test_web_e2e import (  # noqa: F401  (fixtures: the bundle, PVGIS stand-in)
    _seed,
    bundle,
    run_scenario,
    standin,
)
from tests.tile_standin import TileStandin

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def settings(
    db_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    standin: PvgisStandin,  # noqa: F811
    bundle: Path,  # noqa: F811
    tiles: TileStandin,
    geocoder: GeocoderStandin,
) -> Settings:
    return make_settings(
        db_url,
        tmp_path_factory.mktemp("web"),
        web_dist=bundle,
        pvgis={"base_url": standin.url, "retries": 1},
        basemap={
            "sources": [
                {"key": "plan", "label": "Plan", "kind": "plan", "url": tiles.template("plan")},
                {"key": "photo", "label": "Photo", "kind": "photo", "url": tiles.template("photo")},
                # A vector-style basemap (a style JSON whose sources and layers go under ours).
                {
                    "key": "style",
                    "label": "Plan style",
                    "kind": "plan",
                    "type": "style",
                    "url": f"{tiles.url}/style.json",
                },
                # Tiles that fail (the stand-in's 404): the map must say so, data layers kept.
                {
                    "key": "broken",
                    "label": "Photo 2",
                    "kind": "photo",
                    "url": f"{tiles.url}/missing/{{z}}/{{x}}/{{y}}.txt",
                },
            ],
            "default": "plan",
        },
        geocoder={"base_url": geocoder.url, "timeout_s": 2},
    )


async def test_web_map_tools(
    settings: Settings, tiles: TileStandin, geocoder: GeocoderStandin
) -> None:
    await _seed(settings)
    server = LiveServer(settings).start()
    try:
        figures = run_scenario(
            "maptools.mjs", server.url, "maptools/failure.png", E2E_TILES=tiles.url
        )
    finally:
        server.stop()
    # The browser really asked the stand-in for both basemaps' tiles.
    assert any(h.startswith("/plan/") for h in tiles.hits), tiles.hits[:5]
    assert any(h.startswith("/photo/") for h in tiles.hits), tiles.hits[:5]
    assert "/style.json" in tiles.hits and any(h.startswith("/styled/") for h in tiles.hits)
    assert any(q.get("q") == "place de la mairie" for q in geocoder.queries), geocoder.queries
    axe = figures["axe"]
    assert len(axe) == 3 and all(v["serious_or_critical"] == 0 for v in axe.values()), axe
    assert figures["box"]["parcels"] >= 2 and figures["lasso"]["added"] >= 1
    assert figures["export_features"] == figures["lasso"]["total_parcels"]
    shown = {k: v for k, v in figures.items() if k != "screenshots"}
    print("web map tools figures:", json.dumps(shown, ensure_ascii=False))
