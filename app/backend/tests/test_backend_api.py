"""Health, readiness and the Todo CRUD API, against SQLite and (when available) PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from todo_api import main
from todo_api.main import create_app
from todo_api_testkit import SECRET, bearer, make_token, settings_for

UNREACHABLE_POSTGRES = "postgresql://todo:todo@127.0.0.1:1/nothing?connect_timeout=1"


# --- health and readiness ---------------------------------------------------------------------
def test_health_is_healthy(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


def test_ready_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_health_stays_green_and_ready_is_503_when_the_database_is_down() -> None:
    app = create_app(settings_for(UNREACHABLE_POSTGRES))
    with TestClient(app) as client:  # start-up survives an unreachable database
        assert client.get("/health").status_code == 200
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "todo:todo" not in response.text  # never leak the connection string


# --- authentication ---------------------------------------------------------------------------
def test_todos_without_a_token_are_401(client: TestClient) -> None:
    response = client.get("/api/todos")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_todos_with_a_token_signed_by_another_secret_are_401(client: TestClient) -> None:
    assert client.get("/api/todos", headers=bearer("u", secret="not-" + SECRET)).status_code == 401


def test_todos_with_an_expired_token_are_401(client: TestClient) -> None:
    response = client.get("/api/todos", headers=bearer("u", expires_in=-3600))
    assert response.status_code == 401
    assert response.json()["detail"] == "Token has expired"


def test_todos_with_a_malformed_or_non_bearer_header_are_401(client: TestClient) -> None:
    assert client.get("/api/todos", headers={"Authorization": "Bearer nope"}).status_code == 401
    token = make_token("u")
    assert client.get("/api/todos", headers={"Authorization": f"Basic {token}"}).status_code == 401


def test_tokens_with_the_none_algorithm_are_401(client: TestClient) -> None:
    header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"  # {"alg":"none","typ":"JWT"}
    body = make_token("u").split(".")[1]
    forged = {"Authorization": f"Bearer {header}.{body}."}
    assert client.get("/api/todos", headers=forged).status_code == 401


# --- CRUD -------------------------------------------------------------------------------------
def test_a_new_user_has_no_todos(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/api/todos", headers=auth)
    assert response.status_code == 200
    assert response.json() == []


def test_create_then_list_a_todo(client: TestClient, auth: dict[str, str]) -> None:
    created = client.post("/api/todos", json={"title": "  buy milk  "}, headers=auth)
    assert created.status_code == 201
    body = created.json()
    assert body["title"] == "buy milk"
    assert body["completed"] is False
    listed = client.get("/api/todos", headers=auth).json()
    assert listed == [body]


def test_update_title_and_completed(client: TestClient, auth: dict[str, str]) -> None:
    todo = client.post("/api/todos", json={"title": "draft"}, headers=auth).json()
    url = f"/api/todos/{todo['id']}"
    assert client.patch(url, json={"completed": True}, headers=auth).json()["completed"] is True
    renamed = client.patch(url, json={"title": "final"}, headers=auth).json()
    assert renamed == {"id": todo["id"], "title": "final", "completed": True}
    assert client.get(url, headers=auth).json() == renamed


def test_delete_removes_the_todo(client: TestClient, auth: dict[str, str]) -> None:
    todo = client.post("/api/todos", json={"title": "temporary"}, headers=auth).json()
    response = client.delete(f"/api/todos/{todo['id']}", headers=auth)
    assert response.status_code == 204
    assert client.get("/api/todos", headers=auth).json() == []
    assert client.delete(f"/api/todos/{todo['id']}", headers=auth).status_code == 404


def test_todos_are_scoped_to_the_token_user(
    client: TestClient, auth: dict[str, str], user_id: str
) -> None:
    mine = client.post("/api/todos", json={"title": "mine"}, headers=auth).json()
    other = bearer(f"{user_id}-other")
    assert client.get("/api/todos", headers=other).json() == []
    url = f"/api/todos/{mine['id']}"
    assert client.get(url, headers=other).status_code == 404
    assert client.patch(url, json={"completed": True}, headers=other).status_code == 404
    assert client.delete(url, headers=other).status_code == 404
    assert client.get(url, headers=auth).json()["completed"] is False


def test_blank_or_missing_titles_are_rejected(client: TestClient, auth: dict[str, str]) -> None:
    assert client.post("/api/todos", json={"title": "   "}, headers=auth).status_code == 422
    assert client.post("/api/todos", json={}, headers=auth).status_code == 422
    assert client.post("/api/todos", json={"title": "x" * 501}, headers=auth).status_code == 422


# What the frontend's trimTitle() removes (app/frontend/lib/titles.ts): JavaScript's String.trim()
# set plus what Python's str.strip() adds to it (U+001C..U+001F, U+0085).
JS_TRIM = "\t\n\v\f\r \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + (
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
TITLE_BLANKS = JS_TRIM + "\x1c\x1d\x1e\x1f\x85"


def test_titles_are_trimmed_as_the_frontend_trims_them() -> None:
    python_strip = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert set(TITLE_BLANKS) == python_strip | set(JS_TRIM)
    assert set(main.TITLE_BLANKS) == set(TITLE_BLANKS)


@pytest.mark.parametrize("blank", ["\u0085", "\ufeff", "\x1c\x1f", "\u3000\ufeff\t"])
def test_a_title_of_only_blanks_is_rejected_with_a_message(
    client: TestClient, auth: dict[str, str], blank: str
) -> None:
    response = client.post("/api/todos", json={"title": blank}, headers=auth)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "Value error, title must not be blank"


def test_blanks_around_a_title_are_removed(client: TestClient, auth: dict[str, str]) -> None:
    created = client.post("/api/todos", json={"title": "\ufeff\x85 milk \u2028"}, headers=auth)
    assert created.json()["title"] == "milk"
    renamed = client.patch(
        f"/api/todos/{created.json()['id']}", json={"title": "\ufeffbread\x1e"}, headers=auth
    )
    assert renamed.json()["title"] == "bread"


@pytest.mark.usefixtures("client")  # for its clean-up of this test's rows
def test_todos_survive_a_restart_of_the_app(database_url: str, auth: dict[str, str]) -> None:
    with TestClient(create_app(settings_for(database_url))) as first:
        first.post("/api/todos", json={"title": "persisted"}, headers=auth)
    with TestClient(create_app(settings_for(database_url))) as second:
        titles = [t["title"] for t in second.get("/api/todos", headers=auth).json()]
    assert titles == ["persisted"]
