"""Every task against dead surroundings ends with a message and a documented exit code, never
a traceback.

The surroundings are real, not fakes: a Docker endpoint with no daemon behind it
(``DOCKER_HOST=unix:///…/nonexistent.sock``), a kubeconfig whose API server is a closed port
on 127.0.0.1 (connections are refused), and a PATH without kubectl, helm, minikube or kind.
The tasks come from the invoke collection itself, so a task added later is covered too.
Each task runs as ``python -m invoke`` in its own process, as a user would run it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tasks
from tests.conftest import ROOT, real_helms

# tasks.py's docstring and the README: 0 ok, 1 failed, 2 config/input, 3 prerequisite
DOCUMENTED_EXIT_CODES = {0, 1, 2, 3}
# arguments a task cannot run without (its positional ones)
REQUIRED_ARGS = {"logs": ["backend"]}
# flags that take a task down another path, called as well
VARIANTS = (["build", "--target", "host"], ["deploy", "--dry-run"], ["secrets", "--dry-run"],
            ["down", "--purge", "--yes"], ["verify", "--json"], ["logs", "all", "--follow"])


def task_names() -> list[str]:
    return sorted(tasks.ns.task_names)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: dead
  cluster:
    server: https://127.0.0.1:{port}
    insecure-skip-tls-verify: true
contexts:
- name: {context}
  context: {{cluster: dead, user: dead, namespace: todo}}
current-context: {context}
users:
- name: dead
  user: {{token: not-a-secret}}
"""


def surroundings(tmp: Path, *, tools: dict[str, str], context: str,
                 target: str) -> dict[str, str]:
    """The environment of a dead world: HOME, state and .env in ``tmp``; only ``tools`` on
    PATH; the API server refuses; no Docker daemon."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for name, path in tools.items():
        (bin_dir / name).symlink_to(path)
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG.format(port=closed_port(), context=context))
    env_file = tmp / ".env"
    shutil.copy(ROOT / ".env.example", env_file)
    env_file.chmod(0o600)
    keep = {k: v for k, v in os.environ.items()
            if k in ("LANG", "LC_ALL", "TERM", "SYSTEMROOT", "TMPDIR")}
    return {**keep, "HOME": str(tmp / "home"), "PATH": str(bin_dir),
            "KUBECONFIG": str(kubeconfig),
            "DOCKER_HOST": f"unix://{tmp}/nonexistent/docker.sock",
            "DOCKER_CONFIG": str(tmp / "docker-config"),
            "XDG_CACHE_HOME": str(tmp / "cache"), "XDG_CONFIG_HOME": str(tmp / "config"),
            "INVOKE_TODO_STATE_DIR": str(tmp / "state"), "INVOKE_TODO_ENV_FILE": str(env_file),
            "INVOKE_TODO_TARGET": target, "INVOKE_TODO_TIMEOUTS_TOOL": "20",
            "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def real_tools() -> dict[str, str]:
    """kubectl and helm as they are installed here (skip on a laptop without them, fail in
    CI)."""
    found = {}
    kubectl = shutil.which("kubectl")
    helms = real_helms()
    if kubectl:
        found["kubectl"] = kubectl
    if helms:
        found["helm"] = str(helms[max(helms)])
    if len(found) < 2:
        from tests.conftest import need
        need("kubectl and helm", "this test talks to a refusing API server through them")
    return found


WORLDS = {
    # the host's Docker engine (target docker): no daemon behind DOCKER_HOST, and the API
    # server of the (local) context refuses; kubectl and helm are installed
    "docker-target-nothing-answers": lambda: (real_tools(), "docker-desktop", "docker", {}),
    # a registry on a closed port as well
    "registry-target-nothing-answers": lambda: (
        real_tools(), "docker-desktop", "registry",
        {"INVOKE_TODO_REGISTRY_URL": f"127.0.0.1:{closed_port()}"}),
    # the default target with kubectl and helm but no minikube
    "minikube-target-without-minikube": lambda: (real_tools(), "minikube", "minikube", {}),
    # nothing installed at all
    "no-tools": lambda: ({}, "minikube", "minikube", {}),
}


@pytest.fixture(params=sorted(WORLDS))
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    tools, context, target, extra = WORLDS[request.param]()
    yield {**surroundings(tmp_path, tools=tools, context=context, target=target), **extra}


def calls() -> list[list[str]]:
    return [[name, *REQUIRED_ARGS.get(name, [])] for name in task_names()] + list(VARIANTS)


def run_task(call: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "invoke", *call]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_the_collection_has_the_tasks_this_test_knows_how_to_call() -> None:
    """A task with a new positional argument needs it in REQUIRED_ARGS (else invoke itself
    would refuse the call and the task would never run here)."""
    for name in task_names():
        body = tasks.ns[name]
        assert set(body.positional) <= {"component"} or name in REQUIRED_ARGS, name


def test_every_task_ends_cleanly_in_dead_surroundings(world: dict[str, str]) -> None:
    failures = []
    for call in calls():
        done = run_task(call, world)
        output = done.stdout + done.stderr
        name = " ".join(call)
        if "Traceback" in output or done.returncode not in DOCUMENTED_EXIT_CODES:
            failures.append(f"inv {name}: exit {done.returncode}\n{output[-3000:]}")
        elif done.returncode != 0 and "✗" not in output:
            failures.append(f"inv {name}: exit {done.returncode} without an error line\n"
                            f"{output[-3000:]}")
    assert not failures, "\n\n".join(failures)
