"""Persistence: the Todo table, the engine, and schema creation.

PostgreSQL in the cluster (psycopg 3), SQLite for local tests. Tables are created at start-up; when
the database is not reachable yet, creation is retried on the next request or readiness check, so
the process stays up (liveness) while ``/ready`` reports 503.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Engine, String, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from .config import ConfigError

log = logging.getLogger("todo_api.db")

POSTGRES_DRIVER = "postgresql+psycopg"
CONNECT_TIMEOUT_SECONDS = 5


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Todo(Base):
    __tablename__ = "todos"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    title: Mapped[str] = mapped_column(String(500))
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


def normalize_database_url(raw: str) -> URL:
    """Turn what hosting providers hand out into a URL SQLAlchemy can use with the installed driver.

    ``postgres://`` (Heroku, Neon, Supabase) and bare ``postgresql://`` both become
    ``postgresql+psycopg://`` because psycopg 3 is the driver in the image. The query string, e.g.
    ``sslmode=require``, is kept as is. The URL itself never appears in error messages: it usually
    carries a password.
    """
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a valid database URL") from None
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername=POSTGRES_DRIVER)
    return url


def make_engine(url: URL) -> Engine:
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False}
    elif url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return create_engine(url, **kwargs)


class Database:
    """One engine, lazy schema creation, and a readiness probe."""

    def __init__(self, url: str | URL) -> None:
        self.url = normalize_database_url(url) if isinstance(url, str) else url
        self.engine = make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._schema_ready = False
        self._lock = threading.Lock()

    @property
    def backend_name(self) -> str:
        return self.url.get_backend_name()

    def ensure_schema(self) -> None:
        """Create missing tables once. Safe when two replicas start at the same time."""
        if self._schema_ready:
            return
        with self._lock:
            if self._schema_ready:
                return
            try:
                Base.metadata.create_all(self.engine)
            except SQLAlchemyError:
                # Another replica may have won the race between "check" and "create": check again.
                Base.metadata.create_all(self.engine)
            self._schema_ready = True
            log.info("database schema ready (%s)", self.backend_name)

    def try_ensure_schema(self) -> bool:
        try:
            self.ensure_schema()
        except SQLAlchemyError as exc:
            log.warning("database not ready: %s", type(exc).__name__)
            return False
        return True

    def ping(self) -> bool:
        """True when the database answers a trivial query and the schema exists."""
        if not self.try_ensure_schema():
            return False
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            log.warning("database ping failed: %s", type(exc).__name__)
            return False
        return True

    @contextmanager
    def session(self) -> Iterator[Session]:
        self.ensure_schema()
        with self._sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
