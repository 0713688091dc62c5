"""One task call's session: its settings, its console, the tool clients bound to the run's
kube-context, and a memo per invoke run (chained tasks ask each tool each question once).

Stages take a :class:`Session`; the CLI glue (:mod:`.cli`) makes one per task call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from invoke.context import Context

from . import tools as clients
from .config import Settings

if TYPE_CHECKING:  # rich is imported when a task runs, not by `inv --list`
    from .console import Console

T = TypeVar("T")

# Memo per invoke run: chained tasks (`inv build secrets deploy verify`, `inv up`) share one
# Config object, so a tool is asked each question once per run, not once per stage.
_memo: dict[int, tuple[object, dict[Any, Any]]] = {}


def run_memo(c: Context) -> dict[Any, Any]:
    return _memo.setdefault(id(c.config), (c.config, {}))[1]


def context_key(named: str) -> tuple[str, str]:
    """The run memo's key of the kube-context resolved for ``named`` (the flag or config
    value; "" = kubectl's current context)."""
    return ("kube-context", named)


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
        resolved = self.remember(context_key(named), lambda: clients.resolve_context(
            named, "" if named else clients.current_context(self.c, settings.tool_timeout),
            target=settings.target, profile=settings.profile))
        return clients.Tools(
            context=resolved, explicit=bool(named),
            kubectl=clients.Kubectl(self.c, resolved, settings.namespace, settings.tool_timeout),
            helm=clients.Helm(self.c, resolved, settings.namespace, settings.tool_timeout),
            profile=settings.profile)

    def known_context(self) -> str | None:
        """The run's kube-context when it is known without asking kubectl: named by flag or
        config, or resolved earlier in the run (None otherwise)."""
        named = self.settings.context
        return named or self.recall(context_key(named))

    @property
    def minikube(self) -> clients.Minikube:
        """minikube's client: the profile is its cluster (no kube-context to resolve)."""
        return clients.Minikube(self.c, self.settings.profile, self.settings.tool_timeout)

    @property
    def kind(self) -> clients.Kind:
        return clients.Kind(self.c, self.settings.kind_cluster, self.settings.tool_timeout)

    def recall(self, key: tuple[Any, ...]) -> Any:
        """What an earlier stage of this run stored or remembered under ``key`` (None)."""
        return run_memo(self.c).get(key)

    def store(self, key: tuple[Any, ...], value: object) -> None:
        """What an action of the run has just made true (e.g. the Secret it applied), so that
        later stages of the run need not ask the cluster again."""
        run_memo(self.c)[key] = value

    def forget(self, *keys: tuple[Any, ...]) -> None:
        """Drop remembered answers that an action of the run has changed."""
        memo = run_memo(self.c)
        for key in keys:
            memo.pop(key, None)


def settings_for(c: Context, **overrides: Any) -> Settings:
    return Settings.from_config(c.config.get("todo"), **overrides)
