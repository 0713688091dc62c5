"""A fake container registry that answers ``GET /v2/`` only (the API root a registry serves
for the version check: 200 when open, 401 when it wants a login), for doctor's registry check.
Any other path is a 404, and the paths asked are checked at the end: doctor asks the root
and nothing else. A real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def serving(status: int, *, reason: str = "") -> Iterator[str]:
    """The registry on 127.0.0.1 answering ``/v2/`` with ``status`` (and ``reason``, else
    the standard phrase); yields its ``host:port``."""
    paths: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            body = b"{}"
            self.send_response(status if self.path == "/v2/" else 404, reason or None)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
    assert set(paths) <= {"/v2/"}, paths  # only the API root was asked
