"""Queries behind /api/reference: imports, search, parcel facts, layer summaries."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from geo.errors import InvalidInput, NotFound
from geo.importers.reader import FRANCE_BOUNDS
from geo.models import ImportRecord, Lead
from geo.models.reference import NAME_ACCENTS, NAME_PLAIN
from geo.pipeline import OPEN_STATUSES
from geo.visibility import Viewer, clause_sql, lead_visibility
from tiles.layers import Layer, factor_layers, imported_layers

_PARCEL_PREFIX = re.compile(r"^[0-9][0-9AB][0-9]{3}[0-9A-Z]{0,9}$")
_INSEE_PREFIX = re.compile(r"^[0-9][0-9AB][0-9]{0,3}$")
# A cadastral reference: [commune] [prefixe] section number, e.g. "AN 63", "0A0285",
# "000AN0063", "69114 AN 63". A section holds a letter (so a bare INSEE code is never one).
_CADASTRAL_REF = re.compile(
    r"^(?:(?P<commune>(?:[0-9]{2}|2[AB])[0-9]{3})\s*)?(?:(?P<prefixe>[0-9]{3})\s*)?"
    r"(?P<section>[0-9A-Z]?[A-Z])\s*(?P<numero>[0-9]{1,4})$"
)


def imported_layer(name: str | None) -> str | None:
    """``name`` if it is an imported reference layer (tiles.layers registry), else a 422."""
    known = [la.name for la in imported_layers()]
    if name is not None and name not in known:
        raise InvalidInput(f"unknown layer {name!r}: one of {', '.join(known)}", layers=known)
    return name


def factor_layer(name: str) -> Layer:
    """The factor layer ``name`` (one the enrichment reads), else a 422."""
    layers = {la.name: la for la in factor_layers()}
    if name not in layers:
        known = list(layers)
        raise InvalidInput(f"no mask for {name!r}: one of {', '.join(known)}", layers=known)
    return layers[name]


async def list_imports(
    session: AsyncSession, page: int, page_size: int, layer: str | None
) -> tuple[list[ImportRecord], int]:
    """Imports newest first, optionally of one layer."""
    layer = imported_layer(layer)
    stmt = select(ImportRecord)
    if layer:
        stmt = stmt.where(ImportRecord.layer == layer)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(
        stmt.order_by(ImportRecord.started_at.desc(), ImportRecord.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows), total


def _like_prefix(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _next_string(q: str) -> str:
    """The smallest string after every string starting with q (code-point order)."""
    return q[:-1] + chr(ord(q[-1]) + 1)


_FOLD = str.maketrans(NAME_ACCENTS, NAME_PLAIN)
_LIGATURES = (("œ", "oe"), ("Œ", "OE"), ("æ", "ae"), ("Æ", "AE"))


def fold_name(text_: str) -> str:
    """A name folded like ``communes.name_folded``: accents, hyphens, apostrophes, case."""
    folded = text_.translate(_FOLD)
    for ligature, plain in _LIGATURES:
        folded = folded.replace(ligature, plain)
    return " ".join(folded.lower().split())


_COMMUNE_COLUMNS = """insee, name, department, source,
    ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom),
    ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom))"""
# Any part of the folded name (trigram index); a name that starts with the text first, then the
# shorter names (a commune before the longer ones it is a prefix of).
_COMMUNES_BY_NAME = text(
    f"""SELECT {_COMMUNE_COLUMNS} FROM communes
        WHERE name_folded LIKE :name_like
        ORDER BY name_folded = :folded DESC, starts_with(name_folded, :folded) DESC,
                 length(name), name, insee
        LIMIT :limit"""
)
# An INSEE code prefix: a range on the primary key (see _PARCELS_SQL).
_COMMUNES_BY_CODE = text(
    f"""SELECT {_COMMUNE_COLUMNS} FROM communes
        WHERE insee >= :lo AND insee < :hi AND left(insee, :n) = :lo
        ORDER BY insee
        LIMIT :limit"""
)

# Range on the primary key (a btree range scan; LIKE alone would not use the index under a
# non-C collation), rechecked by the prefix.
_PARCELS_SQL = text(
    """SELECT p.id, p.commune, p.section, p.numero, c.name, p.source,
              ST_XMin(p.geom), ST_YMin(p.geom), ST_XMax(p.geom), ST_YMax(p.geom),
              ST_X(ST_PointOnSurface(p.geom)), ST_Y(ST_PointOnSurface(p.geom))
       FROM parcels p LEFT JOIN communes c ON c.insee = p.commune
       WHERE p.id >= :lo AND p.id < :hi AND left(p.id, :n) = :lo
       ORDER BY p.id
       LIMIT :limit"""
)


_REF_COLUMNS = """p.id, p.commune, p.prefixe, p.section, p.numero, p.source,
              ST_XMin(p.geom), ST_YMin(p.geom), ST_XMax(p.geom), ST_YMax(p.geom),
              ST_X(ST_PointOnSurface(p.geom)), ST_Y(ST_PointOnSurface(p.geom))"""
_REF_MATCH = """p.section IN (:s2, :s1) AND p.numero IN (:n4, :n)
                AND (CAST(:prefixe AS text) IS NULL OR p.prefixe = :prefixe)"""
# In one commune: the (commune, section) index.
_PARCELS_BY_REF_IN_COMMUNE = text(
    f"""SELECT {_REF_COLUMNS} FROM parcels p
        WHERE p.commune = :commune AND {_REF_MATCH}
        ORDER BY p.id LIMIT :limit"""
)
# In any commune: the (section, numero) index (migration 0027), one probe per spelling; the
# hits are gathered before they are sorted, so the planner never walks the primary key in id
# order hoping to meet them (0.1-1.5 ms on 1 M parcels; the probe per commune of the
# (commune, section) index it replaced took 10.7 ms for 324 communes, ~100x that nationally).
_PARCELS_BY_REF = text(
    f"""WITH hit AS MATERIALIZED (SELECT p.id FROM parcels p WHERE {_REF_MATCH}),
        first AS (SELECT id FROM hit ORDER BY id LIMIT :limit)
        SELECT {_REF_COLUMNS} FROM first JOIN parcels p ON p.id = first.id ORDER BY p.id"""
)


def parcel_ref_label(commune: str, prefixe: str, section: str, numero: str) -> str:
    """A parcel's cadastral reference as people write it: "69114 AN 63"."""
    sec = section.lstrip("0") or section
    num = str(int(numero)) if numero.isdigit() else numero
    pre = f" {prefixe}" if prefixe and prefixe != "000" else ""
    return f"{commune}{pre} {sec} {num}"


async def search_by_reference(session: AsyncSession, q: str, limit: int) -> list[dict[str, Any]]:
    """Parcels by cadastral reference ("AN 63", "0A0285", "69114 AN 63"), id order."""
    m = _CADASTRAL_REF.match(" ".join(q.upper().split()))
    if not m:
        return []
    section, numero = m["section"], m["numero"]
    params = {
        "s2": section.rjust(2, "0"),
        "s1": section.lstrip("0") or section,
        "n4": numero.rjust(4, "0"),
        "n": str(int(numero)),
        "prefixe": m["prefixe"],
        "limit": limit,
    }
    if m["commune"]:
        rows = await session.execute(
            _PARCELS_BY_REF_IN_COMMUNE, {**params, "commune": m["commune"]}
        )
    else:
        rows = await session.execute(_PARCELS_BY_REF, params)
    return [
        {
            "kind": "parcel",
            "id": pid,
            "label": parcel_ref_label(commune, prefixe, sec, num),
            "bbox": list(box[:4]),
            "center": list(box[4:]),
            "source": source,
        }
        for pid, commune, prefixe, sec, num, source, *box in rows
    ]


async def search(session: AsyncSession, q: str, limit: int) -> list[dict[str, Any]]:
    """Communes by name prefix or INSEE code, parcels by id prefix or cadastral reference."""
    q = q.strip()
    hits: list[dict[str, Any]] = []
    code = q.upper()
    if _INSEE_PREFIX.match(code):  # names never start with a digit
        params = {"lo": code, "hi": _next_string(code), "n": len(code), "limit": limit}
        rows = await session.execute(_COMMUNES_BY_CODE, params)
    else:
        folded = fold_name(q)
        params = {"folded": folded, "name_like": "%" + _like_prefix(folded), "limit": limit}
        rows = await session.execute(_COMMUNES_BY_NAME, params)
    for insee, name, _dep, source, *box in rows:
        hits.append(
            {
                "kind": "commune",
                "id": insee,
                "label": f"{name} ({insee})",
                "bbox": list(box[:4]),
                "center": list(box[4:]),
                "source": source,
            }
        )
    pid = re.sub(r"\s+", "", code)
    if len(pid) >= 6 and _PARCEL_PREFIX.match(pid) and len(hits) < limit:
        rows = await session.execute(
            _PARCELS_SQL,
            {"lo": pid, "hi": _next_string(pid), "n": len(pid), "limit": limit - len(hits)},
        )
        for pid_, commune, section, numero, _cname, source, *box in rows:
            hits.append(
                {
                    "kind": "parcel",
                    "id": pid_,
                    "label": parcel_ref_label(commune, pid_[5:8], section, numero),
                    "bbox": list(box[:4]),
                    "center": list(box[4:]),
                    "source": source,
                }
            )
    if len(hits) < limit:
        seen = {h["id"] for h in hits}
        for hit in await search_by_reference(session, q, limit - len(hits)):
            if hit["id"] not in seen:
                hits.append(hit)
    return hits


# The active leads holding a parcel (more than 1 m² of it inside the lead, as the duplicate
# check of a lead's creation), with whether the viewer may see each.
_PARCEL_LEADS = """
SELECT l.id, l.internal_name, l.name, l.status, {visible} AS visible
FROM parcels AS p
JOIN leads AS l ON l.geom && p.geom AND l.status = ANY(:open)
               AND ST_Intersects(l.geom, p.geom)
               AND ST_Area(ST_Intersection(l.geom, p.geom)::geography) > 1.0
WHERE p.id = :id
ORDER BY l.id
"""


async def parcel_leads(
    session: AsyncSession, parcel_id: str, viewer: Viewer
) -> tuple[list[dict[str, Any]], int]:
    """The active leads holding a parcel that ``viewer`` may see, and how many others do."""
    visible = clause_sql(lead_visibility(viewer, Lead.__table__.alias("l")))
    rows = (
        await session.execute(
            text(_PARCEL_LEADS.format(visible=visible)),
            {"id": parcel_id, "open": sorted(s.value for s in OPEN_STATUSES)},
        )
    ).all()
    seen = [
        {"id": r.id, "internal_name": r.internal_name, "name": r.name, "status": r.status}
        for r in rows
        if r.visible
    ]
    return seen, len(rows) - len(seen)


async def parcel_feature(
    session: AsyncSession, parcel_id: str, viewer: Viewer | None = None
) -> dict[str, Any]:
    """A parcel as a GeoJSON Feature with its facts and (for a viewer) the active leads
    holding it; NotFound if absent."""
    row = (
        await session.execute(
            text(
                """SELECT p.id, p.commune, c.name, p.prefixe, p.section, p.numero,
                          p.contenance, p.area_m2, p.source, p.source_updated, p.import_id,
                          ST_AsGeoJSON(p.geom, 7),
                          ST_XMin(p.geom), ST_YMin(p.geom), ST_XMax(p.geom), ST_YMax(p.geom)
                   FROM parcels p LEFT JOIN communes c ON c.insee = p.commune
                   WHERE p.id = :id"""
            ),
            {"id": parcel_id.strip().upper()},
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"parcel {parcel_id} not found")
    keys = ["id", "commune", "commune_name", "prefixe", "section", "numero", "contenance_m2"]
    keys += ["area_m2", "source", "source_updated", "import_id"]
    props = dict(zip(keys, row[:11], strict=True))
    if viewer is not None:
        props["leads"], props["hidden_leads"] = await parcel_leads(session, row[0], viewer)
    return {
        "type": "Feature",
        "id": row[0],
        "geometry": json.loads(row[11]),
        "bbox": list(row[12:16]),
        "properties": props,
    }


async def layer_summaries(session: AsyncSession) -> list[dict[str, Any]]:
    """Per layer: rows by source, data version, last successful import."""
    out = []
    for la in imported_layers():
        table = la.table
        counts: dict[str, int] = dict(
            (
                await session.execute(
                    text(f"SELECT source, count(*) FROM {table} GROUP BY source")  # noqa: S608
                )
            ).all()
        )
        version = await session.scalar(
            text("SELECT version FROM layer_versions WHERE layer = :l"), {"l": table}
        )
        last = await session.scalar(
            text("SELECT max(finished_at) FROM imports WHERE layer = :l AND status = 'succeeded'"),
            {"l": table},
        )
        out.append(
            {
                "layer": la.name,
                "count": sum(counts.values()),
                "sources": counts,
                "version": version or 0,
                "last_import_at": last,
            }
        )
    return out


# Simplified to ~100 m for display (a département outline has thousands of vertices); the
# enrichment reads the exact geometry.
_COVERAGE_SQL = text(
    """SELECT lc.id, lc.import_id, lc.layer, i.file_name, lc.method, lc.areas, lc.area_km2,
              lc.created_at, ST_AsGeoJSON(ST_SimplifyPreserveTopology(lc.geom, 0.001), 5)
       FROM layer_coverage AS lc JOIN imports AS i ON i.id = lc.import_id
       WHERE CAST(:layer AS text) IS NULL OR lc.layer = :layer
       ORDER BY lc.import_id DESC"""
)
_COVERAGE_TOTALS_SQL = text(
    """SELECT layer, ST_Area(ST_Union(geom)::geography) / 1e6 FROM layer_coverage
       WHERE CAST(:layer AS text) IS NULL OR layer = :layer GROUP BY layer ORDER BY layer"""
)


async def coverage(session: AsyncSession, layer: str | None) -> dict[str, Any]:
    """Every import's coverage as GeoJSON features, and each layer's covered km²."""
    layer = imported_layer(layer)
    rows = await session.execute(_COVERAGE_SQL, {"layer": layer})
    features = [
        {
            "type": "Feature",
            "id": cid,
            "geometry": json.loads(geojson),
            "properties": {
                "import_id": import_id,
                "layer": layer_,
                "file_name": file_name,
                "method": method,
                "kind": areas.get("kind"),
                "codes": areas.get("codes", []),
                "area_km2": round(km2, 1),
                "created_at": created_at,
            },
        }
        for cid, import_id, layer_, file_name, method, areas, km2, created_at, geojson in rows
    ]
    totals = await session.execute(_COVERAGE_TOTALS_SQL, {"layer": layer})
    return {
        "type": "FeatureCollection",
        "features": features,
        "layers": {name: round(km2, 1) for name, km2 in totals},
    }


# Where a factor's layer has no data: metropolitan France's box minus the union of the layer's
# coverages (simplified to ~200 m first: a display mask, not the enrichment's exact test). A
# layer loaded without the importer (no imports) is taken as complete, as the enrichment does.
_MASK_SQL = """WITH cov AS (
           SELECT ST_Union(ST_SimplifyPreserveTopology(geom, 0.002)) AS g
           FROM layer_coverage WHERE layer = :layer
       ), box AS (SELECT ST_MakeEnvelope(:w, :s, :e, :n, 4326) AS b)
       SELECT CASE
                WHEN NOT EXISTS (SELECT 1 FROM imports WHERE layer = :layer
                                 AND status = 'succeeded')
                     AND EXISTS (SELECT 1 FROM {table}) THEN NULL
                WHEN cov.g IS NULL THEN ST_AsGeoJSON(box.b, 5)
                ELSE ST_AsGeoJSON(ST_CollectionExtract(ST_Difference(box.b, cov.g), 3), 5)
              END
       FROM cov, box"""


async def coverage_mask(session: AsyncSession, layer: str) -> dict[str, Any]:
    """The "données absentes" mask of a layer as a GeoJSON Feature (null geometry: none)."""
    w, s, e, n = FRANCE_BOUNDS
    table = factor_layer(layer).table  # the identifier comes from the registry only
    sql = text(_MASK_SQL.format(table=table))
    params = {"layer": layer, "w": w, "s": s, "e": e, "n": n}
    geojson = (await session.execute(sql, params)).scalar()
    geometry = json.loads(geojson) if geojson else None
    if geometry is not None and not geometry.get("coordinates"):
        geometry = None  # covered everywhere in the box
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {"layer": layer, "label": "données absentes"},
    }
