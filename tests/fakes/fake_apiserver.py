"""A fake Kubernetes API server that implements only the services proxy, for what cannot run
here (no API server, no cluster).

The REAL ``kubectl`` talks to it through a kubeconfig (``server: http://127.0.0.1:PORT``), so
``kubectl get --raw /api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH`` runs unchanged and
prints kubectl's own output and error messages. Each request is forwarded to the real process
registered for ``NAME:PORT`` (e.g. the reference backend on 127.0.0.1), and the upstream status
and body are passed through, as the API server's proxy does. What the real API server answers
when the proxy cannot reach anything is replayed as ``metav1.Status`` bodies:

- unknown service → 404 ``services "NAME" not found`` (reason NotFound);
- nothing listening behind it → 503 ``no endpoints available for service "NAME"``
  (reason ServiceUnavailable).

``GET /version`` (kubectl asks on start-up) answers a v1.31 version document.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PROXY = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/services/(?:https?:)?(?P<name>[^/:]+)"
                   r"(?::(?P<port>[^/]+))?/proxy(?P<path>/.*)?$")
VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "platform": "linux/amd64"}


def status(code: int, reason: str, message: str, name: str) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                       "status": "Failure", "message": message, "reason": reason,
                       "details": {"name": name, "kind": "services"}, "code": code}).encode()


class FakeApiServer:
    """Routes ``(namespace, service, port)`` → ``(host, port)`` of a real local server."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, str], tuple[str, int]] = {}
        self.requests: list[str] = []
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]

    def route(self, namespace: str, service: str, port: int, target: tuple[str, int]) -> None:
        self.routes[(namespace, service, str(port))] = target

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: fake, cluster: {{server: 'http://127.0.0.1:{self.port}'}}}}]\n"
            "contexts: [{name: minikube, context: {cluster: fake, user: fake}}]\n"
            "current-context: minikube\nusers: [{name: fake, user: {}}]\n")
        return path

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _proxy(self, method: str) -> None:
                server.requests.append(f"{method} {self.path}")
                if self.path.split("?")[0] == "/version":
                    self._send(200, json.dumps(VERSION).encode())
                    return
                match = PROXY.match(self.path)
                if not match:
                    self._send(404, status(404, "NotFound", "the server could not find the "
                                                            "requested resource", ""))
                    return
                name, port = match["name"], match["port"] or ""
                target = server.routes.get((match["ns"], name, port))
                if target is None:
                    self._send(404, status(404, "NotFound", f'services "{name}" not found',
                                           name))
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("accept", "content-type")}
                try:
                    conn = http.client.HTTPConnection(*target, timeout=30)
                    conn.request(method, match["path"] or "/", body=body, headers=headers)
                    upstream = conn.getresponse()
                    data = upstream.read()
                    self._send(upstream.status, data,
                               upstream.getheader("Content-Type") or "text/plain")
                    conn.close()
                except OSError:
                    self._send(503, status(503, "ServiceUnavailable",
                                           f'no endpoints available for service "{name}"',
                                           name))

            def do_GET(self) -> None:
                self._proxy("GET")

            def do_POST(self) -> None:
                self._proxy("POST")

            def do_DELETE(self) -> None:
                self._proxy("DELETE")

        return Handler

    @contextmanager
    def serving(self) -> Iterator[FakeApiServer]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
