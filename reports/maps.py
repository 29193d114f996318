"""Maps drawn from our own layers (matplotlib): the site with its parcels, the site in context.

Geometries arrive in Web Mercator; ``ground_per_unit`` (cos latitude) turns map units into metres
for the scale bar. A basemap image (Mapbox Static API) is optional and drawn underneath when given.
"""

from __future__ import annotations

import io
import math
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrow, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from reports.facts import MapLayers
from reports.fmt import fr_num
from reports.theme import GREY, INK, NAVY, RED, SUN, ZONE_COLOURS, ZONE_LABELS

DPI = 150
Bounds = tuple[float, float, float, float]


def _polys(g: BaseGeometry) -> list[Polygon]:
    if isinstance(g, Polygon):
        return [g]
    if isinstance(g, MultiPolygon):
        return list(g.geoms)
    return [p for part in getattr(g, "geoms", []) for p in _polys(part)]


def _patch(g: BaseGeometry, **kw: object) -> PathPatch | None:
    verts: list[tuple[float, float]] = []
    codes: list[Any] = []
    for poly in _polys(g):
        for ring in [poly.exterior, *poly.interiors]:
            xy = list(ring.coords)
            if len(xy) < 3:
                continue
            verts += xy
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY]
    if not verts:
        return None
    return PathPatch(MplPath(verts, codes), **kw)


def square_bounds(b: Bounds, pad: float, aspect: float = 1.0) -> Bounds:
    """Pad the bounds and widen one side to the requested width/height ratio."""
    minx, miny, maxx, maxy = b
    w, h = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    w, h = w * (1 + 2 * pad), h * (1 + 2 * pad)
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _nice(length: float) -> float:
    exp = 10 ** math.floor(math.log10(length))
    for m in (5, 2, 1):
        if m * exp <= length:
            return m * exp
    return exp


def _decorate(ax: Axes, b: Bounds, k: float) -> None:
    """Scale bar (true metres) bottom-left and north arrow top-right."""
    minx, miny, maxx, maxy = b
    w, h = maxx - minx, maxy - miny
    ground = _nice(w * k * 0.25)  # about a quarter of the map width, rounded
    units = ground / k
    x0, y0 = minx + w * 0.05, miny + h * 0.05
    bar_h = h * 0.012
    ax.add_patch(
        Rectangle(
            (x0 - w * 0.015, y0 - h * 0.025),
            units + w * 0.03,
            h * 0.085,
            facecolor="white",
            alpha=0.8,
            edgecolor="none",
            zorder=20,
        )
    )
    for i in range(2):
        ax.add_patch(
            Rectangle(
                (x0 + i * units / 2, y0),
                units / 2,
                bar_h,
                facecolor=INK if i == 0 else "white",
                edgecolor=INK,
                linewidth=0.6,
                zorder=21,
            )
        )
    label = (
        f"{fr_num(ground / 1000, 1 if ground < 1000 else 0)} km"
        if ground >= 1000
        else (f"{fr_num(ground)} m")
    )
    ax.text(
        x0 + units / 2,
        y0 + bar_h * 2.2,
        label,
        ha="center",
        va="bottom",
        fontsize=6,
        color=INK,
        zorder=22,
    )
    nx, ny = maxx - w * 0.06, maxy - h * 0.16
    ax.add_patch(
        FancyArrow(
            nx,
            ny,
            0,
            h * 0.08,
            width=w * 0.012,
            head_width=w * 0.035,
            head_length=h * 0.04,
            color=INK,
            zorder=22,
            length_includes_head=True,
        )
    )
    ax.text(
        nx,
        ny + h * 0.095,
        "N",
        ha="center",
        va="bottom",
        fontsize=8,
        fontweight="bold",
        color=INK,
        zorder=22,
    )


def _frame(w_cm: float, h_cm: float, b: Bounds, basemap: bytes | None) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(w_cm / 2.54, h_cm / 2.54), dpi=DPI)
    ax = fig.add_axes((0.002, 0.003, 0.996, 0.994))
    ax.set_xlim(b[0], b[2])
    ax.set_ylim(b[1], b[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_color(GREY)
        s.set_linewidth(0.6)
    if basemap:
        import numpy as np
        from PIL import Image

        img = np.asarray(Image.open(io.BytesIO(basemap)).convert("RGB"))
        ax.imshow(img, extent=(b[0], b[2], b[1], b[3]), zorder=0, interpolation="bilinear")
    else:
        ax.set_facecolor("#F7F9FB")
    return fig, ax


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def site_bounds(layers: MapLayers, aspect: float) -> Bounds | None:
    """The extent of the site map (site and its parcels)."""
    geoms = [g for _, g in layers.parcels] + ([layers.site] if layers.site is not None else [])
    if not geoms:
        return None
    xs = [g.bounds for g in geoms]
    b = (min(x[0] for x in xs), min(x[1] for x in xs), max(x[2] for x in xs), max(x[3] for x in xs))
    return square_bounds(b, 0.08, aspect)


def site_map(layers: MapLayers, w_cm: float, h_cm: float, basemap: bytes | None = None) -> bytes:
    """The site outline over its parcels, each labelled with section and number."""
    b = site_bounds(layers, w_cm / h_cm)
    assert b is not None
    fig, ax = _frame(w_cm, h_cm, b, basemap)
    many = len(layers.parcels) > 30
    for label, g in layers.parcels:
        p = _patch(
            g, facecolor=(1, 1, 1, 0.55 if basemap else 1), edgecolor=GREY, linewidth=0.5, zorder=2
        )
        if p is not None:
            ax.add_patch(p)
        if not many:
            pt = g.representative_point()
            ax.text(
                pt.x,
                pt.y,
                label,
                ha="center",
                va="center",
                fontsize=5,
                color=INK,
                zorder=5,
            )
    if layers.site is not None:
        p = _patch(
            layers.site, facecolor=(0.95, 0.66, 0.0, 0.25), edgecolor=SUN, linewidth=1.6, zorder=3
        )
        if p is not None:
            ax.add_patch(p)
    _decorate(ax, b, layers.ground_per_unit)
    return _png(fig)


def poste_distance_label(layers: MapLayers) -> str | None:
    """The connection line's label: the enrichment's geodesic distance rounded to 0.1 km (poste
    positions are approximate), never a length measured on the projected map; None without it."""
    if layers.chosen_distance_m is None:
        return None
    return f" {fr_num(layers.chosen_distance_m / 1000, 1)} km"


def context_bounds(layers: MapLayers, aspect: float) -> Bounds | None:
    """The extent of the context map: the site, the connection poste, about 2 km around."""
    if layers.site is None:
        return None
    minx, miny, maxx, maxy = layers.site.bounds
    for _, g, chosen in layers.substations:
        if chosen:
            minx, miny = min(minx, g.x), min(miny, g.y)
            maxx, maxy = max(maxx, g.x), max(maxy, g.y)
    margin = 2000 / layers.ground_per_unit
    return square_bounds((minx - margin, miny - margin, maxx + margin, maxy + margin), 0.02, aspect)


def context_map(
    layers: MapLayers, w_cm: float, h_cm: float, basemap: bytes | None = None
) -> tuple[bytes, list[tuple[str, str]]]:
    """The site among protected zones (by type) and postes sources, with the connection line.

    Returns the PNG and the legend entries (colour, label) of the zone types drawn.
    """
    b = context_bounds(layers, w_cm / h_cm)
    assert b is not None
    fig, ax = _frame(w_cm, h_cm, b, basemap)
    drawn: dict[str, str] = {}
    for ztype, _name, g in layers.zones:
        colour = ZONE_COLOURS.get(ztype, "#95A5A6")
        p = _patch(g, facecolor=colour, alpha=0.35, edgecolor=colour, linewidth=0.8, zorder=2)
        if p is not None:
            ax.add_patch(p)
            drawn[ztype] = colour
    site = layers.site
    assert site is not None
    p = _patch(site, facecolor=SUN, edgecolor=NAVY, linewidth=1.0, zorder=4)
    if p is not None:
        ax.add_patch(p)
    c = site.centroid
    # At context scale the site is small: a ring and a label make it findable.
    ax.plot(
        [c.x],
        [c.y],
        marker="o",
        markersize=14,
        markerfacecolor="none",
        markeredgecolor=NAVY,
        markeredgewidth=1.2,
        zorder=6,
    )
    ax.text(
        c.x,
        c.y - (b[3] - b[1]) * 0.045,
        "site",
        ha="center",
        va="top",
        fontsize=6.5,
        color=NAVY,
        fontweight="bold",
        zorder=7,
    )
    for name, g, chosen in layers.substations:
        if not (b[0] <= g.x <= b[2] and b[1] <= g.y <= b[3]):
            continue
        if chosen:
            ax.plot([c.x, g.x], [c.y, g.y], color=RED, linewidth=1.3, linestyle="--", zorder=5)
        label = poste_distance_label(layers)
        if chosen and label:
            ax.text(
                (c.x + g.x) / 2,
                (c.y + g.y) / 2,
                label,
                fontsize=6,
                color=RED,
                zorder=6,
                fontweight="bold",
            )
        ax.plot(
            [g.x],
            [g.y],
            marker="^",
            markersize=7 if chosen else 5,
            color=NAVY,
            markeredgecolor="white",
            zorder=7,
        )
        ax.text(g.x, g.y, f"  {name}", fontsize=6, color=NAVY, va="center", zorder=7)
    _decorate(ax, b, layers.ground_per_unit)
    legend = [(col, ZONE_LABELS.get(t, t)) for t, col in drawn.items()]
    return _png(fig), legend


def wgs84_bbox(b: Bounds) -> tuple[float, float, float, float]:
    """Web Mercator bounds as lon/lat (for the Mapbox Static API)."""
    r = 6378137.0

    def lon(x: float) -> float:
        return math.degrees(x / r)

    def lat(y: float) -> float:
        return math.degrees(2 * math.atan(math.exp(y / r)) - math.pi / 2)

    return lon(b[0]), lat(b[1]), lon(b[2]), lat(b[3])
