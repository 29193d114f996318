"""Basemaps (``LFS_BASEMAP__*``) and the address search through a BAN-protocol geocoder.

The basemaps: the IGN Géoplateforme's WMTS by default, a local tile stand-in when configured (its
PNG fetched through the template the API hands out), Mapbox's with a public token, none when the
list is empty; the web app's CSP allows exactly their origins. The geocoder: a stand-in speaking
the BAN protocol (tests/geocoder_standin.py); its addresses come after the communes and parcels,
and when it fails, is slow or is unreachable the search still answers 200 with a French warning.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from api.services.basemaps import basemap_origins
from api.settings import Settings
from api.web import content_security_policy
from geo.models import Role
from tests.conftest import assert_problem, login, make_settings
from tests.geocoder_standin import GeocoderStandin
from tests.importing import GEODATA, run_import
from tests.tile_standin import TileStandin

COMMUNES = GEODATA / "communes-69-extract.geojson"


@pytest.fixture(scope="module")
def settings(
    db_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    tiles: TileStandin,
    geocoder: GeocoderStandin,
) -> Settings:
    """The module's app: basemaps from the tile stand-in, the geocoder stand-in (0.5 s)."""
    return make_settings(
        db_url,
        tmp_path_factory.mktemp("lfs"),
        basemap={
            "sources": [
                {
                    "key": "plan-local",
                    "label": "Plan",
                    "kind": "plan",
                    "url": tiles.template("plan"),
                    "attribution": "stand-in",
                },
                {
                    "key": "photo-local",
                    "label": "Photo",
                    "kind": "photo",
                    "url": tiles.template("photo"),
                    "max_zoom": 18,
                },
            ],
            "default": "plan-local",
        },
        geocoder={"base_url": geocoder.url, "timeout_s": 0.5},
    )


@pytest.fixture(scope="module")
async def loaded(state: Any) -> None:
    await run_import(state, "communes", COMMUNES)


async def _other_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


# -- basemaps -----------------------------------------------------------------------------------


def test_default_basemaps_are_the_ign_wmts(tmp_path: Path) -> None:
    s = Settings(web_dist=tmp_path)
    keys = [(b.key, b.kind) for b in s.basemap.sources]
    assert (
        keys == [("plan-ign", "plan"), ("ortho-ign", "photo")] and s.basemap.default == "plan-ign"
    )
    plan, photo = s.basemap.sources
    assert plan.url.startswith("https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile")
    assert "LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2" in plan.url and "FORMAT=image/png" in plan.url
    assert "LAYER=ORTHOIMAGERY.ORTHOPHOTOS" in photo.url and "FORMAT=image/jpeg" in photo.url
    for b in (plan, photo):  # the XYZ placeholders in the WebMercator matrix set PM
        assert "TILEMATRIXSET=PM" in b.url
        assert "TILEMATRIX={z}" in b.url and "TILEROW={y}" in b.url and "TILECOL={x}" in b.url
    csp = content_security_policy(s)
    assert "img-src 'self' data: blob: https://data.geopf.fr;" in csp
    assert "connect-src 'self' https://data.geopf.fr;" in csp
    # With a public Mapbox token its styles are offered too, and its origin allowed.
    mb = Settings(web_dist=tmp_path, mapbox={"token": "pk.abc"})
    assert basemap_origins(mb) == ["https://data.geopf.fr", "https://api.mapbox.com"]
    # None configured: nothing beyond our own origin.
    none = Settings(web_dist=tmp_path, basemap={"sources": []})
    assert basemap_origins(none) == [] and "connect-src 'self';" in content_security_policy(none)


def test_bad_basemap_settings_are_refused(tmp_path: Path) -> None:
    for bad in (
        {"key": "Plan IGN", "label": "Plan", "kind": "plan", "url": "https://x/{z}/{x}/{y}"},
        {"key": "p", "label": "Plan", "kind": "map", "url": "https://x/{z}/{x}/{y}"},
        {"key": "p", "label": "Plan", "kind": "plan", "url": "javascript:alert(1)"},
    ):
        with pytest.raises(ValueError):
            Settings(web_dist=tmp_path, basemap={"sources": [bad]})


def test_style_basemaps_and_their_origins(tmp_path: Path) -> None:
    style = {
        "key": "plan-vecteur",
        "label": "Plan vecteur",
        "kind": "plan",
        "type": "style",
        "url": "https://styles.example.fr/plan/style.json",
        "origins": ["https://tiles.example.fr", "https://fonts.example.fr:8443"],
    }
    s = Settings(web_dist=tmp_path, basemap={"sources": [style], "default": "plan-vecteur"})
    assert basemap_origins(s) == [
        "https://styles.example.fr",
        "https://tiles.example.fr",
        "https://fonts.example.fr:8443",
    ]
    csp = content_security_policy(s)
    assert "connect-src 'self' https://styles.example.fr https://tiles.example.fr" in csp
    # A template whose host part carries CSP syntax adds nothing to the policy.
    evil = {
        **style,
        "type": "raster",
        "url": "https://x.fr; script-src *{z}/{x}/{y}",
        "origins": [],
    }
    assert basemap_origins(Settings(web_dist=tmp_path, basemap={"sources": [evil]})) == []
    # An origin is an origin: no path, no CSP syntax smuggled in.
    for bad in ("https://x.fr; script-src *", "https://x.fr/path", "javascript:x", "*"):
        with pytest.raises(ValueError):
            Settings(web_dist=tmp_path, basemap={"sources": [{**style, "origins": [bad]}]})


async def test_basemaps_endpoint(
    client: httpx.AsyncClient, auth_headers: Any, tiles: TileStandin, settings: Settings
) -> None:
    assert_problem(await client.get("/api/reference/basemaps"), 401)
    h = await auth_headers(Role.OPS)
    r = await client.get("/api/reference/basemaps", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["default"] == "plan-local"
    assert [(b["key"], b["label"], b["kind"], b["type"]) for b in body["items"]] == [
        ("plan-local", "Plan", "plan", "raster"),
        ("photo-local", "Photo", "photo", "raster"),
    ]
    assert body["items"][1]["max_zoom"] == 18 and body["items"][0]["tile_size"] == 256
    # The template the browser gets serves a real PNG from the stand-in.
    url = body["items"][0]["url"].format(z=15, x=16824, y=11628)
    before = len(tiles.hits)
    async with httpx.AsyncClient() as http:
        tile = await http.get(url)
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
    assert tile.content.startswith(b"\x89PNG\r\n\x1a\n") and len(tiles.hits) == before + 1
    assert tiles.hits[-1] == "/plan/15/16824/11628.png"
    assert basemap_origins(settings) == [tiles.url]


async def test_basemaps_none_and_mapbox(db_url: str, tmp_path: Path, make_user: Any) -> None:
    none = make_settings(db_url, tmp_path, basemap={"sources": [], "default": "plan-ign"})
    async for c in _other_app(none):
        h = {"Authorization": f"Bearer {await login(c, (await make_user(Role.OPS)).email)}"}
        body = (await c.get("/api/reference/basemaps", headers=h)).json()
        assert body == {"items": [], "default": None}
    ign = Settings(web_dist=tmp_path).basemap  # the defaults, as a deployment has them
    mapbox = make_settings(
        db_url, tmp_path, mapbox={"token": "pk.public-token"}, basemap=ign.model_dump()
    )
    async for c in _other_app(mapbox):
        h = {"Authorization": f"Bearer {await login(c, (await make_user(Role.OPS)).email)}"}
        body = (await c.get("/api/reference/basemaps", headers=h)).json()
        keys = [b["key"] for b in body["items"]]
        assert keys == ["plan-ign", "ortho-ign", "mapbox-streets", "mapbox-satellite"]
        assert body["items"][2]["url"].startswith(
            "https://api.mapbox.com/styles/v1/mapbox/streets-v12/tiles/256/{z}/{x}/{y}@2x"
        )
        assert body["items"][2]["url"].endswith("access_token=pk.public-token")
    secret = make_settings(
        db_url, tmp_path, mapbox={"token": "sk.secret"}, basemap=ign.model_dump()
    )
    async for c in _other_app(secret):
        h = {"Authorization": f"Bearer {await login(c, (await make_user(Role.OPS)).email)}"}
        r = await c.get("/api/reference/basemaps", headers=h)
        assert "sk.secret" not in r.text and len(r.json()["items"]) == 2


# -- geocoder -----------------------------------------------------------------------------------


async def test_addresses_after_communes(
    client: httpx.AsyncClient, auth_headers: Any, loaded: None, geocoder: GeocoderStandin
) -> None:
    h = await auth_headers(Role.OPS)
    r = await client.get("/api/reference/search", headers=h, params={"q": "place de la mairie"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["warnings"] == []
    kinds = [x["kind"] for x in body["items"]]
    assert kinds == sorted(kinds, key=lambda k: k == "address") and "address" in kinds
    first = next(x for x in body["items"] if x["kind"] == "address")
    assert first == {
        "kind": "address",
        "id": "69121_0180_00001",
        "label": "1 Place de la Mairie 69380 Lozanne",
        "bbox": [4.651234, 45.963012, 4.651234, 45.963012],
        "center": [4.651234, 45.963012],
        "source": "géocodeur",
        "score": pytest.approx(0.8712345454545455),
        "type": "housenumber",
        "city": "Lozanne",
        "postcode": "69380",
        "citycode": "69121",
        "context": "69, Rhône, Auvergne-Rhône-Alpes",
    }
    assert geocoder.queries[-1] == {"q": "place de la mairie", "limit": "5"}
    # A commune and addresses in one answer: "lyon" finds the commune first, then the address.
    r = await client.get("/api/reference/search", headers=h, params={"q": "lyon"})
    items = r.json()["items"]
    assert items[0]["kind"] == "commune" and items[0]["id"] == "69123"
    assert items[-1]["kind"] == "address" and items[-1]["city"] == "Lyon"
    # Two characters: the BAN protocol would refuse them, the geocoder is not asked.
    asked = len(geocoder.queries)
    r = await client.get("/api/reference/search", headers=h, params={"q": "ly"})
    assert r.status_code == 200 and r.json()["warnings"] == [] and len(geocoder.queries) == asked


@pytest.mark.parametrize(
    ("step", "code"),
    [
        (500, "geocoder.unavailable"),
        ("garbage", "geocoder.unavailable"),
        ("timeout", "geocoder.timeout"),
    ],
)
async def test_geocoder_failures_are_warnings(
    client: httpx.AsyncClient,
    auth_headers: Any,
    loaded: None,
    geocoder: GeocoderStandin,
    step: object,
    code: str,
) -> None:
    h = await auth_headers(Role.OPS)
    geocoder.script.append(step)  # type: ignore[arg-type]
    started = time.monotonic()
    r = await client.get("/api/reference/search", headers=h, params={"q": "lyon"})
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["kind"] for x in body["items"]] == ["commune"]
    assert [w["code"] for w in body["warnings"]] == [code]
    assert body["warnings"][0]["message"].startswith("Recherche d'adresses indisponible")
    assert elapsed < 3.0  # the 0.5 s timeout, not the stand-in's 5 s


async def test_unreachable_geocoder(db_url: str, tmp_path: Path, make_user: Any) -> None:
    s = make_settings(db_url, tmp_path, geocoder={"base_url": "http://127.0.0.1:9", "timeout_s": 1})
    async for c in _other_app(s):
        h = {"Authorization": f"Bearer {await login(c, (await make_user(Role.OPS)).email)}"}
        r = await c.get("/api/reference/search", headers=h, params={"q": "place de la mairie"})
        assert r.status_code == 200, r.text
        assert [w["code"] for w in r.json()["warnings"]] == ["geocoder.unavailable"]
