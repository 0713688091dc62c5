"""`inv doctor` and the prerequisite checks every task runs first.

Each check is a function returning a :class:`CheckResult` whose hint is the exact fix for
Linux and for macOS. ``require(s, ...)`` runs the same checks for one task and stops with
the same hint, so a missing tool reads the same everywhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import chart, cluster, envfile, keptfile, proc
from .config import KEYS
from .console import CheckResult
from .errors import ConfigError, PrereqError, SuiteError
from .session import Session, run_memo

# What the cluster itself reserves on a single minikube node (kube-system requests:
# apiserver 250m, controller-manager 200m, scheduler 100m, etcd 100m + 100Mi,
# coredns 100m + 70Mi), on top of what the chart requests.
SYSTEM_CPU_MILLI = 750
SYSTEM_MEMORY_MIB = 170

def install_fixes(machine: str, root: bool) -> dict[str, tuple[str, str]]:
    """(Linux, macOS) install command per tool, for this CPU and user (pure): the arm64
    binaries on arm64 (Linux; Homebrew picks Apple silicon's itself), and no ``sudo`` for
    root, who has none on many machines."""
    arch = "arm64" if machine.lower() in ("arm64", "aarch64") else "amd64"
    sudo = "" if root else "sudo "
    return {
        "docker-sdk": ("scripts/onboard.sh   # or: .venv/bin/pip install -e .",
                       "scripts/onboard.sh   # or: .venv/bin/pip install -e ."),
        "minikube": (
            "curl -LO https://storage.googleapis.com/minikube/releases/latest/"
            f"minikube-linux-{arch} && {sudo}install minikube-linux-{arch} "
            "/usr/local/bin/minikube",
            "brew install minikube"),
        "kubectl": (
            'curl -LO "https://dl.k8s.io/release/$(curl -Ls https://dl.k8s.io/release/stable.txt)'
            f'/bin/linux/{arch}/kubectl" && {sudo}install kubectl /usr/local/bin/kubectl',
            "brew install kubectl"),
        "helm": ("curl -fsSL https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-3"
                 " | bash",
                 "brew install helm"),
        # kind's quick start: https://kind.sigs.k8s.io/docs/user/quick-start/#installation
        "kind": (f"curl -Lo ./kind https://kind.sigs.k8s.io/dl/v0.29.0/kind-linux-{arch} && "
                 f"chmod +x ./kind && {sudo}mv ./kind /usr/local/bin/kind",
                 "brew install kind"),
    }


def fix(linux: str, macos: str | None = None) -> str:
    """A hint with the Linux and macOS commands (one line when they are the same)."""
    if macos is None or macos == linux:
        return linux
    return f"Linux: {linux}\nmacOS: {macos}"


def tool_fix(tool: str) -> str:
    """The install command for ``tool`` on this machine."""
    return fix(*install_fixes(platform.machine(), os.geteuid() == 0)[tool])


@dataclass(frozen=True)
class HelmVersion:
    version: str  # e.g. v3.17.3

    @property
    def major(self) -> int:
        match = re.match(r"v?(\d+)", self.version)
        return int(match.group(1)) if match else 0


def parse_helm_version(text: str) -> HelmVersion:
    return HelmVersion(text.strip().splitlines()[0].strip() if text.strip() else "")


# -- checks -----------------------------------------------------------------------------------

Check = Callable[[Session], CheckResult]


def _timed(name: str, fn: Callable[[], tuple[bool, str, str | None]],
           required: bool = True) -> CheckResult:
    started = time.monotonic()
    try:
        ok, detail, hint = fn()
    except proc.ToolMissing as exc:
        ok, detail, hint = False, f"{exc.tool} not found on PATH", tool_fix(exc.tool)
    except SuiteError as exc:
        ok, detail, hint = False, exc.message, exc.hint
    return CheckResult(name, ok, time.monotonic() - started, detail, None if ok else hint,
                       required)


def check_docker_sdk(s: Session) -> CheckResult:
    def run() -> tuple[bool, str, str | None]:
        if importlib.util.find_spec("docker") is None:
            return False, "python package `docker` is not installed", tool_fix("docker-sdk")
        import docker

        return True, f"docker SDK {docker.__version__}", None

    return _timed("docker SDK", run)


def versions_cache() -> Path:
    """Where tool versions are kept between runs: a fact of this machine, not of the project
    (``$XDG_CACHE_HOME/todo-deploy``, else ``~/.cache/todo-deploy``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "todo-deploy" / "tool-versions.json"


def binary_identity(path: str) -> list[int | str]:
    """What changes when a binary is replaced (pure but for one ``stat``): path, size, mtime."""
    st = os.stat(path)
    return [os.path.realpath(path), st.st_size, st.st_mtime_ns]


def version_output(s: Session, argv: Sequence[str]) -> str:
    """stdout of a version query (``helm version``, ``kubectl version --client``, ...): the
    same binary gives the same answer, so it is asked once per binary and kept in
    :func:`versions_cache` keyed by the binary's path, size and mtime (an upgrade asks again);
    within a run it is asked at most once either way."""
    def ask() -> str:
        found = shutil.which(argv[0])
        if found is None:  # proc.run raises ToolMissing with the install hint
            return proc.run(s.c, list(argv), timeout=s.settings.tool_timeout).stdout
        cache = versions_cache()
        known = keptfile.load(cache)
        key, identity = " ".join(argv), binary_identity(found)
        entry = known.get(key)
        if isinstance(entry, dict) and entry.get("binary") == identity and \
                isinstance(entry.get("stdout"), str):  # else damaged: asked again
            return str(entry["stdout"])
        stdout = proc.run(s.c, list(argv), timeout=s.settings.tool_timeout).stdout
        known[key] = {"binary": identity, "stdout": stdout}
        keptfile.save(cache, known)  # read-only: asked again next run, nothing else changes
        return stdout

    return s.remember(("version", *argv), ask)


def check_minikube(s: Session) -> CheckResult:
    def run() -> tuple[bool, str, str | None]:
        out = version_output(s, ["minikube", "version", "--short"])
        return True, f"minikube {out.strip()}", None

    return _timed("minikube installed", run)


def check_cluster(s: Session, *, required: bool = False) -> CheckResult:
    """The cluster of the run's context answers: for the minikube target, the profile runs and
    the context is the profile's; for the others, the API server of the context is ready."""
    if s.settings.target != "minikube":
        return check_context(s, required=required)

    def run() -> tuple[bool, str, str | None]:
        st = s.minikube.status()
        if not st.running:
            return False, st.describe(), fix(_start_command(s))
        context = s.tools.context
        if context != s.settings.profile:
            return False, (f"minikube is running but the kube-context is "
                           f"{context or 'unset'!r}, not {s.settings.profile!r}"), fix(
                f"inv up --context {s.settings.profile}   (or: kubectl config use-context "
                f"{s.settings.profile})")
        return True, f"{st.describe()}; kube-context {context}", None

    return _timed(f"minikube {s.settings.profile} running", run, required)


def check_context(s: Session, *, required: bool = True) -> CheckResult:
    """The API server of the run's kube-context is ready (``/readyz``)."""
    def run() -> tuple[bool, str, str | None]:
        context = s.tools.context
        result = s.tools.kubectl.raw("/readyz")
        if not result.ok:
            return False, (f"the API server of context {context!r} does not answer: "
                           f"{proc.tail(result.stderr, 1) or f'exit {result.code}'}"), fix(
                f"{s.tools.kubectl.command('cluster-info')}   # or name another: "
                "--context NAME")
        kind = "local" if s.tools.local else "remote, named explicitly"
        return True, f"context {context} ({kind}): API server ready", None

    return _timed(f"cluster of context {current_context(s) or '?'} reachable", run, required)


def _start_command(s: Session) -> str:
    return (f"minikube -p {s.settings.profile} start --cpus {s.settings.cpus} "
            f"--memory {s.settings.memory}   (or: inv up, which starts it)")


def current_context(s: Session) -> str:
    """The run's kube-context (resolved once per run: --context, todo.context, or kubectl's
    current one); "" when none can be resolved."""
    try:
        return s.tools.context
    except SuiteError:
        return ""


def check_kubectl(s: Session) -> CheckResult:
    def run() -> tuple[bool, str, str | None]:
        out = version_output(s, ["kubectl", "version", "--client", "-o", "json"])
        version = (yaml.safe_load(out) or {}).get("clientVersion", {}).get(
            "gitVersion", "?")
        return True, f"kubectl {version}, context {current_context(s) or 'unset'}", None

    return _timed("kubectl installed", run)


def helm_version(s: Session) -> HelmVersion:
    """Helm's version (asked once per helm binary, see :func:`version_output`)."""
    return parse_helm_version(version_output(s, ["helm", "version", "--template",
                                                 "{{.Version}}"]))


def check_helm(s: Session) -> CheckResult:
    def run() -> tuple[bool, str, str | None]:
        version = helm_version(s)
        if version.major not in (3, 4):
            return False, f"helm {version.version or '?'} (need 3 or 4)", tool_fix("helm")
        return True, f"helm {version.version} (Helm {version.major})", None

    return _timed("helm 3 or 4", run)


def host_capacity() -> tuple[int, int]:
    """This host's CPUs and memory (MiB): what a container without limits may use."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        memory = 0
    return os.cpu_count() or 0, int(memory)


def profile_capacity(cpus: int, memory_mib: int, host_cpus: int,
                     host_memory_mib: int) -> tuple[int, int, str]:
    """(CPU in millicores, memory in MiB, words) a minikube profile gives its node (pure).

    ``minikube start --cpus=no-limit`` / ``--memory=no-limit`` (docker and podman drivers)
    store 0: the node container gets no limit, so it has what its engine has, this host's
    (Docker Desktop's and colima's VM on macOS, which the host's figures overstate)."""
    cpu_words = f"{cpus} CPU" if cpus else f"no CPU limit (this host: {host_cpus} CPU)"
    mem_words = (f"{memory_mib}Mi" if memory_mib else
                 f"no memory limit (this host: {host_memory_mib}Mi)")
    return ((cpus or host_cpus) * 1000, memory_mib or host_memory_mib,
            f"{cpu_words} / {mem_words}")


def check_resources(s: Session) -> CheckResult:
    def run() -> tuple[bool, str, str | None]:
        if not (s.settings.chart / "values.yaml").is_file():
            raise ConfigError(f"chart not found: {s.settings.chart}",
                              "inv config  # check todo.chart")
        cpu, mem = chart.chart_requests(s, embedded_db=_embedded_db_likely(s))
        need_cpu, need_mem = cpu + SYSTEM_CPU_MILLI, mem + SYSTEM_MEMORY_MIB
        info = cluster.profile(s)
        want = f"chart requests {cpu}m CPU / {mem}Mi (+ system: {need_cpu}m / {need_mem}Mi)"
        if info is None:
            have_cpu, have_mem = s.settings.cpus * 1000, s.settings.memory
            ok = have_cpu >= need_cpu and have_mem >= need_mem
            return ok, f"no profile yet; `inv up` will start it with {s.settings.cpus} CPU / " \
                f"{s.settings.memory}Mi; {want}", None if ok else fix(
                    "raise todo.minikube.cpus / memory in invoke.yaml")
        have_cpu, have_mem, has = profile_capacity(info.cpus, info.memory_mib, *host_capacity())
        ok = have_cpu >= need_cpu and have_mem >= need_mem
        detail = f"minikube has {has}; {want}"
        return ok, detail, None if ok else fix(
            f"minikube -p {s.settings.profile} delete && minikube -p {s.settings.profile} "
            f"start --cpus {max(2, -(-need_cpu // 1000))} --memory {max(4096, need_mem)}")

    return _timed("cluster fits the chart", run, required=True)


def _embedded_db_likely(s: Session) -> bool:
    try:
        env = envfile.parse_env(envfile.read_env_text(s.settings.env_file), s.settings.env_file)
    except SuiteError:
        return True
    return not env.value(envfile.DATABASE_URL).strip()


def check_docker_engine(s: Session, *, required: bool = True) -> CheckResult:
    """The Docker engine the build will use answers (issue 11 #10): minikube's (through its
    docker-env) for the minikube target, else the host's. The SDK alone is not enough."""
    on_host = s.settings.builds_on_host
    name = "Docker engine (host)" if on_host else f"Docker engine (minikube {s.settings.profile})"

    def run() -> tuple[bool, str, str | None]:
        from .images.daemon import docker_client
        from .images.minikube import NON_DOCKER_RUNTIMES

        try:
            endpoint = cluster.docker_env(s)
        except PrereqError:
            info = cluster.profile(s)
            if info is not None and info.runtime.lower() in NON_DOCKER_RUNTIMES:
                return True, (f"minikube runs {info.runtime}: no Docker engine there; images "
                              "are built with `minikube image build`"), None
            raise
        try:
            client = docker_client(endpoint, min(s.settings.tool_timeout, 10))
            try:
                version = client.version().get("Version", "?")
            finally:
                client.close()
        except Exception as exc:  # docker-py raises several types for "not reachable"
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            hint = ("start Docker on this machine (Linux: systemctl start docker; macOS: open "
                    "Docker Desktop)" if on_host else
                    f"minikube -p {s.settings.profile} start   (or: inv build --target host)")
            return False, f"no Docker engine answers at {endpoint.host}: {reason}", hint
        return True, f"Docker {version} at {endpoint.host}", None

    return _timed(name, run, required)


def check_kind(s: Session) -> CheckResult:
    """kind is installed and the configured cluster exists (its context is kind-NAME)."""
    name = s.settings.kind_cluster

    def run() -> tuple[bool, str, str | None]:
        clusters = s.kind.clusters()
        if name not in clusters:
            return False, (f"no kind cluster {name!r} (found: {', '.join(clusters) or 'none'})"
                           ), f"kind create cluster --name {name}   (or set todo.kind.cluster)"
        return True, f"kind cluster {name} (context kind-{name})", None

    return _timed(f"kind cluster {name}", run)


def check_registry(s: Session) -> CheckResult:
    """The registry answers its API (``/v2/``) and, when it wants a login, the docker config
    has credentials for it (their value is never read here)."""
    from .images.registry import registry_of

    host = registry_of(s.settings.registry)

    def run() -> tuple[bool, str, str | None]:
        code, reason = registry_ping(host, s.settings.tool_timeout)
        if code == 200:
            return True, f"registry {host} answers (no login needed)", None
        if code == 401:
            if docker_config_has_credentials(host):
                return (True, f"registry {host} answers; the docker config has a login for it",
                        None)
            return (False, f"registry {host} wants a login and the docker config has none",
                    f"docker login {host}")
        return False, f"registry {host} does not answer: {reason}", (
            f"check todo.registry.url ({s.settings.registry}); curl -v "
            f"{registry_url(host)}/v2/")

    return _timed(f"registry {host}", run)


def registry_url(host: str) -> str:
    """Loopback registries speak plain HTTP (Docker's default insecure range), others HTTPS."""
    if host.startswith("["):  # an IPv6 address, with or without a port: [::1]:5000
        name = host[1:].split("]", 1)[0]
    else:  # host:port, host, or a bare IPv6 address (::1)
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    loopback = name in ("localhost", "::1") or name.startswith("127.")
    return f"{'http' if loopback else 'https'}://{host}"


def registry_ping(host: str, timeout: float) -> tuple[int, str]:
    """(HTTP status of ``GET /v2/``, reason); status 0 when nothing answered."""
    import http.client
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{registry_url(host)}/v2/", timeout=min(timeout, 10)) as r:
            return int(r.status), "ok"
    except urllib.error.HTTPError as exc:
        return int(exc.code), str(exc.reason)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # HTTPException: not HTTP at that port (BadStatusLine), or no valid URL (InvalidURL:
        # a port that is not a number)
        return 0, str(exc)


def docker_config_has_credentials(host: str, config_dir: str | None = None) -> bool:
    """Whether ``~/.docker/config.json`` (or ``$DOCKER_CONFIG``) names credentials for
    ``host`` (an ``auths`` entry, a credHelper, or a credsStore); values are not read."""

    folder = Path(config_dir or os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    auths = data.get("auths") or {}
    keys = {k.removeprefix("https://").removeprefix("http://").split("/", 1)[0] for k in auths}
    return host in keys or host in (data.get("credHelpers") or {}) or bool(data.get("credsStore"))


ENV_CHECK = ".env present and valid"


def check_env(s: Session) -> CheckResult:
    def run() -> tuple[bool, str, str | None]:
        env = envfile.load(s.settings)
        keys = sorted(k for k in env.entries if k in envfile.KNOWN_KEYS)
        extra = f"; {len(env.warnings)} warning(s): inv secrets --dry-run" if env.warnings else ""
        return True, f"{s.settings.env_file.name}: {', '.join(keys)}{extra}", None

    result = _timed(ENV_CHECK, run)
    if not result.ok and result.hint and "fix the lines" in result.hint:
        return CheckResult(result.name, False, result.seconds, result.detail,
                           "inv secrets --dry-run   # lists each problem with its line")
    return result


CHECKS: dict[str, Check] = {
    "docker-sdk": check_docker_sdk,
    "minikube": check_minikube,
    "kubectl": check_kubectl,
    "helm": check_helm,
    "cluster": lambda s: check_cluster(s, required=True),
    "env": check_env,
    "docker-engine": check_docker_engine,
    "kind": check_kind,
    "registry": check_registry,
}


def all_checks(s: Session) -> list[CheckResult]:
    """Every check, in doctor's order; the ones that pass count for the rest of the run."""
    named: list[tuple[str | None, CheckResult]] = [("docker-sdk", check_docker_sdk(s))]
    target = s.settings.target
    if target == "minikube":
        named.append(("minikube", check_minikube(s)))
        if named[-1][1].ok:
            named.append(("cluster", check_cluster(s, required=False)))
            named.append((None, check_resources(s)))
            if named[-2][1].ok or s.settings.builds_on_host:  # minikube's engine needs it up
                named.append(("docker-engine", check_docker_engine(s)))
        elif s.settings.builds_on_host:
            named.append(("docker-engine", check_docker_engine(s)))
    else:
        named.append(("cluster", check_cluster(s, required=True)))
        named.append(("docker-engine", check_docker_engine(s)))
    if target == "kind":
        named.append(("kind", check_kind(s)))
    if target == "registry":
        named.append(("registry", check_registry(s)))
    named += [("kubectl", check_kubectl(s)), ("helm", check_helm(s)), ("env", check_env(s))]
    passed = passed_checks(s)
    passed.update((need, s.settings.profile) for need, result in named
                  if need is not None and result.ok)
    return [result for _, result in named]


def run_doctor(s: Session) -> list[CheckResult]:
    with s.console.status("checking tools, cluster and .env"):
        results = all_checks(s)
    s.console.checks(f"inv doctor (target {s.settings.target}, context "
                     f"{current_context(s) or 'unset'})", results)
    s.console.summary(results, what="checks")
    failed = [r for r in results if not r.ok and r.required]
    if failed and all(r.name == ENV_CHECK for r in failed):
        raise ConfigError(f"{s.settings.env_file} is not valid (see the fix above)",
                          "inv secrets --dry-run   # lists each problem with its line")
    if failed:
        raise _DoctorFailed()
    return results


class _DoctorFailed(PrereqError):
    """The table already said everything: exit 3 without repeating it."""

    def __init__(self) -> None:
        super().__init__("doctor found missing prerequisites (see the fixes above)",
                         "run the fix commands above, then: inv doctor")


def passed_checks(s: Session) -> set[tuple[str, str]]:
    """(check, profile) pairs that passed in this invoke run: each prerequisite is checked
    once per run. Only passes are kept (a stage may fix a failure: `inv up` starts minikube)."""
    passed: set[tuple[str, str]] = run_memo(s.c).setdefault("passed", set())
    return passed


def require(s: Session, *needs: str) -> None:
    """Run the doctor checks a task needs; stop at the first failure with doctor's hint."""
    passed = passed_checks(s)
    for need in needs:
        key = (need, s.settings.profile)
        if key in passed:
            continue
        result = CHECKS[need](s)
        if not result.ok:
            raise PrereqError(f"{result.name}: {result.detail}",
                              result.hint or "inv doctor")
        passed.add(key)


def show_config(s: Session, *, as_json: bool = False) -> None:
    settings = s.settings
    if as_json:
        s.console.json(settings.as_dict())
        return
    rows: list[tuple[str, str, str]] = []
    for key in KEYS:
        value = getattr(settings, key.field)
        shown = ", ".join(value) if isinstance(value, tuple) else \
            "" if value is None else str(value)
        rows.append((key.path, shown, key.help))
    for component, image in settings.images.items():
        rows += [(f"images.{component}.name", image.name, "image repository"),
                 (f"images.{component}.context", str(image.context), "source directory"),
                 (f"images.{component}.dockerfile", str(image.dockerfile), "Dockerfile"),
                 (f"build.args.{component}", ", ".join(f"{k}={v}" for k, v in
                                                       image.build_args.items()),
                  "--build-arg per image (part of the image digest)")]
    s.console.table("resolved configuration: defaults < invoke.yaml < INVOKE_TODO_<SETTING> "
                    "(dots become _, e.g. INVOKE_TODO_BUILD_KEEP) < flags",
                    ("setting", "value", "what it is"), rows)
