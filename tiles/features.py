"""OGC API Features queries: bbox, datetime, property filters and CQL2-text, all values bound."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geo.errors import BadRequest
from geo.visibility import Viewer
from tiles import cql2
from tiles.layers import Attr, Layer
from tiles.sql import visibility_sql

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# ``offset`` is read (and skipped) row by row: beyond this many rows it is a 400 telling to
# follow the ``next`` links, whose cursor is an index range scan at any depth (docs/decisions.md).
MAX_OFFSET = 10_000
# numberMatched is exact or absent: counted up to this many rows (LIMIT COUNT_CAP + 1), omitted
# when more match.
COUNT_CAP = 10_000
_MAX_KEY_CHARS = 200
_MAX_CURSOR_CHARS = 400


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


@dataclass(frozen=True)
class Cursor:
    """A keyset position: features after (forward) or before ``key`` in primary-key order."""

    key: int | str
    forward: bool


def encode_cursor(layer: Layer, key: int | str, forward: bool) -> str:
    """The opaque ``cursor`` of a next/prev link: the collection, the direction and the key."""
    raw = json.dumps([layer.name, "a" if forward else "b", key], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(layer: Layer, text: str) -> Cursor:
    """A cursor made by encode_cursor for this collection; anything else is a 400."""
    bad = BadRequest("cursor is not valid for this collection: follow the links of a page")
    if len(text) > _MAX_CURSOR_CHARS:  # also keeps json.loads from deep nesting
        raise bad
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        name, direction, key = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, RecursionError):
        raise bad from None
    if name != layer.name or direction not in ("a", "b"):
        raise bad
    if layer.pk_type == "int":
        if type(key) is not int or not -(2**63) <= key < 2**63:
            raise bad
    elif not isinstance(key, str) or len(key) > _MAX_KEY_CHARS or "\x00" in key:
        raise bad
    else:
        try:
            key.encode()  # a lone surrogate ("\ud800" in the JSON) is no text PostgreSQL takes
        except UnicodeEncodeError:
            raise bad from None
    return Cursor(key, direction == "a")


def _where_sql(q: Query) -> str:
    return " AND ".join(q.where) if q.where else "true"


def _feature_sql(layer: Layer) -> str:
    props = ", ".join(f"'{a.name}', {a.sql}" for a in layer.attrs)
    return (
        f"json_build_object('type', 'Feature', 'id', t.{layer.pk}, "
        f"'geometry', ST_AsGeoJSON(t.geom, 7)::json, 'properties', json_build_object({props}))"
    )


def count_sql(q: Query, cap: int = COUNT_CAP) -> tuple[str, list[Any]]:
    """numberMatched, counted up to ``cap + 1`` rows: a result above ``cap`` means "more"."""
    params = list(q.params) + [cap + 1]
    sql = (
        f"SELECT count(*) FROM (SELECT 1 FROM {q.layer.table} t WHERE {_where_sql(q)} "
        f"LIMIT ${len(params)}) s"
    )
    return sql, params


def items_sql(
    q: Query, limit: int, offset: int = 0, cursor: Cursor | None = None
) -> tuple[str, list[Any]]:
    """A page in primary-key order: (rows fetched, up to ``limit + 1``; the first ``limit`` as a
    JSON array text; their first and last key). With a cursor, an index range scan from the key
    (backwards for a ``prev`` cursor, the page still in ascending order); the extra row tells
    whether there is more in that direction, without counting."""
    layer = q.layer
    params = list(q.params)
    where = list(q.where)
    order = "ASC"
    if cursor is not None:
        params.append(cursor.key)
        cast = "bigint" if layer.pk_type == "int" else "text"
        where.append(f"t.{layer.pk} {'>' if cursor.forward else '<'} ${len(params)}::{cast}")
        order = "ASC" if cursor.forward else "DESC"
    params += [limit + 1, offset, limit]
    n = len(params)
    cond = " AND ".join(where) if where else "true"
    kept = f"FILTER (WHERE t._lfs_rn <= ${n})"
    sql = (
        f"SELECT count(*), "
        f"coalesce(json_agg({_feature_sql(layer)} ORDER BY t.{layer.pk}) {kept}, '[]')::text, "
        f"min(t.{layer.pk}) {kept}, max(t.{layer.pk}) {kept} "
        f"FROM (SELECT t.*, row_number() OVER (ORDER BY t.{layer.pk} {order}) AS _lfs_rn "
        f"FROM (SELECT * FROM {layer.table} t WHERE {cond} "
        f"ORDER BY t.{layer.pk} {order} LIMIT ${n - 2} OFFSET ${n - 1}) t) t"
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
