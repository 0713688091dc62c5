"""Settings from the environment and DATABASE_URL normalisation."""

from __future__ import annotations

import pytest
from todo_api.config import ConfigError, load_settings
from todo_api.db import normalize_database_url

BASE = {"DATABASE_URL": "sqlite:///x.db", "BETTER_AUTH_SECRET": "s3cret"}


def test_required_variables_are_named_when_missing() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL, BETTER_AUTH_SECRET"):
        load_settings({})
    with pytest.raises(ConfigError, match=r"variable BETTER_AUTH_SECRET$"):
        load_settings({"DATABASE_URL": "sqlite://"})


def test_blank_required_variables_count_as_missing() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings({**BASE, "DATABASE_URL": "  "})


def test_cohere_key_is_optional_and_empty_means_unset() -> None:
    assert load_settings(BASE).chat_enabled is False
    assert load_settings({**BASE, "COHERE_API_KEY": ""}).cohere_api_key is None
    assert load_settings({**BASE, "COHERE_API_KEY": "k"}).chat_enabled is True


def test_port_defaults_to_7860_and_must_be_a_valid_port() -> None:
    assert load_settings(BASE).port == 7860
    assert load_settings({**BASE, "PORT": "8000"}).port == 8000
    with pytest.raises(ConfigError, match="PORT"):
        load_settings({**BASE, "PORT": "http"})
    with pytest.raises(ConfigError, match="PORT"):
        load_settings({**BASE, "PORT": "70000"})


def test_settings_repr_hides_secrets() -> None:
    text = repr(load_settings({**BASE, "COHERE_API_KEY": "cohere-key"}))
    assert "s3cret" not in text
    assert "cohere-key" not in text
    assert "x.db" not in text


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("postgres://u:p@db.example:5432/app", "postgresql+psycopg"),
        ("postgresql://u:p@db.example/app", "postgresql+psycopg"),
        ("postgresql+psycopg://u:p@db.example/app", "postgresql+psycopg"),
        ("sqlite:////tmp/todos.db", "sqlite"),
    ],
)
def test_database_urls_use_the_installed_driver(raw: str, driver: str) -> None:
    assert normalize_database_url(raw).drivername == driver


def test_normalisation_keeps_sslmode_and_credentials() -> None:
    url = normalize_database_url("postgres://u:p%40ss@db.example/app?sslmode=require")
    assert url.query["sslmode"] == "require"
    assert url.password == "p@ss"
    assert url.render_as_string(hide_password=False) == (
        "postgresql+psycopg://u:p%40ss@db.example/app?sslmode=require"
    )


def test_an_invalid_database_url_is_a_config_error_without_the_value() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL") as excinfo:
        normalize_database_url("not a url with secret-password")
    assert "secret-password" not in str(excinfo.value)
