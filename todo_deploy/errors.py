"""Exit codes and the errors a user can fix.

Every expected failure is a :class:`SuiteError`: a one-line message, a hint with the
next command to run, and an exit code. ``cli.session`` turns it into a clean exit
(no traceback).
"""

from __future__ import annotations

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
