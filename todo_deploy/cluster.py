"""minikube: status, profile facts, start, and the Docker endpoint of its daemon.

Version quirks live here, one function each:
- ``minikube status -o json`` exits with a bitmask (1 host, 2 cluster, 4 kubeconfig not OK)
  while still printing valid JSON; exit 85 means the profile does not exist.
- ``minikube docker-env`` only works for the docker runtime on a single node.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from dotenv import dotenv_values
from invoke.context import Context

from . import proc
from .cli import Session
from .config import Settings
from .errors import PrereqError

STATUS_HOST_DOWN = 1
STATUS_CLUSTER_DOWN = 2
STATUS_KUBECONFIG_BAD = 4
PROFILE_NOT_FOUND = 85
DOCKER_ENV_KEYS = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION")


@dataclass(frozen=True)
class ClusterStatus:
    profile: str
    exists: bool
    host: str = "Nonexistent"
    kubelet: str = "Nonexistent"
    apiserver: str = "Nonexistent"
    kubeconfig: str = "Nonexistent"
    down_mask: int = 0

    @property
    def running(self) -> bool:
        return self.exists and self.down_mask == 0 and self.apiserver == "Running"

    def describe(self) -> str:
        if not self.exists:
            return f"profile {self.profile!r} does not exist"
        return (f"host {self.host}, kubelet {self.kubelet}, apiserver {self.apiserver}, "
                f"kubeconfig {self.kubeconfig}")


@dataclass(frozen=True)
class ProfileInfo:
    name: str
    driver: str = ""
    runtime: str = "docker"
    cpus: int = 0
    memory_mib: int = 0
    nodes: int = 1


@dataclass(frozen=True)
class DockerEndpoint:
    """Where images are built: minikube's daemon (env dict) or the host's."""

    target: str  # "minikube" | "host"
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.environment.get("DOCKER_HOST", "local default socket")


def parse_status(stdout: str, code: int, profile: str) -> ClusterStatus:
    """Parse ``minikube status -o json`` (object, or list for multi-node) and its exit code."""
    if code == PROFILE_NOT_FOUND:
        return ClusterStatus(profile=profile, exists=False, down_mask=code)
    try:
        data: Any = json.loads(stdout)
    except json.JSONDecodeError:
        return ClusterStatus(profile=profile, exists=False, down_mask=code)
    node = data[0] if isinstance(data, list) and data else data
    if not isinstance(node, dict):
        return ClusterStatus(profile=profile, exists=False, down_mask=code)
    host = str(node.get("Host", "Nonexistent"))
    return ClusterStatus(
        profile=profile,
        exists=host != "Nonexistent",
        host=host,
        kubelet=str(node.get("Kubelet", "")),
        apiserver=str(node.get("APIServer", "")),
        kubeconfig=str(node.get("Kubeconfig", "")),
        down_mask=code & 7,
    )


def parse_profile_list(stdout: str, profile: str) -> ProfileInfo | None:
    """Find ``profile`` in ``minikube profile list -o json``."""
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError:
        return None
    for entry in (data.get("valid") or []) if isinstance(data, dict) else []:
        if entry.get("Name") != profile:
            continue
        cfg = entry.get("Config") or {}
        k8s = cfg.get("KubernetesConfig") or {}
        return ProfileInfo(
            name=profile,
            driver=str(cfg.get("Driver", "")),
            runtime=str(k8s.get("ContainerRuntime") or "docker"),
            cpus=int(cfg.get("CPUs") or 0),
            memory_mib=int(cfg.get("Memory") or 0),
            nodes=len(cfg.get("Nodes") or [None]),
        )
    return None


def parse_docker_env(text: str) -> dict[str, str]:
    """``minikube docker-env`` output (``--shell none`` or bash) → environment dict.

    Uses python-dotenv's parser (it knows ``export``, quotes and comments). Keeps only the
    Docker variables, and drops ``DOCKER_TLS_VERIFY`` when it is off: docker-py treats any
    value, even ``0``, as "TLS on".
    """
    values = dotenv_values(stream=io.StringIO(text))
    env = {k: v for k, v in values.items() if k in DOCKER_ENV_KEYS and v is not None}
    if env.get("DOCKER_TLS_VERIFY", "").strip().lower() in ("", "0", "false", "no"):
        env.pop("DOCKER_TLS_VERIFY", None)
    return env


def minikube(settings: Settings, *args: str) -> list[str]:
    return ["minikube", "-p", settings.profile, *args]


def status(c: Context, settings: Settings) -> ClusterStatus:
    result = proc.run(c, minikube(settings, "status", "-o", "json"), check=False,
                      timeout=settings.tool_timeout)
    return parse_status(result.stdout, result.code, settings.profile)


def profile_info(c: Context, settings: Settings) -> ProfileInfo | None:
    result = proc.run(c, ["minikube", "profile", "list", "-o", "json"], check=False,
                      timeout=settings.tool_timeout)
    return parse_profile_list(result.stdout, settings.profile)


def profile(s: Session) -> ProfileInfo | None:
    """The profile's facts, asked once per invoke run."""
    return s.remember(("profile-info", s.settings.profile),
                      lambda: profile_info(s.c, s.settings))


def docker_env(s: Session) -> DockerEndpoint:
    """minikube's Docker endpoint (or the host's), asked once per invoke run."""
    return s.remember(("docker-endpoint", s.settings.profile, s.settings.build_target),
                      lambda: docker_endpoint(s.c, s.settings))


def started(s: Session) -> None:
    """Forget what a `minikube start` changes (context, profile facts, endpoint)."""
    s.forget(("kubectl-context",), ("profile-info", s.settings.profile),
             ("docker-endpoint", s.settings.profile, s.settings.build_target))


def require_running(c: Context, settings: Settings) -> ClusterStatus:
    st = status(c, settings)
    if not st.running:
        raise PrereqError(
            f"minikube profile {settings.profile!r} is not running ({st.describe()})",
            f"minikube -p {settings.profile} start --cpus {settings.cpus} "
            f"--memory {settings.memory}   (or: inv up)",
        )
    return st


def start(c: Context, settings: Settings) -> None:
    proc.run(
        c,
        minikube(settings, "start", f"--cpus={settings.cpus}", f"--memory={settings.memory}"),
        timeout=max(settings.tool_timeout, 600),
        hint=f"minikube -p {settings.profile} logs   # then: minikube -p {settings.profile} delete",
    )


def docker_endpoint(c: Context, settings: Settings) -> DockerEndpoint:
    """The daemon to build in: minikube's (parsed docker-env) or the host's."""
    if settings.build_target == "host":
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
