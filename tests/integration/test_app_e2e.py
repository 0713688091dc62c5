"""The reference app end to end: the real backend (uvicorn) and the built frontend
(``node .next/standalone/server.js``) on 127.0.0.1, talking through the frontend's proxy.

Needs ``npm run build`` in app/frontend and the backend's requirements. When either is missing the
test skips with the reason on a laptop, and fails in CI (``CI=true`` or ``TODO_CI_STRICT=1``).
"""

from __future__ import annotations

import importlib.util
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
from typing import NoReturn

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BACKEND_DIR = ROOT / "app" / "backend"
STANDALONE_DIR = ROOT / "app" / "frontend" / ".next" / "standalone"
SERVER_JS = STANDALONE_DIR / "server.js"
START_TIMEOUT_SECONDS = 60

pytestmark = pytest.mark.slow


def _strict() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("TODO_CI_STRICT") == "1"


def _unavailable(reason: str) -> NoReturn:
    if _strict():
        pytest.fail(f"{reason} (CI must provide it)", pytrace=False)
    pytest.skip(reason)
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env(**extra: str) -> dict[str, str]:
    """The parent's environment minus anything the apps read, plus ``extra``."""
    app_vars = {
        "DATABASE_URL",
        "BETTER_AUTH_SECRET",
        "COHERE_API_KEY",
        "PORT",
        "HOST",
        "HOSTNAME",
        "BACKEND_URL",
        "NEXT_PUBLIC_API_URL",
        "DEMO_USER_ID",
    }
    env = {k: v for k, v in os.environ.items() if k not in app_vars}
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[str]
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _start(
    name: str,
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    url: str,
    health_path: str,
    log_dir: Path,
) -> Server:
    log = log_dir / f"{name}.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True
        )
    server = Server(name, url, process, log)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    with httpx.Client(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{server.logs()}")
            try:
                if client.get(url + health_path).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.25)
    server.stop()
    pytest.fail(f"{name} did not answer {health_path} in time:\n{server.logs()}")


@pytest.fixture(scope="module")
def auth_secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory, auth_secret: str) -> Iterator[Server]:
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        _unavailable(
            "backend dependencies are not installed (pip install -r "
            "app/backend/requirements-dev.txt)"
        )
    work = tmp_path_factory.mktemp("backend")
    port = _free_port()
    env = _clean_env(
        DATABASE_URL=f"sqlite:///{work / 'todos.db'}",
        BETTER_AUTH_SECRET=auth_secret,
        COHERE_API_KEY="",
        PORT=str(port),
        HOST="127.0.0.1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    server = _start(
        "backend",
        [sys.executable, "-m", "todo_api"],
        BACKEND_DIR,
        env,
        f"http://127.0.0.1:{port}",
        "/health",
        work,
    )
    yield server
    server.stop()


@pytest.fixture(params=["BACKEND_URL", "NEXT_PUBLIC_API_URL"])
def frontend(
    request: pytest.FixtureRequest,
    backend: Server,
    auth_secret: str,
    tmp_path: Path,
) -> Iterator[Server]:
    """The built frontend, told where the backend is at run time through ``request.param``."""
    if not SERVER_JS.is_file():
        _unavailable(
            f"{SERVER_JS.relative_to(ROOT)} is missing: run `npm ci && npm run build` "
            "in app/frontend"
        )
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not on PATH")
    port = _free_port()
    env = _clean_env(
        PORT=str(port),
        HOSTNAME="127.0.0.1",
        NODE_ENV="production",
        NEXT_TELEMETRY_DISABLED="1",
        BETTER_AUTH_SECRET=auth_secret,
        **{request.param: backend.url},
    )
    server = _start(
        "frontend",
        [node, str(SERVER_JS)],
        STANDALONE_DIR,
        env,
        f"http://127.0.0.1:{port}",
        "/api/health",
        tmp_path,
    )
    yield server
    server.stop()


def test_a_todo_created_through_the_frontend_proxy_is_listed(
    frontend: Server, backend: Server
) -> None:
    title = f"e2e {secrets.token_hex(4)}"
    with httpx.Client(base_url=frontend.url, trust_env=False, timeout=15) as client:
        health = client.get("/api/health")
        assert health.status_code == 200
        assert health.json() == {"status": "healthy"}

        created = client.post("/api/backend/api/todos", json={"title": title})
        assert created.status_code == 201, created.text
        assert created.json()["title"] == title

        listed = client.get("/api/backend/api/todos")
        assert listed.status_code == 200, listed.text
        assert title in [todo["title"] for todo in listed.json()]

        done = client.patch(
            f"/api/backend/api/todos/{created.json()['id']}", json={"completed": True}
        )
        assert done.status_code == 200 and done.json()["completed"] is True


def test_the_proxy_supplies_the_demo_token_the_backend_requires(
    frontend: Server, backend: Server
) -> None:
    with httpx.Client(trust_env=False, timeout=15) as client:
        assert client.get(f"{backend.url}/api/todos").status_code == 401
        assert client.get(f"{frontend.url}/api/backend/api/todos").status_code == 200


def test_chat_is_reported_unavailable_without_a_cohere_key(frontend: Server) -> None:
    with httpx.Client(base_url=frontend.url, trust_env=False, timeout=15) as client:
        status = client.get("/api/backend/api/chat").json()
        chat = client.post("/api/backend/api/chat", json={"message": "hello"})
    assert status["available"] is False
    assert chat.status_code == 503
    assert "COHERE_API_KEY" in chat.json()["detail"]


def test_the_page_is_served(frontend: Server) -> None:
    with httpx.Client(trust_env=False, timeout=15) as client:
        page = client.get(frontend.url + "/")
    assert page.status_code == 200
    assert "<h1>Todo</h1>" in page.text
