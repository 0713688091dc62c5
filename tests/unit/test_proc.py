"""The tool runner: real child processes through invoke's Context."""

from __future__ import annotations

import time

import pytest
from invoke import Context

from todo_deploy import proc
from todo_deploy.errors import ExitCode


def test_large_stdin_payload_arrives_whole() -> None:
    payload = "x" * 200_000 + "\n"
    result = proc.run(Context(), ["sh", "-c", "wc -c"], stdin=payload, timeout=20)
    assert result.stdout.strip() == str(len(payload))


def test_child_without_payload_sees_end_of_input() -> None:
    result = proc.run(Context(), ["sh", "-c", "cat; echo done"], timeout=20)
    assert result.stdout == "done\n"


def test_missing_tool_is_a_prerequisite_error() -> None:
    with pytest.raises(proc.ToolMissing) as err:
        proc.run(Context(), ["no-such-tool-here", "x"])
    assert err.value.code == 3


def test_failure_carries_tool_code_and_stderr_tail() -> None:
    with pytest.raises(proc.ToolError) as err:
        proc.run(Context(), ["sh", "-c", "echo one >&2; echo two >&2; exit 4"], hint="try this")
    assert (err.value.tool, err.value.exit_code) == ("sh", 4)
    assert err.value.stderr_tail == "one\ntwo"
    assert err.value.message.endswith("two") and err.value.hint == "try this"


def test_unchecked_failure_returns_the_result() -> None:
    result = proc.run(Context(), ["sh", "-c", "exit 7"], check=False)
    assert (result.ok, result.code) == (False, 7)


def test_timeout_becomes_a_tool_error() -> None:
    with pytest.raises(proc.ToolError, match="timed out"):
        proc.run(Context(), ["sleep", "5"], timeout=0.5)


def test_a_child_that_never_reads_its_payload_is_killed_at_the_timeout() -> None:
    """sh's sleep keeps stdin (a 200 kB payload no one reads) and stdout open: invoke's own
    runner killed sh only and waited for sleep; the whole call must end at the timeout."""
    started = time.monotonic()
    with pytest.raises(proc.ToolError, match="timed out") as err:
        proc.run(Context(), ["sh", "-c", "sleep 30"], stdin="x" * 200_000, timeout=1)
    assert time.monotonic() - started < 10
    assert err.value.code == ExitCode.FAILED  # a clear error, exit 1, no traceback


def test_a_grandchild_holding_the_output_is_killed_with_the_tool() -> None:
    started = time.monotonic()
    with pytest.raises(proc.ToolError, match="timed out"):
        proc.run(Context(), ["sh", "-c", "sleep 30 & wait"], timeout=1)
    assert time.monotonic() - started < 10


def test_the_timeout_ends_the_task_with_exit_1_and_no_traceback(
        capsys: pytest.CaptureFixture[str]) -> None:
    from invoke.exceptions import Exit

    from todo_deploy.cli import session

    with pytest.raises(Exit) as exc, session(Context(), no_color=True) as s:
        proc.run(s.c, ["sh", "-c", "sleep 30"], stdin="x" * 200_000, timeout=1)
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "timed out after 1s" in err and "Traceback" not in err
