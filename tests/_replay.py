"""A small loopback server that answers every send with the bytes of one ``.sse`` fixture.

It lets a test feed a byte-exact stream of current Dify (``tests/fixtures/dify/current/``)
through the real clients and adapters over HTTP, where `DifyTestServer` would generate its
own stream. ``GET /info`` names the app mode (the LlamaIndex `DifyLLM` reads it); stop
routes answer ``{"result": "success"}``; every request is recorded.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CURRENT = Path(__file__).resolve().parent / "fixtures" / "dify" / "current"


@dataclass
class Replay:
    """A running replay server: ``base_url`` and the requests it received."""

    base_url: str
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def replay_server(fixture: str, *, mode: str = "advanced-chat") -> Iterator[Replay]:
    """Serve ``fixture`` (a file name in ``tests/fixtures/dify/current``) on loopback."""
    body = (CURRENT / fixture).read_bytes()
    replay = Replay(base_url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            replay.requests.append((self.command, self.path, dict(self.headers)))

        def do_GET(self) -> None:
            self._record()
            if self.path.startswith("/v1/info"):
                self._json({"name": "Replay", "mode": mode, "tags": []})
            elif self.path.startswith("/v1/parameters"):
                self._json({"user_input_form": []})
            else:
                self._json({})

        def do_POST(self) -> None:
            self._record()
            if self.path.endswith("/stop"):
                self._json({"result": "success"})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    replay.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield replay
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
