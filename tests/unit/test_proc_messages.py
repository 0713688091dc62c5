"""What the tool runner says when a tool fails, and how it stops tools: the output tail used
in error messages, the shape of the messages, exit 127, and background tools (real child
processes, each with a short timeout)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time

import pytest
from invoke import Context

from todo_deploy import proc
from todo_deploy.errors import ExitCode

NINE = "\n".join(f"line {n}" for n in range(1, 10))


def test_the_tail_is_the_last_eight_non_empty_lines() -> None:
    assert proc.tail(NINE) == "\n".join(f"line {n}" for n in range(2, 10))
    assert proc.tail("\n".join(f"line {n}" for n in range(1, 9))) == \
        "\n".join(f"line {n}" for n in range(1, 9))


def test_the_tail_skips_blank_and_space_only_lines_and_outer_whitespace() -> None:
    assert proc.tail("\n\n first\n  inner  \n   \n\nlast  \n\n") == "first\n  inner  \nlast"


def test_the_tail_takes_the_line_count_asked_for() -> None:
    assert proc.tail(NINE, 1) == "line 9"
    assert proc.tail(NINE, 2) == "line 8\nline 9"
    assert proc.tail("") == ""


def test_a_tool_error_names_the_first_three_words_and_the_last_stderr_line() -> None:
    err = proc.ToolError(["kubectl", "get", "pods"], 4, "one\ntwo\n", "the fix")
    assert err.message == "`kubectl get pods` exited 4: two"
    assert (err.tool, err.argv, err.exit_code) == ("kubectl", ("kubectl", "get", "pods"), 4)
    assert (err.stderr_tail, err.details, err.hint) == ("one\ntwo", "one\ntwo", "the fix")
    assert err.code == ExitCode.FAILED


def test_a_longer_command_is_cut_after_three_words_with_an_ellipsis() -> None:
    err = proc.ToolError(["helm", "upgrade", "--install", "todo-app"], 1, "boom")
    assert err.message == "`helm upgrade --install …` exited 1: boom"


def test_a_tool_error_without_output_says_only_what_exited() -> None:
    err = proc.ToolError(["kubectl", "apply"], 2, "  \n")
    assert err.message == "`kubectl apply` exited 2"
    assert err.details is None and err.stderr_tail == "" and err.hint is None


def test_a_missing_tool_names_it_and_points_at_doctor() -> None:
    err = proc.ToolMissing("helm")
    assert err.message == "`helm` is not installed or not on PATH"
    assert (err.tool, err.hint, err.code) == ("helm", "inv doctor", ExitCode.PREREQ)
    assert proc.ToolMissing("helm", "install helm").hint == "install helm"


def test_exit_127_without_not_found_is_an_ordinary_failure() -> None:
    with pytest.raises(proc.ToolError) as err:
        proc.run(Context(), ["sh", "-c", "echo gone >&2; exit 127"], timeout=20)
    assert not isinstance(err.value, proc.ToolMissing)
    assert err.value.exit_code == 127
    result = proc.run(Context(), ["sh", "-c", "exit 127"], check=False, timeout=20)
    assert result.code == 127


def test_a_missing_tool_is_reported_even_unchecked() -> None:
    with pytest.raises(proc.ToolMissing) as err:
        proc.run(Context(), ["no-such-tool-here"], check=False, timeout=20)
    assert err.value.tool == "no-such-tool-here"


def test_a_failure_without_stderr_quotes_stdout() -> None:
    with pytest.raises(proc.ToolError) as err:
        proc.run(Context(), ["sh", "-c", "echo said-on-stdout; exit 2"], timeout=20)
    assert err.value.stderr_tail == "said-on-stdout"


def test_the_timeout_error_says_after_how_long_and_keeps_the_hint() -> None:
    with pytest.raises(proc.ToolError) as err:
        proc.run(Context(), ["sleep", "5"], timeout=0.5, hint="look here")
    assert err.value.message == "`sleep 5` exited -1: timed out after 0.5s"
    assert (err.value.exit_code, err.value.hint) == (-1, "look here")


def test_the_environment_reaches_the_tool_and_the_result_keeps_argv() -> None:
    result = proc.run(Context(), ["sh", "-c", 'printf %s "$TODO_PROBE"'],
                      env={"TODO_PROBE": "seen"}, timeout=20)
    assert (result.stdout, result.stderr, result.ok) == ("seen", "", True)
    assert result.argv == ("sh", "-c", 'printf %s "$TODO_PROBE"')


def test_a_stream_gets_stdout_as_it_arrives_and_stderr_stays_captured(
        capfd: pytest.CaptureFixture[str]) -> None:
    sink = io.StringIO()
    result = proc.run(Context(), ["sh", "-c", "echo out; echo err >&2"], stream=sink,
                      timeout=20)
    assert sink.getvalue() == "out\n"
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert "err" not in capfd.readouterr().err


def test_the_runner_still_runs_a_command_on_a_terminal() -> None:
    c = Context()
    c.config.runners.local = proc.GroupRunner
    # without a terminal on stdin invoke falls back to pipes: GroupRunner's own start
    result = c.run("echo on-a-pty", pty=True, hide=True, in_stream=False, timeout=20)
    assert result is not None and result.stdout.strip() == "on-a-pty"


def test_ctrl_c_reaches_the_whole_group_of_the_tool() -> None:
    runner = proc.GroupRunner(Context())
    runner.using_pty = False  # as c.run sets it
    # a grandchild in the foreground: the inner sh's sleep
    runner.start("sh -c 'sleep 30; true'; true", shell="/bin/sh", env=dict(os.environ))
    time.sleep(0.3)
    try:
        runner.send_interrupt(KeyboardInterrupt())
        code = runner.process.wait(timeout=10)
        assert code in (-signal.SIGINT, 128 + signal.SIGINT)
        with pytest.raises(ProcessLookupError):  # every process of the group is gone
            for _ in range(50):
                os.killpg(runner.process.pid, 0)
                time.sleep(0.1)
    finally:
        runner.kill()


def test_a_kill_ends_the_whole_group_with_sigkill() -> None:
    runner = proc.GroupRunner(Context())
    runner.using_pty = False  # as c.run sets it
    runner.start("trap '' INT TERM; sleep 30", shell="/bin/sh", env=dict(os.environ))
    runner.kill()
    assert runner.process.wait(timeout=10) == -signal.SIGKILL
    runner.kill()  # already gone: no error


def test_a_background_tool_that_is_missing_fails_at_once() -> None:
    with pytest.raises(proc.ToolMissing) as err:
        proc.start(["no-such-tool-here", "x"], timeout=5)
    assert err.value.tool == "no-such-tool-here"


def test_a_background_tool_is_awaited_then_returns_its_result() -> None:
    tool = proc.start(["sh", "-c", 'sleep 0.5; echo "$TODO_PROBE"; echo bad >&2; exit 3'],
                      timeout=20, env={"TODO_PROBE": "seen"})
    assert tool.wait(0.05) is None  # still running
    result = tool.wait(10)
    assert result == proc.ToolResult(tool.argv, 3, "seen\n", "bad\n")


def test_a_background_tool_past_its_deadline_is_stopped_as_timed_out() -> None:
    tool = proc.start(["sleep", "30"], timeout=0.2)
    time.sleep(0.3)
    started = time.monotonic()
    result = tool.wait(10)
    assert result is not None and result.code == -1
    assert result.stderr == "timed out after sleep ran past its deadline"
    assert time.monotonic() - started < 5
    assert tool.process.returncode == -signal.SIGTERM


def test_a_background_wait_never_outlasts_the_deadline() -> None:
    tool = proc.start(["sleep", "30"], timeout=0.5)
    started = time.monotonic()
    assert tool.wait(10) is None
    assert time.monotonic() - started < 3
    tool.stop(grace=5)


def test_stop_kills_a_tool_that_ignores_sigterm_after_the_grace() -> None:
    tool = proc.start(["sh", "-c", "trap 'echo term' TERM; echo up; "
                       "while :; do sleep 0.1; done"], timeout=20)
    time.sleep(0.3)
    started = time.monotonic()
    result = tool.stop(grace=0.5)
    assert result.code == -signal.SIGKILL
    assert 0.4 < time.monotonic() - started < 5
    assert result.stdout.startswith("up\n")


def test_stop_of_a_tool_that_already_exited_returns_its_result() -> None:
    tool = proc.start(["sh", "-c", "echo done; exit 0"], timeout=20)
    tool.process.wait(timeout=10)
    assert tool.stop(grace=1) == proc.ToolResult(tool.argv, 0, "done\n", "")


class SlowToStop:
    """A process (subprocess.Popen's interface) that ignores SIGTERM: records the signals and
    how long ``communicate`` was told to wait."""

    returncode: int | None = None

    def __init__(self) -> None:
        self.signals: list[int] = []
        self.waits: list[float | None] = []

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, signum: int) -> None:
        self.signals.append(signum)

    def kill(self) -> None:
        self.signals.append(signal.SIGKILL)
        self.returncode = -signal.SIGKILL

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self.waits.append(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired("helm", timeout or 0)
        return "", ""


def test_stop_gives_the_tool_a_minute_after_sigterm_before_sigkill() -> None:
    """helm records the release as failed on SIGTERM: it gets 60 s to do so."""
    process = SlowToStop()
    tool = proc.Background(("helm",), process, deadline=0.0)  # type: ignore[arg-type]
    assert tool.stop() == proc.ToolResult(("helm",), -signal.SIGKILL, "", "")
    assert process.signals == [signal.SIGTERM, signal.SIGKILL]
    assert process.waits == [60.0, None]


def test_a_background_tool_past_its_deadline_keeps_its_argv_and_output() -> None:
    tool = proc.start(["sh", "-c", "echo started; exec sleep 30"], timeout=0.5)
    time.sleep(0.8)
    result = tool.wait(10)
    assert result is not None
    assert (result.argv, result.code, result.stdout) == (tool.argv, -1, "started\n")


class ExitsOnTerm(SlowToStop):
    def send_signal(self, signum: int) -> None:
        self.signals.append(signum)
        self.returncode = -signum


def test_a_background_tool_is_stopped_at_its_deadline_exactly(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proc.time, "monotonic", lambda: 100.0)
    process = ExitsOnTerm()
    tool = proc.Background(("helm",), process, deadline=100.0)  # type: ignore[arg-type]
    result = tool.wait(5)
    assert result is not None and result.code == -1
    assert process.signals == [signal.SIGTERM]


def test_a_background_tool_gets_no_stdin_even_when_inv_has_one() -> None:
    """The terminal (or a pipe) `inv` was started with must not reach the tool: it would
    wait for input that never comes."""
    read_end, write_end = os.pipe()
    saved = os.dup(0)
    os.dup2(read_end, 0)
    try:
        tool = proc.start(["sh", "-c", "if read -r line; then echo got; else echo eof; fi"],
                          timeout=20)
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(read_end)
    try:
        result = tool.wait(5)
        assert result is not None and result.stdout == "eof\n"
    finally:
        os.close(write_end)
        tool.stop(grace=1)


def test_a_payload_is_never_echoed(capfd: pytest.CaptureFixture[str]) -> None:
    proc.run(Context(), ["sh", "-c", "cat >/dev/null"], stdin="payload-7f3a-never-shown\n",
             timeout=20)
    captured = capfd.readouterr()
    assert "payload-7f3a" not in captured.out + captured.err


def test_a_tools_output_is_captured_not_printed(capfd: pytest.CaptureFixture[str]) -> None:
    result = proc.run(Context(), ["sh", "-c", "echo out-5c1e; echo err-5c1e >&2"], timeout=20)
    assert (result.stdout, result.stderr) == ("out-5c1e\n", "err-5c1e\n")
    captured = capfd.readouterr()
    assert "5c1e" not in captured.out + captured.err
