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

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need, strict
from tests.e2e.support import NAMESPACE, App, ArgvSampler, Cluster, local_cluster_env, make_app

E2E = os.environ.get("TODO_E2E", "")
MINIKUBE_PROFILE = "todo-e2e"


def _local_cluster() -> Iterator[Cluster]:
    from tests.e2e.localcluster import cluster as local

    if os.geteuid() != 0:
        need("the local test cluster", "it runs kubelet and sets up networking: run as root")
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        need("the local test cluster", "dockerd is not reachable (scripts/ci/start-dockerd.sh)")
    layout = local.up()
    major = os.environ.get("TODO_E2E_HELM", "4")  # which real helm the run uses
    try:
        env = local_cluster_env(layout, major)
    except FileNotFoundError as missing:
        need(f"helm {major}", str(missing))
    cluster = Cluster("local", local.NODE, env)
    # a kept cluster (TODO_E2E_KEEP=1) still has the last run's release: start from nothing
    cluster.run("kubectl", "delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait",
                "--timeout=180s", timeout=240)
    yield cluster
    if os.environ.get("TODO_E2E_KEEP") != "1":
        local.down()


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


@pytest.fixture(scope="session")
def app(live: Cluster, tmp_path_factory: pytest.TempPathFactory) -> App:
    return make_app(live, tmp_path_factory.mktemp("e2e"))


@pytest.fixture(scope="session")
def argv_sampler(app: App) -> Iterator[ArgvSampler]:
    if not Path("/proc/self/cmdline").exists():
        need("/proc", "the argv sampler reads every process's arguments from /proc")
    with ArgvSampler() as sampler:
        yield sampler
