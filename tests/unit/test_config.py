"""Settings: the values file the user adds to every deploy (todo.values_file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from todo_deploy.config import Settings
from todo_deploy.errors import ConfigError


def test_values_file_from_config_is_resolved_against_the_repository(tmp_path: Path) -> None:
    (tmp_path / "local.yaml").write_text("backend: {replicas: 1}\n")
    settings = Settings.from_config({"values_file": "local.yaml"}, root=tmp_path)
    assert settings.values_file == tmp_path / "local.yaml"


def test_no_values_file_by_default() -> None:
    assert Settings.from_config({}).values_file is None


def test_a_values_file_that_does_not_exist_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.from_config({"values_file": "missing.yaml"}, root=tmp_path)
