"""OGC API Features on real data: paging, bbox, filters, CQL2, RBAC, bad input, GDAL's OAPIF."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
from pathlib import Path
from urllib.parse import quote, unquote_plus

import httpx
import morecantile
import pytest
from shapely.geometry import box, shape

from geo.models import Role
from tests.conftest import assert_problem, login
from tests.tiles_data import CADASTRE, LEAD_SPECS, create_leads, features, load_reference
from tiles import features as ft
from tiles.features import MAX_OFFSET


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
    }


@pytest.fixture(scope="module")
async def leads(state, users):
    return await create_leads(state.sessions, users)


@pytest.fixture(scope="module")
async def tokens(client, users):
    return {k: await login(client, u.email) for k, u in users.items()}


PARCELS = [f["properties"] | {"geom": shape(f["geometry"])} for f in features(CADASTRE)]


def _cursor(value: object) -> str:
    """A cursor as the server encodes them (base64url JSON), here with chosen content."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _walk(client, url: str) -> tuple[list[str], list[dict]]:
    """Every feature id met by following next links from url, and the pages."""
    ids: list[str] = []
    pages: list[dict] = []
    next_url: str | None = url
    while next_url is not None:
        r = await client.get(next_url.replace("http://test", ""))
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append(page)
        assert page["numberReturned"] == len(page["features"])
        ids += [f["id"] for f in page["features"]]
        next_url = next((ln["href"] for ln in page["links"] if ln["rel"] == "next"), None)
        assert len(pages) < 1000
    return ids, pages


async def test_landing_conformance_collections(client, loaded) -> None:
    landing = (await client.get("/ogc")).json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conf = (await client.get("/ogc/conformance")).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in conf
    cols = (await client.get("/ogc/collections")).json()["collections"]
    assert [c["id"] for c in cols] == [
        "parcels",
        "substations",
        "env_zones",
        "communes",
        "urban_zones",
        "coverage",
        "leads",
        "candidates",  # the site finder's (tests/test_site_finder.py)
    ]
    parcels = (await client.get("/ogc/collections/parcels")).json()
    minx, miny, maxx, maxy = parcels["extent"]["spatial"]["bbox"][0]
    lons = [c for p in PARCELS for c in p["geom"].bounds[::2]]
    assert minx <= min(lons) + 0.01 and maxx >= max(lons) - 0.01
    q = (await client.get("/ogc/collections/parcels/queryables")).json()
    assert q["properties"]["contenance"]["type"] == "number"
    assert_problem(await client.get("/ogc/collections/nope"), 404)


async def test_items_paging(client, loaded) -> None:
    r = await client.get("/ogc/collections/parcels/items?limit=100")
    assert r.headers["content-type"].startswith("application/geo+json")
    page = r.json()
    assert page["type"] == "FeatureCollection"
    assert page["numberMatched"] == len(PARCELS) and page["numberReturned"] == 100
    ids = [f["id"] for f in page["features"]]
    assert ids == sorted(p["id"] for p in PARCELS)[:100]
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    page2 = (await client.get(nxt.replace("http://test", ""))).json()
    assert page2["features"][0]["id"] == sorted(p["id"] for p in PARCELS)[100]
    assert any(link["rel"] == "prev" for link in page2["links"])
    last = (await client.get(f"/ogc/collections/parcels/items?offset={len(PARCELS) - 3}")).json()
    assert last["numberReturned"] == 3
    assert not any(link["rel"] == "next" for link in last["links"])
    # A limit above the maximum is clamped (OGC API Features 1, /req/core/fc-limit-response-1).
    huge = (await client.get("/ogc/collections/parcels/items?limit=999999999")).json()
    assert huge["numberReturned"] == len(PARCELS)
    # offset is capped (read row by row): beyond, a 400 pointing at the next links.
    far = await client.get("/ogc/collections/parcels/items?offset=99999999999999999999")
    assert "next links" in assert_problem(far, 400)["detail"]
    assert_problem(await client.get(f"/ogc/collections/parcels/items?offset={MAX_OFFSET + 1}"), 400)
    edge = (await client.get(f"/ogc/collections/parcels/items?offset={MAX_OFFSET}")).json()
    assert edge["numberReturned"] == 0 and edge["numberMatched"] == len(PARCELS)
    assert any(link["rel"] == "prev" for link in edge["links"])
    like = "section LIKE 'A%' AND numero = '30'"
    page = (await client.get(f"/ogc/collections/parcels/items?filter={quote(like)}")).json()
    expected = {p["id"] for p in PARCELS if p["section"].startswith("A") and p["numero"] == "30"}
    assert expected and {f["id"] for f in page["features"]} == expected


async def test_next_links_are_keyset_cursors_that_cover_everything_once(client, loaded) -> None:
    want = sorted(p["id"] for p in PARCELS)
    ids, pages = await _walk(client, "/ogc/collections/parcels/items?limit=1000")
    assert ids == want  # every feature exactly once, in key order
    assert len(pages) == 7 and pages[-1]["numberReturned"] == len(want) - 6000
    assert pages[0]["numberMatched"] == len(want)
    # Later pages are cursor pages: no offset in their links, numberMatched not recounted.
    for page in pages[1:]:
        assert "numberMatched" not in page
        assert all("offset=" not in ln["href"] for ln in page["links"])
    nxt = next(ln["href"] for ln in pages[0]["links"] if ln["rel"] == "next")
    assert "cursor=" in nxt and "limit=1000" in nxt
    # prev of a cursor page is exactly the page before it, in ascending order.
    prev = next(ln["href"] for ln in pages[3]["links"] if ln["rel"] == "prev")
    back = (await client.get(prev.replace("http://test", ""))).json()
    assert [f["id"] for f in back["features"]] == [f["id"] for f in pages[2]["features"]]
    back_next = next(ln["href"] for ln in back["links"] if ln["rel"] == "next")
    again = (await client.get(back_next.replace("http://test", ""))).json()
    assert [f["id"] for f in again["features"]] == [f["id"] for f in pages[3]["features"]]
    # The first page's prev (from the second) has no prev itself.
    second_prev = next(ln["href"] for ln in pages[1]["links"] if ln["rel"] == "prev")
    first = (await client.get(second_prev.replace("http://test", ""))).json()
    assert [f["id"] for f in first["features"]] == want[:1000]
    assert not any(ln["rel"] == "prev" for ln in first["links"])
    # An offset page's next link switches to the cursor and continues right after it.
    mid = (await client.get("/ogc/collections/parcels/items?limit=100&offset=250")).json()
    assert [f["id"] for f in mid["features"]] == want[250:350]
    cont = next(ln["href"] for ln in mid["links"] if ln["rel"] == "next")
    cont_page = (await client.get(cont.replace("http://test", ""))).json()
    assert [f["id"] for f in cont_page["features"]] == want[350:450]
    # With a bbox and a filter: the filtered set, once each.
    bbox = "4.645,45.955,4.655,45.962"
    area = box(4.645, 45.955, 4.655, 45.962)
    in_box = sorted(p["id"] for p in PARCELS if p["geom"].intersects(area))
    assert 100 < len(in_box) < len(want)
    ids, pages = await _walk(client, f"/ogc/collections/parcels/items?limit=37&bbox={bbox}")
    assert ids == in_box and pages[0]["numberMatched"] == len(in_box)
    assert all("bbox=" in ln["href"] for page in pages for ln in page["links"])
    a_ids = sorted(p["id"] for p in PARCELS if p["section"] == "A")
    section_a = quote("section = 'A'")
    ids, _ = await _walk(client, f"/ogc/collections/parcels/items?limit=500&filter={section_a}")
    assert ids == a_ids


async def test_integer_keys_page_by_cursor(client, loaded) -> None:
    everything = (await client.get("/ogc/collections/urban_zones/items?limit=1000")).json()
    want = [f["id"] for f in everything["features"]]
    assert want == sorted(want) and everything["numberMatched"] == len(want) == 39
    assert not any(ln["rel"] in ("next", "prev") for ln in everything["links"])
    ids, pages = await _walk(client, "/ogc/collections/urban_zones/items?limit=5")
    assert ids == want and len(pages) == 8
    huge = _cursor(["urban_zones", "a", 2**63])  # outside bigint: a 400, not a 500
    assert_problem(await client.get(f"/ogc/collections/urban_zones/items?cursor={huge}"), 400)
    last = _cursor(["urban_zones", "a", want[-1]])
    tail = (await client.get(f"/ogc/collections/urban_zones/items?cursor={last}")).json()
    assert tail["numberReturned"] == 0 and not any(ln["rel"] == "next" for ln in tail["links"])


async def test_number_matched_is_exact_or_absent(client, loaded, monkeypatch) -> None:
    """Counted up to COUNT_CAP rows: above it, absent (never an estimate); below, exact."""
    monkeypatch.setattr(ft, "COUNT_CAP", 1000)
    page = (await client.get("/ogc/collections/parcels/items?limit=10")).json()
    assert "numberMatched" not in page and page["numberReturned"] == 10
    b_ids = {p["id"] for p in PARCELS if p["section"] == "B"}
    assert len(b_ids) > 1000
    page = (await client.get("/ogc/collections/parcels/items?limit=10&section=B")).json()
    assert "numberMatched" not in page
    c_count = sum(1 for p in PARCELS if p["section"] == "C")
    page = (await client.get("/ogc/collections/parcels/items?limit=10&section=C")).json()
    assert page["numberMatched"] == c_count < 1000
    monkeypatch.setattr(ft, "COUNT_CAP", c_count)  # exactly the cap: still exact
    page = (await client.get("/ogc/collections/parcels/items?limit=10&section=C")).json()
    assert page["numberMatched"] == c_count
    monkeypatch.setattr(ft, "COUNT_CAP", c_count - 1)
    page = (await client.get("/ogc/collections/parcels/items?limit=10&section=C")).json()
    assert "numberMatched" not in page
    # A page holding every match needs no count, whatever the cap.
    page = (await client.get("/ogc/collections/parcels/items?limit=5000&section=C")).json()
    assert page["numberMatched"] == page["numberReturned"] == c_count


async def test_bbox_property_and_cql2_filters(client, loaded) -> None:
    bbox = (4.64, 45.959, 4.644, 45.963)
    page = (
        await client.get(
            "/ogc/collections/parcels/items?limit=10000&bbox=" + ",".join(map(str, bbox))
        )
    ).json()
    # The bbox filter is an exact intersection, not only the index's bounding-box test.
    expected = {p["id"] for p in PARCELS if p["geom"].intersects(box(*bbox))}
    boxes_only = {p["id"] for p in PARCELS if box(*p["geom"].bounds).intersects(box(*bbox))}
    assert boxes_only > expected  # this box does tell the two apart
    assert {f["id"] for f in page["features"]} == expected
    page = (await client.get("/ogc/collections/parcels/items?section=AB&limit=10000")).json()
    assert page["numberMatched"] == sum(1 for p in PARCELS if p["section"] == "AB")
    cql = "contenance > 40000 AND \"section\" = 'AA'"
    page = (
        await client.get(f"/ogc/collections/parcels/items?limit=10000&filter={quote(cql)}")
    ).json()
    expected = {p["id"] for p in PARCELS if p["contenance"] > 40000 and p["section"] == "AA"}
    assert expected and {f["id"] for f in page["features"]} == expected
    one = (await client.get("/ogc/collections/parcels/items/69114000AA0030")).json()
    assert one["properties"]["contenance"] == 43570
    assert_problem(await client.get("/ogc/collections/parcels/items/NOPE"), 404)


@pytest.mark.parametrize(
    "query",
    [
        "bbox=5,46,4,47",
        "bbox=4,100,5,101",
        "bbox=a,b,c,d",
        "limit=abc",
        "limit=0",
        "offset=-1",
        "cursor=%%%",
        "cursor=bm9wZQ",  # base64 of "nope"
        "cursor=" + _cursor(["communes", "a", "69114"]),  # another collection's
        "cursor=" + _cursor(["parcels", "x", "69114000AA0001"]),
        "cursor=" + _cursor(["parcels", "a", 5]),  # parcels' key is text
        "cursor=" + _cursor(["parcels", "a", "69114\x00"]),
        "cursor=" + _cursor(["parcels", "a", "9" * 201]),
        "cursor=" + _cursor(["parcels", "a", "\ud800"]),  # not encodable as UTF-8
        "cursor=" + _cursor([[[[["parcels"]]]]]),
        "cursor=" + "W" * 401,
        "cursor=" + quote("é"),
        "cursor=" + _cursor(["parcels", "a"]),
        "cursor=" + _cursor(["parcels", "a", "69114000AA0001"]) + "&offset=10",
        "owner=Dupont",
        "filter=" + quote("owner = 'x'"),
        "filter=" + quote("contenance >"),
        "filter=" + quote("section = 'AA' AND"),
        "filter=" + quote("contenance > TRUE"),
        "filter=" + quote("section = 5"),
        "filter=" + quote("(section = 'AA'"),
        "filter=" + quote("section = 'AA')"),
        "filter=" + quote("NOT"),
        "filter=" + quote("section IS NULL NULL"),
        "filter=" + quote("contenance BETWEEN 'a' AND 'b'"),
        "filter=" + quote("section IN ('AA', 5)"),
        "filter=" + quote("section == 'AA'"),
        "filter=",
        "filter=" + quote("contenance = 'abc'"),
        "filter-lang=cql2-json",
        "filter=" + quote("contenance LIKE '4%'"),
        "bbox-crs=EPSG:2154",
    ],
)
async def test_bad_input_is_a_400(client, loaded, query: str) -> None:
    assert_problem(await client.get(f"/ogc/collections/parcels/items?{query}"), 400)


async def test_leads_rbac_and_filters(client, leads, tokens, users) -> None:
    ids = {spec[0]: lead.id for spec, lead in zip(LEAD_SPECS, leads, strict=True)}
    expected = {
        "manager": set(ids.values()),
        "ops1": {ids["69114000AA0030"], ids["69114000AA0001"]},
        "ops2": {ids["69114000AA0001"], ids["69114000AM0097"]},
        "commercial": {ids["69114000AM0097"], ids["69114000AM0100"]},
    }
    for role, want in expected.items():
        h = {"Authorization": f"Bearer {tokens[role]}"}
        page = (await client.get("/ogc/collections/leads/items", headers=h)).json()
        assert {f["id"] for f in page["features"]} == want, role
        assert page["numberMatched"] == len(want)
    h = {"Authorization": f"Bearer {tokens['ops1']}"}
    assert_problem(
        await client.get(f"/ogc/collections/leads/items/{ids['69114000AM0100']}", headers=h), 404
    )
    mine = await client.get(f"/ogc/collections/leads/items/{ids['69114000AA0030']}", headers=h)
    assert mine.json()["properties"]["status"] == "NEW"
    h = {"Authorization": f"Bearer {tokens['manager']}"}
    sold = (await client.get("/ogc/collections/leads/items?status=SOLD", headers=h)).json()
    assert [f["id"] for f in sold["features"]] == [ids["69114000AM0100"]]
    future = (
        await client.get("/ogc/collections/leads/items?datetime=2999-01-01T00:00:00Z/..", headers=h)
    ).json()
    assert future["numberMatched"] == 0
    recent = (
        await client.get("/ogc/collections/leads/items?datetime=2000-01-01T00:00:00Z/..", headers=h)
    ).json()
    assert recent["numberMatched"] == 4
    assert_problem(await client.get("/ogc/collections/leads/items?datetime=nope", headers=h), 400)
    assert_problem(await client.get("/ogc/collections/leads/items"), 401)
    assert_problem(await client.get("/ogc/collections/leads/items?token=forged"), 401)
    tile = (await client.post("/api/auth/tile-token", headers=h)).json()["token"]
    page = (await client.get(f"/ogc/collections/leads/items?token={tile}")).json()
    assert page["numberMatched"] == 4
    nxt = (await client.get(f"/ogc/collections/leads/items?token={tile}&limit=1")).json()
    assert "token=" in next(link["href"] for link in nxt["links"] if link["rel"] == "next")
    # Cursor pages keep the caller's visibility (its parameters come before the cursor's).
    ids_seen, _ = await _walk(client, f"/ogc/collections/leads/items?token={tile}&limit=1")
    assert ids_seen == sorted(ids.values())
    ops = (await client.post("/api/auth/tile-token", headers=_bearer(tokens["ops2"]))).json()
    ids_seen, _ = await _walk(client, f"/ogc/collections/leads/items?token={ops['token']}&limit=1")
    assert ids_seen == sorted(expected["ops2"])


async def _ids(client, cql: str, headers: dict[str, str] | None = None) -> set[str]:
    r = await client.get(
        f"/ogc/collections/parcels/items?limit=10000&filter={quote(cql)}", headers=headers
    )
    assert r.status_code == 200, r.text
    return {f["id"] for f in r.json()["features"]}


async def test_cql2_basic_or_not_and_advanced_comparisons(client, loaded) -> None:
    def where(pred) -> set[str]:
        return {p["id"] for p in PARCELS if pred(p)}

    ab_ac = where(lambda p: p["section"] in ("AB", "AC"))
    assert ab_ac and await _ids(client, "section = 'AB' OR section = 'AC'") == ab_ac
    assert await _ids(client, "section IN ('AB', 'AC')") == ab_ac
    not_ab = where(lambda p: p["section"] != "AB")
    assert await _ids(client, "NOT section = 'AB'") == not_ab
    assert await _ids(client, "NOT (section = 'AB')") == not_ab
    assert await _ids(client, "section NOT IN ('AB', 'AC')") == where(
        lambda p: p["id"] not in ab_ac
    )
    # AND binds tighter than OR; parentheses override it.
    big = 40000
    mixed = where(
        lambda p: p["section"] == "AB" or (p["section"] == "AA" and p["contenance"] > big)
    )
    assert await _ids(client, f"section = 'AB' OR section = 'AA' AND contenance > {big}") == mixed
    grouped = where(lambda p: p["section"] in ("AB", "AA") and p["contenance"] > big)
    assert await _ids(client, f"(section = 'AB' OR section = 'AA') AND contenance > {big}") == (
        grouped
    )
    # What GDAL 3.6 sends (parenthesised, lower-case keywords accepted, literal on the left).
    assert await _ids(client, "(section = 'AB') or ('AC' = section)") == ab_ac
    assert await _ids(client, "contenance BETWEEN 1000 AND 2000") == where(
        lambda p: 1000 <= p["contenance"] <= 2000
    )
    assert await _ids(client, "section LIKE 'A_' AND NOT numero LIKE '1%'") == where(
        lambda p: (
            len(p["section"]) == 2
            and p["section"].startswith("A")
            and not p["numero"].startswith("1")
        )
    )
    assert await _ids(client, "contenance IS NULL") == set()  # none in this cadastre
    assert await _ids(client, "contenance IS NOT NULL AND TRUE") == where(lambda p: True)
    body = assert_problem(
        await client.get("/ogc/collections/parcels/items?filter=" + quote("section = 5")), 400
    )
    assert "section (String)" in str(body["detail"]) and "Number" in str(body["detail"])
    body = assert_problem(
        await client.get("/ogc/collections/parcels/items?filter=" + quote("section = 'A' AND")),
        400,
    )
    assert "ends" in str(body["detail"])
    conf = (await client.get("/ogc/conformance")).json()["conformsTo"]
    assert "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2" in conf
    assert "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators" in conf
    # Not implemented, so not declared.
    assert not any("spatial" in c or "temporal" in c or "cql2-json" in c for c in conf)


async def test_leads_is_null_follows_rbac(client, leads, tokens) -> None:
    h = {"Authorization": f"Bearer {tokens['manager']}"}
    cql = quote("assignee_id IS NULL OR status = 'NEW'")
    page = (await client.get(f"/ogc/collections/leads/items?filter={cql}", headers=h)).json()
    assert sorted(f["properties"]["status"] for f in page["features"]) == ["NEW", "SOLD"]
    h = {"Authorization": f"Bearer {tokens['ops1']}"}
    page = (await client.get(f"/ogc/collections/leads/items?filter={cql}", headers=h)).json()
    assert [f["properties"]["status"] for f in page["features"]] == ["NEW"]


async def test_openapi_declares_limit_and_queryables(client, loaded) -> None:
    landing = (await client.get("/ogc")).json()
    desc = next(link for link in landing["links"] if link["rel"] == "service-desc")
    r = await client.get(desc["href"].replace("http://test", ""))
    assert r.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = r.json()
    limit = doc["components"]["parameters"]["limit"]["schema"]
    assert (limit["default"], limit["maximum"]) == (100, 10000)
    assert doc["components"]["parameters"]["offset"]["schema"]["maximum"] == MAX_OFFSET
    assert doc["components"]["parameters"]["cursor"]["schema"]["type"] == "string"
    params = doc["paths"]["/collections/parcels/items"]["get"]["parameters"]
    refs = {p["$ref"].rsplit("/", 1)[1] for p in params if "$ref" in p}
    assert {"limit", "offset", "cursor", "bbox"} <= refs
    named = {p["name"]: p for p in params if "name" in p}
    assert {"section", "contenance", "numero"} <= set(named)
    assert named["contenance"]["schema"]["type"] == "number"
    assert all(p["style"] == "form" and p["explode"] is False for p in named.values())
    lang = doc["components"]["parameters"]["filter-lang"]["schema"]["enum"]
    assert "cql2-text" in lang and "cql-text" in lang


async def test_head_wherever_get(client, loaded) -> None:
    paths = [
        "/ogc",
        "/ogc/api",
        "/ogc/conformance",
        "/ogc/collections",
        "/ogc/collections/parcels",
        "/ogc/collections/parcels/queryables",
        "/ogc/collections/parcels/items?limit=2",
        "/ogc/collections/parcels/items/69114000AA0030",
        "/tiles/style.json",
        "/tiles/parcels.json",
        "/tiles/parcels/metadata.json",
        "/tiles/tileMatrixSets/WebMercatorQuad",
    ]
    for path in paths:
        get, head = await client.get(path), await client.head(path)
        assert get.status_code == 200 and head.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path
    assert (await client.head("/ogc/collections/nope")).status_code == 404


def _ogr(args: list[str], env_extra: dict[str, str] | None = None) -> str:
    env = {**os.environ, **(env_extra or {})}
    out = subprocess.run(
        ["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.slow
async def test_gdal_oapif_lists_and_counts(live_server, leads, tokens) -> None:
    out = _ogr([f"OAPIF:{live_server.url}/ogc"])
    for name in ("parcels", "substations", "env_zones", "communes", "urban_zones", "leads"):
        assert f": {name} " in out
    out = _ogr(["-so", f"OAPIF:{live_server.url}/ogc", "parcels"])
    assert f"Feature Count: {len(PARCELS)}" in out
    # Reading every feature page by page (the driver follows the next links).
    out = _ogr(["-al", "-q", f"OAPIF:{live_server.url}/ogc", "urban_zones"])
    assert out.count("OGRFeature(urban_zones)") == 39
    header = {"GDAL_HTTP_HEADERS": f"Authorization: Bearer {tokens['commercial']}"}
    out = _ogr(["-so", f"OAPIF:{live_server.url}/ogc", "leads"], header)
    assert "Feature Count: 2" in out
    out = _ogr(["-al", "-q", f"OAPIF:{live_server.url}/ogc", "leads"], header)
    assert out.count("status (String) = ") == 2 and "NEW" not in out


@pytest.mark.slow
async def test_gdal_pages_a_whole_collection_by_cursor(live_server, loaded, monkeypatch) -> None:
    """GDAL follows the cursor next links: every parcel exactly once, with no numberMatched
    (COUNT_CAP below the collection, as on a national table) and with a bbox."""
    monkeypatch.setattr(ft, "COUNT_CAP", 1000)

    def ids(extra: list[str]) -> list[str]:
        out = _ogr(
            ["-al", *extra, "-oo", "PAGE_SIZE=700", f"OAPIF:{live_server.url}/ogc", "parcels"]
        )
        return [line.split(" = ", 1)[1] for line in out.splitlines() if "id (String) = " in line]

    got = ids([])
    assert len(got) == len(set(got)) == len(PARCELS)
    assert set(got) == {p["id"] for p in PARCELS}
    area = box(4.645, 45.955, 4.655, 45.962)
    in_box = {p["id"] for p in PARCELS if p["geom"].intersects(area)}
    got = ids(["-spat", "4.645", "45.955", "4.655", "45.962"])
    assert len(got) == len(set(got)) == len(in_box) and set(got) == in_box


class _Requests(logging.Handler):
    """The live server's access log lines (uvicorn.access), kept for assertions."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(unquote_plus(record.getMessage()))


@pytest.mark.slow
async def test_gdal_sends_filter_and_bbox_to_the_server(live_server, loaded) -> None:
    """GDAL 3.6's OAPIF driver: WHERE as CQL2 text and -spat as bbox, seen in the server's log."""
    access = logging.getLogger("uvicorn.access")
    handler, level = _Requests(), access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        where = "section = 'AB' OR contenance > 40000"
        spat = ["4.60", "45.94", "4.70", "45.99"]
        out = _ogr(
            [
                "-al",
                "-q",
                "-where",
                where,
                "-spat",
                *spat,
                # GDAL 3.6 pages 10 features unless told (it does not read the OpenAPI limit).
                "-oo",
                "PAGE_SIZE=10000",
                f"OAPIF:{live_server.url}/ogc",
                "parcels",
            ]
        )
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    expected = [p for p in PARCELS if p["section"] == "AB" or p["contenance"] > 40000]
    assert out.count("OGRFeature(parcels)") == len(expected)
    items = [line for line in handler.lines if "/ogc/collections/parcels/items" in line]
    filtered = [line for line in items if "filter=" in line and "bbox=" in line]
    assert filtered, items
    assert "(section = 'AB') OR (contenance > 40000)" in filtered[0]
    # Every items request carried the filter (the first one, without it, is GDAL's schema probe);
    # one page of 10,000.
    assert len(filtered) == len(items) - 1 == 1, items


async def test_urls_take_only_tile_tokens_and_links_never_carry_access_tokens(
    client, leads, tokens
) -> None:
    access = tokens["manager"]
    bearer = {"Authorization": f"Bearer {access}"}
    tile = (await client.post("/api/auth/tile-token", headers=bearer)).json()["token"]
    urls = [
        "/ogc",
        "/ogc/collections",
        "/ogc/collections/leads",
        "/ogc/collections/leads/items",
        f"/ogc/collections/leads/items/{leads[0].id}",
    ]
    for url in urls:
        body = assert_problem(await client.get(url, params={"token": access}), 401)
        assert "Authorization header" in body["detail"] and access not in json.dumps(body)
        # Beside a valid header too: the query token is what links would copy.
        r = await client.get(url, params={"token": access}, headers=bearer)
        assert_problem(r, 401)
        r = await client.get(url, headers=bearer)
        assert r.status_code == 200 and "token=" not in r.text, (url, r.text[:300])
        r = await client.get(url, params={"token": tile})
        assert r.status_code == 200 and access not in r.text
        doc = r.json()
        hrefs = [link["href"] for link in doc.get("links", [])]
        hrefs += [link["href"] for col in doc.get("collections", []) for link in col["links"]]
        assert hrefs and f"token={tile}" in hrefs[0], url  # its "self" link
        assert all("token=" not in h or f"token={tile}" in h for h in hrefs), (url, hrefs)


async def test_cors_public_layers_without_credentials(client, loaded, settings) -> None:
    # One policy: /tiles and /ogc are readable from any origin without credentials (ACAO *);
    # the configured origins get the credentialed answer; the API answers only them.
    foreign = {"Origin": "https://elsewhere.example"}
    for url in ["/ogc/collections/communes/items?limit=1", "/ogc", "/tiles/communes.json"]:
        r = await client.get(url, headers=foreign)
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in r.headers
        allowed = settings.cors_origins[0]
        r = await client.get(url, headers={"Origin": allowed})
        assert r.headers["access-control-allow-origin"] == allowed
        assert r.headers["access-control-allow-credentials"] == "true"
    r = await client.get("/api/health", headers=foreign)
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-credentials" not in r.headers
    preflight = {**foreign, "Access-Control-Request-Method": "GET"}
    r = await client.options("/ogc/collections/leads/items", headers=preflight)
    assert "access-control-allow-credentials" not in r.headers


async def test_errors_carry_the_same_cors_headers(client, loaded, settings) -> None:
    # A cross-origin map must read a 401 (to renew its token), a 404 or a 400, not a CORS failure.
    foreign = {"Origin": "https://elsewhere.example"}
    allowed = {"Origin": settings.cors_origins[0]}
    errors = [
        ("/tiles/leads/12/2100/1457.mvt", 401),
        ("/tiles/leads.json", 401),
        ("/tiles/nope/1/0/0.mvt", 404),
        ("/tiles/parcels/a/0/0.mvt", 400),
        ("/ogc/collections/leads/items", 401),
        ("/ogc/collections/nope", 404),
        ("/ogc/collections/parcels/items?filter=" + quote("section = 5"), 400),
    ]
    for url, status in errors:
        ok_url = "/ogc/collections/parcels" if url.startswith("/ogc") else "/tiles/parcels.json"
        for origin in (foreign, allowed):
            r, ok = await client.get(url, headers=origin), await client.get(ok_url, headers=origin)
            assert_problem(r, status)
            for name in ("access-control-allow-origin", "access-control-allow-credentials"):
                assert r.headers.get(name) == ok.headers.get(name), (url, origin, name)
        assert r.headers["access-control-allow-origin"] == allowed["Origin"]
    r = await client.get("/tiles/leads.json", headers=foreign)
    assert r.headers["access-control-allow-origin"] == "*"


QGIS_PYTHON = "/usr/bin/python3"
QGIS_CHECK = Path(__file__).resolve().parent.parent / "bench" / "qgis_check.py"


def _has_qgis() -> bool:
    if not os.path.exists(QGIS_PYTHON):
        return False
    probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _has_qgis(), reason="PyQGIS not installed (apt-get install python3-qgis)")
async def test_qgis_reads_filtered_features_and_tiles(live_server, leads, tokens, client) -> None:
    """QGIS (3.22 on Debian 12) through bench/qgis_check.py; its requests read from the log."""
    h = {"Authorization": f"Bearer {tokens['manager']}"}
    tile = (await client.post("/api/auth/tile-token", headers=h)).json()["token"]
    access = logging.getLogger("uvicorn.access")
    handler, level = _Requests(), access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": "/tmp"}
        out = subprocess.run(
            [QGIS_PYTHON, str(QGIS_CHECK), live_server.url, "--token", tile],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["oapif"]["features"] == sum(1 for p in PARCELS if p["section"] == "AB")
    assert result["leads"]["features"] == 4 and result["tiles"]["painted_samples"] > 0
    assert result["oapif"]["bbox_features"] == result["oapif"]["bbox_server_number_matched"] > 0
    items = [line for line in handler.lines if "/ogc/collections/parcels/items" in line]
    # QGIS 3.22 sends the view extent as bbox, pages of 1,000 (its page size, under our declared
    # maximum), but evaluates attribute filters itself: its OAPIF provider has no server-side
    # filter (no "filter" nor per-property parameters in its source or binary; 3.28+ reads the
    # per-collection parameters of /ogc/api). So the subset string is not in the log.
    assert any("bbox=" in line and "limit=1000" in line for line in items), items
    assert not any("section" in line for line in items if "limit=1&" not in line), items
    assert any("/tiles/parcels/14/" in line for line in handler.lines), handler.lines


KNOWN_PARCEL = "69114000AA0030"


def _box_3857(parcel_id: str, margin: float) -> list[str]:
    """The parcel's bounds in EPSG:3857, grown by ``margin`` metres, as -oo MINX=… options."""
    from pyproj import Transformer

    geom = next(p["geom"] for p in PARCELS if p["id"] == parcel_id)
    to_3857 = Transformer.from_crs(4326, 3857, always_xy=True).transform
    x0, y0 = to_3857(geom.bounds[0], geom.bounds[1])
    x1, y1 = to_3857(geom.bounds[2], geom.bounds[3])
    box_ = (x0 - margin, y0 - margin, x1 + margin, y1 + margin)
    opts: list[str] = []
    for name, value in zip(("MINX", "MINY", "MAXX", "MAXY"), box_, strict=True):
        opts += ["-oo", f"{name}={value}"]
    return opts


async def test_tilesets_tileset_and_tile_matrix_set(client, loaded) -> None:
    """OGC API - Tiles documents: what GDAL's OGCAPI driver (and the standard) reads."""
    conf = (await client.get("/ogc/conformance")).json()["conformsTo"]
    for cls in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt"):
        assert f"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{cls}" in conf
    col = (await client.get("/ogc/collections/parcels")).json()
    rels = {link["rel"]: link for link in col["links"]}
    tilesets_link = rels["http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"]
    assert tilesets_link["type"] == "application/json"
    listing = (await client.get(tilesets_link["href"])).json()
    (ts,) = listing["tilesets"]
    assert ts["dataType"] == "vector" and ts["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    self_link = next(link for link in ts["links"] if link["rel"] == "self")
    meta = (await client.get(self_link["href"])).json()
    links = {link["rel"]: link for link in meta["links"]}
    item = links["item"]
    assert item["type"] == "application/vnd.mapbox-vector-tile"
    assert "{tileMatrix}/{tileRow}/{tileCol}" in item["href"]
    # The zooms of the layer, each limited to the tiles covering the data.
    limits = {lim["tileMatrix"]: lim for lim in meta["tileMatrixSetLimits"]}
    assert sorted(limits, key=int) == [str(z) for z in range(10, 17)]
    centre = next(p["geom"] for p in PARCELS if p["id"] == KNOWN_PARCEL).centroid
    z = 14
    x, y = (lambda t: (t.x, t.y))(
        morecantile.tms.get("WebMercatorQuad").tile(centre.x, centre.y, z)
    )
    lim = limits["14"]
    assert (
        lim["minTileCol"] <= x <= lim["maxTileCol"] and lim["minTileRow"] <= y <= lim["maxTileRow"]
    )
    assert lim["maxTileCol"] - lim["minTileCol"] < 20  # the commune, not the world
    tile_url = item["href"].replace("{tileMatrix}", str(z))
    tile_url = tile_url.replace("{tileRow}", str(y)).replace("{tileCol}", str(x))
    ogc = await client.get(tile_url)
    xyz = await client.get(f"/tiles/parcels/{z}/{x}/{y}.mvt")
    assert ogc.status_code == 200 and ogc.content == xyz.content
    assert ogc.headers["etag"] == xyz.headers["etag"]
    tms_link = links["http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"]
    tms = (await client.get(tms_link["href"])).json()
    # TMS 2.0 members, zooms 0..22 ...
    assert tms["id"] == "WebMercatorQuad" and tms["crs"].endswith("/EPSG/0/3857")
    assert [m["id"] for m in tms["tileMatrices"]] == [str(z) for z in range(23)]
    assert tms["tileMatrices"][0]["pointOfOrigin"] == [-20037508.342789244, 20037508.342789244]
    # ... and the 1.0 names GDAL 3.6 reads (it fails on a pure 2.0 document).
    assert tms["type"] == "TileMatrixSetType" and tms["supportedCRS"] == tms["crs"]
    assert tms["tileMatrices"][0]["topLeftCorner"] == tms["tileMatrices"][0]["pointOfOrigin"]
    listing = (await client.get("/ogc/tileMatrixSets")).json()
    assert [t["id"] for t in listing["tileMatrixSets"]] == ["WebMercatorQuad"]
    landing = (await client.get("/ogc")).json()
    assert any(
        link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
        for link in landing["links"]
    )
    # The leads' tilesets need a token like their items; unknown collections and zooms are 404s.
    assert_problem(await client.get("/ogc/collections/leads/tiles"), 401)
    assert_problem(await client.get("/ogc/collections/leads/tiles/WebMercatorQuad"), 401)
    assert_problem(await client.get("/ogc/collections/leads/tiles/WebMercatorQuad/14/0/0"), 401)
    assert_problem(await client.get("/ogc/collections/nope/tiles"), 404)
    assert_problem(await client.get("/ogc/collections/parcels/tiles/WebMercatorQuad/23/0/0"), 404)
    assert_problem(await client.get("/ogc/collections/parcels/tiles/WebMercatorQuad/a/0/0"), 400)
    for path in (
        "/ogc/tileMatrixSets",
        "/ogc/tileMatrixSets/WebMercatorQuad",
        "/ogc/collections/parcels/tiles",
        "/ogc/collections/parcels/tiles/WebMercatorQuad",
        f"/ogc/collections/parcels/tiles/WebMercatorQuad/{z}/{y}/{x}",
    ):
        head = await client.head(path)
        assert head.status_code == 200 and head.content == b"", path


def _gdal_version() -> tuple[int, int]:
    out = subprocess.run(["ogrinfo", "--version"], capture_output=True, text=True)
    major, minor = out.stdout.split()[1].split(".")[:2]  # "GDAL 3.6.2, released 2023/01/02"
    return int(major), int(minor)


@pytest.mark.slow
async def test_gdal_reads_the_tile_matrix_set(live_server, tmp_path) -> None:
    """GDAL 3.6's TileMatrixSet parser (the one its OGCAPI driver uses) reads our document."""
    tms = tmp_path / "tms.json"
    tms.write_text(json.dumps(_get_json(f"{live_server.url}/ogc/tileMatrixSets/WebMercatorQuad")))
    src, cog = tmp_path / "src.tif", tmp_path / "cog.tif"
    run = subprocess.run  # a small Web Mercator raster over commune 69114, tiled by our TMS
    made = run(
        [
            "gdal_create",
            "-of",
            "GTiff",
            "-outsize",
            "64",
            "64",
            "-bands",
            "1",
            "-a_srs",
            "EPSG:3857",
            "-a_ullr",
            "517000",
            "5777000",
            "519000",
            "5775000",
            str(src),
        ],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    out = run(
        ["gdal_translate", "-q", "-of", "COG", "-co", f"TILING_SCHEME={tms}", str(src), str(cog)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
    info = run(["gdalinfo", str(cog)], capture_output=True, text=True).stdout
    assert "Pseudo-Mercator" in info and "Block=256x256" in info
    # Without the 1.0 names GDAL 3.6 reads (type, supportedCRS, identifier, topLeftCorner), the
    # same TMS 2.0 document is refused: what the compatibility members are there for.
    doc = json.loads(tms.read_text())
    for key in ("type", "supportedCRS"):
        doc.pop(key)
    for matrix in doc["tileMatrices"]:
        matrix.pop("identifier"), matrix.pop("topLeftCorner")
    tms.write_text(json.dumps(doc))
    out = run(
        ["gdal_translate", "-q", "-of", "COG", "-co", f"TILING_SCHEME={tms}", str(src), str(cog)],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "Cannot parse CRS" in out.stderr


def _get_json(url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 (the loopback test server)
        return json.loads(r.read())


@pytest.mark.slow
async def test_gdal_ogcapi_driver_and_the_vector_tiles(live_server, loaded) -> None:
    """GDAL's OGCAPI: driver on a collection: the tiles where GDAL reads vector tiles, else the
    whole discovery (collection, tileset list, tileset, tile matrix set) and the items."""
    url = f"{live_server.url}/ogc/collections/parcels"
    access = logging.getLogger("uvicorn.access")
    handler, level = _Requests(), access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    env = {**os.environ, "CPL_DEBUG": "OFF"}
    try:
        args = ["ogrinfo", "-ro", "-al", "-q", f"OGCAPI:{url}", "Zoom level 14"]
        out = subprocess.run(
            [*args, *_box_3857(KNOWN_PARCEL, 50)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    paths = [line.split('"')[1].split()[1].split("?")[0] for line in handler.lines if '"' in line]
    if out.returncode == 0:  # a GDAL whose OGCAPI driver has its vector tile support
        assert f"id (String) = {KNOWN_PARCEL}" in out.stdout
        assert any("/tiles/WebMercatorQuad/14/" in p for p in paths), paths
    else:
        # Every GDAL 3.6 build leaves the driver's vector branch out (it sits in an
        # #ifdef OGR_ENABLE_DRIVER_GML that its CMake defines only after building frmts/): the
        # driver follows our links to the end, parses the tile matrix set, then gives up.
        assert _gdal_version() == (3, 6), out.stdout + out.stderr
        assert paths == [
            "/ogc/collections/parcels",
            "/ogc/collections/parcels/tiles",
            "/ogc/collections/parcels/tiles/WebMercatorQuad",
            "/ogc/tileMatrixSets/WebMercatorQuad",
        ], paths
    # The same driver reads the collection's features when told to (3.6 does not fall back).
    out = _ogr(["-so", f"OGCAPI:{url}", "-oo", "API=ITEMS", "parcels"])
    assert f"Feature Count: {len(PARCELS)}" in out


CORS_PAIRS = [
    # (success, error) of each kind of /tiles and /ogc answer
    ("/tiles/parcels/14/8405/5832.mvt", "/tiles/leads/12/2100/1457.mvt"),
    ("/tiles/parcels.json", "/tiles/leads.json"),
    ("/tiles/style.json", "/tiles/nope.json"),
    ("/tiles/parcels/metadata.json", "/tiles/nope/metadata.json"),
    ("/tiles/tileMatrixSets/WebMercatorQuad", "/tiles/parcels/a/0/0.mvt"),
    ("/ogc", "/ogc/collections/nope"),
    ("/ogc/api", "/ogc/collections/nope/queryables"),
    ("/ogc/conformance", "/ogc/collections/leads/items"),
    ("/ogc/collections/parcels/items?limit=1", "/ogc/collections/parcels/items?limit=x"),
    ("/ogc/collections/parcels/tiles/WebMercatorQuad", "/ogc/collections/leads/tiles"),
    (
        "/ogc/tileMatrixSets/WebMercatorQuad",
        "/ogc/collections/parcels/tiles/WebMercatorQuad/23/0/0",
    ),
]


async def test_one_cors_policy_on_every_answer(app, client, loaded, settings) -> None:
    """The CORS headers of /tiles and /ogc come from api/cors.py alone: the same on a success and
    an error, with no Origin, a foreign one or a configured one."""
    cors = ("access-control-allow-origin", "access-control-allow-credentials")
    origins = [{}, {"Origin": "https://elsewhere.example"}, {"Origin": settings.cors_origins[0]}]
    expected = [("*", None), ("*", None), (settings.cors_origins[0], "true")]
    for ok_url, err_url in CORS_PAIRS:
        for headers, want in zip(origins, expected, strict=True):
            ok, err = (
                await client.get(ok_url, headers=headers),
                await client.get(err_url, headers=headers),
            )
            assert ok.status_code < 400 and err.status_code >= 400, (ok_url, err_url)
            for r in (ok, err):
                got = tuple(r.headers.get(name) for name in cors)
                assert got == want, (r.url, headers, got)
                assert len(r.headers.get_list("access-control-allow-origin")) == 1

    # No handler sets them itself: the routes alone (no middleware) answer without them.
    async def routes_only(scope, receive, send):
        from contextlib import AsyncExitStack

        async with AsyncExitStack() as stack:  # what FastAPI's own outer middleware provides
            scope["app"] = app
            scope["fastapi_middleware_astack"] = scope["fastapi_inner_astack"] = stack
            await app.router(scope, receive, send)

    transport = httpx.ASGITransport(app=routes_only)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as bare:
        for ok_url, _ in CORS_PAIRS:
            r = await bare.get(ok_url, headers={"Origin": "https://elsewhere.example"})
            assert r.status_code < 400, ok_url
            assert not any(k.lower().startswith("access-control-") for k in r.headers), ok_url
