"""A crisis team's webhook receiver for tests: verifies the signature like a real one, deduplicates on the
idempotency key, and can be down (not listening) or failing (HTTP 503) on demand."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from bot.handoff import packet


class Receiver:
    """Start with ``up()``, stop with ``down()``; ``accepted`` holds verified packets by idempotency key."""

    def __init__(self, port: int, secret: str) -> None:
        self.port, self.secret = port, secret
        self.accepted: dict[str, list[dict[str, Any]]] = {}
        self.rejected_signatures = 0
        self.failing = 0  # answer 503 to this many requests first
        self.requests = 0
        self._server: Optional[ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/amani"

    def up(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests += 1
                if receiver.failing > 0:
                    receiver.failing -= 1
                    return self._answer(503)
                if not packet.verify(body, self.headers.get("X-Amani-Signature", ""), receiver.secret):
                    receiver.rejected_signatures += 1
                    return self._answer(401)
                data = json.loads(body)
                key = self.headers.get("Idempotency-Key")
                assert key == data["idempotency_key"]
                receiver.accepted.setdefault(key, []).append(data)
                self._answer(200)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
