"""POST /api/chat: 503 without COHERE_API_KEY; with it, Cohere's HTTP boundary is mocked."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from todo_api.chat import UNAVAILABLE_MESSAGE
from todo_api.main import create_app
from todo_api_testkit import settings_for

Handler = Callable[[httpx.Request], httpx.Response]


def cohere_reply(text: str) -> httpx.Response:
    """The shape of a Cohere v2 chat response (trimmed)."""
    return httpx.Response(
        200,
        json={
            "id": "c0ffee",
            "finish_reason": "COMPLETE",
            "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
            "usage": {"tokens": {"input_tokens": 10, "output_tokens": 3}},
        },
    )


@pytest.fixture
def chat_client(sqlite_url: str) -> Iterator[Callable[[Handler], TestClient]]:
    clients: list[TestClient] = []

    def build(handler: Handler) -> TestClient:
        app = create_app(
            settings_for(sqlite_url, cohere_api_key="test-cohere-key"),
            chat_transport=httpx.MockTransport(handler),
        )
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def test_chat_without_a_key_is_503_with_a_clear_message(
    sqlite_url: str, auth: dict[str, str]
) -> None:
    with TestClient(create_app(settings_for(sqlite_url))) as client:
        status = client.get("/api/chat").json()
        response = client.post("/api/chat", json={"message": "hi"}, headers=auth)
    assert status == {"available": False, "detail": UNAVAILABLE_MESSAGE}
    assert response.status_code == 503
    assert response.json() == {"detail": UNAVAILABLE_MESSAGE}
    assert "COHERE_API_KEY" in UNAVAILABLE_MESSAGE


def test_chat_needs_a_token(chat_client: Callable[[Handler], TestClient]) -> None:
    client = chat_client(lambda request: cohere_reply("never"))
    assert client.post("/api/chat", json={"message": "hi"}).status_code == 401


def test_chat_sends_the_message_and_todos_to_cohere_and_returns_its_text(
    chat_client: Callable[[Handler], TestClient], auth: dict[str, str]
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return cohere_reply("Start with the milk.")

    client = chat_client(handler)
    assert client.get("/api/chat").json()["available"] is True
    client.post("/api/todos", json={"title": "buy milk"}, headers=auth)
    response = client.post("/api/chat", json={"message": "What first?"}, headers=auth)

    assert response.status_code == 200
    assert response.json() == {"reply": "Start with the milk."}
    (request,) = seen
    assert request.url == "https://api.cohere.com/v2/chat"
    assert request.headers["authorization"] == "Bearer test-cohere-key"
    body = json.loads(request.content)
    assert body["messages"][-1] == {"role": "user", "content": "What first?"}
    assert "buy milk" in body["messages"][0]["content"]


def test_a_cohere_error_becomes_502_without_leaking_the_key(
    chat_client: Callable[[Handler], TestClient], auth: dict[str, str]
) -> None:
    client = chat_client(lambda request: httpx.Response(429, json={"message": "rate limited"}))
    response = client.post("/api/chat", json={"message": "hi"}, headers=auth)
    assert response.status_code == 502
    assert "429" in response.json()["detail"]
    assert "test-cohere-key" not in response.text


def test_an_unreachable_cohere_becomes_502(
    chat_client: Callable[[Handler], TestClient], auth: dict[str, str]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    response = chat_client(handler).post("/api/chat", json={"message": "hi"}, headers=auth)
    assert response.status_code == 502
    assert response.json()["detail"] == "Could not reach the chat provider"


def test_an_unreadable_cohere_answer_becomes_502(
    chat_client: Callable[[Handler], TestClient], auth: dict[str, str]
) -> None:
    client = chat_client(lambda request: httpx.Response(200, json={"unexpected": True}))
    assert client.post("/api/chat", json={"message": "hi"}, headers=auth).status_code == 502
