"""The tool runner: real child processes through invoke's Context."""

from __future__ import annotations

import pytest
from invoke import Context

from todo_deploy import proc


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
