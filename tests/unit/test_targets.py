"""Targets beyond minikube: settings, chart values per target, and kind through a recording
fake of ``kind`` only.

The ``kind`` fake (tests/fakes/fake_tool.py installed as ``kind``) records argv and replays
kind's own output shapes from its docs (kind.sigs.k8s.io/docs/user/quick-start):
``kind get clusters`` prints one name per line (or "No kind clusters found." on stderr), and
``kind load docker-image IMAGE... --name NAME`` reports each image per node. The nodes'
runtime comes from the fake ``kubectl get nodes -o json`` (canned.nodes: kindest/node's
nodeInfo). The docker side
is a stub builder at the images module boundary (as in test_up), since dockerd is not the point.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from invoke.context import Context

from tests.conftest import FakeTools
from tests.fakes import canned
from todo_deploy import deploy, doctor, images, secrets
from todo_deploy.chart import ChartValues
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.errors import ConfigError, PrereqError, StageFailed
from todo_deploy.session import Session

SECRET = secrets.ClusterSecret(digest="d" * 64, embedded_db=False)


def tiny(tmp_path: Path, **overrides: Any) -> Settings:
    config: dict[str, Any] = {"images": {}}
    for component in ("backend", "frontend"):
        src = tmp_path / component
        src.mkdir()
        (src / "app.txt").write_text(component)
        dockerfile = tmp_path / f"{component}.Dockerfile"
        dockerfile.write_text("FROM scratch\nCOPY app.txt /\n")
        config["images"][component] = {"context": str(src), "dockerfile": str(dockerfile)}
    return Settings.from_config(config, state_dir=str(tmp_path / "state"), **overrides)


def session(settings: Settings) -> tuple[Session, io.StringIO]:
    out = io.StringIO()
    return Session(Context(), settings, Console(no_color=True, file=out, err_file=out)), out


class StubBuilder:
    """The host's daemon: remembers which tags exist; records what it builds."""

    where = "stub host daemon"

    def __init__(self) -> None:
        self.present: set[str] = set()

    def inspect(self, ref: str) -> images.ImageInfo | None:
        return images.ImageInfo("sha256:" + "1" * 64, 1000) if ref in self.present else None

    def build(self, ctx: Any, **kwargs: Any) -> None:
        self.present.add(ctx.ref.ref)

    def tag_latest(self, ctx: Any) -> None:
        self.present.add(f"{ctx.repository}:latest")

    def tags(self, repository: str) -> list[images.TagInfo]:
        """No older digest tags in this stub daemon: nothing to prune."""
        return []

    def close(self) -> None:
        return None


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> StubBuilder:
    builder = StubBuilder()

    @contextmanager
    def open_builder(s: Session) -> Iterator[StubBuilder]:
        yield builder

    monkeypatch.setattr(images.target, "open_builder", open_builder)
    return builder


@pytest.fixture
def kind(fake_tools: FakeTools) -> FakeTools:
    fake_tools.install("kind")
    return fake_tools


# -- settings ----------------------------------------------------------------------------------


def test_an_unknown_target_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as bad:
        Settings.from_config({"target": "eks"})
    assert "minikube, kind, registry, docker" in bad.value.message


def test_the_registry_target_needs_a_registry() -> None:
    with pytest.raises(ConfigError) as bad:
        Settings.from_config(None, target="registry")
    assert "--registry" in (bad.value.hint or "")


def test_the_registry_target_names_images_in_the_registry() -> None:
    settings = Settings.from_config({"registry": {"url": "reg.example.com:5000/team"}},
                                    target="registry")
    assert settings.images["backend"].name == "reg.example.com:5000/team/todo-backend"
    assert settings.builds_on_host


def test_host_stays_a_build_location_for_minikube() -> None:
    settings = Settings.from_config(None, target="host")
    assert (settings.target, settings.build_target, settings.builds_on_host) == (
        "minikube", "host", True)


@pytest.mark.parametrize(("target", "policy"), [
    ("minikube", ""), ("docker", "Never"), ("kind", "Never"), ("registry", "IfNotPresent")])
def test_each_target_has_its_pull_policy(target: str, policy: str) -> None:
    settings = Settings.from_config({"registry": {"url": "127.0.0.1:5000"}}, target=target)
    assert settings.pull_policy == policy


# -- chart values per target -------------------------------------------------------------------


def flags_of(values: ChartValues) -> dict[str, str]:
    flags = values.set_flags()
    return dict(flags[i + 1].split("=", 1) for i, f in enumerate(flags)
                if f in ("--set-string", "--set"))


def test_minikube_deploys_set_no_pull_policy_so_its_argv_is_unchanged(tmp_path: Path) -> None:
    settings = tiny(tmp_path)
    values = flags_of(deploy.chart_values(images.current_images(settings), SECRET, settings))
    assert not any("pullPolicy" in k or "digest" in k or "PullSecrets" in k for k in values)


def test_registry_deploys_pin_the_digest_with_if_not_present_and_pull_secrets(
        tmp_path: Path) -> None:
    settings = tiny(tmp_path, target="registry", registry="127.0.0.1:5000",
                    image_pull_secrets=("regcred",))
    digests = {"backend": "sha256:" + "a" * 64, "frontend": "sha256:" + "b" * 64}
    values = flags_of(deploy.chart_values(images.current_images(settings), SECRET, settings,
                                          digests))
    assert values["backend.image.repository"] == "127.0.0.1:5000/todo-backend"
    assert values["backend.image.digest"] == digests["backend"]
    assert values["frontend.image.digest"] == digests["frontend"]
    assert values["backend.image.pullPolicy"] == "IfNotPresent"
    assert values["imagePullSecrets[0]"] == "regcred"


# -- kind (recording fake of `kind` only) -------------------------------------------------------

LOADED = ('Image: "{ref}" with ID "sha256:1111" not yet present on node "{name}-control-plane", '
          "loading...\n")


NODES = ["get", "nodes", "-o", "json", "--context", "kind-ci"]


def test_kind_target_builds_on_the_host_then_loads_both_digest_tags_into_the_cluster(
        kind: FakeTools, stub: StubBuilder, tmp_path: Path) -> None:
    settings = tiny(tmp_path, target="kind", kind_cluster="ci", context="kind-ci")
    refs = [r.ref for r in images.current_images(settings)]
    kind.rule("kubectl", r"^get nodes -o json --context kind-ci$",
              stdout=canned.nodes("containerd://1.7.18"))
    kind.rule("kind", r"^load docker-image", stdout="".join(
        LOADED.format(ref=ref, name="ci") for ref in refs))
    s, out = session(settings)
    built = images.run_build(s)
    assert kind.argvs("kind") == [["load", "docker-image", *refs, "--name", "ci"]]
    assert [b.shipped for b in built] == ["loaded into kind ci"] * 2
    assert "loaded into kind ci" in out.getvalue()


def test_the_kind_build_header_names_the_nodes_runtime_and_the_context(
        kind: FakeTools, stub: StubBuilder, tmp_path: Path) -> None:
    kind.rule("kubectl", r"^get nodes -o json --context kind-ci$",
              stdout=canned.nodes("containerd://1.7.18", "containerd://1.7.18"))
    kind.rule("kind", r"^load docker-image")
    s, out = session(tiny(tmp_path, target="kind", kind_cluster="ci", context="kind-ci"))
    images.run_build(s)
    header = next(line for line in out.getvalue().splitlines() if "Build images in" in line)
    assert "kind load docker-image into cluster ci (containerd 1.7.18)" in header
    assert header.endswith("; context kind-ci")


def test_the_kind_nodes_runtime_is_asked_once_per_run(
        kind: FakeTools, stub: StubBuilder, tmp_path: Path) -> None:
    kind.rule("kubectl", r"^get nodes -o json --context kind-ci$",
              stdout=canned.nodes("containerd://1.7.18"))
    kind.rule("kind", r"^load docker-image")
    s, _ = session(tiny(tmp_path, target="kind", kind_cluster="ci", context="kind-ci"))
    images.run_build(s)
    images.run_build(s)  # `inv build up`: the same run builds twice
    assert kind.argvs("kubectl") == [NODES]
    assert len(kind.argvs("kind")) == 2


def test_kind_nodes_on_a_runtime_kind_cannot_load_into_stop_the_build_before_building(
        kind: FakeTools, stub: StubBuilder, tmp_path: Path) -> None:
    kind.rule("kubectl", r"^get nodes -o json --context kind-ci$",
              stdout=canned.nodes("containerd://1.7.18", "cri-o://1.30.4"))
    s, _ = session(tiny(tmp_path, target="kind", kind_cluster="ci", context="kind-ci"))
    with pytest.raises(PrereqError) as refused:
        images.run_build(s)
    assert "node ci-worker of context kind-ci runs cri-o 1.30.4" in refused.value.message
    assert "containerd" in refused.value.message
    hint = refused.value.hint or ""
    assert "kind create cluster --name ci" in hint and "--target registry" in hint
    assert kind.argvs("kind") == [] and stub.present == set()  # nothing built, nothing loaded
    assert kind.argvs("kubectl") == [NODES]


def test_kind_load_failing_stops_the_build_with_kinds_words_and_a_fix(
        kind: FakeTools, stub: StubBuilder, tmp_path: Path) -> None:
    kind.rule("kubectl", r"^get nodes -o json --context kind-ci$",
              stdout=canned.nodes("containerd://1.7.18"))
    kind.rule("kind", r"^load docker-image", code=1,
              stderr='ERROR: no nodes found for cluster "ci"\n')
    s, _ = session(tiny(tmp_path, target="kind", kind_cluster="ci", context="kind-ci"))
    with pytest.raises(StageFailed) as failed:
        images.run_build(s)
    assert 'no nodes found for cluster "ci"' in failed.value.message
    assert "kind create cluster --name ci" in (failed.value.hint or "")


def test_doctor_finds_the_kind_cluster_by_name(kind: FakeTools, tmp_path: Path) -> None:
    kind.rule("kind", r"^get clusters", stdout="ci\nother\n")
    s, _ = session(tiny(tmp_path, target="kind", kind_cluster="ci"))
    result = doctor.check_kind(s)
    assert result.ok and "context kind-ci" in result.detail
    assert kind.argvs("kind") == [["get", "clusters"]]


def test_doctor_says_how_to_create_a_missing_kind_cluster(kind: FakeTools,
                                                          tmp_path: Path) -> None:
    kind.rule("kind", r"^get clusters", stderr="No kind clusters found.\n")
    s, _ = session(tiny(tmp_path, target="kind", kind_cluster="ci"))
    result = doctor.check_kind(s)
    assert not result.ok and result.hint and "kind create cluster --name ci" in result.hint


def test_doctor_without_kind_installed_gives_the_install_command(
        fake_tools: FakeTools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(fake_tools.bin_dir) + ":/usr/bin:/bin")  # no kind anywhere
    s, _ = session(tiny(tmp_path, target="kind", kind_cluster="ci"))
    result = doctor.check_kind(s)
    assert not result.ok and "kind.sigs.k8s.io/dl/" in (result.hint or "")


def test_node_runtimes_are_read_from_each_nodes_container_runtime_version() -> None:
    from todo_deploy.tools import NodeRuntime, parse_node_runtimes

    assert parse_node_runtimes(canned.nodes("containerd://1.7.18", "cri-o://1.30.4")) == [
        NodeRuntime("ci-control-plane", "containerd", "1.7.18"),
        NodeRuntime("ci-worker", "cri-o", "1.30.4")]
    assert parse_node_runtimes("not json") == []
