"""The tool clients: ``Kubectl``, ``Helm`` and ``Minikube``, bound to ONE kube-context.

Made once per session from :class:`~todo_deploy.config.Settings` (``Session.tools``), in the
manner of krane's ``Kubectl``: every call that reaches a cluster carries the context
(``kubectl ... --context C``, ``helm ... --kube-context C``), the namespace where the call is
namespaced, and the tool timeout; "not found" is a typed error (:class:`NotFound`) instead of
string matching in each stage; each client owns the parsers of its own output (release JSON,
history, image lists, ``minikube status``).

The context is resolved once per invoke run (:func:`resolve_context`): the ``--context`` flag,
else config ``todo.context``, else kubectl's current context (for the minikube target with no
current context: the profile, the context ``minikube start`` creates). A context that appears
or becomes current later does not change where the run's calls go.

Safety (:func:`require_safe`): a context that is not a local cluster (minikube, kind,
docker-desktop, the local test cluster, ...) must be named explicitly, or the stages that
change a cluster refuse (exit 2) before anything is applied.

Placement: ``--context`` goes after the arguments (before a ``--`` that ends kubectl's own
flags, as in ``kubectl exec ... -- psql``), so kubectl's and helm's flag parsers take it
wherever the subcommand is.
"""

from __future__ import annotations

import io
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from invoke.context import Context

from . import proc
from .errors import ConfigError

LOCAL_CONTEXT_NAMES = ("minikube", "docker-desktop", "docker-for-desktop", "rancher-desktop",
                       "orbstack", "colima", "todo-local")
LOCAL_CONTEXT_PREFIXES = ("kind-", "k3d-")
# The tools' own not-found answers, and nothing else: kubectl's API error
# (`Error from server (NotFound): secrets "todo-secrets" not found`) and helm's storage
# driver (`Error: release: not found`, also at the end of `Error: uninstall: Release not
# loaded: todo-app: release: not found`). Never any stderr that merely contains the words
# (a webhook's message, a missing kubeconfig file, `exec: "gke-gcloud-auth-plugin": not found`).
KUBECTL_NOT_FOUND_RE = re.compile(r"^Error from server \(NotFound\)", re.MULTILINE)
HELM_NOT_FOUND_RE = re.compile(r"^Error: (?:.*: )?release: not found\s*$", re.MULTILINE)

PROFILE_NOT_FOUND = 85
DOCKER_ENV_KEYS = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION")


class NotFound(proc.ToolError):
    """The object (release, Secret, Service, ...) does not exist."""


def is_local_context(name: str, profile: str = "minikube") -> bool:
    """A context of a cluster on this machine (pure): by the names the local tools give
    their contexts (minikube: the profile; kind: ``kind-NAME``; Docker Desktop, ...)."""
    return name == profile or name in LOCAL_CONTEXT_NAMES or \
        name.startswith(LOCAL_CONTEXT_PREFIXES)


def with_flags(argv: Sequence[str], flags: Sequence[str]) -> list[str]:
    """``flags`` appended to ``argv``, before a ``--`` that ends the tool's own flags (pure)."""
    items = list(argv)
    if "--" in items:
        at = items.index("--")
        return [*items[:at], *flags, *items[at:]]
    return [*items, *flags]


def is_not_found(tool: str, stderr: str) -> bool:
    """Whether ``stderr`` is ``tool``'s own answer that the object does not exist (pure)."""
    if tool == "kubectl":
        return KUBECTL_NOT_FOUND_RE.search(stderr) is not None
    if tool == "helm":
        return HELM_NOT_FOUND_RE.search(stderr) is not None
    return False


def _check(result: proc.ToolResult, hint: str | None) -> proc.ToolResult:
    if result.ok:
        return result
    if is_not_found(result.argv[0], result.stderr):
        raise NotFound(result.argv, result.code, result.stderr, hint)
    raise proc.ToolError(result.argv, result.code, result.stderr or result.stdout, hint)


@dataclass(frozen=True)
class _Client:
    c: Context
    context: str
    namespace: str
    timeout: float

    tool = ""

    def scope(self) -> list[str]:
        return []

    def argv(self, *args: str) -> list[str]:
        return with_flags([self.tool, *args], self.scope())

    def run(self, *args: str, stdin: str | None = None, check: bool = True,
            timeout: float | None = None, hint: str | None = None,
            stream: IO[str] | io.TextIOBase | None = None) -> proc.ToolResult:
        """Run; with ``check`` a non-zero exit raises :class:`NotFound` (the object is not
        there) or :class:`proc.ToolError`."""
        result = proc.run(self.c, self.argv(*args), stdin=stdin, check=False,
                          timeout=self.timeout if timeout is None else timeout, stream=stream,
                          hint=hint)
        return _check(result, hint) if check else result

    def start(self, *args: str, timeout: float) -> proc.Background:
        return proc.start(self.argv(*args), timeout=timeout)

    def command(self, *args: str) -> str:
        """The command line a hint prints for the user to copy: the argv this client would
        run (so it carries the run's context), shell-quoted. Every printed kubectl / helm
        command is rendered here, never by an f-string of its own."""
        return shlex.join(self.argv(*args))


# -- kubectl --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kubectl(_Client):
    tool = "kubectl"

    def scope(self) -> list[str]:
        return ["--context", self.context]

    def items(self, kinds: str, selector: str, *, check: bool = True,
              hint: str | None = None) -> list[dict[str, Any]]:
        """``kubectl get KINDS -n NS -l SELECTOR -o json`` → its items."""
        result = self.run("get", kinds, "-n", self.namespace, "-l", selector, "-o", "json",
                          check=check, hint=hint)
        return parse_items(result.stdout) if result.ok else []

    def events(self) -> list[dict[str, Any]]:
        result = self.run("get", "events", "-n", self.namespace, "--field-selector",
                          "involvedObject.kind=Pod", "-o", "json", check=False)
        return parse_items(result.stdout) if result.ok else []

    def jsonpath(self, kind: str, name: str, path: str, *, check: bool = True,
                 hint: str | None = None) -> str:
        """One field of one object; :class:`NotFound` when the object does not exist."""
        return self.run("get", kind, name, "-n", self.namespace, "-o", f"jsonpath={path}",
                        check=check, hint=hint).stdout

    def logs_argv(self, *, pod: str | None = None, selector: str | None = None,
                  container: str | None = None, tail: int = 100, previous: bool = False,
                  follow: bool = False) -> list[str]:
        """``kubectl logs`` of one pod (``pod``, ``container``, ``previous``) or of every pod
        of a ``selector`` (all containers, prefixed): the one builder of both."""
        if pod is not None:
            args = ["logs", pod, "-n", self.namespace]
            args += ["-c", container] if container else []
            args += [f"--tail={tail}"] + (["--previous"] if previous else [])
        else:
            args = ["logs", "-n", self.namespace, "-l", str(selector), "--all-containers",
                    "--prefix", f"--tail={tail}", "--max-log-requests=10"]
        return self.argv(*args, *(["-f"] if follow else []))

    def raw(self, path: str) -> proc.ToolResult:
        return self.run("get", "--raw", path, check=False)

    def node_runtimes(self) -> list[NodeRuntime]:
        """The container runtime of each node (``kubectl get nodes -o json``)."""
        result = self.run("get", "nodes", "-o", "json",
                          hint="inv doctor   # is the cluster up and kubectl pointed at it?")
        return parse_node_runtimes(result.stdout)


@dataclass(frozen=True)
class NodeRuntime:
    """One node's container runtime, from ``status.nodeInfo.containerRuntimeVersion``
    (``containerd://1.7.18``, ``cri-o://1.30.4``, ``docker://27.1.1``)."""

    node: str
    name: str  # containerd | cri-o | docker | ...
    version: str

    def describe(self) -> str:
        return f"{self.name} {self.version}".strip()


def parse_node_runtimes(stdout: str) -> list[NodeRuntime]:
    """``kubectl get nodes -o json`` → each node's runtime (pure)."""
    found = []
    for node in parse_items(stdout):
        info = (node.get("status") or {}).get("nodeInfo") or {}
        name, _, version = str(info.get("containerRuntimeVersion", "")).partition("://")
        found.append(NodeRuntime(str((node.get("metadata") or {}).get("name", "?")),
                                 name or "unknown", version))
    return found


def parse_objects(stdout: str) -> list[dict[str, Any]]:
    """kubectl's ``-o json`` of several objects (a List: its items) or of one (the object
    itself); empty on anything else."""
    try:
        data = json.loads(stdout or "{}")
    except json.JSONDecodeError:
        return []
    if isinstance(data, dict) and data.get("kind") == "List":
        return list(data.get("items") or [])
    return [data] if isinstance(data, dict) and data.get("kind") else []


def parse_items(stdout: str) -> list[dict[str, Any]]:
    """``items`` of a kubectl ``-o json`` List (empty on anything else)."""
    try:
        data = json.loads(stdout or "{}")
    except json.JSONDecodeError:
        return []
    return list(data.get("items") or []) if isinstance(data, dict) else []


# -- helm -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    """One row of ``helm history -o json``."""

    number: int
    status: str
    description: str = ""


@dataclass(frozen=True)
class Release:
    """What ``inv deploy`` leaves behind (``revision`` 0 for a dry run)."""

    name: str
    namespace: str
    revision: int
    status: str = "deployed"


@dataclass(frozen=True)
class ReleaseInfo:
    name: str
    namespace: str
    revision: int
    status: str
    chart: str
    updated: str


@dataclass(frozen=True)
class Helm(_Client):
    tool = "helm"

    def scope(self) -> list[str]:
        return ["--kube-context", self.context]

    def history(self, release: str) -> list[Revision]:
        """The release's revisions, oldest first ([] when it does not exist)."""
        result = self.run(*history_args(release, self.namespace), check=False)
        return parse_history(result.stdout) if result.ok else []

    def release_info(self, release: str) -> ReleaseInfo | None:
        result = self.run(*release_list_args(release, self.namespace), hint="inv doctor")
        return parse_release_list(result.stdout, release)

    def uninstall(self, release: str, timeout: float) -> bool:
        """``helm uninstall --wait``; False when the release was not installed."""
        try:
            self.run("uninstall", release, "-n", self.namespace, "--wait", timeout=timeout,
                     hint="inv status")
        except NotFound:
            return False
        return True

    def manifest(self, release: str) -> str | None:
        result = self.run("get", "manifest", release, "--namespace", self.namespace,
                          check=False)
        return result.stdout if result.ok else None


def history_args(release: str, namespace: str) -> list[str]:
    return ["history", release, "--namespace", namespace, "--max", "20", "--output", "json"]


def release_list_args(release: str, namespace: str) -> list[str]:
    """``helm list`` of the one release in any state but superseded (Helm 4 has no ``--all``;
    these status filters mean the same on both majors)."""
    return ["list", "-n", namespace, "--filter", f"^{release}$", "--deployed", "--failed",
            "--pending", "--uninstalling", "-o", "json"]


def parse_history(stdout: str) -> list[Revision]:
    """``helm history -o json`` → revisions, oldest first (empty on anything else)."""
    try:
        data = json.loads(stdout or "[]")
    except json.JSONDecodeError:
        return []
    rows = [Revision(int(row.get("revision", 0)), str(row.get("status", "")),
                     str(row.get("description", "")))
            for row in data if isinstance(row, dict)] if isinstance(data, list) else []
    return sorted(rows, key=lambda r: r.number)


def parse_release(stdout: str, fallback: Release) -> tuple[Release, str]:
    """``helm upgrade -o json`` → (Release, NOTES text)."""
    try:
        data: Any = json.loads(stdout or "{}")
    except json.JSONDecodeError:
        return fallback, ""
    if not isinstance(data, dict):
        return fallback, ""
    info = data.get("info") or {}
    release = Release(name=str(data.get("name") or fallback.name),
                      namespace=str(data.get("namespace") or fallback.namespace),
                      revision=int(data.get("version") or fallback.revision),
                      status=str(info.get("status") or fallback.status))
    return release, str(info.get("notes") or "")


def parse_release_list(stdout: str, release: str) -> ReleaseInfo | None:
    """``helm list ... -o json`` → the release (None: not installed). ``helm list`` is the one
    command whose JSON names the chart on both majors."""
    rows = json.loads(stdout or "[]")
    row = next((r for r in rows if isinstance(r, dict) and r.get("name") == release), None)
    if row is None:
        return None
    updated = str(row.get("updated", ""))
    return ReleaseInfo(name=str(row["name"]), namespace=str(row.get("namespace", "")),
                       revision=int(row.get("revision", 0)), status=str(row.get("status", "?")),
                       chart=str(row.get("chart", "?")),
                       # "2026-11-29 10:14:43.542592781 +0000 UTC": to the second
                       updated=updated.split(".")[0] + (" UTC" if updated.endswith("UTC")
                                                        else ""))


# -- minikube -------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Minikube:
    """``minikube -p PROFILE ...``: the profile is minikube's name for the cluster (its
    kube-context has the same name), so no ``--context`` here."""

    c: Context
    profile: str
    timeout: float

    def argv(self, *args: str) -> list[str]:
        return ["minikube", "-p", self.profile, *args]

    def run(self, *args: str, check: bool = True, timeout: float | None = None,
            hint: str | None = None) -> proc.ToolResult:
        return proc.run(self.c, self.argv(*args), check=check, hint=hint,
                        timeout=self.timeout if timeout is None else timeout)

    def status(self) -> ClusterStatus:
        result = self.run("status", "-o", "json", check=False)
        return parse_status(result.stdout, result.code, self.profile)

    def profile_info(self) -> ProfileInfo | None:
        result = proc.run(self.c, ["minikube", "profile", "list", "-o", "json"], check=False,
                          timeout=self.timeout)
        return parse_profile_list(result.stdout, self.profile)

    def images(self) -> set[str]:
        return parse_image_list(self.run("image", "ls").stdout)


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
        )
    return None


def parse_docker_env(text: str) -> dict[str, str]:
    """``minikube docker-env`` output (``--shell none`` or bash) → environment dict.

    Uses python-dotenv's parser (it knows ``export``, quotes and comments). Keeps only the
    Docker variables, and drops ``DOCKER_TLS_VERIFY`` when it is off: docker-py treats any
    value, even ``0``, as "TLS on".
    """
    from dotenv import dotenv_values  # here: `inv --list` imports tools, not python-dotenv

    values = dotenv_values(stream=io.StringIO(text))
    env = {k: v for k, v in values.items() if k in DOCKER_ENV_KEYS and v is not None}
    if env.get("DOCKER_TLS_VERIFY", "").strip().lower() in ("", "0", "false", "no"):
        env.pop("DOCKER_TLS_VERIFY", None)
    return env


# The registries a runtime writes before a short image name: Docker Hub's (containerd and
# docker list `docker.io/library/x`), and cri-o's (podman and cri-o store a locally built
# `todo-backend:tag` as `localhost/todo-backend:tag`, and pods report that name).
DEFAULT_REGISTRY_PREFIXES = ("docker.io/library/", "docker.io/", "localhost/")


def short_image_ref(ref: str) -> str:
    """An image name as the suite writes it (pure): ``localhost/todo-backend:abc`` and
    ``docker.io/library/todo-backend:abc`` → ``todo-backend:abc``, so a name a runtime lists
    compares equal to the one the suite built."""
    ref = ref.strip()
    for prefix in DEFAULT_REGISTRY_PREFIXES:
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def parse_image_list(text: str) -> set[str]:
    """``minikube image ls`` (short format) → ``repository:tag`` set, the default registry
    prefixes (``docker.io/library/``, ``docker.io/``, cri-o's ``localhost/``) removed."""
    return {short_image_ref(line) for line in text.splitlines() if line.strip()}


# -- kind ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """``kind`` (kind.sigs.k8s.io): the cluster's name is configured (todo.kind.cluster); its
    kube-context is ``kind-NAME``. Commands as kind's docs give them: ``kind get clusters``,
    ``kind load docker-image IMAGE... --name NAME``."""

    c: Context
    cluster: str
    timeout: float

    def run(self, *args: str, check: bool = True, timeout: float | None = None,
            hint: str | None = None) -> proc.ToolResult:
        return proc.run(self.c, ["kind", *args], check=check, hint=hint,
                        timeout=self.timeout if timeout is None else timeout)

    def clusters(self) -> list[str]:
        return [line.strip() for line in self.run("get", "clusters").stdout.splitlines()
                if line.strip() and not line.startswith("No kind clusters")]

    def load(self, refs: Sequence[str]) -> None:
        """Copy images from the host's Docker into every node's containerd."""
        self.run("load", "docker-image", *refs, "--name", self.cluster,
                 timeout=max(self.timeout, 900),
                 hint=f"kind get clusters   # is {self.cluster!r} there? "
                      f"(kind create cluster --name {self.cluster})")


# -- the session's clients -------------------------------------------------------------------


@dataclass(frozen=True)
class Tools:
    """The clients of one session, all bound to ``context``."""

    context: str
    explicit: bool  # named by --context or todo.context (not kubectl's current context)
    kubectl: Kubectl
    helm: Helm
    profile: str  # the minikube profile (a local context of that name)

    @property
    def local(self) -> bool:
        return is_local_context(self.context, self.profile)


def current_context(c: Context, timeout: float) -> str:
    """kubectl's current context ("" when unset): the one call without ``--context``."""
    out = proc.run(c, ["kubectl", "config", "current-context"], check=False, timeout=timeout)
    return out.stdout.strip() if out.ok else ""


def resolve_context(named: str, current: str, *, target: str, profile: str) -> str:
    """The run's context (pure): named (flag/config) > current > the minikube profile."""
    if named:
        return named
    if current:
        return current
    if target == "minikube":
        return profile  # `minikube start` creates the context named after the profile
    raise ConfigError("no kube-context: kubectl has no current context and none was named",
                      "inv up --context NAME   (or set todo.context in invoke.yaml)")


def require_safe(tools: Tools, action: str) -> None:
    """Refuse (exit 2, before anything is applied) to change a non-local cluster whose context
    nobody named: it is only the current context by chance (another terminal, kubectx)."""
    if tools.explicit or tools.local:
        return
    raise ConfigError(
        f"refusing to {action} in kube-context {tools.context!r}: it is not a local cluster "
        "(minikube, kind, docker-desktop, ...) and it was not named explicitly, only current "
        "(kubectl's current context can change under a running deploy); nothing was applied",
        f"--context {tools.context}   (or todo.context: {tools.context} in invoke.yaml) if "
        "that cluster is really meant")
