"""Fixtures for the backend tests: tokens, SQLite and (optionally required) PostgreSQL databases.

PostgreSQL comes from ``TODO_TEST_POSTGRES_URL`` (``scripts/ci/start-postgres.sh`` starts one).
When it is missing or unreachable the Postgres tests skip with the reason, unless
``TODO_REQUIRE_POSTGRES=1`` or ``TODO_CI_STRICT=1`` (both set in CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from todo_api.db import Database, Todo
from todo_api.main import create_app
from todo_api_testkit import make_token, settings_for

POSTGRES_URL_VAR = "TODO_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_VAR = "TODO_REQUIRE_POSTGRES"


@pytest.fixture
def user_id() -> str:
    """A fresh user per test, so runs sharing a PostgreSQL database never see each other.

    Other users in a test are named ``f"{user_id}-..."`` so the cleanup below finds them too.
    """
    return f"user-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def auth(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user_id)}"}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'todos.db'}"


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_POSTGRES_VAR) == "1" or os.environ.get("TODO_CI_STRICT") == "1":
        pytest.fail(f"{reason} (CI requires the PostgreSQL tests to run)", pytrace=False)
    pytest.skip(f"{reason}; run scripts/ci/start-postgres.sh and set {POSTGRES_URL_VAR}")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_VAR, "").strip()
    if not url:
        _postgres_unavailable(f"{POSTGRES_URL_VAR} is not set")
    database = Database(url)
    try:
        if not database.ping():
            where = f"{database.url.host}:{database.url.port}"
            _postgres_unavailable(f"PostgreSQL at {where} is not reachable")
    finally:
        database.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def client(database_url: str, user_id: str) -> Iterator[TestClient]:
    app = create_app(settings_for(database_url))
    with TestClient(app) as test_client:
        yield test_client
    # Leave a shared PostgreSQL database as we found it.
    database = Database(database_url)
    try:
        with database.session() as session:
            session.execute(delete(Todo).where(Todo.user_id.startswith(user_id)))
            session.commit()
    except SQLAlchemyError:
        pass
    finally:
        database.dispose()
