"""A Sentry stand-in: a real HTTP server on 127.0.0.1 that receives the SDK's envelopes.

The SDK posts each event to ``/api/<project>/envelope/`` as an envelope: a JSON header line,
then items, each a JSON item header line and its payload (``length`` bytes when the header
gives it, else up to the next newline), gzip-compressed when ``Content-Encoding`` says so.
:meth:`SentryStandin.events` returns the payloads of the ``event`` items received.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def parse_envelope(body: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """An envelope's header and its (item header, payload) pairs."""
    header_line, _, rest = body.partition(b"\n")
    items: list[tuple[dict[str, Any], bytes]] = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item = json.loads(item_line)
        if "length" in item:
            payload, rest = rest[: item["length"]], rest[item["length"] :]
            rest = rest.removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((item, payload))
    return json.loads(header_line), items


class SentryStandin:
    """The server and every envelope it received (raw bytes, as sent, decompressed)."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        self.paths: list[str] = []
        self.received = threading.Condition()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    raw = gzip.decompress(raw)
                elif encoding == "br":
                    import brotli  # type: ignore[import-not-found]

                    raw = brotli.decompress(raw)
                with standin.received:
                    standin.paths.append(self.path)
                    standin.envelopes.append(raw)
                    standin.received.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        """A DSN pointing the SDK at this server (project 42)."""
        return f"http://publickey@127.0.0.1:{self.port}/42"

    def start(self) -> SentryStandin:
        """Serve in a thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict[str, Any]]:
        """The ``event`` items of every envelope received so far."""
        out = []
        for raw in self.envelopes:
            _, items = parse_envelope(raw)
            out += [json.loads(payload) for item, payload in items if item.get("type") == "event"]
        return out
