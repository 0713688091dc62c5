"""verify's HTTP checks end to end: real kubectl → fake API server → the real reference app.

The reference backend (``python -m todo_api`` with SQLite) and the built frontend
(``node .next/standalone/server.js``) run on 127.0.0.1. No API server can run here, so
tests/fakes/fake_apiserver.py stands in for its services proxy: the REAL ``kubectl get --raw
/api/v1/namespaces/todo/services/NAME:PORT/proxy/PATH`` reaches it through a kubeconfig and it
forwards to the matching local server, passing status and body through as the API server
does. Missing kubectl, backend requirements or frontend build: skip on a laptop, fail in CI.
"""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from invoke.context import Context

from tests.conftest import ROOT, need
from tests.fakes.fake_apiserver import FakeApiServer
from todo_deploy import verify
from todo_deploy.config import Settings
from todo_deploy.tools import Kubectl

BACKEND_DIR = ROOT / "app" / "backend"
SERVER_JS = ROOT / "app" / "frontend" / ".next" / "standalone" / "server.js"
APP_VARS = ("DATABASE_URL", "BETTER_AUTH_SECRET", "COHERE_API_KEY", "PORT", "HOST", "HOSTNAME",
            "BACKEND_URL", "NEXT_PUBLIC_API_URL", "KUBECONFIG")

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class App:
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def start(argv: list[str], port: int, log: Path, health: str, cwd: Path,
          **env: str) -> App:
    clean = {k: v for k, v in os.environ.items() if k not in APP_VARS}
    with log.open("wb") as fh:
        process = subprocess.Popen(argv, cwd=cwd, env={**clean, **env}, stdout=fh,
                                   stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{argv[0]} exited {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", health)
            if conn.getresponse().status == 200:
                return App(port, process, log)
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"{argv[0]} did not answer {health} in 60 s:\n{log.read_text()[-2000:]}")


def stop(app: App) -> None:
    app.process.terminate()
    try:
        app.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        app.process.kill()


@dataclass
class Stack:
    api: FakeApiServer
    backend: App
    secret: str
    tmp: Path

    def frontend(self, secret: str) -> App:
        port = free_port()
        return start(["node", str(SERVER_JS)], port, self.tmp / f"frontend-{port}.log",
                     "/api/health", SERVER_JS.parent, PORT=str(port), HOSTNAME="127.0.0.1",
                     BACKEND_URL=f"http://127.0.0.1:{self.backend.port}",
                     BETTER_AUTH_SECRET=secret, NODE_ENV="production")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    provisioned = ROOT / ".cache" / "tools" / "helm3"  # scripts/provision-tools.py
    saved_path = os.environ["PATH"]
    if shutil.which("kubectl") is None and (provisioned / "kubectl").is_file():
        os.environ["PATH"] = f"{provisioned}{os.pathsep}{saved_path}"
    if shutil.which("kubectl") is None:
        need("kubectl", "the real kubectl client talks to the fake API server "
                        "(scripts/test.sh provisions one into .cache/tools)")
    try:
        import fastapi  # noqa: F401
    except ImportError:
        need("backend requirements", "pip install -r app/backend/requirements-dev.txt")
    tmp = tmp_path_factory.mktemp("verify-http")
    secret = secrets.token_urlsafe(48)
    port = free_port()
    backend = start([sys.executable, "-m", "todo_api"], port, tmp / "backend.log", "/health",
                    BACKEND_DIR, PORT=str(port), HOST="127.0.0.1",
                    DATABASE_URL=f"sqlite:///{tmp / 'todo.db'}", BETTER_AUTH_SECRET=secret,
                    PYTHONPATH=str(BACKEND_DIR))
    api = FakeApiServer()
    with api.serving():
        os.environ["KUBECONFIG"] = str(api.kubeconfig(tmp / "kubeconfig"))
        try:
            yield Stack(api, backend, secret, tmp)
        finally:
            os.environ.pop("KUBECONFIG", None)
            os.environ["PATH"] = saved_path
            stop(backend)


@pytest.fixture
def frontend(stack: Stack) -> Iterator[App]:
    if not SERVER_JS.is_file() or shutil.which("node") is None:
        need("frontend build", "cd app/frontend && npm ci && npm run build (scripts/test.sh)")
    app = stack.frontend(stack.secret)
    stack.api.route("todo", "todo-frontend", 3000, ("127.0.0.1", app.port))
    stack.api.route("todo", "todo-backend", 7860, ("127.0.0.1", stack.backend.port))
    yield app
    stop(app)


def check(probe: verify.HttpProbe, retry: float = 0.0) -> verify.CheckResult:
    verify.HTTP_RETRY_SECONDS, saved = retry, verify.HTTP_RETRY_SECONDS
    try:
        kube = Kubectl(Context(), "minikube", "todo", 120)  # the fake API server's context
        return verify.http_check(kube, Settings(), probe, deadline=time.monotonic() + 30)
    finally:
        verify.HTTP_RETRY_SECONDS = saved


def test_backend_health_passes_through_the_service_proxy(frontend: App) -> None:
    result = check(verify.PROBES[0])
    assert result.ok, result.detail
    assert result.detail == '{"status": "healthy"}'


def test_frontend_health_passes_through_the_service_proxy(frontend: App) -> None:
    result = check(verify.PROBES[1])
    assert result.ok, result.detail


def test_round_trip_reaches_the_backend_through_the_frontend_proxy(
        frontend: App, stack: Stack) -> None:
    before = len(stack.api.requests)
    result = check(verify.PROBES[2])
    assert result.ok, result.detail
    assert result.detail.startswith("200, 0 todo(s) for the demo user")
    assert stack.api.requests[before:][-1] == (
        "GET /api/v1/namespaces/todo/services/todo-frontend:3000/proxy/api/backend/api/todos")


def test_round_trip_with_a_mismatched_auth_secret_names_better_auth_secret(
        stack: Stack) -> None:
    if not SERVER_JS.is_file() or shutil.which("node") is None:
        need("frontend build", "cd app/frontend && npm ci && npm run build (scripts/test.sh)")
    wrong = stack.frontend(secrets.token_urlsafe(48))
    stack.api.route("todo", "todo-frontend", 3000, ("127.0.0.1", wrong.port))
    try:
        result = check(verify.PROBES[2])
    finally:
        stop(wrong)
    assert not result.ok
    assert result.detail.startswith("401: the backend rejected the frontend's demo token")
    assert result.hint is not None and "BETTER_AUTH_SECRET" in result.hint


def test_service_without_endpoints_is_a_503_naming_the_service(stack: Stack) -> None:
    stack.api.route("todo", "todo-backend", 7860, ("127.0.0.1", free_port()))  # nothing there
    result = check(verify.PROBES[0])
    assert not result.ok
    assert result.detail.startswith("503 or no ready endpoint behind service todo-backend")
    assert result.hint == ("kubectl -n todo get endpoints todo-backend --context minikube; "
                           "inv logs backend")
    stack.api.route("todo", "todo-backend", 7860, ("127.0.0.1", stack.backend.port))


def test_unhealthy_answer_is_retried_until_the_retry_window_closes(stack: Stack) -> None:
    stack.api.route("todo", "todo-backend", 7860, ("127.0.0.1", free_port()))
    started = time.monotonic()
    result = check(verify.PROBES[0], retry=2.0)
    assert not result.ok
    assert 2.0 <= time.monotonic() - started < 10
    stack.api.route("todo", "todo-backend", 7860, ("127.0.0.1", stack.backend.port))
