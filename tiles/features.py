"""OGC API Features queries: bbox, datetime, property filters and CQL2-text, all values bound."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geo.errors import BadRequest
from geo.visibility import Viewer
from tiles import cql2
from tiles.layers import Attr, Layer
from tiles.sql import visibility_sql

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@dataclass(frozen=True)
class Condition:
    """One ``?property=value`` equality: attribute, operator, typed value."""

    attr: Attr
    op: str
    value: Any


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """minlon,minlat,maxlon,maxlat in CRS84; inverted or out-of-range boxes are a 400."""
    parts = text.split(",")
    if len(parts) == 6:  # 3D bbox: drop the heights
        parts = [parts[0], parts[1], parts[3], parts[4]]
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise BadRequest("bbox must be 4 numbers: minlon,minlat,maxlon,maxlat") from None
    if not (
        -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90
    ):
        raise BadRequest("bbox is outside the CRS84 range (lon -180..180, lat -90..90)")
    if minx > maxx or miny > maxy:
        raise BadRequest("bbox is inverted: min must not exceed max")
    return minx, miny, maxx, maxy


def parse_datetime(text: str) -> tuple[datetime | None, datetime | None]:
    """An RFC 3339 instant or interval (``a/b``, ``../b``, ``a/..``)."""

    def one(value: str) -> datetime | None:
        if value in ("", ".."):
            return None
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(f"invalid datetime {value!r} (RFC 3339 expected)") from None

    if "/" in text:
        start, end = text.split("/", 1)
        lo, hi = one(start), one(end)
        if lo and hi and lo > hi:
            raise BadRequest("datetime interval is inverted")
        return lo, hi
    instant = one(text)
    return instant, instant


def typed(attr: Attr, raw: Any) -> Any:
    """A filter value converted to the attribute's type (400 when it does not fit)."""
    if attr.type == "Number":
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise BadRequest(f"{attr.name} is a number, got {raw!r}") from None
    if attr.type == "Boolean":
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "1"):
            return True
        if str(raw).lower() in ("false", "0"):
            return False
        raise BadRequest(f"{attr.name} is a boolean, got {raw!r}")
    return str(raw)


def queryable(layer: Layer, name: str) -> Attr:
    """A queryable attribute of the layer (400 listing the queryables otherwise)."""
    attr = layer.attr(name)
    if attr is None or name not in layer.queryables:
        raise BadRequest(
            f"unknown property {name!r} for {layer.name}", queryables=list(layer.queryables)
        )
    return attr


_CAST = cql2.TYPES


@dataclass
class Query:
    """The WHERE clause of an items request and its parameters."""

    layer: Layer
    where: list[str]
    params: list[Any]

    def bind(self, value: Any) -> str:
        """Add a parameter; return its placeholder."""
        self.params.append(value)
        return f"${len(self.params)}"


def build_where(
    layer: Layer,
    viewer: Viewer | None,
    bbox: tuple[float, float, float, float] | None,
    interval: tuple[datetime | None, datetime | None] | None,
    conds: list[Condition],
    cql: str | None = None,
) -> Query:
    """The WHERE clause (alias ``t``): visibility, bbox, datetime, conditions and a CQL2 filter."""
    q = Query(layer, [], [])
    if not layer.reference:
        vis, vparams = visibility_sql(viewer, "t", 0, layer)
        q.where.append(f"({vis})")
        q.params.extend(vparams)
    if bbox is not None:
        a, b, c, d = (q.bind(v) for v in bbox)
        # Exact intersection (ST_Intersects does the index's && test first), not only the boxes.
        q.where.append(f"ST_Intersects(t.geom, ST_MakeEnvelope({a}, {b}, {c}, {d}, 4326))")
    if interval is not None and layer.datetime_sql:
        lo, hi = interval
        if lo is not None:
            q.where.append(f"{layer.datetime_sql} >= {q.bind(lo)}")
        if hi is not None:
            q.where.append(f"{layer.datetime_sql} <= {q.bind(hi)}")
    for cond in conds:
        column = f"({cond.attr.sql})::{_CAST[cond.attr.type]}"
        q.where.append(f"{column} {cond.op} {q.bind(cond.value)}::{_CAST[cond.attr.type]}")
    if cql is not None:
        q.where.append(cql2.to_sql(cql, layer, q.bind))
    return q


def _where_sql(q: Query) -> str:
    return " AND ".join(q.where) if q.where else "true"


def _feature_sql(layer: Layer) -> str:
    props = ", ".join(f"'{a.name}', {a.sql}" for a in layer.attrs)
    return (
        f"json_build_object('type', 'Feature', 'id', t.{layer.pk}, "
        f"'geometry', ST_AsGeoJSON(t.geom, 7)::json, 'properties', json_build_object({props}))"
    )


def count_sql(q: Query) -> tuple[str, list[Any]]:
    """numberMatched."""
    return f"SELECT count(*) FROM {q.layer.table} t WHERE {_where_sql(q)}", list(q.params)


def items_sql(q: Query, limit: int, offset: int) -> tuple[str, list[Any]]:
    """(count, JSON array text) of a page of features, ordered by primary key."""
    params = list(q.params) + [limit, offset]
    n = len(params)
    layer = q.layer
    sql = (
        f"SELECT count(*), "
        f"coalesce(json_agg({_feature_sql(layer)} ORDER BY t.{layer.pk}), '[]')::text "
        f"FROM (SELECT * FROM {layer.table} t WHERE {_where_sql(q)} "
        f"ORDER BY t.{layer.pk} LIMIT ${n - 1} OFFSET ${n}) t"
    )
    return sql, params


def item_sql(q: Query, feature_id: Any) -> tuple[str, list[Any]]:
    """One feature by primary key (visibility still applies)."""
    params = list(q.params) + [feature_id]
    sql = (
        f"SELECT {_feature_sql(q.layer)}::text FROM {q.layer.table} t "
        f"WHERE {_where_sql(q)} AND t.{q.layer.pk} = ${len(params)}"
    )
    return sql, params


def extent_sql(layer: Layer) -> str:
    """The planner's estimated extent of a reference layer (cheap; needs ANALYZE stats)."""
    return f"SELECT ST_EstimatedExtent('{layer.table}', 'geom')::box2d::text"
