"""A raster tile server stand-in on 127.0.0.1: a small real PNG for any ``/{z}/{x}/{y}.png``.

The basemap tests configure it through ``LFS_BASEMAP__SOURCES`` instead of the IGN Géoplateforme:
the PNG is a valid 256×256 8-bit RGB image (pale green with a darker 1 px grid on its edges,
written here with zlib), and every request is recorded in ``hits`` so a test sees the browser ask
for it. ``/style.json`` is a MapLibre style (its own background and a raster source of the same
tiles under ``/styled/``), for the "style" basemaps. Other paths get a 404.
"""

from __future__ import annotations

import json
import re
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_TILE = re.compile(r"^/(?P<style>[a-z]+)/(?P<z>\d{1,2})/(?P<x>\d{1,7})/(?P<y>\d{1,7})\.png$")


def png_tile(size: int = 256) -> bytes:
    """A ``size``×``size`` RGB PNG: pale green, darker edges (so tile seams are visible)."""
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # filter type 0
        for x in range(size):
            edge = x == 0 or y == 0
            row += bytes((150, 170, 140) if edge else (222, 234, 214))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


class TileStandin:
    """The stand-in; ``template(style)`` is an XYZ URL template for a basemap source."""

    def __init__(self) -> None:
        self.png = png_tile()
        self.hits: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def template(self, style: str) -> str:
        return f"{self.url}/{style}/{{z}}/{{x}}/{{y}}.png"

    def style(self) -> dict[str, object]:
        """A style with a background and a raster source of the stand-in's tiles."""
        return {
            "version": 8,
            "sources": {
                "tuiles": {
                    "type": "raster",
                    "tiles": [self.template("styled")],
                    "tileSize": 256,
                    "attribution": "stand-in style",
                }
            },
            "layers": [
                {"id": "fond", "type": "background", "paint": {"background-color": "#eef2f7"}},
                {"id": "tuiles", "type": "raster", "source": "tuiles"},
            ],
        }

    def start(self) -> TileStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                if path == "/style.json":
                    standin.hits.append(path)
                    body = json.dumps(standin.style()).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Access-Control-Allow-Origin", "*")
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if not _TILE.match(path):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                standin.hits.append(path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(standin.png)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(standin.png)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
