"""The layer registry (tiles/layers.py): one entry is all a new map layer needs.

A layer registered in-process over a table made here (real PostGIS) is served as tiles, listed by
its TileJSON and the OGC collections, its features are OGC items, the reference API summarises it
and offers its "données absentes" mask, and the web map's layer list (``/api/reference/map-layers``)
carries its label, zoom range and style — no other file changes.
"""

from __future__ import annotations

import mapbox_vector_tile
import morecantile
import pytest
from shapely.geometry import box, shape
from sqlalchemy import text

from enrichment.spatial import absent_message
from geo.importers import LAYERS as IMPORT_SPECS
from geo.models import Role
from tiles.layers import LAYERS, Attr, Layer, Style, factor_layers, imported_layers

WIND = box(4.60, 45.93, 4.66, 45.98)  # one polygon near the demo commune (69114)

WIND_LAYER = Layer(
    name="wind_zones",
    title="Wind development zones",
    table="wind_zones",
    pk="id",
    pk_type="int",
    fid_sql="t.id",
    geometry_type="Polygon",
    attrs=(Attr("id", "t.id", "Number", "zone id"), Attr("name", "t.name", "String", "name")),
    minzoom=7,
    maxzoom=15,
    description="Test layer.",
    label="Zones éoliennes",
    style=Style("fill", "#0ea5e9", z=35),
    imported=True,
    factor=True,
    queryables=("id", "name"),
)


def test_imported_layers_are_the_importers_tables() -> None:
    """Every importer's table is a registered layer of that name, and nothing else is imported."""
    assert {la.table for la in imported_layers()} == {s.table for s in IMPORT_SPECS.values()}
    assert all(la.name == la.table for la in imported_layers())
    assert {la.name for la in factor_layers()} == {
        "parcels",
        "substations",
        "env_zones",
        "urban_zones",
    }
    assert all(la.label for la in LAYERS.values())


@pytest.fixture
async def wind(state, monkeypatch: pytest.MonkeyPatch) -> Layer:
    async with state.sessions() as session, session.begin():
        await session.execute(
            text(
                "CREATE TABLE IF NOT EXISTS wind_zones (id serial PRIMARY KEY, name text, "
                "source text, geom geometry(MultiPolygon, 4326) NOT NULL)"
            )
        )
        await session.execute(text("TRUNCATE wind_zones"))
        await session.execute(
            text(
                "INSERT INTO wind_zones (name, source, geom) "
                "VALUES ('ZDE 1', 'test', ST_Multi(ST_GeomFromText(:wkt, 4326)))"
            ),
            {"wkt": WIND.wkt},
        )
    monkeypatch.setitem(LAYERS, WIND_LAYER.name, WIND_LAYER)
    return WIND_LAYER


async def test_a_registered_layer_flows_everywhere(client, auth_headers, wind) -> None:
    h = await auth_headers(Role.COMMERCIAL)

    tj = await client.get("/tiles/wind_zones.json")
    assert tj.status_code == 200, tj.text
    (vl,) = tj.json()["vector_layers"]
    assert (vl["id"], vl["minzoom"], vl["maxzoom"]) == ("wind_zones", 7, 15)
    assert vl["fields"] == {"id": "Number", "name": "String"}
    # The feature's own box, as the extent the map opens on.
    assert tj.json()["bounds"] == pytest.approx(list(WIND.bounds), abs=1e-5)

    tile = morecantile.tms.get("WebMercatorQuad").tile(*WIND.centroid.coords[0], 12)
    r = await client.get(f"/tiles/wind_zones/{tile.z}/{tile.x}/{tile.y}.mvt")
    assert r.status_code == 200, r.text
    (feature,) = mapbox_vector_tile.decode(r.content)["wind_zones"]["features"]
    assert feature["properties"]["name"] == "ZDE 1"
    below = await client.get(f"/tiles/wind_zones/6/{tile.x >> 6}/{tile.y >> 6}.mvt")
    assert below.status_code == 204 or not below.content  # below its minzoom: nothing

    # The server's MapLibre style: in the public reference source, drawn from its style hints.
    style = (await client.get("/tiles/style.json")).json()
    assert "wind_zones" in style["sources"]["reference"]["url"].split("/")[-1]
    drawn = [la for la in style["layers"] if la.get("source-layer") == "wind_zones"]
    assert [(la["id"], la["source"], la["type"]) for la in drawn] == [
        ("wind_zones-fill", "reference", "fill"),
        ("wind_zones-line", "reference", "line"),
    ]
    assert drawn[0]["paint"]["fill-color"] == "#0ea5e9"

    cols = (await client.get("/ogc/collections")).json()["collections"]
    assert "wind_zones" in [c["id"] for c in cols]
    items = (await client.get("/ogc/collections/wind_zones/items")).json()
    (item,) = items["features"]
    assert shape(item["geometry"]).equals_exact(WIND, 1e-6) or shape(item["geometry"]).area == (
        pytest.approx(WIND.area, rel=1e-6)
    )

    q = (await client.get("/ogc/collections/wind_zones/queryables")).json()
    assert set(q["properties"]) >= {"id", "name"}
    tilesets = await client.get("/ogc/collections/wind_zones/tiles")
    assert tilesets.status_code == 200, tilesets.text
    filtered = await client.get(
        "/ogc/collections/wind_zones/items", params={"filter": "name = 'nope'"}
    )
    assert filtered.status_code == 200 and filtered.json()["features"] == []

    r = await client.get("/api/reference/map-layers", headers=h)
    assert r.status_code == 200, r.text
    entry = next(i for i in r.json()["items"] if i["name"] == "wind_zones")
    assert entry["label"] == "Zones éoliennes"
    assert (entry["minzoom"], entry["maxzoom"], entry["factor"]) == (7, 15, True)
    assert entry["style"] == {"kind": "fill", "color": "#0ea5e9", "z": 35}

    summaries = (await client.get("/api/reference/layers", headers=h)).json()["items"]
    wind_summary = next(s for s in summaries if s["layer"] == "wind_zones")
    assert wind_summary["count"] == 1 and wind_summary["sources"] == {"test": 1}
    r = await client.get("/api/reference/imports", params={"layer": "wind_zones"}, headers=h)
    assert r.status_code == 200 and r.json()["total"] == 0
    # Loaded without the importer (no imports): taken as complete, no mask.
    r = await client.get("/api/reference/coverage/mask", params={"layer": "wind_zones"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["geometry"] is None
    assert absent_message("wind_zones") == "Zones éoliennes : données absentes pour cette zone"


async def test_unknown_layers_are_422(client, auth_headers) -> None:
    h = await auth_headers(Role.COMMERCIAL)
    for url, layer in (
        ("/api/reference/imports", "wind_zones"),  # not registered in this test
        ("/api/reference/coverage", "nope"),
        ("/api/reference/coverage/mask", "communes"),  # not a factor: no mask
        ("/api/reference/coverage/mask", "leads"),
    ):
        r = await client.get(url, params={"layer": layer}, headers=h)
        assert r.status_code == 422, (url, layer, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["layers"]
