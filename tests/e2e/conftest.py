"""The end-to-end tier: the suite against a live Kubernetes, from a fresh copy of this repo.

Where (``TODO_E2E``):
- ``local``: the local cluster of tests/e2e/localcluster (real Kubernetes 1.34 processes on
  this machine's dockerd; root). ``.ci/run`` sets this. The ``minikube`` on PATH is the
  stand-in in localcluster/shim, whose every answer is read from that cluster.
- ``minikube``: a throwaway minikube profile (``todo-e2e``, deleted afterwards), on a laptop.
- unset: the tier is skipped (it takes minutes); in CI (``TODO_CI_STRICT=1``) it fails.

The app under test is a copy of this work tree as a fresh clone would have it (tracked and
untracked-but-not-ignored files, no .env, no .todo-deploy), with ``.env`` copied from
``.env.example``: the zero-credential default, embedded PostgreSQL included.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, need, strict

E2E = os.environ.get("TODO_E2E", "")
MINIKUBE_PROFILE = "todo-e2e"
NAMESPACE = "todo"


@dataclass
class Cluster:
    kind: str  # "local" | "minikube"
    profile: str
    env: dict[str, str]  # what every tool call gets (PATH, KUBECONFIG, ...)

    def run(self, *argv: str, stdin: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                env=self.env, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}:\n"
                                 f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return result

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.run("kubectl", *args, "-o", "json").stdout)


@dataclass
class InvRun:
    argv: tuple[str, ...]
    code: int
    output: str  # stdout + stderr, as the user saw it
    seconds: float


@dataclass
class App:
    """The fresh copy, and every ``inv`` run made in it (their output is checked for secrets)."""

    path: Path
    cluster: Cluster
    env: dict[str, str]
    runs: list[InvRun] = field(default_factory=list)

    def inv(self, *args: str, check: bool = True, timeout: float = 900) -> InvRun:
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=self.path,
                                env=self.env, capture_output=True, text=True, timeout=timeout)
        run = InvRun(tuple(args), result.returncode, result.stdout + result.stderr,
                     time.monotonic() - started)
        self.runs.append(run)
        if check and run.code != 0:
            raise AssertionError(f"inv {' '.join(args)} exited {run.code}:\n{run.output[-6000:]}")
        return run

    def env_values(self) -> dict[str, str]:
        from dotenv import dotenv_values

        return {k: v for k, v in dotenv_values(self.path / ".env").items() if v}


def _local_cluster() -> Iterator[Cluster]:
    from tests.e2e.localcluster import cluster as local

    if os.geteuid() != 0:
        need("the local test cluster", "it runs kubelet and sets up networking: run as root")
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        need("the local test cluster", "dockerd is not reachable (scripts/ci/start-dockerd.sh)")
    layout = local.up()
    env = dict(os.environ)
    env["KUBECONFIG"] = str(layout.kubeconfig)
    env["PATH"] = os.pathsep.join([str(layout.shim_dir), str(layout.root / "bin"),
                                   *_helm_dirs(), env.get("PATH", "")])
    cluster = Cluster("local", local.NODE, env)
    # a kept cluster (TODO_E2E_KEEP=1) still has the last run's release: start from nothing
    cluster.run("kubectl", "delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait",
                "--timeout=180s", timeout=240)
    yield cluster
    if os.environ.get("TODO_E2E_KEEP") != "1":
        local.down()


def _helm_dirs() -> list[str]:
    """The real helm the run uses: TODO_E2E_HELM (3 or 4; default 4), as scripts/test.sh
    provisions it. Only helm is taken from that folder (it also holds an older kubectl)."""
    major = os.environ.get("TODO_E2E_HELM", "4")
    helm = Path(os.environ.get(f"TODO_HELM{major}_BIN")
                or ROOT / ".cache" / "tools" / f"helm{major}" / "helm")
    if not helm.is_file():
        need(f"helm {major}", "run scripts/test.sh (it provisions helm into .cache/tools)")
    only = ROOT / ".cache" / "e2e-bin" / f"helm{major}"
    only.mkdir(parents=True, exist_ok=True)
    link = only / "helm"
    link.unlink(missing_ok=True)
    link.symlink_to(helm.resolve())
    return [str(only)]


def _minikube_profile() -> Iterator[Cluster]:
    if shutil.which("minikube") is None:
        need("minikube", "TODO_E2E=minikube needs minikube on PATH")
    env = dict(os.environ)
    subprocess.run(["minikube", "start", "-p", MINIKUBE_PROFILE, "--cpus=2", "--memory=4096"],
                   check=True, env=env)
    yield Cluster("minikube", MINIKUBE_PROFILE, env)
    if os.environ.get("TODO_E2E_KEEP") != "1":
        subprocess.run(["minikube", "delete", "-p", MINIKUBE_PROFILE], check=False, env=env)


@pytest.fixture(scope="session")
def live() -> Iterator[Cluster]:
    if E2E == "local":
        yield from _local_cluster()
    elif E2E == "minikube":
        yield from _minikube_profile()
    elif strict():
        pytest.fail("TODO_E2E is not set: CI runs the end-to-end tier (TODO_E2E=local)",
                    pytrace=False)
    else:
        pytest.skip("end-to-end tier: set TODO_E2E=local (root, this machine) or "
                    "TODO_E2E=minikube (a throwaway minikube profile)")


def fresh_copy(dest: Path) -> Path:
    """The work tree as a fresh clone has it (plus uncommitted edits, minus ignored files)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    shutil.copy2(dest / ".env.example", dest / ".env")
    return dest


def runtime_config(live: Cluster, directory: Path) -> Path:
    """invoke runtime config (INVOKE_RUNTIME_CONFIG): stand-in base images where CI has no
    registry, and the stand-in PostgreSQL image for the embedded database."""
    todo: dict[str, Any] = {"minikube": {"profile": live.profile}}
    args = {"backend": os.environ.get("TODO_PYTHON_BASE"),
            "frontend": os.environ.get("TODO_NODE_BASE")}
    if any(args.values()):
        todo["build"] = {"network": os.environ.get("INVOKE_TODO_BUILD_NETWORK", ""),
                         "args": {k: {"BASE_IMAGE": v} for k, v in args.items() if v}}
    postgres = os.environ.get("TODO_POSTGRES_IMAGE")
    if postgres:
        repository, tag = postgres.rsplit(":", 1)
        values = directory / "e2e-values.yaml"
        values.write_text(yaml.safe_dump({"postgresql": {"image": {
            "repository": repository, "tag": tag, "pullPolicy": "Never"}}}))
        todo["values_file"] = str(values)
    path = directory / "e2e-invoke.yaml"
    path.write_text(yaml.safe_dump({"todo": todo}))
    return path


@pytest.fixture(scope="session")
def app(live: Cluster, tmp_path_factory: pytest.TempPathFactory) -> App:
    path = fresh_copy(tmp_path_factory.mktemp("fresh-clone"))
    env = dict(live.env)
    env["PYTHONPATH"] = str(path)  # the copy's todo_deploy, not the editable install's
    env["INVOKE_RUNTIME_CONFIG"] = str(runtime_config(live, tmp_path_factory.mktemp("cfg")))
    env["NO_COLOR"] = "1"
    env["CI"] = "true"
    for key in [k for k in env if k.startswith("INVOKE_TODO_")]:
        del env[key]  # the runtime config says everything the run needs
    return App(path, live, env)


class ArgvSampler:
    """Reads every process's argv from /proc while the tier runs (Linux), to prove no secret
    value is ever passed as a command-line argument."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for proc in Path("/proc").iterdir():
                if proc.name.isdigit():
                    try:
                        argv = (proc / "cmdline").read_bytes()
                    except OSError:
                        continue
                    if argv:
                        self.seen.add(argv.replace(b"\0", b" ").decode(errors="replace"))
            self._stop.wait(self.interval)

    def __enter__(self) -> ArgvSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="session")
def argv_sampler(app: App) -> Iterator[ArgvSampler]:
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("no /proc: cannot sample process arguments")
    with ArgvSampler() as sampler:
        yield sampler
