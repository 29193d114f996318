"""The dossier map labels the connection line with the enrichment's geodesic distance (issue 16)."""

from __future__ import annotations

import math

from pyproj import Geod, Transformer
from shapely.geometry import Point

from reports.facts import MapLayers
from reports.maps import poste_distance_label

TO_3857 = Transformer.from_crs(4326, 3857, always_xy=True)


def test_label_is_the_geodesic_figure_not_a_map_length() -> None:
    # Issue 16's case: a site in Finistère, its "nearest" poste in the Rhône.
    site, poste = (-4.10, 48.30), (4.60, 45.98)
    _, _, geodesic_m = Geod(ellps="WGS84").inv(*site, *poste)
    a, b = Point(TO_3857.transform(*site)), Point(TO_3857.transform(*poste))
    # The old label: the Web Mercator length scaled at the site's latitude (facts.py).
    on_map_m = a.distance(b) * math.cos(math.radians(site[1]))
    assert abs(on_map_m - geodesic_m) > 2_000  # what the map used to print was kilometres off
    layers = MapLayers(chosen_distance_m=geodesic_m)
    assert poste_distance_label(layers) == f" {geodesic_m / 1000:.1f} km".replace(".", ",")
    assert poste_distance_label(MapLayers()) is None  # no figure: no label rather than a guess
