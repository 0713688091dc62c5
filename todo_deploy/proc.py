"""The one helper that runs external tools (minikube, kubectl, helm).

argv is a list (joined with ``shlex.join`` so invoke's ``MockContext`` can match the exact
command), payloads travel on stdin only, output is captured, and failures become a typed
:class:`ToolError` carrying the tool, exit code and the last lines of stderr.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from invoke.context import Context
from invoke.exceptions import CommandTimedOut
from invoke.runners import Local

from .errors import PrereqError, StageFailed, SuiteError

NOT_FOUND = 127
INTERRUPT_GRACE = 15.0  # seconds a tool has to stop after Ctrl-C, then SIGKILL


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
    a tool that never read its stdin payload hung the call for as long as it lived.

    A Ctrl-C forwarded to the tool is counted (:attr:`interrupts`): :func:`run` raises
    ``KeyboardInterrupt`` after such a call, whatever the tool's exit code and ``check``.
    invoke itself only forwards it and returns the tool's result, so a ``check=False``
    caller carried on as if the tool had merely failed."""

    interrupts = 0  # Ctrl-Cs forwarded to a tool, in this process

    def start(self, command: str, shell: str, env: dict[str, Any]) -> None:
        if self.using_pty:  # never used by the suite (hide/in_stream need pipes)
            super().start(command, shell, env)
            return
        self.process = subprocess.Popen(command, shell=True, executable=shell_path(shell, env),
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        stdin=subprocess.PIPE, start_new_session=True)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.get_pid(), signum)

    def kill(self) -> None:
        self._signal_group(signal.SIGKILL)

    def send_interrupt(self, interrupt: KeyboardInterrupt) -> None:
        # its own session has no terminal: forward Ctrl-C as the terminal would have
        GroupRunner.interrupts += 1
        self._signal_group(signal.SIGINT)


def shell_path(shell: str, env: Mapping[str, Any]) -> str:
    """The shell invoke names (``bash`` by default, found on PATH) as an absolute path; the
    POSIX ``/bin/sh`` when PATH has none (a PATH of the user's tools only), so a missing tool
    is still reported as missing, not as a missing shell."""
    if os.path.isabs(shell):
        return shell
    return shutil.which(shell, path=str(env.get("PATH") or os.defpath)) or "/bin/sh"


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
    interrupts = GroupRunner.interrupts
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
    if GroupRunner.interrupts != interrupts:  # Ctrl-C: the tool was stopped, so is the run
        raise KeyboardInterrupt
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
        """SIGTERM to the tool's process group (helm then records the release as failed and
        exits), SIGKILL after ``grace`` seconds."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
        try:
            stdout, stderr = self.process.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            stdout, stderr = self.process.communicate()
        return ToolResult(self.argv, self.process.returncode, stdout, stderr)

    def _signal(self, signum: int) -> None:
        """``signum`` to the tool, then to the rest of its process group (a plugin it ran)."""
        if signum == signal.SIGKILL:
            self.process.kill()
        else:
            self.process.send_signal(signum)
        pid = getattr(self.process, "pid", None)
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):  # all gone
                os.killpg(pid, signum)

    @contextlib.contextmanager
    def watched(self, grace: float = INTERRUPT_GRACE) -> Iterator[Background]:
        """The block that watches this tool: whatever ends the block early (Ctrl-C, an error
        of the watch) stops the tool first, so it never runs on unwatched after ``inv`` has
        gone. A :class:`~todo_deploy.errors.SuiteError` then says that the tool was stopped."""
        try:
            yield self
        except BaseException as exc:
            if self.process.poll() is None:
                self.stop(grace)
                if isinstance(exc, SuiteError):
                    exc.message += f" ({shlex.join(self.argv[:2])} was stopped)"
            raise


def start(argv: Sequence[str], *, timeout: float,
          env: Mapping[str, str] | None = None) -> Background:
    """Start ``argv`` in the background (see :class:`Background`); a missing tool raises
    :class:`ToolMissing` at once."""
    try:
        # its own process group: a Ctrl-C at the terminal reaches inv only, which stops the
        # tool (Background.watched) and waits for it, instead of racing it
        process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True,
                                   env={**os.environ, **(env or {})})
    except FileNotFoundError:
        raise ToolMissing(argv[0]) from None
    return Background(tuple(argv), process, time.monotonic() + timeout)


# -- transient failures ----------------------------------------------------------------------
# The words kubectl, helm and Go's net/http use for an API server that restarts, is overloaded
# or was briefly out of reach. A refusal (Forbidden, Unauthorized) or a missing object is an
# answer, not a fault: asked again, it stays.
TRANSIENT_RE = re.compile(
    r"connection refused|connection to the server \S+ was refused|connection reset|"
    r"broken pipe|i/o timeout|timed out|timeout|"
    r"TLS handshake|unable to connect to the server|server is currently unable|"
    r"etcdserver|unexpected EOF|\bEOF\b|GOAWAY|client connection lost|too many requests|"
    r"ServiceUnavailable|was unable to return a response|no route to host|"
    r"http2: server sent|net/http: request canceled", re.IGNORECASE)
ANSWER_RE = re.compile(r"\(Forbidden\)|\(Unauthorized\)|\(NotFound\)|\bforbidden:|"
                       r"must be logged in", re.IGNORECASE)


def transient(error: SuiteError) -> bool:
    """Whether asking again may succeed (pure): a tool that timed out, or a failure in the
    API server's words for a restart, an overload or a dropped connection. Never a missing
    tool, a refusal or an object that is not there."""
    if not isinstance(error, ToolError) or isinstance(error, ToolMissing):
        return False
    text = f"{error.message}\n{error.details or ''}"
    if ANSWER_RE.search(text):
        return False
    return error.exit_code == -1 or bool(TRANSIENT_RE.search(text))


@dataclass
class Retry:
    """Backoff for the reads of a watch (a rollout) once the API server has answered in this
    run: a transient failure waits ``first``, then twice as long each time up to ``cap``; a
    failure that is not transient, or one that lasts ``budget`` seconds, is raised. ``ok()``
    after each read that worked starts afresh."""

    budget: float = 60.0
    first: float = 1.0
    cap: float = 8.0
    clock: Callable[[], float] = time.monotonic
    attempts: int = 0
    failing_since: float | None = field(default=None)

    def ok(self) -> None:
        self.attempts, self.failing_since = 0, None

    def failed(self, error: SuiteError) -> float:
        """Seconds to wait before the next read; raises ``error`` when it is not worth
        retrying (its message then says for how long it was retried)."""
        now = self.clock()
        if not transient(error):
            raise error
        if self.failing_since is None:
            self.failing_since = now
        elif now - self.failing_since >= self.budget:
            error.message += (f" (still failing after {now - self.failing_since:.0f}s, "
                              f"{self.attempts + 1} attempts)")
            raise error
        self.attempts += 1
        return float(min(self.cap, self.first * 2 ** (self.attempts - 1)))
