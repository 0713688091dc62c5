"""What the end-to-end tier and bench/e2e.py share: the cluster and tool environment, a fresh
copy of the repo to run ``inv`` in, and a sampler of every process's argv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
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


def local_cluster_env(layout: Any, helm_major: str = "4") -> dict[str, str]:
    """The environment that points kubectl, helm, minikube (the stand-in) and inv at the local
    cluster of ``layout`` (tests.e2e.localcluster.cluster.Layout)."""
    env = dict(os.environ)
    env["KUBECONFIG"] = str(layout.kubeconfig)
    env["PATH"] = os.pathsep.join([str(layout.shim_dir), str(layout.root / "bin"),
                                   helm_dir(helm_major), env.get("PATH", "")])
    return env


def helm_dir(major: str) -> str:
    """A folder with only the real helm ``major`` that scripts/test.sh provisions (its own
    folder also holds an older kubectl)."""
    helm = Path(os.environ.get(f"TODO_HELM{major}_BIN")
                or ROOT / ".cache" / "tools" / f"helm{major}" / "helm")
    if not helm.is_file():
        raise FileNotFoundError(f"helm {major} not provisioned: run scripts/test.sh")
    only = ROOT / ".cache" / "e2e-bin" / f"helm{major}"
    only.mkdir(parents=True, exist_ok=True)
    link = only / "helm"
    link.unlink(missing_ok=True)
    link.symlink_to(helm.resolve())
    return str(only)


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
    (dest / ".env").chmod(0o600)  # as onboarding makes it (inv warns about a readable .env)
    return dest


def standin_config(directory: Path, network: str) -> dict[str, Any]:
    """The suite's ``todo`` config for what CI has no registry for: the stand-in base images
    (build args) and the stand-in PostgreSQL image for the embedded database (values in
    ``directory``), each from the environment .ci/run sets, when set."""
    todo: dict[str, Any] = {}
    args = {"backend": os.environ.get("TODO_PYTHON_BASE"),
            "frontend": os.environ.get("TODO_NODE_BASE")}
    if any(args.values()):
        todo["build"] = {"network": network,
                         "args": {k: {"BASE_IMAGE": v} for k, v in args.items() if v}}
    postgres = os.environ.get("TODO_POSTGRES_IMAGE")
    if postgres:
        repository, tag = postgres.rsplit(":", 1)
        values = directory / "e2e-values.yaml"
        values.write_text(yaml.safe_dump({"postgresql": {"image": {
            "repository": repository, "tag": tag, "pullPolicy": "Never"}}}))
        todo["values_file"] = str(values)
    return todo


def runtime_config(live: Cluster, directory: Path) -> Path:
    """invoke runtime config (INVOKE_RUNTIME_CONFIG): the cluster's profile and the stand-ins."""
    todo = {"minikube": {"profile": live.profile},
            **standin_config(directory, os.environ.get("INVOKE_TODO_BUILD_NETWORK", ""))}
    path = directory / "e2e-invoke.yaml"
    path.write_text(yaml.safe_dump({"todo": todo}))
    return path


def make_app(cluster: Cluster, workdir: Path) -> App:
    """A fresh copy in ``workdir``/fresh-clone and the environment ``inv`` runs with there."""
    path = workdir / "fresh-clone"
    path.mkdir(parents=True)
    fresh_copy(path)
    env = dict(cluster.env)
    env["PYTHONPATH"] = str(path)  # the copy's todo_deploy, not the editable install's
    env["INVOKE_RUNTIME_CONFIG"] = str(runtime_config(cluster, workdir))
    env["NO_COLOR"] = "1"
    env["CI"] = "true"
    for key in [k for k in env if k.startswith("INVOKE_TODO_")]:
        del env[key]  # the runtime config says everything the run needs
    return App(path, cluster, env)


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


