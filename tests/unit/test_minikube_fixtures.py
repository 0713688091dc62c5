"""The suite's minikube parsers on the real minikube v1.37.0's answers.

tests/fixtures/minikube/ holds answers captured from the real tool on this project's CI machine
(``python3 -m tests.e2e.realtools capture-minikube``; the states are listed in
tests/e2e/realtools/capture.py): stdout, stderr and exit code of each, as minikube gave them.
The hand-written answers elsewhere in the unit tests stand for other versions and error cases;
these are the ones a user's minikube actually prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from todo_deploy.tools import (
    PROFILE_NOT_FOUND,
    parse_docker_env,
    parse_image_list,
    parse_profile_list,
    parse_status,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "minikube"


def answer(name: str) -> tuple[str, str, int]:
    meta = json.loads((FIXTURES / f"{name}.json").read_text())
    return ((FIXTURES / f"{name}.stdout").read_text(),
            (FIXTURES / f"{name}.stderr").read_text(), int(meta["exit"]))


def test_the_fixtures_come_from_minikube_1_37() -> None:
    assert (FIXTURES / "VERSION").read_text().strip() == "v1.37.0"


def test_a_running_profile_is_running() -> None:
    stdout, _, code = answer("status-running")
    status = parse_status(stdout, code, "minikube")
    assert code == 0
    assert status.exists and status.running
    assert (status.host, status.kubelet, status.apiserver) == ("Running",) * 3


@pytest.mark.parametrize("name, host", [("status-stopped", "Stopped"),
                                        ("status-paused", "Running")])
def test_a_stopped_or_paused_profile_exists_and_is_not_running(name: str, host: str) -> None:
    stdout, _, code = answer(name)
    status = parse_status(stdout, code, "minikube")
    assert code != 0  # minikube's bitmask of what is down
    assert status.exists and not status.running
    assert status.host == host


def test_a_missing_profile_does_not_exist() -> None:
    stdout, _, code = answer("status-missing")
    assert code == PROFILE_NOT_FOUND
    status = parse_status(stdout, code, "todo-none")
    assert not status.exists and "does not exist" in status.describe()


def test_docker_env_is_tls_over_tcp_to_the_node() -> None:
    stdout, _, code = answer("docker-env")
    env = parse_docker_env(stdout)
    assert code == 0
    assert env["DOCKER_TLS_VERIFY"] == "1"
    assert env["DOCKER_HOST"].startswith("tcp://") and env["DOCKER_HOST"].endswith(":2376")
    assert env["DOCKER_CERT_PATH"] == "/home/dev/.minikube/certs"


def test_docker_env_of_a_missing_profile_gives_no_endpoint() -> None:
    stdout, _, code = answer("docker-env-missing")
    assert code != 0
    assert not parse_docker_env(stdout).get("DOCKER_HOST")


def test_profile_list_finds_each_profile_with_its_facts() -> None:
    stdout, _, code = answer("profile-list")
    assert code == 0
    ours = parse_profile_list(stdout, "minikube")
    assert ours is not None
    assert (ours.driver, ours.runtime, ours.cpus, ours.memory_mib) == ("docker", "docker", 2,
                                                                       4096)
    other = parse_profile_list(stdout, "todo-extra")
    assert other is not None and (other.cpus, other.memory_mib) == (2, 2048)
    assert parse_profile_list(stdout, "todo-none") is None


def test_an_empty_profile_list_finds_nothing() -> None:
    stdout, _, _ = answer("profile-list-empty")
    assert parse_profile_list(stdout, "minikube") is None


def test_image_ls_names_the_kubernetes_images_without_registry_prefixes() -> None:
    stdout, _, code = answer("image-ls")
    images = parse_image_list(stdout)
    assert code == 0
    assert "registry.k8s.io/pause:3.10.1" in images
    assert "gcr.io/k8s-minikube/storage-provisioner:v5" in images
    assert not any(i.startswith("docker.io/") for i in images)
