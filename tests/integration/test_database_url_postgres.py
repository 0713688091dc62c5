"""A POSTGRES_PASSWORD with URL-special characters, end to end against the real PostgreSQL on
127.0.0.1 (``TODO_TEST_POSTGRES_URL``; scripts/ci/start-postgres.sh gives its role CREATEROLE):

1. a throw-away role gets the password the way ``inv secrets`` rotates it in the cluster:
   ``psql`` with :func:`todo_deploy.secrets.alter_role_sql` on stdin;
2. the DATABASE_URL is composed by :func:`todo_deploy.secrets.embedded_database_url` (the chart
   composes the same bytes: tests/chart);
3. the real backend (``python -m todo_api``) gets that URL and must answer ``/ready`` (it
   creates its table and runs a query as that role) — psycopg 3 receives the password
   percent-decoded by the backend's URL normalisation.

Missing PostgreSQL or role privileges: skip on a laptop, fail in CI.
"""

from __future__ import annotations

import os
import secrets as pysecrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests import apps
from tests.conftest import need
from todo_deploy import secrets

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# every character a URL's userinfo would misread, plus what SQL and shells care about
SPECIAL = "p@ss:w/rd?#1 %25+x'\\$"


def admin(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True, connect_timeout=5) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


@pytest.fixture
def postgres() -> str:
    url = os.environ.get("TODO_TEST_POSTGRES_URL", "").strip()
    if not url:
        need("PostgreSQL", "TODO_TEST_POSTGRES_URL is not set (scripts/ci/start-postgres.sh)")
    try:
        import psycopg
    except ImportError:
        need("psycopg", "pip install -r app/backend/requirements-dev.txt")
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT rolcreaterole FROM pg_roles "
                               "WHERE rolname = current_user").fetchone()
    except psycopg.Error as exc:
        need("PostgreSQL", f"cannot connect: {type(exc).__name__}")
    if not row or not row[0]:
        need("PostgreSQL", "the test role lacks CREATEROLE: re-run scripts/ci/start-postgres.sh")
    return url


@pytest.fixture
def role(postgres: str) -> Iterator[tuple[str, str]]:
    """(name, initial password) of a role with its own schema first on its search_path."""
    name = f"todo_url_{pysecrets.token_hex(4)}"
    initial = pysecrets.token_hex(16)
    admin(postgres, f"CREATE ROLE {name} LOGIN PASSWORD '{initial}'",
          f"CREATE SCHEMA {name}", f"GRANT USAGE, CREATE ON SCHEMA {name} TO {name}",
          f"ALTER ROLE {name} SET search_path = {name}")
    try:
        yield name, initial
    finally:
        admin(postgres, f"DROP SCHEMA IF EXISTS {name} CASCADE", f"DROP ROLE IF EXISTS {name}")


def test_backend_reaches_postgres_with_a_url_special_password_rotated_like_inv_secrets(
        postgres: str, role: tuple[str, str], tmp_path: Path) -> None:
    name, initial = role
    password = SPECIAL + pysecrets.token_hex(4)
    where = urlsplit(postgres)
    host, port, database = where.hostname or "127.0.0.1", where.port or 5432, \
        where.path.lstrip("/")
    # 1. the rotation, as the in-cluster one: psql, SQL on stdin, the password never in argv
    rotated = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(port), "-U", name,
         "-d", database], input=secrets.alter_role_sql(name, password), text=True,
        capture_output=True, timeout=30, env={**os.environ, "PGPASSWORD": initial})
    assert rotated.returncode == 0, rotated.stderr
    # 2. the URL inv secrets would put in the Secret, pointed at this server and role
    url = secrets.embedded_database_url(password, {"user": name, "host": host,
                                                   "port": str(port), "database": database})
    assert urlsplit(url).hostname == host
    # 3. the real backend with that URL
    try:
        backend = apps.backend(tmp_path, pysecrets.token_urlsafe(32))
    except apps.Unavailable as missing:
        need("the backend", str(missing))
    backend.env["DATABASE_URL"] = url
    backend.start()
    try:
        deadline = time.monotonic() + 20
        with httpx.Client(trust_env=False, timeout=5) as client:
            while True:
                ready = client.get(backend.url + "/ready")
                if ready.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"}), backend.logs()
    finally:
        backend.stop()
    import psycopg

    with psycopg.connect(postgres, connect_timeout=5) as conn:  # created as that role
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = %s AND "
                             "tablename = 'todos'", (name,)).fetchone()
    assert owner == (name,)
    assert password not in backend.logs()
