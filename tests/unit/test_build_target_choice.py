"""Which builder `inv build` and `inv deploy` get (todo_deploy.images.target): the host's or
minikube's daemon, ``minikube image build`` when minikube runs containerd or cri-o, and what
the target is asked before a deploy (the images it lacks, the registry's digests).

invoke's MockContext answers minikube 1.35's ``docker-env`` (or its refusal) and ``profile
list -o json``; ``FakeClient`` stands in for the docker-py client the real code would open
(``docker.from_env``), with the low-level API calls these paths make.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import docker.errors
import pytest
from invoke import MockContext, Result

from todo_deploy.cluster import DockerEndpoint
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.doctor import passed_checks
from todo_deploy.errors import PrereqError
from todo_deploy.images import target
from todo_deploy.images.context import ImageRef
from todo_deploy.images.daemon import DockerBuilder
from todo_deploy.images.minikube import MinikubeImageBuilder
from todo_deploy.session import Session

DOCKER_ENV = "DOCKER_HOST=tcp://192.168.49.2:2376\nDOCKER_TLS_VERIFY=1\n"
REFUSAL = ('\n❌  Exiting due to MK_USAGE: The docker-env command is only compatible with the '
           '"docker" runtime, but this cluster was configured to use the "containerd" runtime.\n')
REFS = [ImageRef("backend", "reg/todo-backend", "aaaaaaaaaaaa"),
        ImageRef("frontend", "reg/todo-frontend", "bbbbbbbbbbbb")]


def profile_list(runtime: str) -> str:
    return json.dumps({"valid": [{"Name": "minikube", "Config": {
        "KubernetesConfig": {"ContainerRuntime": runtime}}}]})


class FakeApi:
    def __init__(self, present: set[str], remote: dict[str, str]):
        self.present = present
        self.remote = remote

    def inspect_image(self, ref: str) -> dict[str, Any]:
        if ref not in self.present:
            raise docker.errors.ImageNotFound(ref)
        return {"Id": "sha256:1", "Size": 1}

    def inspect_distribution(self, ref: str) -> dict[str, Any]:
        if ref not in self.remote:
            raise docker.errors.NotFound("manifest unknown")
        return {"Descriptor": {"digest": self.remote[ref]}}


class FakeClient:
    def __init__(self, present: set[str] = frozenset(),  # type: ignore[assignment]
                 remote: dict[str, str] | None = None):
        self.api = FakeApi(set(present), remote or {})
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[tuple[DockerEndpoint, float, FakeClient]]:
    """The clients open_builder opens: (endpoint, timeout, client) each."""
    calls: list[tuple[DockerEndpoint, float, FakeClient]] = []

    def docker_client(endpoint: DockerEndpoint, timeout: float) -> FakeClient:
        client = FakeClient()
        calls.append((endpoint, timeout, client))
        return client

    monkeypatch.setattr(target, "docker_client", docker_client)
    return calls


def session(c: MockContext, **overrides: Any) -> tuple[Session, io.StringIO]:
    settings = replace(Settings.from_config(None), tool_timeout=9, **overrides)
    out = io.StringIO()
    s = Session(c, settings, Console(no_color=True, file=out, err_file=out))
    for check in ("docker-sdk", "minikube"):
        passed_checks(s).add((check, settings.profile))
    return s, out


def test_host_builds_open_the_hosts_daemon_and_close_it(opened: list[Any],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    c = MockContext(run={})
    s, _ = session(c, build_target="host")
    with target.open_builder(s) as builder:
        assert isinstance(builder, DockerBuilder)
        assert builder.where == "host daemon (local default socket)"
    ((endpoint, timeout, client),) = opened
    assert (endpoint, timeout, client.closed) == (DockerEndpoint("host"), 9, True)
    assert c.run.call_args_list == []  # type: ignore[attr-defined]


def test_minikube_builds_open_minikubes_daemon(opened: list[Any]) -> None:
    c = MockContext(run={"minikube -p minikube docker-env --shell none": Result(DOCKER_ENV)})
    s, _ = session(c)
    with target.open_builder(s) as builder:
        assert builder.where == "minikube daemon (tcp://192.168.49.2:2376)"
    assert opened[0][0].environment == {"DOCKER_HOST": "tcp://192.168.49.2:2376",
                                        "DOCKER_TLS_VERIFY": "1"}


@pytest.mark.parametrize("runtime", ["containerd", "cri-o", "CRI-O"])
def test_a_runtime_without_docker_builds_inside_the_node_and_says_so(
        opened: list[Any], runtime: str) -> None:
    c = MockContext(run={
        "minikube -p minikube docker-env --shell none": Result(stderr=REFUSAL, exited=14),
        "minikube profile list -o json": Result(profile_list(runtime))})
    s, out = session(c)
    with target.open_builder(s) as builder:
        assert isinstance(builder, MinikubeImageBuilder) and builder.runtime == runtime
    assert opened == []
    assert (f"minikube profile 'minikube' runs {runtime}: no Docker daemon to build in, so "
            "images are built with `minikube image build` (no live step view)") in \
        " ".join(out.getvalue().split())


@pytest.mark.parametrize("listing", [profile_list("docker"), json.dumps({"valid": []})])
def test_a_docker_runtime_or_unknown_profile_without_docker_env_is_an_error(
        opened: list[Any], listing: str) -> None:
    c = MockContext(run={
        "minikube -p minikube docker-env --shell none": Result(stderr="stopped\n", exited=89),
        "minikube profile list -o json": Result(listing)})
    s, _ = session(c)
    with pytest.raises(PrereqError, match="cannot reach minikube's Docker daemon"), \
            target.open_builder(s):
        pass


def test_missing_images_are_those_the_daemon_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient(present={REFS[0].ref})
    monkeypatch.setattr(target, "docker_client", lambda endpoint, timeout: client)
    s, _ = session(MockContext(run={}), build_target="host")
    assert target.missing_images(s, REFS) == [REFS[1]]
    assert client.closed


def test_missing_images_of_the_registry_target_are_asked_of_the_registry(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the daemon holds only the backend, the registry only the frontend: the registry decides
    client = FakeClient(present={REFS[0].ref}, remote={REFS[1].ref: "sha256:b"})
    monkeypatch.setattr(target, "docker_client", lambda endpoint, timeout: client)
    settings = Settings.from_config({"registry": {"url": "reg"}}, target="registry")
    s, _ = session(MockContext(run={}), target=settings.target, registry=settings.registry)
    assert target.missing_images(s, REFS) == [REFS[0]]


def test_the_registry_digests_pin_the_deploy_or_name_every_missing_image(
        monkeypatch: pytest.MonkeyPatch) -> None:
    both = FakeClient(remote={REFS[0].ref: "sha256:a", REFS[1].ref: "sha256:b"})
    monkeypatch.setattr(target, "docker_client", lambda endpoint, timeout: both)
    s, _ = session(MockContext(run={}), build_target="host")
    assert target.registry_digests(s, REFS) == {"backend": "sha256:a", "frontend": "sha256:b"}
    none = FakeClient()
    monkeypatch.setattr(target, "docker_client", lambda endpoint, timeout: none)
    with pytest.raises(PrereqError) as err:
        target.registry_digests(s, REFS)
    assert err.value.message == f"not in the registry: {REFS[0].ref}, {REFS[1].ref}"
    assert err.value.hint == "inv build --target registry   # builds and pushes them"
