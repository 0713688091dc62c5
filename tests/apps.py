"""The reference app on 127.0.0.1: the real backend (``python -m todo_api`` on SQLite) and the built
frontend (``node .next/standalone/server.js``), each started and stopped as a real process.

Two users:

- tests/integration/test_app_e2e.py starts them from pytest fixtures;
- the browser tier (app/frontend/tests/browser) runs ``python -m tests.apps`` from the repository
  root. It prints one JSON line, ``{"frontend": URL, "backend": URL, "control": URL}`` once both
  answer their health checks (or ``{"unavailable": REASON}`` when a dependency is missing), then
  serves ``POST /backend/stop`` and ``POST /backend/start`` on the control URL, so a test can take
  the backend down and bring it back on the same port and database. It stops both apps when its
  stdin closes or on SIGTERM/SIGINT.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BACKEND_DIR = ROOT / "app" / "backend"
FRONTEND_DIR = ROOT / "app" / "frontend"
STANDALONE_DIR = FRONTEND_DIR / ".next" / "standalone"
SERVER_JS = STANDALONE_DIR / "server.js"
START_TIMEOUT_SECONDS = 60

# Everything the two apps read from the environment: never inherited from the caller.
APP_VARIABLES = frozenset({
    "DATABASE_URL",
    "BETTER_AUTH_SECRET",
    "COHERE_API_KEY",
    "PORT",
    "HOST",
    "HOSTNAME",
    "BACKEND_URL",
    "NEXT_PUBLIC_API_URL",
    "DEMO_USER_ID",
})


class Unavailable(Exception):
    """A dependency of the apps is missing (not installed, not built). The message says which."""


class StartError(Exception):
    """An app exited or did not answer its health check in time. The message has its log tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment minus anything the apps read, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    url: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    health_path: str
    log: Path
    process: subprocess.Popen[str] | None = field(default=None, repr=False)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def start(self) -> None:
        """Start the process (log appended) and wait until ``health_path`` answers 200."""
        with self.log.open("a") as sink:
            self.process = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=sink, stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        with httpx.Client(trust_env=False, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise StartError(
                        f"{self.name} exited with {self.process.returncode}:\n{self.logs()}")
                try:
                    if client.get(self.url + self.health_path).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.25)
        self.stop()
        raise StartError(f"{self.name} did not answer {self.health_path} in time:\n{self.logs()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def backend(work: Path, auth_secret: str) -> Server:
    """The backend on a free port with a SQLite database in ``work`` (not started yet)."""
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        raise Unavailable(
            "backend dependencies are not installed (pip install -r "
            "app/backend/requirements-dev.txt)"
        )
    port = free_port()
    env = clean_env(
        DATABASE_URL=f"sqlite:///{work / 'todos.db'}",
        BETTER_AUTH_SECRET=auth_secret,
        COHERE_API_KEY="",
        PORT=str(port),
        HOST="127.0.0.1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return Server("backend", f"http://127.0.0.1:{port}", [sys.executable, "-m", "todo_api"],
                  BACKEND_DIR, env, "/health", work / "backend.log")


def _standalone_assets() -> None:
    """Put the static files next to server.js, as the image does (README, Dockerfile)."""
    shutil.copytree(FRONTEND_DIR / ".next" / "static", STANDALONE_DIR / ".next" / "static",
                    dirs_exist_ok=True)
    shutil.copytree(FRONTEND_DIR / "public", STANDALONE_DIR / "public", dirs_exist_ok=True)


def frontend(work: Path, backend_url: str, auth_secret: str,
             url_variable: str = "BACKEND_URL") -> Server:
    """The built frontend on a free port, told at run time through ``url_variable`` where the
    backend is (not started yet)."""
    if not SERVER_JS.is_file():
        raise Unavailable(
            f"{SERVER_JS.relative_to(ROOT)} is missing: run `npm ci && npm run build` "
            "in app/frontend"
        )
    node = shutil.which("node")
    if node is None:
        raise Unavailable("node is not on PATH")
    _standalone_assets()
    port = free_port()
    env = clean_env(
        PORT=str(port),
        HOSTNAME="127.0.0.1",
        NODE_ENV="production",
        NEXT_TELEMETRY_DISABLED="1",
        BETTER_AUTH_SECRET=auth_secret,
        **{url_variable: backend_url},
    )
    return Server("frontend", f"http://127.0.0.1:{port}", [node, str(SERVER_JS)],
                  STANDALONE_DIR, env, "/api/health", work / f"frontend-{port}.log")


# ---------------------------------------------------------------------------------------------
# python -m tests.apps: both apps for the browser tier, with a control endpoint
# ---------------------------------------------------------------------------------------------
def _control_handler(backend_server: Server) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()
    actions = {"/backend/stop": backend_server.stop, "/backend/start": backend_server.start}

    class Control(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            action = actions.get(self.path)
            if action is None:
                self.send_error(404)
                return
            try:
                with lock:
                    action()
            except StartError as exc:
                self._answer(500, {"detail": str(exc)})
                return
            self._answer(200, {"ok": True})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # stdout carries the protocol line only

    return Control


def serve(argv: list[str]) -> int:
    """``python -m tests.apps [WORK_DIR]``: logs and the database go to WORK_DIR (default: a new
    temporary directory)."""
    if argv:
        work = Path(argv[0]).resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="todo-apps-"))
    secret = secrets.token_urlsafe(32)
    try:
        back = backend(work, secret)
        front = frontend(work, back.url, secret)
    except Unavailable as exc:
        print(json.dumps({"unavailable": str(exc)}), flush=True)
        return 0
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    # The parent (the test runner) holds our stdin: EOF means it is gone, so stop too.
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    control = ThreadingHTTPServer(("127.0.0.1", 0), _control_handler(back))
    threading.Thread(target=control.serve_forever, daemon=True).start()
    try:
        back.start()
        front.start()
        print(json.dumps({
            "frontend": front.url,
            "backend": back.url,
            "control": f"http://127.0.0.1:{control.server_address[1]}",
            "logs": str(work),
        }), flush=True)
        done.wait()
    except StartError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 1
    finally:
        control.shutdown()
        front.stop()
        back.stop()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
