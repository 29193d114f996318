"""QGIS check: load the OGC API Features layer with a filter and the vector tiles, as QGIS does.

Runs with the system Python that carries PyQGIS (Debian 12: ``apt-get install qgis python3-qgis``,
QGIS 3.22), headless::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 bench/qgis_check.py http://127.0.0.1:8000 \\
        [--token TILE_TOKEN] [--filter "\\"section\\" = 'AB'"] [--zoom 14]

It prints one JSON document: the QGIS version; the OAPIF layer (``parcels`` by default) with its
subset string, the features QGIS read and the server's own ``numberMatched`` for the same filter
(``?property=value``); the leads layer when a token is given; and the vector tile layer rendered
at ``--zoom`` over the parcels' extent (the painted pixels show the tiles were read). Exit status 1
when a layer is invalid or a count differs. The server's access log shows which requests QGIS
sent (``tests/test_ogc.py::test_qgis_*`` asserts on it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import urllib.request
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402  (PyQGIS: the system package, not the project's venv)
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsDataSourceUri,
    QgsFeatureRequest,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402


def oapif_layer(
    base: str, collection: str, token: str | None, view_extent_only: bool = False
) -> QgsVectorLayer:
    """The collection through QGIS' OAPIF provider (what *Add WFS / OGC API Features* makes).

    ``view_extent_only``: the dialog's "Only request features overlapping the view extent".
    """
    uri = QgsDataSourceUri()
    if view_extent_only:
        uri.setParam("restrictToRequestBBOX", "1")
    # QGIS 3.22 keeps a query string of the landing page URL on every request it derives.
    uri.setParam("url", f"{base}/ogc" + (f"?token={token}" if token else ""))
    uri.setParam("typename", collection)
    uri.setParam("pagingEnabled", "true")
    return QgsVectorLayer(uri.uri(False), collection, "OAPIF")


def server_count(base: str, collection: str, params: str, token: str | None) -> int:
    """numberMatched of the server for the same filter (limit=1: only the count matters)."""
    sep = "&" if params else ""
    url = f"{base}/ogc/collections/{collection}/items?limit=1{sep}{params}"
    if token:
        url += f"&token={token}"
    with urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310 (a URL we were given)
        return int(json.load(r)["numberMatched"])


def read_features(layer: QgsVectorLayer) -> int:
    """Every feature of the layer as QGIS iterates them (paging through the server)."""
    return sum(1 for _ in layer.getFeatures())


def render_tiles(base: str, layers: str, zoom: int, extent4326: QgsRectangle) -> dict[str, Any]:
    """The vector tile layer of a generic XYZ connection, rendered headless at ``zoom``."""
    uri = f"type=xyz&url={base}/tiles/{layers}/{{z}}/{{x}}/{{y}}.mvt&zmin=4&zmax=16"
    layer = QgsVectorTileLayer(uri, layers)
    if not layer.isValid():
        return {"valid": False, "uri": uri}
    merc = QgsCoordinateReferenceSystem("EPSG:3857")
    to_merc = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"), merc, QgsProject.instance()
    )
    extent = to_merc.transformBoundingBox(extent4326)
    # QGIS picks the tile zoom as if a tile were 512 pixels wide: the image size that renders
    # the extent at ``zoom``.
    world = 2 * math.pi * 6378137
    px = max(64, min(4096, int(extent.width() / (world / 2**zoom) * 512)))
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(merc)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(px, px))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    white = QColor(255, 255, 255).rgb()
    step = max(1, px // 256)
    painted = sum(
        1
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
        if image.pixel(x, y) != white
    )
    return {"valid": True, "uri": uri, "zoom": zoom, "size": px, "painted_samples": painted}


def main() -> int:
    """Load, count, render; print the JSON summary."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("url", help="the server's base URL, e.g. http://127.0.0.1:8000")
    p.add_argument("--collection", default="parcels")
    p.add_argument("--filter", default="\"section\" = 'AB'", help="a QGIS subset string")
    p.add_argument("--server-params", default="section=AB", help="the same filter for the server")
    p.add_argument("--token", help="a tile token: also read the leads")
    p.add_argument("--zoom", type=int, default=14)
    args = p.parse_args()
    base = args.url.rstrip("/")

    app = QgsApplication([], False)
    app.initQgis()
    out: dict[str, Any] = {"qgis": Qgis.version()}
    ok = True
    layer = oapif_layer(base, args.collection, None)
    out["oapif"] = {"valid": layer.isValid(), "collection": args.collection}
    if layer.isValid():
        extent = layer.extent()
        layer.setSubsetString(args.filter)
        got = read_features(layer)
        want = server_count(base, args.collection, args.server_params, None)
        out["oapif"].update(subset=args.filter, features=got, server_number_matched=want)
        ok = ok and got == want
        # A view-extent request (what "Only request features overlapping the view extent" does):
        # the south-west quarter of the layer, exact intersection.
        layer = oapif_layer(base, args.collection, None, view_extent_only=True)
        quarter = QgsRectangle(
            extent.xMinimum(), extent.yMinimum(), extent.center().x(), extent.center().y()
        )
        request = QgsFeatureRequest().setFilterRect(quarter)
        request.setFlags(QgsFeatureRequest.ExactIntersect)
        got = sum(1 for _ in layer.getFeatures(request))
        bbox = ",".join(
            f"{v:.9f}"
            for v in (
                quarter.xMinimum(),
                quarter.yMinimum(),
                quarter.xMaximum(),
                quarter.yMaximum(),
            )
        )
        want = server_count(base, args.collection, f"bbox={bbox}", None)
        out["oapif"].update(bbox=bbox, bbox_features=got, bbox_server_number_matched=want)
        ok = ok and got == want
        out["tiles"] = render_tiles(base, args.collection, args.zoom, extent)
        ok = ok and out["tiles"]["valid"] and out["tiles"]["painted_samples"] > 0
    else:
        ok = False
    if args.token:
        leads = oapif_layer(base, "leads", args.token)
        got = read_features(leads) if leads.isValid() else -1
        want = server_count(base, "leads", "", args.token)
        out["leads"] = {"valid": leads.isValid(), "features": got, "server_number_matched": want}
        ok = ok and got == want
    out["ok"] = ok
    print(json.dumps(out, indent=2), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    # QGIS 3.22 segfaults in exitQgis() when Python tears down its layers afterwards: leave
    # without the interpreter's shutdown once the summary is out.
    os._exit(main())
