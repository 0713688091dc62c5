"""minikube: status, profile facts, start, and the Docker endpoint of its daemon.

Version quirks live here, one function each:
- ``minikube status -o json`` exits with a bitmask (1 host, 2 cluster, 4 kubeconfig not OK)
  while still printing valid JSON; exit 85 means the profile does not exist.
- ``minikube docker-env`` only works for the docker runtime on a single node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from invoke.context import Context

from . import proc, tools
from .config import Settings
from .errors import PrereqError
from .session import Session
from .tools import (
    PROFILE_NOT_FOUND,
    ClusterStatus,
    ProfileInfo,
    parse_docker_env,
    parse_profile_list,
    parse_status,
)

__all__ = ["PROFILE_NOT_FOUND", "ClusterStatus", "DockerEndpoint", "ProfileInfo",
           "parse_docker_env", "parse_profile_list", "parse_status"]

DOCKER_ENV_KEYS = tools.DOCKER_ENV_KEYS


@dataclass(frozen=True)
class DockerEndpoint:
    """Where images are built: minikube's daemon (env dict) or the host's."""

    target: str  # "minikube" | "host"
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """Where the engine answers, for messages: the host's engine is found as the Docker
        CLI finds it (DOCKER_HOST of this process, else the CLI's current context, else the
        default socket)."""
        if self.target == "host":
            from .errors import SuiteError
            from .images.daemon import host_engine  # here: images.daemon imports this module

            try:
                return host_engine(os.environ).describe()
            except SuiteError:
                return os.environ.get("DOCKER_HOST") or "local default socket"
        return self.environment.get("DOCKER_HOST") or "local default socket"


def minikube(settings: Settings, *args: str) -> list[str]:
    return ["minikube", "-p", settings.profile, *args]


def client(c: Context, settings: Settings) -> tools.Minikube:
    return tools.Minikube(c, settings.profile, settings.tool_timeout)


def status(c: Context, settings: Settings) -> ClusterStatus:
    return client(c, settings).status()


def profile_info(c: Context, settings: Settings) -> ProfileInfo | None:
    return client(c, settings).profile_info()


def profile(s: Session) -> ProfileInfo | None:
    """The profile's facts, asked once per invoke run."""
    return s.remember(("profile-info", s.settings.profile),
                      lambda: profile_info(s.c, s.settings))


def docker_env(s: Session) -> DockerEndpoint:
    """minikube's Docker endpoint (or the host's), asked once per invoke run."""
    return s.remember(("docker-endpoint", s.settings.profile, s.settings.builds_on_host),
                      lambda: docker_endpoint(s.c, s.settings))


def started(s: Session) -> None:
    """Forget what a `minikube start` changes (context, profile facts, endpoint)."""
    s.forget(("kubectl-context",), ("profile-info", s.settings.profile),
             ("docker-endpoint", s.settings.profile, s.settings.builds_on_host))


def start(c: Context, settings: Settings) -> None:
    proc.run(
        c,
        minikube(settings, "start", f"--cpus={settings.cpus}", f"--memory={settings.memory}"),
        timeout=max(settings.tool_timeout, 600),
        hint=f"minikube -p {settings.profile} logs   # then: minikube -p {settings.profile} delete",
    )


def docker_endpoint(c: Context, settings: Settings) -> DockerEndpoint:
    """The daemon to build in: minikube's (parsed docker-env) or the host's."""
    if settings.builds_on_host:
        return DockerEndpoint(target="host")
    result = proc.run(c, minikube(settings, "docker-env", "--shell", "none"), check=False,
                      timeout=settings.tool_timeout)
    env = parse_docker_env(result.stdout) if result.ok else {}
    if not env.get("DOCKER_HOST"):
        raise PrereqError(
            f"cannot reach minikube's Docker daemon (`minikube docker-env` exited {result.code}: "
            f"{proc.tail(result.stderr, 1) or 'no DOCKER_HOST'})",
            f"minikube -p {settings.profile} start   "
            "(or build on the host: inv build --target host)",
        )
    return DockerEndpoint(target="minikube", environment=env)
