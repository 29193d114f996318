"""A PVGIS stand-in: a real HTTP server on 127.0.0.1 speaking PVGIS' PVcalc protocol.

Same paths (``/api/v5_2/PVcalc``, ``/api/v5_3/PVcalc``), same parameter names, same JSON shape:
the recorded real answer at 45°N 8°E (tests/fixtures/pvgis) with its location replaced and its
energy and irradiation figures scaled by a simple latitude factor, so different sites differ.
With ``optimalangles=1`` the slope becomes an optimal ~35° and the figures rise by 15 %, roughly
what PVGIS does. Points at sea (outside a coarse France / Corsica / Piedmont outline) get PVGIS'
400 ``{"message": "Location over the sea. Please, select another location"}``; more than ``rate``
calls in a second get 429. ``script`` queues failures for the next calls: an HTTP status
(500, 529, 429…), "html", "garbage" or "timeout".

Run alone (for the benchmark): ``python -m tests.pvgis_standin --port 8765``.
"""

from __future__ import annotations

import argparse
import copy
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from shapely.geometry import Point, Polygon

RECORDED = (
    Path(__file__).resolve().parent
    / "fixtures"
    / "pvgis"
    / "grid-connected-and-tracking-pv-systems.json"
)
SEA_MESSAGE = "Location over the sea. Please, select another location"
LAND = [
    # Mainland France, coarse: Brest, Cherbourg, Dunkirk, Lauterbourg, Geneva, Menton, Perthus,
    # Hendaye, Arcachon.
    Polygon(
        [
            (-4.8, 48.4),
            (-1.9, 49.7),
            (2.5, 51.1),
            (8.2, 49.0),
            (6.1, 46.2),
            (7.5, 43.8),
            (3.1, 42.4),
            (-1.8, 43.4),
            (-1.25, 44.6),
        ]
    ),
    Polygon([(8.5, 41.4), (9.6, 41.4), (9.6, 43.0), (8.5, 43.0)]),  # Corsica
    Polygon([(6.6, 44.0), (9.5, 44.0), (9.5, 46.0), (6.6, 46.0)]),  # Piedmont (recorded point)
]
ENERGY_KEYS = ("E_d", "E_m", "E_y", "H(i)_d", "H(i)_m", "H(i)_y", "SD_m", "SD_y")
REQUIRED = ("lat", "lon", "peakpower", "loss")


def latitude_factor(lat: float) -> float:
    """Yield relative to 45°N: about 3.5 % less per degree further north."""
    return max(0.5, 1.0 + 0.035 * (45.0 - lat))


class PvgisStandin:
    """The server, its call log and its failure script."""

    def __init__(self, port: int = 0, rate: int = 30) -> None:
        self.recorded = json.loads(RECORDED.read_text())
        self.rate = rate
        self.calls: list[dict[str, str]] = []
        self.script: deque[int | str] = deque()
        self.timeout_s = 5.0
        self.delay_s = 0.0  # added to every answer (a slow PVGIS)
        self._times: deque[float] = deque()
        self.too_many = 0  # calls answered 429 for going over the rate
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                standin.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> PvgisStandin:
        """Serve in a background thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    # -- protocol ---------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        """Answer one request like PVGIS would."""
        url = urlparse(h.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.calls.append(params)
            now = time.monotonic()
            self._times.append(now)
            while self._times and self._times[0] < now - 1.0:
                self._times.popleft()
            over_rate = len(self._times) > self.rate
            action = self.script.popleft() if self.script else None
        if self.delay_s:
            time.sleep(self.delay_s)
        if url.path not in ("/api/v5_2/PVcalc", "/api/v5_3/PVcalc"):
            return self._send(h, 404, {"message": "Not found"})
        if action == "timeout":
            time.sleep(self.timeout_s)
            return self._send(h, 504, {"message": "late"})
        if action == "html":
            return self._raw(h, 200, b"<html><body>Maintenance</body></html>", "text/html")
        if action == "garbage":
            return self._raw(h, 200, b'{"outputs": {"totals": "', "application/json")
        if isinstance(action, int):
            return self._send(h, action, {"message": f"stand-in status {action}"})
        if over_rate:
            with self._lock:
                self.too_many += 1
            return self._send(h, 429, {"message": "Too many requests: 30 calls per second"})
        for name in REQUIRED:
            if name not in params:
                return self._send(h, 400, {"message": f"'{name}' is a required parameter"})
        try:
            lat, lon = float(params["lat"]), float(params["lon"])
            peak = float(params["peakpower"])
        except ValueError:
            return self._send(h, 400, {"message": "lat, lon and peakpower must be numbers"})
        if not -90 <= lat <= 90 or not -180 <= lon <= 180:
            return self._send(h, 400, {"message": "Latitude or longitude out of range"})
        if not any(poly.contains(Point(lon, lat)) for poly in LAND):
            return self._send(h, 400, {"message": SEA_MESSAGE})
        return self._send(h, 200, self.answer(lat, lon, peak, params))

    def answer(self, lat: float, lon: float, peak: float, params: dict[str, str]) -> dict:
        """The recorded answer moved to (lat, lon) and scaled."""
        body = copy.deepcopy(self.recorded)
        body["inputs"]["location"].update(latitude=lat, longitude=lon)
        optimal = params.get("optimalangles") == "1"
        fixed = body["inputs"]["mounting_system"]["fixed"]
        fixed["type"] = (
            "free-standing"
            if params.get("mountingplace", "free") == "free"
            else "building-integrated"
        )
        factor = latitude_factor(lat) * peak
        if optimal:
            fixed["slope"] = {"value": 35, "optimal": True}
            fixed["azimuth"] = {"value": 0, "optimal": True}
            factor *= 1.15
        body["inputs"]["pv_module"]["peak_power"] = peak
        body["inputs"]["pv_module"]["system_loss"] = float(params["loss"])
        rows = body["outputs"]["monthly"]["fixed"] + [body["outputs"]["totals"]["fixed"]]
        for row in rows:
            for key in ENERGY_KEYS:
                if isinstance(row.get(key), int | float):
                    row[key] = round(
                        row[key] * (factor if key.startswith("E") else factor / peak), 2
                    )
        return body

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        PvgisStandin._raw(h, status, json.dumps(body).encode(), "application/json")

    @staticmethod
    def _raw(h: BaseHTTPRequestHandler, status: int, data: bytes, ctype: str) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main() -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rate", type=int, default=30)
    args = parser.parse_args()
    standin = PvgisStandin(args.port, args.rate)
    print(f"PVGIS stand-in on {standin.url}", flush=True)
    try:
        standin.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
