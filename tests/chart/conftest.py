"""Chart tests run the REAL helm binaries (3.17 and 4.1, provisioned by scripts/test.sh into
.cache/tools); every test that takes ``helm`` runs once per Helm major."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
CHART = ROOT / "helm" / "todo-app"
RELEASE = "todo-app"


@pytest.fixture(params=[3, 4], ids=["helm3", "helm4"])
def helm(request: pytest.FixtureRequest, helm_bins: dict[int, Path]) -> Path:
    return helm_bins[request.param]


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=60,
                          check=False)


def template_text(helm: Path, *args: str, skip_tests: bool = True) -> str:
    argv = ["template", RELEASE, str(CHART), "--namespace", "todo",
            *(["--skip-tests"] if skip_tests else []), *args]
    result = run_helm(helm, *argv)
    assert result.returncode == 0, result.stderr
    return result.stdout


def template(helm: Path, *args: str, skip_tests: bool = True) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(template_text(helm, *args, skip_tests=skip_tests))
            if d]


def by_key(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]
    return spec if obj["kind"] == "Pod" else spec["template"]["spec"]


def container(obj: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in pod_spec(obj)["containers"] if c["name"] == name)


EMBEDDED = ("--set", "postgresql.enabled=true")
AUTH_SECRET = "test-only-auth-secret-of-32-characters"  # the chart wants >= 32, as .env
CHART_OWNS_SECRET = ("--set", "secrets.create=true",
                     "--set-string", f"secrets.betterAuthSecret={AUTH_SECRET}",
                     "--set-string", "secrets.databaseUrl=postgresql://u:p@db:5432/todo",
                     "--set-string", "secrets.postgresPassword=test-only-pg-password")
