"""/api/reference: imports list, search, parcel feature, layer summaries (any role)."""

from __future__ import annotations

import json

import pytest
import shapely
from shapely.geometry import shape

from geo.models import Role
from tests.conftest import assert_problem
from tests.importing import GEODATA, run_import

P69 = GEODATA / "cadastre-69114-extract.json"
COMMUNES = GEODATA / "communes-69-extract.geojson"


@pytest.fixture(scope="module")
async def loaded(state) -> dict:
    await run_import(state, "communes", COMMUNES)
    await run_import(state, "parcels", P69)
    await run_import(state, "parcels", P69)  # a second, newer import that changes nothing
    return json.loads(P69.read_text())


async def test_requires_authentication(client, loaded) -> None:
    for url in ("/api/reference/imports", "/api/reference/search?q=ly", "/api/reference/layers"):
        assert_problem(await client.get(url), 401)


async def test_imports_newest_first(client, auth_headers, loaded) -> None:
    h = await auth_headers(Role.COMMERCIAL)
    r = await client.get("/api/reference/imports", headers=h, params={"page_size": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 3 and body["page_size"] == 2 and len(body["items"]) == 2
    newest, older = body["items"]
    assert newest["id"] > older["id"]
    assert (newest["layer"], newest["inserted_count"], newest["unchanged_count"]) == (
        "parcels",
        0,
        150,
    )
    r = await client.get("/api/reference/imports", headers=h, params={"layer": "communes"})
    assert [i["file_name"] for i in r.json()["items"]] == [COMMUNES.name]
    assert_problem(
        await client.get("/api/reference/imports", headers=h, params={"layer": "x"}), 422
    )


async def test_search_communes_and_parcels(client, auth_headers, loaded) -> None:
    h = await auth_headers(Role.OPS)
    r = await client.get("/api/reference/search", headers=h, params={"q": "lyo"})
    assert r.status_code == 200, r.text
    hits = r.json()["items"]
    assert hits[0]["kind"] == "commune" and hits[0]["id"] == "69123"
    communes = json.loads(COMMUNES.read_text())["features"]
    lyon = shape(next(f for f in communes if f["properties"]["code"] == "69123")["geometry"])
    assert hits[0]["bbox"] == pytest.approx(list(lyon.bounds), abs=1e-9)
    assert lyon.contains(shapely.Point(hits[0]["center"]))
    # Case and accents don't matter.
    r = await client.get(
        "/api/reference/search", headers=h, params={"q": "PORTE DES PIERRES DOREE"}
    )
    assert [x["id"] for x in r.json()["items"]] == ["69159"]
    r = await client.get("/api/reference/search", headers=h, params={"q": "ambérieux"})
    assert [x["label"] for x in r.json()["items"]] == ["Ambérieux (69005)"]
    # By INSEE code.
    r = await client.get("/api/reference/search", headers=h, params={"q": "69101"})
    assert [x["id"] for x in r.json()["items"]] == ["69101"]
    # Parcels by id prefix: every parcel of the file whose id starts so, in id order.
    first = loaded["features"][0]["properties"]["id"]
    prefix = first[:10]
    want = sorted(f["properties"]["id"] for f in loaded["features"] if f["id"].startswith(prefix))
    r = await client.get(
        "/api/reference/search", headers=h, params={"q": prefix.lower(), "limit": 50}
    )
    got = [x["id"] for x in r.json()["items"] if x["kind"] == "parcel"]
    assert got == want[:50]
    assert_problem(await client.get("/api/reference/search", headers=h, params={"q": "x"}), 422)


async def test_search_by_cadastral_reference(client, auth_headers, loaded, state) -> None:
    h = await auth_headers(Role.COMMERCIAL)
    f = next(f for f in loaded["features"] if f["properties"]["id"] == "69114000AA0030")
    src = shape(f["geometry"])
    for q in ("AA 30", "aa30", "AA0030", "000AA0030", "69114 AA 30", "69114 000 AA 0030"):
        r = await client.get("/api/reference/search", headers=h, params={"q": q})
        assert r.status_code == 200, (q, r.text)
        hits = [x for x in r.json()["items"] if x["kind"] == "parcel"]
        assert [x["id"] for x in hits] == ["69114000AA0030"], q
        assert hits[0]["label"] == "69114 AA 30"
        assert hits[0]["bbox"] == pytest.approx(list(src.bounds), abs=1e-7)
        assert src.contains(shapely.Point(hits[0]["center"]))
    # Another commune, another prefix, a number that does not exist: nothing.
    for q in ("69123 AA 30", "001AA0030", "AA 9999", "ZZ 30"):
        r = await client.get("/api/reference/search", headers=h, params={"q": q})
        assert [x for x in r.json()["items"] if x["kind"] == "parcel"] == [], q
    # Bounded by limit.
    r = await client.get("/api/reference/search", headers=h, params={"q": "AA 30", "limit": 1})
    assert len(r.json()["items"]) == 1
    # An index lookup, never a sequential scan of the parcels.
    from sqlalchemy import text

    from api.services.reference import _PARCELS_BY_REF, _PARCELS_BY_REF_IN_COMMUNE

    params = {"s2": "AA", "s1": "AA", "n4": "0030", "n": "30", "prefixe": None, "limit": 10}
    async with state.sessions() as s:
        await s.execute(text("SET enable_seqscan = off"))  # a 150-row table: force the choice
        for sql, extra in (
            (_PARCELS_BY_REF, {}),
            (_PARCELS_BY_REF_IN_COMMUNE, {"commune": "69114"}),
        ):
            plan = "\n".join(
                r[0] for r in await s.execute(text("EXPLAIN " + sql.text), {**params, **extra})
            )
            assert "Seq Scan on parcels" not in plan, plan
            assert any(
                ix in plan
                for ix in ("ix_parcels_section_numero", "ix_parcels_commune_section", "pk_parcels")
            ), plan
        # Nationally, one probe of the (section, numero) index (migration 0027).
        plan = "\n".join(
            r[0] for r in await s.execute(text("EXPLAIN " + _PARCELS_BY_REF.text), params)
        )
        assert "ix_parcels_section_numero" in plan, plan


async def test_parcel_feature(client, auth_headers, loaded) -> None:
    h = await auth_headers(Role.MANAGER)
    f = loaded["features"][7]
    r = await client.get(f"/api/reference/parcels/{f['properties']['id']}", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "Feature" and body["id"] == f["properties"]["id"]
    assert body["properties"]["contenance_m2"] == f["properties"]["contenance"]
    assert body["properties"]["source"] == "open_data"
    assert body["properties"]["commune_name"] is None  # 69114 is not in the 2018 communes
    src = shape(f["geometry"])
    assert shape(body["geometry"]).symmetric_difference(src).area < 1e-12
    assert body["bbox"] == pytest.approx(list(src.bounds), abs=1e-7)
    assert_problem(await client.get("/api/reference/parcels/69114000ZZ9999", headers=h), 404)


async def test_layers_summary(client, auth_headers, loaded) -> None:
    h = await auth_headers(Role.OPS)
    r = await client.get("/api/reference/layers", headers=h)
    assert r.status_code == 200, r.text
    layers = {x["layer"]: x for x in r.json()["items"]}
    assert layers["parcels"]["count"] == 150
    assert layers["parcels"]["sources"] == {"open_data": 150}
    assert layers["parcels"]["version"] == 1  # the unchanged re-import did not bump it
    assert layers["substations"]["count"] == 0
