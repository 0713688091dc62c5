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


def compiled_modules(tmp_path: os.PathLike[str], **env: str) -> set[str]:
    """Modules of todo_deploy whose bytecode ``inv build --help`` left in a fresh
    PYTHONPYCACHEPREFIX (the checkout's own __pycache__ stays untouched)."""
    prefix = os.path.join(tmp_path, "pycache")
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "invoke", "--help", "build"], cwd=ROOT,
                   env={**base, "PYTHONPYCACHEPREFIX": prefix, "NO_COLOR": "1", **env},
                   capture_output=True, text=True, timeout=60, check=True)
    found = set()
    for dirpath, _, files in os.walk(prefix):
        if os.path.join("todo_deploy", "") in os.path.join(dirpath, ""):
            found.update(name.split(".")[0] for name in files if name.endswith(".pyc"))
    return found


def test_inv_caches_the_packages_bytecode_though_invoke_turns_writing_off(
        tmp_path: os.PathLike[str]) -> None:
    # invoke sets sys.dont_write_bytecode before it loads tasks.py; without tasks.py setting it
    # back, every `inv` compiles the package again
    assert {"cli", "config", "session"} <= compiled_modules(tmp_path)


def test_inv_writes_no_bytecode_when_the_user_says_not_to(tmp_path: os.PathLike[str]) -> None:
    assert compiled_modules(tmp_path, PYTHONDONTWRITEBYTECODE="1") == set()
