"""Glue between invoke tasks and the stages: one session per task call.

``session`` resolves the settings once, creates the console, and turns expected failures
(:class:`SuiteError`) into one clear message plus an exit code — never a traceback.
Ctrl-C exits 130.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from invoke.context import Context
from invoke.exceptions import Exit

from . import tools as clients
from .config import Settings
from .errors import ExitCode, SuiteError

if TYPE_CHECKING:  # rich is imported when a task runs, not by `inv --list`
    from .console import Console

T = TypeVar("T")

# Memo per invoke run: chained tasks (`inv build secrets deploy verify`, `inv up`) share one
# Config object, so a tool is asked each question once per run, not once per stage.
_memo: dict[int, tuple[object, dict[Any, Any]]] = {}


def run_memo(c: Context) -> dict[Any, Any]:
    return _memo.setdefault(id(c.config), (c.config, {}))[1]


@dataclass
class Session:
    c: Context
    settings: Settings
    console: Console

    def remember(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """``compute()`` once per invoke run for ``key`` (the answer of a tool that does not
        change while the run lasts, e.g. kubectl's current context)."""
        memo = run_memo(self.c)
        if key not in memo:
            memo[key] = compute()
        value: T = memo[key]
        return value

    @property
    def tools(self) -> clients.Tools:
        """The tool clients, bound to the context resolved once per invoke run."""
        settings = self.settings
        named = settings.context
        resolved = self.remember(("kube-context", named), lambda: clients.resolve_context(
            named, "" if named else clients.current_context(self.c, settings.tool_timeout),
            target=settings.target, profile=settings.profile))
        return clients.Tools(
            context=resolved, explicit=bool(named),
            kubectl=clients.Kubectl(self.c, resolved, settings.namespace, settings.tool_timeout),
            helm=clients.Helm(self.c, resolved, settings.namespace, settings.tool_timeout),
            profile=settings.profile)

    @property
    def minikube(self) -> clients.Minikube:
        """minikube's client: the profile is its cluster (no kube-context to resolve)."""
        return clients.Minikube(self.c, self.settings.profile, self.settings.tool_timeout)

    @property
    def kind(self) -> clients.Kind:
        return clients.Kind(self.c, self.settings.kind_cluster, self.settings.tool_timeout)

    def forget(self, *keys: tuple[Any, ...]) -> None:
        """Drop remembered answers that an action of the run has changed."""
        memo = run_memo(self.c)
        for key in keys:
            memo.pop(key, None)


def settings_for(c: Context, **overrides: Any) -> Settings:
    return Settings.from_config(c.config.get("todo"), **overrides)


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
