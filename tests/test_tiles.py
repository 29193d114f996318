"""Vector tiles on real cadastre data: features, attributes, geometry, RBAC, ETags, GDAL."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely import affinity
from shapely.geometry import box, shape

from api.security import create_token
from geo.activity import bump_layer_version
from geo.models import Lead, LeadStatus, Role
from tests.conftest import assert_problem, login
from tests.tiles_data import (
    CADASTRE,
    COMMUNES,
    create_leads,
    features,
    load_reference,
    parcel_geometry,
)
from tiles.layers import LAYERS

TMS = morecantile.tms.get("WebMercatorQuad")
TO_3857 = Transformer.from_crs(4326, 3857, always_xy=True).transform


def transform(fn, geom):
    """Reproject a shapely geometry with a pyproj transform function."""
    return shapely.transform(geom, lambda c: np.column_stack(fn(c[:, 0], c[:, 1])))


GEOD = Geod(ellps="WGS84")
# Commune 69114 (Rhône): the tiles that cover it.
Z14 = (14, 8403, 5830)
Z13 = (13, 4201, 2915)
Z12 = (12, 2100, 1457)
BUFFER = 64 / 4096


@pytest.fixture(scope="module")
def loaded(db_url: str) -> dict[str, int]:
    return load_reference(db_url)


@pytest.fixture(scope="module")
async def users(make_user, loaded):
    return {
        "ops1": await make_user(Role.OPS),
        "ops2": await make_user(Role.OPS),
        "commercial": await make_user(Role.COMMERCIAL),
        "manager": await make_user(Role.MANAGER),
        "admin": await make_user(Role.ADMIN),
    }


@pytest.fixture(scope="module")
async def leads(state, users):
    return await create_leads(state.sessions, users)


@pytest.fixture(scope="module")
async def tokens(client, users):
    return {k: await login(client, u.email) for k, u in users.items()}


def tile_box(z: int, x: int, y: int, buffer: float = 0.0):
    """The tile's EPSG:3857 square, optionally grown by a fraction of its size."""
    b = TMS.xy_bounds(x, y, z)
    size = b.right - b.left
    return box(
        b.left - buffer * size,
        b.bottom - buffer * size,
        b.right + buffer * size,
        b.top + buffer * size,
    )


def decode(content: bytes) -> dict:
    return mapbox_vector_tile.decode(content)


PARCELS_3857 = None


def parcels_3857() -> dict[str, object]:
    global PARCELS_3857
    if PARCELS_3857 is None:
        PARCELS_3857 = {
            f["properties"]["id"]: transform(TO_3857, shape(f["geometry"]))
            for f in features(CADASTRE)
        }
    return PARCELS_3857


async def test_parcels_tile_has_the_parcels_of_the_tile(client, loaded) -> None:
    z, x, y = Z14
    r = await client.get(f"/tiles/parcels/{z}/{x}/{y}.mvt")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = decode(r.content)["parcels"]
    got = {f["properties"]["id"] for f in layer["features"]}
    inner, outer = tile_box(z, x, y), tile_box(z, x, y, BUFFER * 1.01)
    must = {pid for pid, g in parcels_3857().items() if g.intersects(inner)}
    may = {pid for pid, g in parcels_3857().items() if g.intersects(outer)}
    assert must and must <= got <= may
    ids = [f["id"] for f in layer["features"]]
    assert len(set(ids)) == len(ids) and all(0 <= i < 2**53 for i in ids)


async def test_parcel_attributes_and_geometry(client, loaded) -> None:
    z, x, y = 15, 16807, 11660
    r = await client.get(f"/tiles/parcels/{z}/{x}/{y}.mvt")
    feats = {f["properties"]["id"]: f for f in decode(r.content)["parcels"]["features"]}
    src = {f["properties"]["id"]: f for f in features(CADASTRE)}
    tb = tile_box(z, x, y)
    size = tb.bounds[2] - tb.bounds[0]
    checked = 0
    for pid, feat in feats.items():
        g = parcels_3857()[pid]
        if not g.within(tb):
            continue  # clipped at the tile edge
        props = feat["properties"]
        assert props["contenance"] == src[pid]["properties"]["contenance"]
        assert props["section"] == src[pid]["properties"]["section"]
        geodesic = abs(GEOD.geometry_area_perimeter(shape(src[pid]["geometry"]))[0])
        assert props["area_m2"] == pytest.approx(geodesic, abs=1.0)
        # Expected tile-space geometry: the parcel in 3857, scaled to the 4096 extent (y up).
        expected = affinity.affine_transform(
            g,
            [
                4096 / size,
                0,
                0,
                4096 / size,
                -tb.bounds[0] * 4096 / size,
                -tb.bounds[1] * 4096 / size,
            ],
        )
        got = shape(feat["geometry"])
        if expected.area > 400:  # larger than 20×20 tile units: grid snapping is negligible
            assert got.symmetric_difference(expected).area / expected.area < 0.05, pid
            checked += 1
    assert checked >= 10


async def test_parcels_zoom_range_and_low_zoom_attributes(client, loaded) -> None:
    # z11-12: only the parcels of 2 ha or more (geodesic area), z10: 5 ha; their id and area.
    area = {
        f["properties"]["id"]: abs(GEOD.geometry_area_perimeter(shape(f["geometry"]))[0])
        for f in features(CADASTRE)
    }
    assert 3 < sum(1 for a in area.values() if a >= 20000) < 200
    for (z, x, y), floor_m2 in ((Z12, 20000), ((11, 1050, 728), 20000), ((10, 525, 364), 50000)):
        r = await client.get(f"/tiles/parcels/{z}/{x}/{y}.mvt")
        got = {}
        if r.status_code == 200:
            got = {
                f["properties"]["id"]: f["properties"]
                for f in decode(r.content)["parcels"]["features"]
            }
        tb = tile_box(z, x, y)
        unit2 = (tb.bounds[2] - tb.bounds[0]) ** 2 / 4096**2
        # PostGIS' area within 10 m²; a sliver at the tile's edge may collapse on the grid.
        must = {p for p, a in area.items() if a >= floor_m2 + 10}
        must = {p for p in must if parcels_3857()[p].intersection(tb).area > 16 * unit2}
        may = {p for p, a in area.items() if a >= floor_m2 - 10}
        may = {p for p in may if parcels_3857()[p].intersects(tile_box(z, x, y, BUFFER))}
        assert must <= set(got) <= may, z
        assert z == 10 or must, z
        assert all(set(p) == {"id", "area_m2"} for p in got.values())
        assert all(abs(p["area_m2"] - area[pid]) <= 10 for pid, p in got.items())
    assert (await client.get("/tiles/parcels/9/262/182.mvt")).status_code == 204
    r = await client.get(f"/tiles/parcels/{Z13[0]}/{Z13[1]}/{Z13[2]}.mvt")
    feats = decode(r.content)["parcels"]["features"]
    got = {f["properties"]["id"] for f in feats}
    inner = tile_box(*Z13)
    unit2 = (inner.bounds[2] - inner.bounds[0]) ** 2 / 4096**2
    # Slivers of less than a few tile units inside the tile collapse in ST_AsMVTGeom (right).
    must = {p for p, g in parcels_3857().items() if g.intersection(inner).area > 16 * unit2}
    may = {p for p, g in parcels_3857().items() if g.intersects(tile_box(*Z13, BUFFER * 1.01))}
    assert must <= got <= may and len(got) > 3000
    assert set(feats[0]["properties"]) == {"id", "area_m2"}
    assert len(r.content) < 500_000


async def test_composite_tile_has_every_layer(client, loaded) -> None:
    z, x, y = Z13
    r = await client.get(f"/tiles/parcels,communes,substations/{z}/{x}/{y}.pbf")
    tile = decode(r.content)
    assert {"parcels", "communes"} <= set(tile)
    communes = {f["properties"]["insee"]: f["properties"] for f in tile["communes"]["features"]}
    # The commune polygon holding parcel AA0030 (69114 merged into a commune nouvelle).
    centre = shape(parcel_geometry("69114000AA0030")).representative_point()
    holder = next(f for f in features(COMMUNES) if shape(f["geometry"]).contains(centre))
    assert communes[holder["properties"]["code"]]["name"] == holder["properties"]["nom"]
    inner = tile_box(z, x, y)
    expected = {
        f["properties"]["code"]
        for f in features(COMMUNES)
        if transform(TO_3857, shape(f["geometry"])).intersection(inner).area > 1e4
    }
    assert expected <= set(communes)
    single = decode((await client.get(f"/tiles/parcels/{z}/{x}/{y}.mvt")).content)
    assert len(single["parcels"]["features"]) == len(tile["parcels"]["features"])


async def test_communes_low_zoom_simplified_and_small(client, loaded) -> None:
    z, x, y = 7, 65, 45
    r = await client.get(f"/tiles/communes/{z}/{x}/{y}.mvt")
    got = {f["properties"]["insee"] for f in decode(r.content)["communes"]["features"]}
    inner = tile_box(z, x, y)
    expected = {
        f["properties"]["code"]
        for f in features(COMMUNES)
        if transform(TO_3857, shape(f["geometry"])).intersects(inner)
    }
    assert got == expected
    assert len(r.content) < 100_000


async def test_empty_tile_is_204_and_bad_coordinates(client, loaded) -> None:
    r = await client.get("/tiles/parcels/14/0/0.mvt")
    assert r.status_code == 204
    assert_problem(await client.get("/tiles/parcels/14/99999/1.mvt"), 404)
    assert_problem(await client.get("/tiles/parcels/23/1/1.mvt"), 404)
    assert_problem(await client.get("/tiles/parcels/-1/0/0.mvt"), 404)
    assert_problem(await client.get("/tiles/parcels/a/1/1.mvt"), 400)
    assert_problem(await client.get("/tiles/parcels/14/1.5/1.mvt"), 400)
    assert_problem(await client.get("/tiles/parcels/14/1/1.png"), 404)
    body = assert_problem(await client.get("/tiles/nope,parcels/14/1/1.mvt"), 404)
    assert "parcels" in body["layers"] and "leads" in body["layers"]  # type: ignore[operator]


async def test_head_gzip_etag_304(client, loaded) -> None:
    z, x, y = Z14
    url = f"/tiles/parcels/{z}/{x}/{y}.mvt"
    r = await client.get(url, headers={"Accept-Encoding": "gzip"})
    etag = r.headers["etag"]
    assert r.headers["content-encoding"] == "gzip"
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    for resp in (r, plain):  # no token twice (the gzip middleware used to add a second one)
        vary = [v.strip().lower() for v in ",".join(resp.headers.get_list("vary")).split(",")]
        assert "accept-encoding" in vary and len(vary) == len(set(vary)), vary
    assert decode(plain.content) == decode(r.content)
    head = await client.head(url)
    assert head.status_code == 200 and head.headers["etag"] == etag and not head.content
    r304 = await client.get(url, headers={"If-None-Match": etag})
    assert r304.status_code == 304 and not r304.content and r304.headers["etag"] == etag
    assert r.headers["cache-control"] == "public, no-cache"
    tj = (await client.get("/tiles/parcels.json")).json()
    v = tj["tiles"][0].split("?v=")[1]
    versioned = await client.get(f"{url}?v={v}")
    assert "immutable" in versioned.headers["cache-control"]
    assert versioned.headers["access-control-allow-origin"] == "*"


async def test_leads_rbac_per_role(client, leads, tokens, users) -> None:
    z, x, y = Z12
    by_id = {lead.id: lead for lead in leads}
    expected = {
        "admin": set(by_id),
        "manager": set(by_id),
        "ops1": {
            lead.id for lead in leads if lead.assignee_id == users["ops1"].id or lead.is_public
        },
        "ops2": {
            lead.id for lead in leads if lead.assignee_id == users["ops2"].id or lead.is_public
        },
        "commercial": {lead.id for lead in leads if lead.status in ("CLIENT_READY", "SOLD")},
    }
    assert expected["ops1"] == {leads[0].id, leads[1].id}
    assert expected["commercial"] == {leads[2].id, leads[3].id}
    for role, ids in expected.items():
        r = await client.get(
            f"/tiles/leads/{z}/{x}/{y}.mvt", headers={"Authorization": f"Bearer {tokens[role]}"}
        )
        got = decode(r.content)["leads"]["features"] if r.status_code == 200 else []
        assert {f["id"] for f in got} == ids, role
        for f in got:
            assert f["properties"]["status"] == by_id[f["id"]].status
            assert "owners" not in f["properties"]
    # Clusters below z10 count exactly the visible leads.
    r = await client.get(
        "/tiles/leads/6/32/22.mvt", headers={"Authorization": f"Bearer {tokens['ops1']}"}
    )
    clusters = decode(r.content)["leads"]["features"]
    assert sum(f["properties"]["count"] for f in clusters) == 2
    assert_problem(await client.get(f"/tiles/leads/{z}/{x}/{y}.mvt"), 401)
    assert_problem(await client.get(f"/tiles/parcels,leads/{z}/{x}/{y}.mvt"), 401)


async def test_tile_tokens(client, leads, tokens, state, users) -> None:
    z, x, y = Z12
    r = await client.post(
        "/api/auth/tile-token", headers={"Authorization": f"Bearer {tokens['commercial']}"}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["expires_in"] == 3600
    r = await client.get(f"/tiles/leads/{z}/{x}/{y}.mvt?token={body['token']}")
    got = {f["properties"]["status"] for f in decode(r.content)["leads"]["features"]}
    assert got == {"CLIENT_READY", "SOLD"}
    # The tile token is not an API token.
    assert_problem(
        await client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"}),
        401,
    )
    secret = state.settings.auth.jwt_secret.get_secret_value()
    expired, _ = create_token(users["admin"].id, Role.ADMIN, secret, timedelta(seconds=-5), "tile")
    forged, _ = create_token(
        users["admin"].id,
        Role.ADMIN,
        "not-the-secret-but-long-enough-for-hs256!",
        timedelta(60),
        "tile",
    )
    for bad in (expired, forged, "garbage"):
        assert_problem(await client.get(f"/tiles/leads/{z}/{x}/{y}.mvt?token={bad}"), 401)
    assert_problem(await client.post("/api/auth/tile-token"), 401)


async def _tile_token(client, access: str) -> str:
    r = await client.post("/api/auth/tile-token", headers={"Authorization": f"Bearer {access}"})
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


async def test_urls_take_only_tile_tokens(client, leads, tokens) -> None:
    # An access token in a URL lands in access logs, histories and Referer headers: refused
    # there (401), taken in the Authorization header; a tile token works in both.
    access = tokens["manager"]
    tile = await _tile_token(client, access)
    z, x, y = Z12
    for url in [
        f"/tiles/leads/{z}/{x}/{y}.mvt",
        f"/tiles/leads/WebMercatorQuad/{z}/{y}/{x}",
        "/tiles/leads.json",
        "/tiles/parcels.json",
        "/tiles/style.json",
        "/tiles/leads/metadata.json",
    ]:
        body = assert_problem(await client.get(url, params={"token": access}), 401)
        assert "Authorization header" in body["detail"], body
        assert access not in json.dumps(body)
        for ok in (
            await client.get(url, headers={"Authorization": f"Bearer {access}"}),
            await client.get(url, headers={"Authorization": f"Bearer {tile}"}),
            await client.get(url, params={"token": tile}),
        ):
            assert ok.status_code in (200, 204), (url, ok.text)
            assert access not in ok.text
    # A header never makes a link carry a token; a query tile token is carried on.
    tj = (
        await client.get("/tiles/leads.json", headers={"Authorization": f"Bearer {access}"})
    ).json()
    assert "token" not in tj["tiles"][0]
    tj = (await client.get("/tiles/leads.json", params={"token": tile})).json()
    assert f"token={tile}" in tj["tiles"][0]


async def test_leads_tile_fresh_after_write(client, leads, tokens, state) -> None:
    z, x, y = Z12
    url = f"/tiles/leads/{z}/{x}/{y}.mvt"
    headers = {"Authorization": f"Bearer {tokens['manager']}"}
    r1 = await client.get(url, headers=headers)
    assert r1.headers["cache-control"] == "private, no-cache"
    etag = r1.headers["etag"]
    assert (await client.get(url, headers={**headers, "If-None-Match": etag})).status_code == 304
    async with state.sessions() as session:
        lead = await session.get(Lead, leads[0].id)
        lead.status = LeadStatus.ENRICHED
        await bump_layer_version(session, "leads")
        await session.commit()
    r2 = await client.get(url, headers={**headers, "If-None-Match": etag})
    assert r2.status_code == 200 and r2.headers["etag"] != etag
    statuses = {f["id"]: f["properties"]["status"] for f in decode(r2.content)["leads"]["features"]}
    assert statuses[leads[0].id] == "ENRICHED"
    # Another scope gets another ETag for the same URL.
    r3 = await client.get(url, headers={"Authorization": f"Bearer {tokens['ops1']}"})
    assert r3.headers["etag"] != r2.headers["etag"]


async def test_tilejson_metadata_style_tms(client, loaded) -> None:
    tj = (await client.get("/tiles/parcels,communes.json")).json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"][0].startswith("http://test/tiles/parcels,communes/{z}/{x}/{y}.mvt?v=")
    assert tj["minzoom"] == 6 and tj["maxzoom"] == 16
    # bounds: the data's extent (commune 69114's cadastre and the Rhône communes), center in it.
    lons = [
        c for f in features(CADASTRE) + features(COMMUNES) for c in shape(f["geometry"]).bounds[::2]
    ]
    lats = [
        c
        for f in features(CADASTRE) + features(COMMUNES)
        for c in shape(f["geometry"]).bounds[1::2]
    ]
    west, south, east, north = tj["bounds"]
    assert west == pytest.approx(min(lons), abs=0.02) and east == pytest.approx(max(lons), abs=0.02)
    assert south == pytest.approx(min(lats), abs=0.02) and north == pytest.approx(
        max(lats), abs=0.02
    )
    lon, lat, zoom = tj["center"]
    assert west < lon < east and south < lat < north and 6 <= zoom <= 16
    parcels = (await client.get("/tiles/parcels.json")).json()
    assert 10 <= parcels["center"][2] <= 16 and parcels["bounds"][0] > 4.6
    layers = {v["id"]: v for v in tj["vector_layers"]}
    assert layers["parcels"]["fields"]["contenance"] == "Number"
    assert layers["parcels"]["minzoom"] == 10
    meta = (await client.get("/tiles/parcels/metadata.json")).json()
    assert json.loads(meta["json"])["vector_layers"][0]["id"] == "parcels"
    assert meta["format"] == "pbf"
    assert_problem(await client.get("/tiles/nope.json"), 404)
    assert_problem(await client.get("/tiles/style.json?token=abc"), 401)  # never echoed
    anonymous = (await client.get("/tiles/style.json")).json()
    # Anonymous: the public reference source only, and no layer drawing a missing source-layer.
    assert anonymous["version"] == 8 and set(anonymous["sources"]) == {"reference"}
    assert not any(la.get("source-layer") == "leads" for la in anonymous["layers"])
    ref_url = anonymous["sources"]["reference"]["url"]
    assert "leads" not in ref_url and "token" not in ref_url
    ref = (await client.get(ref_url.replace("http://test", ""))).json()
    assert {v["id"] for v in ref["vector_layers"]} == {
        "parcels",
        "substations",
        "env_zones",
        "communes",
        "urban_zones",
        "coverage",
    }
    tms = (await client.get("/tiles/tileMatrixSets/WebMercatorQuad")).json()
    assert tms["id"] == "WebMercatorQuad"
    # The zooms served: 0..22 answer, 23 is a 404.
    assert [m["id"] for m in tms["tileMatrices"]] == [str(z) for z in range(23)]
    assert (await client.get("/tiles/parcels/22/0/0.mvt")).status_code == 204
    assert_problem(await client.get("/tiles/parcels/23/0/0.mvt"), 404)
    z, x, y = Z14
    ogc = await client.get(f"/tiles/parcels/WebMercatorQuad/{z}/{y}/{x}")
    xyz = await client.get(f"/tiles/parcels/{z}/{x}/{y}.mvt")
    assert decode(ogc.content) == decode(xyz.content)
    spec = (await client.get("/api/openapi.json")).json()
    content = spec["paths"]["/tiles/{layers}/{z}/{x}/{y}.{fmt}"]["get"]["responses"]["200"][
        "content"
    ]
    assert "application/vnd.mapbox-vector-tile" in content


def _ogr(args: list[str], env_extra: dict[str, str] | None = None) -> str:
    env = {**os.environ, "CPL_VSIL_CURL_CACHE_SIZE": "0", **(env_extra or {})}
    out = subprocess.run(
        ["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.slow
async def test_gdal_reads_a_zoom_level(live_server, loaded) -> None:
    lon0, lat0, lon1, lat1 = 4.65, 45.965, 4.655, 45.97
    x0, y0 = TO_3857(lon0, lat0)
    x1, y1 = TO_3857(lon1, lat1)
    out = _ogr(
        [
            "-al",
            "-q",
            f"MVT:/vsicurl/{live_server.url}/tiles/parcels/14",
            "-spat",
            str(x0),
            str(y0),
            str(x1),
            str(y1),
        ]
    )
    got = {
        line.split("=", 1)[1].strip()
        for line in out.splitlines()
        if line.strip().startswith("id (String)")
    }
    spat = box(x0, y0, x1, y1)
    # Tile geometries are quantised (~0.6 m at z14): slivers under 1 m² may go either way.
    must = {pid for pid, g in parcels_3857().items() if g.intersection(spat).area > 1.0}
    may = {pid for pid, g in parcels_3857().items() if g.intersects(spat.buffer(2.0))}
    assert must <= got <= may and len(got) > 20


STYLE_VALIDATE = Path(__file__).resolve().parent.parent / "web/node_modules/.bin/gl-style-validate"


@pytest.mark.skipif(not STYLE_VALIDATE.exists(), reason="web/node_modules not installed")
async def test_style_passes_the_maplibre_style_spec(client, tmp_path, tokens) -> None:
    style = tmp_path / "style.json"
    tile = await _tile_token(client, tokens["ops1"])
    style.write_text((await client.get(f"/tiles/style.json?token={tile}")).text)
    out = subprocess.run(
        [str(STYLE_VALIDATE), str(style)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


async def test_small_lead_present_at_every_zoom(client, leads, tokens, state, users) -> None:
    """A lead of ~720 m² is in the tile under it from z5 (clusters) to z18 (polygon or point)."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import MultiPolygon

    src = min(features(CADASTRE), key=lambda f: abs(f["properties"]["contenance"] - 719))
    geom = shape(src["geometry"])
    area = abs(GEOD.geometry_area_perimeter(geom)[0])
    assert 600 < area < 850, area
    async with state.sessions() as session:
        small = Lead(
            internal_name="LFS-T19-small",
            name="small site",
            status=LeadStatus.NEW,
            assignee_id=users["manager"].id,
            is_public=False,
            commune_insee="69114",
            geom=from_shape(
                geom if geom.geom_type == "MultiPolygon" else MultiPolygon([geom]), srid=4326
            ),
        )
        session.add(small)
        await bump_layer_version(session, "leads")
        await session.commit()
        small_id = small.id
    c = geom.centroid
    headers = {"Authorization": f"Bearer {tokens['manager']}"}
    all_leads = [shape(parcel_geometry(la.name.removeprefix("Site "))) for la in leads] + [geom]
    for z in range(5, 19):
        t = TMS.tile(c.x, c.y, z)
        r = await client.get(f"/tiles/leads/{z}/{t.x}/{t.y}.mvt", headers=headers)
        assert r.status_code == 200, z
        feats = decode(r.content)["leads"]["features"]
        if z < 10:
            # Clusters: every lead whose centroid lies in the tile is counted once.
            tb = tile_box(z, t.x, t.y)
            inside = sum(1 for g in all_leads if tb.contains(transform(TO_3857, g.centroid)))
            assert sum(f["properties"]["count"] for f in feats) == inside >= 1, z
        else:
            assert small_id in {f["id"] for f in feats}, z


async def test_style_sources_public_and_authenticated(client, leads, tokens) -> None:
    h = {"Authorization": f"Bearer {tokens['manager']}"}
    tile = (await client.post("/api/auth/tile-token", headers=h)).json()["token"]
    style = (await client.get(f"/tiles/style.json?token={tile}")).json()
    assert set(style["sources"]) == {"reference", "leads"}
    # The reference source needs no token: an expired one can only blank the leads.
    assert "token" not in style["sources"]["reference"]["url"]
    leads_url = style["sources"]["leads"]["url"]
    assert leads_url.endswith(f"?token={tile}") and "/tiles/leads.json" in leads_url
    names = {name for name, la in LAYERS.items() if la.reference}  # coverage's drawn by hints
    for layer in style["layers"]:
        if layer["type"] != "background":
            want = "leads" if layer["source-layer"] == "leads" else "reference"
            assert layer["source"] == want and layer["source-layer"] in names | {"leads"}
    assert {la.get("source-layer") for la in style["layers"]} >= names | {"leads"}
    tj = await client.get(leads_url.replace("http://test", ""))
    assert tj.status_code == 200 and [v["id"] for v in tj.json()["vector_layers"]] == ["leads"]


async def test_leads_tilejson_bounds_are_what_the_viewer_sees(client, leads, tokens) -> None:
    h = {"Authorization": f"Bearer {tokens['ops1']}"}
    tj = (await client.get("/tiles/leads.json", headers=h)).json()
    seen = [shape(parcel_geometry(pid)) for pid in ("69114000AA0030", "69114000AA0001")]
    want = shapely.union_all(seen).bounds
    assert tj["bounds"] == pytest.approx(list(want), abs=1e-5)
    assert tj["minzoom"] <= tj["center"][2] <= tj["maxzoom"]
    meta = (await client.get("/tiles/leads/metadata.json", headers=h)).json()
    assert [float(v) for v in meta["bounds"].split(",")] == pytest.approx(list(want), abs=1e-5)
    assert_problem(await client.get("/tiles/leads.json"), 401)
