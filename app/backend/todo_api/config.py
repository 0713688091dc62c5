"""Settings read from the environment, once, at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PORT = 7860
DEFAULT_COHERE_MODEL = "command-a-03-2025"
DEFAULT_COHERE_BASE_URL = "https://api.cohere.com"
REQUIRED_VARIABLES = ("DATABASE_URL", "BETTER_AUTH_SECRET")


class ConfigError(Exception):
    """A required setting is missing or malformed. The message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    auth_secret: str
    cohere_api_key: str | None = None
    cohere_model: str = DEFAULT_COHERE_MODEL
    cohere_base_url: str = DEFAULT_COHERE_BASE_URL
    port: int = DEFAULT_PORT

    @property
    def chat_enabled(self) -> bool:
        return bool(self.cohere_api_key)

    def __repr__(self) -> str:  # never print secrets, even by accident
        return (
            f"Settings(database_url=<hidden>, auth_secret=<hidden>, "
            f"cohere_api_key={'<set>' if self.cohere_api_key else None}, "
            f"cohere_model={self.cohere_model!r}, port={self.port})"
        )


def _clean(value: str | None) -> str | None:
    """Empty or blank strings count as unset (Kubernetes secrets often hold "")."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    missing = [name for name in REQUIRED_VARIABLES if _clean(env.get(name)) is None]
    if missing:
        raise ConfigError(
            "missing required environment variable"
            + ("s " if len(missing) > 1 else " ")
            + ", ".join(missing)
        )
    raw_port = _clean(env.get("PORT")) or str(DEFAULT_PORT)
    try:
        port = int(raw_port)
    except ValueError:
        raise ConfigError(f"PORT must be an integer, got {raw_port!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"PORT must be between 1 and 65535, got {port}")
    return Settings(
        database_url=_clean(env.get("DATABASE_URL")) or "",
        auth_secret=_clean(env.get("BETTER_AUTH_SECRET")) or "",
        cohere_api_key=_clean(env.get("COHERE_API_KEY")),
        cohere_model=_clean(env.get("COHERE_MODEL")) or DEFAULT_COHERE_MODEL,
        cohere_base_url=_clean(env.get("COHERE_BASE_URL")) or DEFAULT_COHERE_BASE_URL,
        port=port,
    )
