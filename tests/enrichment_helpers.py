"""Known geometries for the enrichment tests, drawn in Lambert-93 metres (EPSG:2154).

Shapes are rectangles around an origin in the Allier (≈ 46.5°N 3°E, where Lambert-93's scale
factor is ≈ 1), inserted in EPSG:4326; the right answers (areas, distances) are computed with
shapely on the Lambert-93 shapes, independently of PostGIS.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Point, Polygon, box
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.settings import Settings
from geo.models import Lead, LeadSourcing, LeadStatus
from geo.pipeline import open_history
from tests.conftest import make_settings
from tests.pvgis_standin import PvgisStandin

ORIGIN = (700_000.0, 6_600_000.0)
TO_WGS84 = Transformer.from_crs(2154, 4326, always_xy=True)


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """A rectangle relative to the origin, in Lambert-93 metres."""
    ox, oy = ORIGIN
    return box(ox + x0, oy + y0, ox + x1, oy + y1)


def pt(x: float, y: float) -> Point:
    """A point relative to the origin, in Lambert-93 metres."""
    return Point(ORIGIN[0] + x, ORIGIN[1] + y)


def ewkt(geom: Any) -> str:
    """EWKT in EPSG:4326 of a Lambert-93 shape (polygons become multipolygons)."""
    g = shapely.transform(
        geom.segmentize(50.0),
        lambda c: np.column_stack(TO_WGS84.transform(c[:, 0], c[:, 1])),
    )
    if isinstance(g, Polygon):
        g = MultiPolygon([g])
    return f"SRID=4326;{g.wkt}"


def lonlat(geom: Any) -> tuple[float, float]:
    """(lon, lat) of a Lambert-93 point."""
    return TO_WGS84.transform(geom.x, geom.y)


async def insert_rows(
    sessions: async_sessionmaker[AsyncSession], sql: str, rows: list[dict[str, Any]]
) -> None:
    """Insert reference rows with one parametrised statement."""
    async with sessions() as session, session.begin():
        for row in rows:
            await session.execute(text(sql), row)


async def add_commune(sessions, insee: str, name: str, geom: Any) -> None:
    """A commune row."""
    await insert_rows(
        sessions,
        "INSERT INTO communes (insee, name, department, geom) "
        "VALUES (:insee, :name, :dep, ST_GeomFromEWKT(:g))",
        [{"insee": insee, "name": name, "dep": insee[:2], "g": ewkt(geom)}],
    )


async def add_zone(sessions, zone_type: str, code: str, geom: Any) -> None:
    """An env_zones row."""
    await insert_rows(
        sessions,
        "INSERT INTO env_zones (zone_type, code, name, geom) "
        "VALUES (:t, :c, :n, ST_GeomFromEWKT(:g))",
        [{"t": zone_type, "c": code, "n": f"Zone {code}", "g": ewkt(geom)}],
    )


async def add_poste(
    sessions,
    code: str,
    geom: Point,
    available: float | None,
    quote_part: float | None = 40.0,
) -> None:
    """A substations row."""
    lon, lat = lonlat(geom)
    await insert_rows(
        sessions,
        "INSERT INTO substations (code, name, voltage_kv, geom, capacity_available_mw, "
        "quote_part_eur_kw, s3renr_region) VALUES (:c, :n, '63/20', "
        "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :a, :q, 'Auvergne-Rhône-Alpes')",
        [
            {
                "c": code,
                "n": f"Poste {code}",
                "lon": lon,
                "lat": lat,
                "a": available,
                "q": quote_part,
            }
        ],
    )


async def add_plu(sessions, key: str, zone_type: str, label: str, geom: Any) -> None:
    """An urban_zones row."""
    await insert_rows(
        sessions,
        "INSERT INTO urban_zones (natural_key, commune_insee, zone_type, label, geom) "
        "VALUES (:k, '03001', :t, :l, ST_GeomFromEWKT(:g))",
        [{"k": key, "t": zone_type, "l": label, "g": ewkt(geom)}],
    )


async def add_parcel(sessions, pid: str, geom: Any) -> None:
    """A parcels row."""
    await insert_rows(
        sessions,
        "INSERT INTO parcels (id, commune, prefixe, section, numero, contenance, geom) "
        "VALUES (:id, :c, :p, :s, :n, :cont, ST_GeomFromEWKT(:g))",
        [
            {
                "id": pid,
                "c": pid[:5],
                "p": pid[5:8],
                "s": pid[8:10],
                "n": pid[10:14],
                "cont": int(geom.area),
                "g": ewkt(geom),
            }
        ],
    )


async def make_lead(
    sessions: async_sessionmaker[AsyncSession],
    geom_ewkt: str,
    *,
    assignee_id: int | None = None,
    user_id: int | None = None,
) -> int:
    """A NEW lead made through the ORM (the leads API is another issue's)."""
    async with sessions() as session, session.begin():
        lead = Lead(
            internal_name=f"T-{uuid.uuid4().hex[:10]}",
            name="test lead",
            status=LeadStatus.NEW,
            assignee_id=assignee_id,
            created_by_id=user_id,
            geom=geom_ewkt,
        )
        session.add(lead)
        await session.flush()
        session.add(LeadSourcing(lead_id=lead.id, found_by_id=user_id))
        await session.refresh(lead)
        await open_history(session, lead, user_id)
        return lead.id


def pvgis_fixtures(
    tmp_name: str,
    *,
    rate: int = 30,
    standin_timeout_s: float | None = None,
    pvgis: dict[str, Any] | None = None,
    **overrides: Any,
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """A test module's ``standin`` (PVGIS on loopback, ``rate`` calls/s before its 429s) and
    ``settings`` (``make_settings`` with PVGIS pointed at it, plus ``pvgis`` and ``overrides``)
    fixtures, module-scoped. In the module: ``standin, settings = pvgis_fixtures("enr", ...)``."""

    @pytest.fixture(scope="module", name="standin")
    def standin_fixture() -> Iterator[PvgisStandin]:
        s = PvgisStandin(rate=rate).start()
        if standin_timeout_s is not None:
            s.timeout_s = standin_timeout_s
        yield s
        s.stop()

    @pytest.fixture(scope="module", name="settings")
    def settings_fixture(
        db_url: str, tmp_path_factory: pytest.TempPathFactory, standin: PvgisStandin
    ) -> Settings:
        return make_settings(
            db_url,
            tmp_path_factory.mktemp(tmp_name),
            pvgis={"base_url": standin.url, **(pvgis or {})},
            **overrides,
        )

    return standin_fixture, settings_fixture
