"""A fake Docker Engine API that answers ``GET /version`` (and ``/_ping``) only, for doctor's
"is the engine the build will use reachable" check where no dockerd may run.

It replays ``tests/fixtures/docker/version.json``, captured from the real dockerd of the CI
machine (Debian docker.io 20.10, API 1.41) with
``curl --unix-socket /var/run/docker.sock http://x/version``. Anything else is a 404 with
dockerd's error shape, so a test that needs more fails loudly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VERSION = (Path(__file__).resolve().parent.parent / "fixtures" / "docker" /
           "version.json").read_text()


class _Handler(BaseHTTPRequestHandler):
    version = VERSION

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.endswith("/version"):
            body, status = self.version.encode(), 200
        elif path.endswith("/_ping"):
            body, status = b"OK", 200
        else:
            body = json.dumps({"message": f"page not found: {path}"}).encode()
            status = 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@contextmanager
def serving(version: str = VERSION) -> Iterator[str]:
    """The engine on 127.0.0.1; yields its DOCKER_HOST (``tcp://127.0.0.1:PORT``).
    ``version``: the body of ``/version`` (default: the captured one)."""
    handler = type("Handler", (_Handler,), {"version": version})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
