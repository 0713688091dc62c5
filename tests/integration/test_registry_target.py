"""The registry target on real parts: dockerd, a real OCI registry, real helm.

Real: dockerd (builds and pushes through the docker SDK), CNCF distribution's ``registry``
built from its Go module (tests/registryserver.py) on 127.0.0.1, ``helm template`` (3 and 4).
The images are tiny (``FROM scratch``, one file), so no base image and no network are needed:
the point is the push, the registry's answers and the digest pinning, not the app.

Needs dockerd, the registry binary and helm: skips on a laptop without them, FAILS in CI.
Builds and removes images in dockerd: run under ``flock /work/cluster.lock``.
"""

from __future__ import annotations

import io
import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from invoke.context import Context

from tests import registryserver
from tests.conftest import need
from todo_deploy import chart, deploy, images, secrets
from todo_deploy.config import ROOT, Settings
from todo_deploy.console import Console
from todo_deploy.session import Session

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def registry(client: Any) -> Iterator[str]:
    if not registryserver.binary().is_file():
        need("the registry binary", "python3 -m tests.registryserver build")
    with registryserver.serve() as address:
        yield address


@pytest.fixture
def settings(tmp_path: Path, registry: str, client: Any) -> Iterator[Settings]:
    """Tiny real contexts under a unique repository name (nothing shared with other runs)."""
    unique = uuid.uuid4().hex[:8]
    config: dict[str, Any] = {"images": {}, "registry": {"url": registry,
                                                         "pull_secrets": ["regcred"]}}
    for component in ("backend", "frontend"):
        src = tmp_path / component
        src.mkdir()
        (src / "app.txt").write_text(f"{component} {unique}\n")
        dockerfile = tmp_path / f"{component}.Dockerfile"
        dockerfile.write_text("FROM scratch\nCOPY app.txt /\n")
        config["images"][component] = {"name": f"todo-{component}-{unique}",
                                       "context": str(src), "dockerfile": str(dockerfile)}
    result = Settings.from_config(config, state_dir=str(tmp_path / "state"), target="registry",
                                  context="todo-test")
    yield result
    for image in result.images.values():  # leave dockerd as it was
        for tagged in client.images.list(name=image.name):
            client.images.remove(tagged.id, force=True)


def session(settings: Settings) -> tuple[Session, io.StringIO]:
    out = io.StringIO()
    return Session(Context(), settings, Console(no_color=True, file=out, err_file=out)), out


def tags_in_registry(address: str, repository: str) -> list[str]:
    name = repository.split("/", 1)[1]
    with urllib.request.urlopen(f"http://{address}/v2/{name}/tags/list", timeout=10) as reply:
        return list(json.loads(reply.read()).get("tags") or [])


def delete_from_registry(address: str, repository: str, digest: str) -> None:
    name = repository.split("/", 1)[1]
    request = urllib.request.Request(f"http://{address}/v2/{name}/manifests/{digest}",
                                     method="DELETE")
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 202


def test_build_pushes_the_digest_tags_to_the_registry(settings: Settings, registry: str) -> None:
    s, out = session(settings)
    built = images.run_build(s)
    assert [b.shipped for b in built] == ["pushed", "pushed"]
    for b in built:
        assert b.repository.startswith(f"{registry}/todo-")
        assert b.tag in tags_in_registry(registry, b.repository)
        assert b.remote_digest.startswith("sha256:") and len(b.remote_digest) == 71
    assert "pushed" in out.getvalue()


def test_a_tag_the_registry_already_has_is_not_pushed_again(settings: Settings,
                                                              registry: str) -> None:
    s, _ = session(settings)
    first = images.run_build(s)
    second = images.run_build(session(settings)[0])
    assert [b.shipped for b in second] == ["in registry", "in registry"]
    assert [b.remote_digest for b in second] == [b.remote_digest for b in first]


def test_the_registry_is_asked_not_the_local_tag(settings: Settings, registry: str) -> None:
    """The local image still exists; the registry lost the tag: it is pushed again."""
    first = images.run_build(session(settings)[0])
    backend = next(b for b in first if b.component == "backend")
    delete_from_registry(registry, backend.repository, backend.remote_digest)
    again = {b.component: b.shipped for b in images.run_build(session(settings)[0])}
    assert again == {"backend": "pushed", "frontend": "in registry"}


def test_the_release_pins_each_image_by_the_registrys_digest(
        settings: Settings, registry: str, helm_bins: dict[int, Path]) -> None:
    pushed = {b.component: b for b in images.run_build(session(settings)[0])}
    s, _ = session(settings)
    refs = images.current_images(settings)
    digests = images.target.registry_digests(s, refs)  # asked of the registry
    assert digests == {c: b.remote_digest for c, b in pushed.items()}
    values = deploy.chart_values(refs, secrets.ClusterSecret(digest="d" * 64, embedded_db=True),
                                 settings, digests)
    for major, helm in helm_bins.items():
        argv = [str(helm), *chart.template_argv(settings, values)[1:]]
        import subprocess

        rendered = subprocess.run(argv, capture_output=True, text=True, check=True,
                                  cwd=ROOT).stdout
        objects = {f"{o['kind']}/{o['metadata']['name']}": o
                   for o in yaml.safe_load_all(rendered) if o}
        for component in ("backend", "frontend"):
            pod = objects[f"Deployment/todo-{component}"]["spec"]["template"]["spec"]
            main = next(c for c in pod["containers"] if c["name"] == component)
            want = f"{pushed[component].repository}@{digests[component]}"
            assert (major, main["image"]) == (major, want)
            assert main["imagePullPolicy"] == "IfNotPresent"
            assert pod["imagePullSecrets"] == [{"name": "regcred"}]
