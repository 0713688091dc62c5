"""Helpers shared by the backend tests (a uniquely named module: conftest.py is not importable
reliably when several test trees each have one)."""

from __future__ import annotations

import time

import jwt
from todo_api.config import Settings

SECRET = "test-secret-that-is-long-enough-for-hs256"


def make_token(
    sub: str, secret: str = SECRET, expires_in: int = 300, algorithm: str = "HS256"
) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + expires_in}, secret, algorithm)


def bearer(sub: str, secret: str = SECRET, expires_in: int = 300) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(sub, secret, expires_in)}"}


def settings_for(database_url: str, cohere_api_key: str | None = None) -> Settings:
    return Settings(database_url=database_url, auth_secret=SECRET, cohere_api_key=cohere_api_key)
