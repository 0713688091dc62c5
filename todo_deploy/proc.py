"""The one helper that runs external tools (minikube, kubectl, helm).

argv is a list (joined with ``shlex.join`` so invoke's ``MockContext`` can match the exact
command), payloads travel on stdin only, output is captured, and failures become a typed
:class:`ToolError` carrying the tool, exit code and the last lines of stderr.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from invoke.context import Context
from invoke.exceptions import CommandTimedOut
from invoke.runners import Local

from .errors import PrereqError, StageFailed

NOT_FOUND = 127


@dataclass(frozen=True)
class ToolResult:
    argv: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0


class _Payload(io.StringIO):
    """stdin for ``c.run``: invoke asks for 1 byte every 10 ms (≈100 B/s) from non-TTY
    streams; this hands over the whole payload on the first read."""

    def read(self, size: int | None = -1) -> str:
        return super().read(-1)


class GroupRunner(Local):
    """invoke's local runner, with the tool and every process it starts in one process group
    of their own: a timeout kills them all, and Ctrl-C reaches them all.

    invoke's own runner kills only its direct child at a timeout. A grandchild (``sh -c``'s
    command, a plugin helm starts) that still held the pipes kept ``inv`` waiting for it, and
    a tool that never read its stdin payload hung the call for as long as it lived."""

    def start(self, command: str, shell: str, env: dict[str, Any]) -> None:
        if self.using_pty:  # never used by the suite (hide/in_stream need pipes)
            super().start(command, shell, env)
            return
        self.process = subprocess.Popen(command, shell=True, executable=shell, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        stdin=subprocess.PIPE, start_new_session=True)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.get_pid(), signum)

    def kill(self) -> None:
        self._signal_group(signal.SIGKILL)

    def send_interrupt(self, interrupt: KeyboardInterrupt) -> None:
        # its own session has no terminal: forward Ctrl-C as the terminal would have
        self._signal_group(signal.SIGINT)


def tail(text: str, lines: int = 8) -> str:
    """The last ``lines`` non-empty lines of ``text``."""
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


class ToolError(StageFailed):
    """A tool exited non-zero (or timed out)."""

    def __init__(self, argv: Sequence[str], code: int, stderr: str, hint: str | None = None):
        self.tool = argv[0]
        self.argv = tuple(argv)
        self.exit_code = code
        self.stderr_tail = tail(stderr)
        what = f"`{shlex.join(argv[:3])}{' …' if len(argv) > 3 else ''}` exited {code}"
        message = f"{what}: {self.stderr_tail.splitlines()[-1]}" if self.stderr_tail else what
        super().__init__(message, hint, details=self.stderr_tail or None)


class ToolMissing(PrereqError):
    def __init__(self, tool: str, hint: str | None = None):
        self.tool = tool
        super().__init__(f"`{tool}` is not installed or not on PATH", hint or "inv doctor")


def run(
    c: Context,
    argv: Sequence[str],
    *,
    stdin: str | None = None,
    timeout: float | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    hint: str | None = None,
    stream: IO[str] | io.TextIOBase | None = None,
) -> ToolResult:
    """Run ``argv`` through ``c.run`` with captured output.

    ``stream``: also write stdout there as it arrives (e.g. ``Console.line_sink()`` for
    ``kubectl logs -f``); stderr stays captured.

    ``stdin`` is fed to the process and never echoed; without it the child gets an empty,
    closed stdin. Exit 127 (command not found) raises
    :class:`ToolMissing`; other non-zero exits raise :class:`ToolError` when ``check``.
    """
    cmd = shlex.join(argv)
    c.config.runners.local = GroupRunner  # invoke's extension point for how c.run runs
    try:
        result = c.run(
            cmd,
            hide=True if stream is None else "stderr",
            out_stream=stream,
            warn=True,
            # always a stream: at its end invoke closes the child's stdin, so no tool can
            # hang waiting for input (CI has none)
            in_stream=_Payload(stdin or ""),
            echo_stdin=False,
            timeout=timeout,
            env=dict(env or {}),
        )
    except CommandTimedOut as exc:
        raise ToolError(argv, -1, f"timed out after {exc.timeout}s", hint) from None
    assert result is not None
    out = ToolResult(tuple(argv), result.exited, result.stdout, result.stderr)
    if out.code == NOT_FOUND and "not found" in out.stderr:
        raise ToolMissing(argv[0])
    if check and not out.ok:
        raise ToolError(argv, out.code, out.stderr or out.stdout, hint)
    return out


@dataclass
class Background:
    """A tool running while the caller watches something else (``inv deploy`` watches the
    pods while ``helm upgrade --wait`` waits). Output is captured; stdin is empty."""

    argv: tuple[str, ...]
    process: subprocess.Popen[str]
    deadline: float  # time.monotonic() after which the tool is stopped as timed out

    def wait(self, seconds: float) -> ToolResult | None:
        """The result once the tool has exited (within ``seconds``), else None. Past the
        deadline the tool is stopped and the result is a timeout (exit -1)."""
        if time.monotonic() >= self.deadline:
            stopped = self.stop()
            return ToolResult(self.argv, -1, stopped.stdout,
                              f"{stopped.stderr}\ntimed out after {self.argv[0]} ran past "
                              "its deadline".strip())
        try:
            stdout, stderr = self.process.communicate(
                timeout=max(0.0, min(seconds, self.deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            return None
        return ToolResult(self.argv, self.process.returncode, stdout, stderr)

    def stop(self, grace: float = 60.0) -> ToolResult:
        """SIGTERM (helm then records the release as failed and exits), SIGKILL after
        ``grace`` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = self.process.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, stderr = self.process.communicate()
        return ToolResult(self.argv, self.process.returncode, stdout, stderr)


def start(argv: Sequence[str], *, timeout: float,
          env: Mapping[str, str] | None = None) -> Background:
    """Start ``argv`` in the background (see :class:`Background`); a missing tool raises
    :class:`ToolMissing` at once."""
    try:
        process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, **(env or {})})
    except FileNotFoundError:
        raise ToolMissing(argv[0]) from None
    return Background(tuple(argv), process, time.monotonic() + timeout)
