"""The reference app end to end: the real backend (uvicorn) and the built frontend
(``node .next/standalone/server.js``) on 127.0.0.1, talking through the frontend's proxy.

Needs ``npm run build`` in app/frontend and the backend's requirements. When either is missing the
test skips with the reason on a laptop, and fails in CI (``CI=true`` or ``TODO_CI_STRICT=1``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from tests import apps
from tests.apps import Server
from tests.conftest import need

pytestmark = pytest.mark.slow


def _unavailable(reason: str) -> NoReturn:
    need("the apps", reason)  # fails in CI (TODO_CI_STRICT=1), skips on a laptop
    raise AssertionError("unreachable")


def _started(server: Server) -> Server:
    try:
        server.start()
    except apps.StartError as exc:
        pytest.fail(str(exc))
    return server


@pytest.fixture(scope="module")
def auth_secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory, auth_secret: str) -> Iterator[Server]:
    try:
        server = apps.backend(tmp_path_factory.mktemp("backend"), auth_secret)
    except apps.Unavailable as exc:
        _unavailable(str(exc))
    yield _started(server)
    server.stop()


@pytest.fixture(params=["BACKEND_URL", "NEXT_PUBLIC_API_URL"])
def frontend(
    request: pytest.FixtureRequest,
    backend: Server,
    auth_secret: str,
    tmp_path: Path,
) -> Iterator[Server]:
    """The built frontend, told where the backend is at run time through ``request.param``."""
    try:
        server = apps.frontend(tmp_path, backend.url, auth_secret, request.param)
    except apps.Unavailable as exc:
        _unavailable(str(exc))
    yield _started(server)
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
