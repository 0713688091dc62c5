"""The README's first command against the real minikube v1.37.0 (docker driver), as a
developer runs it: a non-root user in the docker group, a fresh clone, ``scripts/onboard.sh``.

Runs when ``TODO_E2E_MINIKUBE=real`` (``.ci/run`` sets it; as root, it makes the user
``todo-dev``); fails in CI without it, skips elsewhere. What this machine changes about a
laptop is in tests/e2e/laptop.py. The tests run in order, each on the state the previous left.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need, strict
from tests.e2e import laptop as laptop_mod
from tests.e2e.laptop import Laptop

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]
NAMESPACE = "todo"
RELEASE = "todo-app"
NODE_PORT = 30080


@pytest.fixture(scope="module")
def laptop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Laptop]:
    if os.environ.get("TODO_E2E_MINIKUBE") != "real":
        if strict():
            pytest.fail("TODO_E2E_MINIKUBE=real is not set: CI runs the real minikube",
                        pytrace=False)
        pytest.skip("the real minikube: set TODO_E2E_MINIKUBE=real (root, this machine)")
    if os.geteuid() != 0:
        need("the real minikube tier", "it makes the user todo-dev: run as root")
    for key in laptop_mod.STANDINS:
        if not os.environ.get(key):
            need("the real minikube tier", f"{key} (scripts/ci/build-bases.sh) is not set")
    if subprocess.run(["docker", "info", "--format", "{{.DefaultRuntime}}"],
                      capture_output=True, text=True).stdout.strip() != "runc-nosysres":
        need("the real minikube tier", "dockerd's default runtime is not runc-nosysres "
             "(DOCKERD_RUNTIME=... scripts/ci/start-dockerd.sh)")
    dev = laptop_mod.prepare(tmp_path_factory.mktemp("laptop"))
    dev.minikube("delete", check=False)  # a profile a killed run left behind
    rule: list[str] | None = None
    try:
        # the developer's minikube, started as the suite starts it (cluster.start)
        dev.minikube("start", "--cpus=2", "--memory=4096", timeout=900)
        rule = laptop_mod.enable_nat()
        for key in laptop_mod.STANDINS:  # what a laptop's node would pull
            dev.minikube("image", "load", os.environ[key], timeout=600)
        yield dev
    except Exception:
        print("\n".join(dev.log[-6:]))
        raise
    finally:
        if os.environ.get("TODO_E2E_KEEP") != "1":
            dev.minikube("delete", check=False, timeout=300)
            if rule is not None:
                laptop_mod.disable_nat(rule)


def _get(url: str, timeout: float = 5) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # the node container
        return response.status, response.read().decode()


def _helm_revisions(dev: Laptop) -> list[dict[str, object]]:
    out = dev.run("helm", "history", RELEASE, "-n", NAMESPACE, "-o", "json", check=True).stdout
    return list(json.loads(out))


def _replicasets(dev: Laptop, component: str) -> set[str]:
    out = dev.run("kubectl", "get", "rs", "-n", NAMESPACE, "-l",
                  f"app.kubernetes.io/component={component}", "-o", "json", check=True).stdout
    return {item["metadata"]["name"] for item in json.loads(out)["items"]
            if item["status"].get("replicas", 0) > 0}


def test_onboarding_from_a_fresh_clone_ends_with_a_verified_app(laptop: Laptop) -> None:
    result = laptop.run("bash", "scripts/onboard.sh", "--yes", timeout=1800)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    ip = laptop.minikube("ip").stdout.strip()
    url = f"http://{ip}:{NODE_PORT}"
    assert url in result.stdout + result.stderr
    status, page = _get(url)
    assert status == 200 and "<html" in page.lower()
    status, body = _get(f"{url}/api/health")
    assert status == 200 and json.loads(body)  # the frontend's health, not an error page


def test_the_images_were_built_in_minikubes_daemon_over_tls(laptop: Laptop) -> None:
    env = dict(line.split("=", 1) for line in
               laptop.minikube("docker-env", "--shell", "none").stdout.split())
    assert env["DOCKER_TLS_VERIFY"] == "1"
    # Linux: the node's address on minikube's network (the host routes to it); macOS and
    # Windows: a port published on 127.0.0.1. TCP with TLS either way, never the host's socket.
    ip = laptop.minikube("ip").stdout.strip()
    assert re.fullmatch(rf"tcp://({re.escape(ip)}:2376|127\.0\.0\.1:\d+)",
                        env["DOCKER_HOST"]), env["DOCKER_HOST"]
    assert Path(env["DOCKER_CERT_PATH"]).is_relative_to(laptop.home / ".minikube")
    pods = json.loads(laptop.run("kubectl", "get", "pods", "-n", NAMESPACE, "-o", "json",
                                 check=True).stdout)["items"]
    images = {c["image"] for p in pods for c in p["spec"]["containers"]}
    ours = sorted(i for i in images if i.startswith(("todo-backend:", "todo-frontend:")))
    assert len(ours) == 2, images
    in_node = laptop.minikube("image", "ls").stdout
    host = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
                          capture_output=True, text=True, check=True).stdout.split()
    for image in ours:
        assert image in in_node or f"docker.io/library/{image}" in in_node
        assert image not in host  # built in the node, not on the host and loaded


def test_a_second_up_changes_nothing(laptop: Laptop) -> None:
    before = _helm_revisions(laptop)

    result = laptop.inv("up")

    assert _helm_revisions(laptop) == before, result.stdout[-3000:]


def test_an_edit_of_the_backend_rolls_only_the_backend(laptop: Laptop) -> None:
    frontend = _replicasets(laptop, "frontend")
    backend = _replicasets(laptop, "backend")
    main = laptop.clone / "app/backend/todo_api/main.py"
    text = main.read_text()
    main.write_text(text + "\n# an edit on the laptop\n")

    laptop.inv("up")

    assert _replicasets(laptop, "frontend") == frontend
    assert _replicasets(laptop, "backend") != backend
    ip = laptop.minikube("ip").stdout.strip()
    assert _get(f"http://{ip}:{NODE_PORT}/api/health")[0] == 200


def test_up_starts_a_stopped_minikube_and_verifies(laptop: Laptop) -> None:
    laptop.minikube("stop", timeout=300)
    status = laptop.minikube("status", "-o", "json", check=False)
    assert json.loads(status.stdout)["Host"] == "Stopped"

    laptop.inv("up", timeout=1200)

    assert json.loads(laptop.minikube("status", "-o", "json").stdout)["Host"] == "Running"
    laptop_mod.enable_nat()  # a restarted node keeps its network; the rule is idempotent
    ip = laptop.minikube("ip").stdout.strip()
    deadline = time.monotonic() + 30
    while True:
        try:
            assert _get(f"http://{ip}:{NODE_PORT}/api/health")[0] == 200
            break
        except OSError:
            if time.monotonic() > deadline:
                raise


def test_down_purge_then_minikube_delete_leave_nothing(laptop: Laptop) -> None:
    # the stop and start above gave minikube's storage-provisioner a new identity: it ignores
    # the database's volume from now on (see day2.orphaned_hostpath_volumes)
    result = laptop.inv("down", "--purge", "--yes")

    assert "PostgreSQL volume deleted" in result.stdout + result.stderr
    left = json.loads(laptop.run("kubectl", "get", "all,pvc,secret,configmap", "-n", NAMESPACE,
                                 "-l", "app=todo-app", "-o", "json", check=True).stdout)
    assert left["items"] == []
    volumes = json.loads(laptop.run("kubectl", "get", "pv", "-o", "json", check=True).stdout)
    assert [pv["metadata"]["name"] for pv in volumes["items"]
            if (pv["spec"].get("claimRef") or {}).get("namespace") == NAMESPACE] == []
    data = laptop.minikube("ssh", "--", "sudo", "ls", "-A", "/tmp/hostpath-provisioner/todo",
                           check=False).stdout.split()
    assert data == []  # the database's files are gone from the node too
    images = laptop.minikube("image", "ls").stdout.split()
    assert [i for i in images
            if i.rsplit(":", 1)[0].rsplit("/", 1)[-1] in {"todo-backend", "todo-frontend"}] == []
    laptop.minikube("delete", timeout=300)
    profiles = laptop.run("minikube", "profile", "list", "-o", "json", check=False).stdout
    valid = json.loads(profiles or "{}").get("valid") or []
    assert laptop_mod.PROFILE not in [p["Name"] for p in valid]
