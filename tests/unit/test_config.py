"""Settings: the values file the user adds to every deploy (todo.values_file)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from todo_deploy.config import KEYS, ROOT, Settings, defaults_tree
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


# -- defaults stated once (#11.20) -----------------------------------------------------------


def test_every_setting_has_one_key_and_the_defaults_tree_round_trips() -> None:
    keyed = [k.field for k in KEYS]
    assert len(keyed) == len(set(keyed)) and len({k.path for k in KEYS}) == len(KEYS)
    assert set(keyed) == {f.name for f in fields(Settings)} - {"images", "root"}
    assert Settings.from_config(defaults_tree()) == Settings.from_config(None) == Settings()


def test_a_partial_config_keeps_the_other_defaults_and_converts_types(tmp_path: Path) -> None:
    s = Settings.from_config({"minikube": {"cpus": "4"}, "timeouts": {"verify": 60},
                              "registry": {"pull_secrets": ["a", "b"]},
                              "images": {"backend": {"name": "other"}},
                              "state_dir": "elsewhere"}, root=tmp_path)
    assert (s.cpus, s.verify_timeout, s.image_pull_secrets) == (4, 60.0, ("a", "b"))
    assert s.images["backend"].name == "other"
    assert s.images["backend"].context == tmp_path / "app" / "backend"  # the rest: defaults
    assert s.state_dir == tmp_path / "elsewhere" and s.chart == tmp_path / "helm" / "todo-app"
    assert s.memory == Settings().memory and s.namespace == Settings().namespace


def test_the_shipped_invoke_yaml_states_no_default() -> None:
    """invoke.yaml is for the user's own settings: the defaults live in config.py only."""
    shipped = yaml.safe_load((ROOT / "invoke.yaml").read_text())
    assert shipped == {"todo": {}}


def test_env_names_follow_invokes_rule() -> None:
    by_path = {k.path: k.env for k in KEYS}
    assert by_path["build.keep"] == "INVOKE_TODO_BUILD_KEEP"
    assert by_path["namespace"] == "INVOKE_TODO_NAMESPACE"
