"""`inv --list` and `inv <task> --help` load no stage and no heavy library: those are
imported when a task runs (tasks.py binds the stages lazily, cli.py imports rich late)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ("rich", "docker", "dotenv", "requests", "todo_deploy.images", "todo_deploy.deploy",
         "todo_deploy.secrets", "todo_deploy.doctor", "todo_deploy.verify",
         "todo_deploy.day2", "todo_deploy.pipeline", "todo_deploy.chart",
         "todo_deploy.console")


def imported_by(*args: str) -> set[str]:
    """Modules the interpreter imported running ``inv ARGS`` (``-X importtime``'s log)."""
    result = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT,
                            env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "NO_COLOR": "1"},
                            capture_output=True, text=True, timeout=60, check=True)
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "invoke" in names  # the log was read
    return names


@pytest.mark.parametrize("args", [("--list",), ("--help", "build"), ("--help", "up")])
def test_listing_and_help_import_no_stage_and_no_heavy_library(args: tuple[str, ...]) -> None:
    names = imported_by(*args)
    loaded = sorted(n for n in names if n.split(".")[0] in HEAVY or n in HEAVY)
    assert loaded == []


def test_a_stage_is_loaded_when_a_task_uses_it() -> None:
    from todo_deploy.lazy import Stage

    stage = Stage("todo_deploy.errors")
    assert "not loaded" in repr(stage)
    assert stage.ExitCode.PREREQ == 3
    assert "(loaded)" in repr(stage)
