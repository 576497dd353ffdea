"""A small HTTP server on 127.0.0.1 that answers like the platform's report-errors endpoint.

Answers can be scripted (status, headers, a delay to play a hanging server); every batch it accepts
is decoded from gzip JSON and kept, so tests see exactly what went over the wire.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class PlatformServer:
    """Start with ``with PlatformServer() as server:``; ``server.endpoint`` is its base URL."""

    def __init__(self, port: int = 0) -> None:
        self.script: deque[Answer] = deque()
        self.batches: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.authorizations: list[str] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, *answers: Answer) -> None:
        with self._lock:
            self.script.extend(answers)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for batch in self.batches for event in batch["errors"]]

    def wait_for_events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if len(events) >= count:
                return events
            time.sleep(0.02)
        return self.events()

    def __enter__(self) -> PlatformServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server._lock:
                    answer = server.script.popleft() if server.script else Answer()
                    server.authorizations.append(self.headers.get("Authorization", ""))
                if answer.delay and server._closing.wait(answer.delay):
                    return
                if 200 <= answer.status < 300:
                    payload = json.loads(gzip.decompress(body))
                    with server._lock:
                        server.batches.append(payload)
                with server._lock:
                    server.statuses.append(answer.status)
                reply = json.dumps({"error": {"code": "scripted", "message": "as scripted"}}
                                   if answer.status >= 400 else {"accepted": 1}).encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
