"""The targets beyond minikube on the live local cluster (TODO_E2E=local).

The local test cluster's node uses this machine's dockerd (kubelet → cri-dockerd), like k3s
``--docker`` or Docker Desktop, so:

- ``docker``: ``inv up --target docker`` with NO minikube at all on PATH (not even the stand-in):
  build on the host's daemon, ``pullPolicy: Never``.
- ``registry``: a real CNCF distribution registry on 127.0.0.1 (tests/registryserver.py);
  ``inv up --target registry`` builds, pushes, deploys pinned by digest with ``IfNotPresent``;
  then the node's local copies are removed and the pods replaced, so kubelet must pull from
  the registry, and ``inv verify`` passes on the pulled images.

Runs after test_live_cluster.py (same cluster; that module leaves nothing of ours behind).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import registryserver
from tests.conftest import need
from tests.e2e.support import NAMESPACE, App, Cluster, make_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(2400)]

SELECTOR = "app=todo-app"


@pytest.fixture(scope="module")
def bare(live: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """A fresh clone whose PATH has kubectl and helm but no minikube (stand-in included)."""
    if live.kind != "local":
        pytest.skip("the docker/registry targets need a node on this machine's dockerd "
                    "(TODO_E2E=local)")
    app = make_app(live, tmp_path_factory.mktemp("targets"))
    app.env["PATH"] = os.pathsep.join(
        p for p in app.env["PATH"].split(os.pathsep) if not (Path(p) / "minikube").exists())
    assert shutil.which("minikube", path=app.env["PATH"]) is None
    yield app
    app.inv("down", "--target", "docker", "--yes", check=False)
    remove_our_images()


def remove_our_images() -> None:
    """Leave the shared dockerd as this module found it: no todo-* image of any registry
    (``inv down --purge`` on these targets only says how, the images are the host's)."""
    import docker.errors

    import docker

    client = docker.from_env(environment=dict(os.environ))
    try:
        for image in client.images.list():
            refs = [*image.tags, *image.attrs.get("RepoDigests", [])]
            for ref in refs:
                name = ref.split("@")[0] if "@" in ref else ref.rsplit(":", 1)[0]
                if name.rsplit("/", 1)[-1] in ("todo-backend", "todo-frontend"):
                    try:
                        client.images.remove(ref, force=True)
                    except docker.errors.NotFound:  # went with the image's last tag
                        continue
    finally:
        client.close()


def app_pods(cluster: Cluster, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.kubectl_json("get", "pods", "-n", NAMESPACE, "-l",
                                                       selector)["items"]
    return items


def replaced(cluster: Cluster, selector: str, old: set[str]) -> bool:
    """Every pod is new (not in ``old``), none terminating, all Ready."""
    items = app_pods(cluster, selector)
    return bool(items) and all(
        p["metadata"]["uid"] not in old and not p["metadata"].get("deletionTimestamp") and
        any(c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions") or []) for p in items)


def wait_until(what: str, check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def deployments(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """{deployment: its app container} of the release."""
    found = {}
    for d in cluster.kubectl_json("get", "deployments", "-n", NAMESPACE, "-l",
                                  SELECTOR)["items"]:
        name = d["metadata"]["name"]
        found[name] = next(c for c in d["spec"]["template"]["spec"]["containers"]
                           if name.endswith(c["name"]))
    return found


def test_docker_target_up_needs_no_minikube_and_never_pulls(bare: App) -> None:
    run = bare.inv("up", "--target", "docker")
    assert "Todo app is up and verified" in run.output
    assert "[context todo-local, target docker]" in run.output
    containers = deployments(bare.cluster)
    assert {n: c["imagePullPolicy"] for n, c in containers.items()} == {
        "todo-backend": "Never", "todo-frontend": "Never"}
    assert containers["todo-backend"]["image"].startswith("todo-backend:")
    assert "minikube" not in bare.inv("url", "--target", "docker").output


@pytest.fixture(scope="module")
def registry(bare: App) -> Iterator[str]:
    if not registryserver.binary().is_file():
        need("the registry binary", "python3 -m tests.registryserver build")
    with registryserver.serve() as address:
        yield address


def test_registry_target_pushes_deploys_by_digest_and_the_node_pulls_it(
        bare: App, registry: str) -> None:
    import docker.errors

    import docker

    cluster = bare.cluster
    run = bare.inv("up", "--target", "registry", "--registry", registry)
    assert "Todo app is up and verified" in run.output
    containers = deployments(cluster)
    for name, container in containers.items():
        repository, digest = container["image"].split("@")
        assert repository == f"{registry}/{name}" and digest.startswith("sha256:"), container
        assert container["imagePullPolicy"] == "IfNotPresent"
    # the same `inv up` again: the registry has both tags, nothing is pushed
    again = bare.inv("up", "--target", "registry", "--registry", registry)
    assert again.output.count("in registry") >= 2 and "pushed " not in again.output

    # the node must now pull from the registry: drop its local references, replace the pods
    client = docker.from_env(environment=dict(os.environ))
    try:
        for name in containers:
            for image in client.images.list(name=f"{registry}/{name}"):
                for ref in [*image.tags, *image.attrs.get("RepoDigests", [])]:
                    if ref.startswith(f"{registry}/"):  # the same image keeps its other tags
                        try:
                            client.images.remove(ref)
                        except docker.errors.NotFound:  # went with the repository's last tag
                            continue
        pinned = [c["image"] for c in containers.values()]
        for ref in pinned:
            assert not client.images.list(name=ref.split("@")[0]), ref
        selector = f"{SELECTOR},component in (backend,frontend)"
        old = {p["metadata"]["uid"] for p in app_pods(cluster, selector)}
        cluster.run("kubectl", "delete", "pods", "-n", NAMESPACE, "-l", selector,
                    "--wait=false")
        wait_until("new pods on the pulled images", lambda: replaced(cluster, selector, old),
                   300)
        saved = bare.env  # the same target, from the environment (verify has no --target)
        bare.env = {**saved, "INVOKE_TODO_TARGET": "registry",
                    "INVOKE_TODO_REGISTRY_URL": registry}
        try:
            verified = bare.inv("verify")
        finally:
            bare.env = saved
        assert "Result: SUCCESS" in verified.output
        events = cluster.kubectl_json("get", "events", "-n", NAMESPACE)["items"]
        pulled = {ref for ref in pinned for e in events
                  if e.get("reason") == "Pulling" and ref in e.get("message", "")}
        assert pulled == set(pinned)
        for ref in pinned:  # and the daemon has them again, from the registry
            assert client.images.get(ref)
    finally:
        client.close()
