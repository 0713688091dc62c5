"""Every command the suite prints runs as printed: ``inv`` in a hint becomes the path of the
one running when ``inv`` is not on PATH (onboarding's virtualenv was never activated)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from todo_deploy.console import Console, runnable_inv


def test_inv_on_path_is_printed_as_inv(tmp_path: Path) -> None:
    inv = tmp_path / ".venv" / "bin" / "inv"
    assert runnable_inv(str(inv), str(inv)) == "inv"


def test_an_inv_that_is_not_on_path_is_printed_as_its_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    inv = tmp_path / ".venv" / "bin" / "inv"
    assert runnable_inv(str(inv), None) == ".venv/bin/inv"
    assert runnable_inv(str(inv), "/usr/local/bin/inv") == ".venv/bin/inv"


def test_python_dash_m_invoke_leaves_hints_alone() -> None:
    assert runnable_inv("/x/site-packages/invoke/__main__.py", None) == "inv"


def test_hints_and_fixes_carry_the_runnable_command() -> None:
    out = io.StringIO()
    console = Console(no_color=True, file=out, err_file=out, inv=".venv/bin/inv")
    console.error("cluster not running", "minikube start   (or: inv up)")
    console.warn("images missing", "inv build   # then: inv deploy")
    text = out.getvalue()
    assert "fix: minikube start   (or: .venv/bin/inv up)" in text
    assert "fix: .venv/bin/inv build   # then: .venv/bin/inv deploy" in text


def test_words_that_merely_contain_inv_are_not_touched() -> None:
    console = Console(no_color=True, inv=".venv/bin/inv")
    assert console.command("invoke.yaml, INVOKE_TODO_X, envinv x, inv") == \
        "invoke.yaml, INVOKE_TODO_X, envinv x, inv"
