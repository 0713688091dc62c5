"""Every shell script of the repository (CI's, test.sh, onboarding, cluster and fixture
scripts, the stand-in images' entrypoints) passes shellcheck."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT, need

SKIP_DIRS = {".git", ".venv", "node_modules", ".cache", ".next", ".todo-deploy", "__pycache__",
             ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def shell_scripts(root: Path) -> list[Path]:
    """Files named *.sh or starting with a sh/bash shebang, outside tool and build dirs."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or SKIP_DIRS.intersection(path.relative_to(root).parts):
            continue
        if path.suffix == ".sh":
            found.append(path)
            continue
        with path.open("rb") as fh:
            head = fh.readline(200)
        if head.startswith(b"#!") and head.rstrip().split(b"/")[-1].split()[-1] in (
                b"sh", b"bash"):
            found.append(path)
    return sorted(found)


def test_the_scripts_found_include_ci_tests_and_onboarding() -> None:
    names = {str(p.relative_to(ROOT)) for p in shell_scripts(ROOT)}
    assert {".ci/run", "scripts/test.sh", "scripts/onboard.sh",
            "scripts/ci/start-dockerd.sh"} <= names


def test_every_shell_script_is_shellcheck_clean() -> None:
    if shutil.which("shellcheck") is None:
        need("shellcheck", "apt-get install shellcheck")
    scripts = shell_scripts(ROOT)
    result = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout
