"""OGC API Features queries: bbox, datetime, property filters and CQL2-text, all values bound."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geo.errors import BadRequest
from geo.visibility import Viewer
from tiles.layers import Attr, Layer
from tiles.sql import visibility_sql

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
OPS = {"=", "<>", "!=", "<", "<=", ">", ">=", "LIKE"}


@dataclass(frozen=True)
class Condition:
    """One comparison: attribute, operator, value (None for IS [NOT] NULL)."""

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


_TOKEN = re.compile(
    r"""\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"""
    r"""|(?P<op><>|!=|<=|>=|=|<|>)|(?P<qid>"[^"]+")|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)"""
    r"""|(?P<paren>[()]))"""
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise BadRequest(f"cannot parse the CQL2 filter near {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def parse_cql2(text: str, layer: Layer) -> list[Condition]:
    """CQL2-text: comparisons, LIKE and IS [NOT] NULL joined by AND (the subset QGIS sends)."""
    toks = [t for t in _tokens(text) if t[0] != "paren"]
    conds: list[Condition] = []
    i = 0
    while i < len(toks):
        kind, val = toks[i]
        if kind == "qid":
            name = val[1:-1]
        elif kind == "word":
            name = val
        else:
            raise BadRequest(f"expected a property name in the filter, got {val!r}")
        attr = queryable(layer, name)
        if i + 1 >= len(toks):
            raise BadRequest("incomplete filter")
        kind2, op = toks[i + 1]
        if kind2 == "word" and op.upper() == "IS":
            negate = i + 2 < len(toks) and toks[i + 2][1].upper() == "NOT"
            j = i + 3 if negate else i + 2
            if j >= len(toks) or toks[j][1].upper() != "NULL":
                raise BadRequest("expected IS [NOT] NULL")
            conds.append(Condition(attr, "IS NOT NULL" if negate else "IS NULL", None))
            i = j + 1
        else:
            op = op.upper()
            if op not in OPS or i + 2 >= len(toks):
                raise BadRequest(f"unsupported filter operator {op!r}")
            if op == "LIKE" and attr.type != "String":
                raise BadRequest(f"LIKE needs a text property; {attr.name} is a {attr.type}")
            kind3, raw = toks[i + 2]
            if kind3 == "str":
                value: Any = raw[1:-1].replace("''", "'")
            elif kind3 == "num":
                value = raw
            elif kind3 == "word" and raw.upper() in ("TRUE", "FALSE"):
                value = raw.upper() == "TRUE"
            else:
                raise BadRequest(f"expected a literal after {op}, got {raw!r}")
            conds.append(Condition(attr, "<>" if op == "!=" else op, typed(attr, value)))
            i += 3
        if i < len(toks):
            if toks[i][1].upper() != "AND":
                raise BadRequest("only AND is supported between conditions")
            i += 1
    return conds


_CAST = {"Number": "float8", "Boolean": "boolean", "String": "text"}


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
) -> Query:
    """The WHERE clause (alias ``t``): visibility, bbox, datetime and conditions."""
    q = Query(layer, [], [])
    if not layer.reference:
        vis, vparams = visibility_sql(viewer, "t", 0)
        q.where.append(f"({vis})")
        q.params.extend(vparams)
    if bbox is not None:
        a, b, c, d = (q.bind(v) for v in bbox)
        q.where.append(f"t.geom && ST_MakeEnvelope({a}, {b}, {c}, {d}, 4326)")
    if interval is not None and layer.datetime_sql:
        lo, hi = interval
        if lo is not None:
            q.where.append(f"{layer.datetime_sql} >= {q.bind(lo)}")
        if hi is not None:
            q.where.append(f"{layer.datetime_sql} <= {q.bind(hi)}")
    for cond in conds:
        column = f"({cond.attr.sql})::{_CAST[cond.attr.type]}"
        if cond.value is None:
            q.where.append(f"{column} {cond.op}")
        elif cond.op == "LIKE":
            q.where.append(f"{column} LIKE {q.bind(str(cond.value))}")
        else:
            q.where.append(f"{column} {cond.op} {q.bind(cond.value)}::{_CAST[cond.attr.type]}")
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
