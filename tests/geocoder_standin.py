"""A geocoder stand-in: a real HTTP server on 127.0.0.1 speaking the BAN protocol.

``GET /search/?q=…&limit=…`` answers a GeoJSON FeatureCollection as the national Base Adresse
Nationale API does: the features of tests/fixtures/ban/search-place-de-la-mairie.json (written
from the API's documented answer format: point features whose properties carry label, score,
id, type, name, postcode, citycode, city, context…) whose label shares a word with ``q``, at most
``limit``, with ``query`` and ``limit`` echoed. A ``q`` shorter than 3 characters gets the API's
400. ``script`` queues failures for the next calls: an HTTP status (500, 503…), "timeout" (no
answer for 5 s) or "garbage" (not JSON).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

RECORDED = Path(__file__).resolve().parent / "fixtures" / "ban" / "search-place-de-la-mairie.json"


class GeocoderStandin:
    """The stand-in server; ``url`` is its base (``LFS_GEOCODER__BASE_URL``)."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = json.loads(RECORDED.read_text(encoding="utf-8"))
        self.script: deque[str | int] = deque()
        self.queries: list[dict[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def respond(self, q: str, limit: int) -> dict[str, Any]:
        words = {w for w in q.lower().split() if len(w) > 2}
        body = copy.deepcopy(self.answer)
        body["features"] = [
            f for f in body["features"] if words & set(f["properties"]["label"].lower().split())
        ][:limit]
        body["query"], body["limit"] = q, limit
        return body

    def start(self) -> GeocoderStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlparse(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != "/search/":
                    self._send(404, b'{"code":404,"message":"not found"}')
                    return
                standin.queries.append(params)
                step = standin.script.popleft() if standin.script else None
                if step == "timeout":
                    time.sleep(5)
                    return
                if step == "garbage":
                    self._send(200, b"<html>maintenance</html>", "text/html")
                    return
                if isinstance(step, int):
                    self._send(step, b'{"code":%d,"message":"error"}' % step)
                    return
                q = params.get("q", "")
                if len(q.strip()) < 3:
                    msg = b'{"code":400,"message":"q must contain between 3 and 200 chars"}'
                    self._send(400, msg)
                    return
                limit = int(params.get("limit", "5"))
                self._send(200, json.dumps(standin.respond(q, limit)).encode())

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
