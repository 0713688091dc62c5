"""Exit codes and the errors a user can fix.

Every expected failure is a :class:`SuiteError`: a one-line message, a hint with the
next command to run, and an exit code. ``cli.session`` turns it into a clean exit
(no traceback).
"""

from __future__ import annotations

import sys
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the deployment or a check failed
    CONFIG = 2  # configuration or input error (.env, flags)
    PREREQ = 3  # a prerequisite is missing (tool, cluster not running)
    INTERRUPTED = 130


class SuiteError(Exception):
    """An error the user can act on. ``hint`` is the fix (a command where possible)."""

    code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, hint: str | None = None, *, details: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details


class ConfigError(SuiteError):
    code = ExitCode.CONFIG


class PrereqError(SuiteError):
    code = ExitCode.PREREQ


class StageFailed(SuiteError):
    code = ExitCode.FAILED


DAEMON_HINT = ("docker info   # is the Docker daemon running? (minikube's: minikube status; "
               "then run the command again)")


def _reason(exc: BaseException) -> str:
    """The innermost words of a library's exception chain, on one line (urllib3 and
    requests wrap the socket's own error two or three times)."""
    words = str(exc).strip()
    inner = exc.__cause__ or exc.__context__
    while inner is not None and not words:
        words, inner = str(inner).strip(), inner.__cause__ or inner.__context__
    first = words.splitlines()[0] if words else type(exc).__name__
    return first if len(first) <= 200 else first[:197] + "..."


def _is(exc: BaseException, module: str, *names: str) -> bool:
    """``exc`` is an instance of ``module.<name>`` for one of ``names``; a module never
    imported cannot have raised it (nothing is imported here)."""
    loaded = sys.modules.get(module)
    return loaded is not None and any(
        isinstance(exc, cls) for cls in (getattr(loaded, name, None) for name in names)
        if isinstance(cls, type))


def library_failure(exc: BaseException) -> SuiteError | None:
    """A library's exception that is not one of the suite's (the docker SDK's
    ``DockerException``/``APIError`` outside the paths that expect them, requests' and
    urllib3's connection errors and timeouts, the OS's when a file vanished while it was
    read) as an error a user can act on; None for anything else, a bug, which keeps its
    traceback."""
    if isinstance(exc, SuiteError):
        return exc
    reason = _reason(exc)
    if _is(exc, "requests.exceptions", "ReadTimeout", "Timeout"):
        return StageFailed(
            f"the Docker daemon did not answer in time: {reason}",
            "docker info   # is it busy or stuck? A slow daemon needs a longer timeout: "
            "INVOKE_TODO_TIMEOUTS_TOOL=300, then run the command again")
    if (_is(exc, "requests.exceptions", "ChunkedEncodingError")
            or _is(exc, "urllib3.exceptions", "ProtocolError")):
        return StageFailed(
            f"the connection to the Docker daemon broke off (was the daemon restarted?): "
            f"{reason}", DAEMON_HINT)
    if _is(exc, "requests.exceptions", "ConnectionError", "RequestException") \
            or _is(exc, "urllib3.exceptions", "HTTPError"):
        return PrereqError(f"cannot reach the Docker daemon: {reason}", DAEMON_HINT)
    if _is(exc, "docker.errors", "APIError"):
        explanation = getattr(exc, "explanation", None) or reason
        return StageFailed(f"the Docker daemon refused: {str(explanation).strip()}",
                           DAEMON_HINT)
    if _is(exc, "docker.errors", "DockerException"):
        return PrereqError(f"the Docker SDK failed: {reason}", DAEMON_HINT)
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        return StageFailed(
            f"{exc.strerror or reason}{where}",
            "a file changed or vanished while the suite read it (an editor saving, a build "
            "tool cleaning up?): run the command again")
    return None
