"""Glue between invoke tasks and the stages: one session per task call.

``session`` resolves the settings once, creates the console, and turns expected failures
(:class:`SuiteError`) into one clear message plus an exit code — never a traceback.
Ctrl-C exits 130.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from invoke.context import Context
from invoke.exceptions import Exit

from .config import Settings
from .console import Console
from .errors import ExitCode, SuiteError


@dataclass
class Session:
    c: Context
    settings: Settings
    console: Console


def settings_for(c: Context, **overrides: Any) -> Settings:
    return Settings.from_config(c.config.get("todo"), **overrides)


@contextmanager
def session(c: Context, *, no_color: bool = False, **overrides: Any) -> Iterator[Session]:
    console = Console(no_color=no_color)
    try:
        current = Session(c, settings_for(c, **overrides), console)
        # every task masks the values .env holds, whatever it prints (pod logs, tool errors)
        from . import secrets

        secrets.mask_known_values(current)
        yield current
    except SuiteError as exc:
        console.error(exc.message, exc.hint, exc.details)
        raise Exit(code=int(exc.code)) from None
    except KeyboardInterrupt:
        console.error("interrupted")
        raise Exit(code=int(ExitCode.INTERRUPTED)) from None
