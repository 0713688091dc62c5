"""Glue between invoke tasks and the stages: one session per task call.

``session`` resolves the settings once, creates the console, and turns expected failures
(:class:`SuiteError`, and a library's exception through
:func:`~todo_deploy.errors.library_failure`) into one clear message plus an exit code — never a
traceback.
Ctrl-C exits 130.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from invoke.context import Context
from invoke.exceptions import Exit

from .errors import ExitCode, SuiteError, library_failure
from .session import Session, settings_for


@contextmanager
def session(c: Context, *, no_color: bool = False, **overrides: Any) -> Iterator[Session]:
    # here, not at the top: `inv --list` and `--help` import neither rich nor python-dotenv
    from . import envfile
    from .console import Console, runnable_inv

    console = Console(no_color=no_color,
                      inv=runnable_inv(sys.argv[0], shutil.which("inv")))
    try:
        current = Session(c, settings_for(c, **overrides), console)
        # every task masks the values .env holds, whatever it prints (pod logs, tool errors)
        console.register_secret(*envfile.values_to_mask(current.settings.env_file))
        yield current
    except SuiteError as exc:
        console.error(exc.message, exc.hint, exc.details)
        raise Exit(code=int(exc.code)) from None
    except KeyboardInterrupt:
        console.error("interrupted")
        raise Exit(code=int(ExitCode.INTERRUPTED)) from None
    except Exception as exc:  # a library's failure (docker SDK, requests, OS): its fix
        failure = library_failure(exc)
        if failure is None:
            raise  # a bug: its traceback is the report
        console.error(failure.message, failure.hint, failure.details)
        raise Exit(code=int(failure.code)) from None
