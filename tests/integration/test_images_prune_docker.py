"""Old digest tags against a real Docker engine: `inv build` keeps the newest ``build.keep``
per image and never the release's; `inv down --purge` (host target) removes all of ours.

Real: dockerd (scripts/ci/start-dockerd.sh), the suite's build stage with its docker-py
builder, image creation times, untagging, a container holding an image. The images are tiny
(``FROM scratch`` + one file) under repository names unique to each test, so no other image
of the daemon is touched. Fake: only ``helm``/``kubectl``/``minikube`` (tests/fakes/
fake_tool.py), which need a cluster: ``helm get values -o json`` replays the shape Helm prints
for the suite's ``--set-string backend.image.repository=... backend.image.tag=...`` (nested
user-supplied values), and its "release: not found" / "cluster unreachable" errors.
Needs dockerd: skips on a laptop without it, FAILS in CI. Run under /work/cluster.lock.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from invoke import Context

from tests.conftest import FakeTools
from todo_deploy import day2, images
from todo_deploy.config import ImageConfig, Settings
from todo_deploy.console import Console
from todo_deploy.session import Session

pytestmark = [pytest.mark.docker]

NOT_FOUND = "Error: release: not found\n"
UNREACHABLE = ("Error: Kubernetes cluster unreachable: Get \"https://127.0.0.1:6443/version\": "
               "dial tcp 127.0.0.1:6443: connect: connection refused\n")


class Project:
    """Two tiny images under unique names; ``edit`` changes the backend's content (a new
    digest tag), ``build`` runs the suite's build stage against the host's daemon."""

    def __init__(self, root: Path, client: Any, keep: int = 3):
        self.root, self.client, self.keep = root, client, keep
        self.prefix = f"todo-prune-{uuid.uuid4().hex[:8]}"
        self.out = io.StringIO()
        self.edits = 0
        configs = {}
        for component in images.COMPONENTS:
            context = root / component
            context.mkdir()
            (context / "app.txt").write_text(f"{component} 0\n")
            dockerfile = root / f"{component}.Dockerfile"
            dockerfile.write_text("ARG BASE_IMAGE=scratch\nFROM ${BASE_IMAGE}\nCOPY app.txt /\n")
            configs[component] = ImageConfig(component, f"{self.prefix}-{component}", context,
                                             dockerfile)
        self.settings = Settings(images=configs, state_dir=root / "state", build_target="host",
                                 keep_tags=keep)

    @property
    def backend(self) -> str:
        return self.settings.images["backend"].name

    def session(self) -> Session:
        return Session(Context(), self.settings, Console(no_color=True, file=self.out,
                                                         err_file=self.out))

    def edit(self) -> None:
        self.edits += 1
        (self.root / "backend" / "app.txt").write_text(f"backend {self.edits}\n")

    def build(self) -> str:
        """Build the backend; return its new ref."""
        built = images.run_build(self.session(), only="backend")
        return built[0].ref

    def tags(self, repository: str | None = None) -> set[str]:
        repo = repository or self.backend
        return {ref for image in self.client.images.list(name=repo) for ref in image.tags
                if ref.startswith(f"{repo}:")}

    def digest_tags(self) -> set[str]:
        return {ref for ref in self.tags() if re.fullmatch(r"[0-9a-f]{12}", ref.rsplit(":")[1])}

    def cleanup(self) -> None:
        for component in images.COMPONENTS:
            repo = self.settings.images[component].name
            for ref in self.tags(repo):
                self.client.api.remove_image(ref, force=True)


@pytest.fixture
def project(tmp_path: Path, client: Any, fake_tools: FakeTools) -> Iterator[Project]:
    made = Project(tmp_path, client)
    # the run's kube-context, resolved once (helm get values carries it)
    fake_tools.rule("kubectl", r"^config current-context", stdout="minikube\n", fallback=True)
    fake_tools.rule("helm", r"^get values", stderr=NOT_FOUND, code=1)
    try:
        yield made
    finally:
        made.cleanup()


def release_values(project: Project, backend_ref: str) -> str:
    repository, tag = backend_ref.rsplit(":", 1)
    return json.dumps({"backend": {"image": {"repository": repository, "tag": tag}},
                       "frontend": {"image": {"repository": f"{project.prefix}-frontend",
                                              "tag": "0" * 12}},
                       "postgresql": {"enabled": True}, "secretDigest": "5b2e" * 16,
                       "secrets": {"create": False, "existingSecret": "todo-secrets"}})


def test_successive_builds_keep_only_the_newest_three_digest_tags(project: Project) -> None:
    built = []
    for _ in range(5):
        project.edit()
        built.append(project.build())
        assert project.digest_tags() == set(built[-3:])
    assert f"{project.backend}:latest" in project.tags()
    latest = project.client.images.get(f"{project.backend}:latest").id
    assert project.client.images.get(built[-1]).id == latest
    assert f"removed 1 old image tag(s), keeping the newest 3 per image (build.keep): " \
           f"{built[1]}" in project.out.getvalue()


def test_the_number_kept_is_build_keep(tmp_path: Path, client: Any,
                                       fake_tools: FakeTools) -> None:
    fake_tools.rule("kubectl", r"^config current-context", stdout="minikube\n")
    fake_tools.rule("helm", r"^get values", stderr=NOT_FOUND, code=1)
    project = Project(tmp_path, client, keep=1)
    try:
        for _ in range(3):
            project.edit()
            newest = project.build()
            assert project.digest_tags() == {newest}
    finally:
        project.cleanup()


def test_the_tag_the_release_uses_survives_however_old(project: Project,
                                                       fake_tools: FakeTools) -> None:
    project.edit()
    deployed = project.build()
    fake_tools.rules.clear()
    fake_tools.rule("helm", r"^get values todo-app --namespace todo --output json",
                    stdout=release_values(project, deployed))
    built = []
    for _ in range(4):
        project.edit()
        built.append(project.build())
    assert project.digest_tags() == {deployed, *built[-3:]}
    assert [a for a in fake_tools.argvs("helm") if a[:2] == ["get", "values"]]


def test_nothing_is_pruned_when_the_release_cannot_be_read(project: Project,
                                                           fake_tools: FakeTools) -> None:
    fake_tools.rules.clear()
    fake_tools.rule("helm", r"^get values", stderr=UNREACHABLE, code=1)
    built = []
    for _ in range(4):
        project.edit()
        built.append(project.build())
    assert project.digest_tags() == set(built)
    assert "old image tags kept: cannot tell which images release todo-app uses (Error: " \
           "Kubernetes cluster unreachable" in project.out.getvalue()


def test_an_old_tag_a_container_still_uses_is_kept_and_said_so(project: Project) -> None:
    project.edit()
    held = project.build()
    container = project.client.api.create_container(held, command=["/app.txt"])
    try:
        built = []
        for _ in range(3):
            project.edit()
            built.append(project.build())
        assert project.digest_tags() == {held, *built}
        assert f"kept {held}: conflict: unable to remove repository reference" \
            in project.out.getvalue()
    finally:
        project.client.api.remove_container(container["Id"], force=True)


def test_down_purge_removes_every_tag_of_ours_from_the_host_daemon_and_no_other(
        project: Project, fake_tools: FakeTools) -> None:
    for component in ("backend", "frontend"):
        images.run_build(project.session(), only=component)
    for _ in range(2):
        project.edit()
        project.build()
    # the same repository name on an image the suite did not build (no component label)
    list(project.client.api.build(fileobj=io.BytesIO(b"FROM scratch\nLABEL made=by-hand\n"),
                                  tag=f"{project.backend}:by-hand", rm=True, decode=True))
    assert len(project.digest_tags()) == 3
    fake_tools.rule("minikube", r"^version", stdout="v1.35.0\n")
    fake_tools.rule("minikube", r"status -o json", stdout=json.dumps({
        "Name": "minikube", "Host": "Running", "Kubelet": "Running", "APIServer": "Running",
        "Kubeconfig": "Configured", "Worker": False}))
    fake_tools.rule("kubectl", r"^version --client",
                    stdout='{"clientVersion": {"gitVersion": "v1.31.0"}}')
    fake_tools.rule("kubectl", r"^config current-context", stdout="minikube\n")
    fake_tools.rule("helm", r"^version --template", stdout="v4.1.4")
    fake_tools.rule("helm", r"^uninstall", stdout='release "todo-app" uninstalled\n')
    fake_tools.rule("kubectl", r"^delete secret todo-secrets -n todo --ignore-not-found",
                    stdout='secret "todo-secrets" deleted\n')
    # no embedded database here: no claim, so no volume to wait for
    fake_tools.rule("kubectl", r"^get pvc -n todo -l app=todo-app,component=postgresql")
    fake_tools.rule("kubectl", r"^delete pvc -n todo -l app=todo-app,component=postgresql")
    # and no volume an earlier down left (kubectl's answer on a cluster without any)
    fake_tools.rule("kubectl", r"^get pv -o json", stdout=json.dumps(
        {"apiVersion": "v1", "items": [], "kind": "List", "metadata": {"resourceVersion": ""}}))

    day2.run_down(project.session(), purge=True, yes=True)

    assert project.tags() == {f"{project.backend}:by-hand"}
    assert project.tags(f"{project.prefix}-frontend") == set()
    assert "images removed from the host's daemon: " in project.out.getvalue()
    called = {" ".join(argv[:2]) for argv in fake_tools.argvs("kubectl")}
    assert {"delete secret", "get pvc", "delete pvc"} <= called
