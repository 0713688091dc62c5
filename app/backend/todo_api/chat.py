"""A thin client for Cohere's chat API (v2). Tests replace its HTTP transport, never call Cohere."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx

log = logging.getLogger("todo_api.chat")

CHAT_PATH = "/v2/chat"
TIMEOUT_SECONDS = 30.0
UNAVAILABLE_MESSAGE = "Chat is unavailable: COHERE_API_KEY is not set on the backend."


class ChatError(Exception):
    """Cohere could not be reached or answered with an error. The message is safe to show."""


class CohereChat:
    def __init__(
        self,
        api_key: str,
        model: str,
        base_url: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.model = model
        self._client = httpx.Client(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            timeout=TIMEOUT_SECONDS,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def reply(self, message: str, todos: Sequence[tuple[str, bool]] = ()) -> str:
        """Send one user message, with the user's todos as context; return the assistant's text."""
        lines = [f"- [{'x' if done else ' '}] {title}" for title, done in todos]
        system = "You are a concise assistant inside a todo app. The user's todos are:\n" + (
            "\n".join(lines) if lines else "(none)"
        )
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": message},
            ],
        }
        try:
            response = self._client.post(CHAT_PATH, json=payload)
        except httpx.HTTPError as exc:
            log.warning("cohere request failed: %s", type(exc).__name__)
            raise ChatError("Could not reach the chat provider") from None
        if response.status_code >= 400:
            log.warning("cohere answered HTTP %s", response.status_code)
            raise ChatError(f"The chat provider answered HTTP {response.status_code}")
        try:
            data = response.json()
            parts = data["message"]["content"]
            text = "".join(p.get("text", "") for p in parts if p.get("type") == "text")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ChatError("The chat provider sent a response this app cannot read") from None
        return text
