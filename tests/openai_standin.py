"""An OpenAI-compatible chat-completions server on 127.0.0.1 for tests (real HTTP, real shape).

``mode``: "ok" answers a completion, "error" answers 500 with an OpenAI error body, "empty"
answers a completion without content. Every request body is kept in ``requests``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SUMMARY = (
    "Site de 32 ha en Normandie, raccordable au poste de Pont-de-l'Arche à 3,4 km. "
    "[résumé du modèle de test]"
)


class OpenAIStandin:
    """Start with ``start()``, stop with ``stop()``; ``url`` is the API root (add ``/v1``)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path != "/v1/chat/completions":
                    self._send(
                        404, {"error": {"message": "not found", "type": "invalid_request_error"}}
                    )
                    return
                standin.requests.append(body)
                standin.auth.append(self.headers.get("Authorization"))
                if standin.mode == "error":
                    self._send(
                        500,
                        {
                            "error": {
                                "message": "The server had an error",
                                "type": "server_error",
                                "code": None,
                            }
                        },
                    )
                    return
                content = "" if standin.mode == "empty" else SUMMARY
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test123",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "gpt-4o-mini"),
                        "system_fingerprint": "fp_test",
                        "choices": [
                            {
                                "index": 0,
                                "message": {
                                    "role": "assistant",
                                    "content": content,
                                    "refusal": None,
                                },
                                "logprobs": None,
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 420,
                            "completion_tokens": 60,
                            "total_tokens": 480,
                        },
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> OpenAIStandin:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
