"""`inv build`'s commands when minikube cannot lend its Docker daemon.

No minikube runs here: invoke's MockContext answers the exact commands, and the recording fakes
(tests/fakes) stand in for minikube in the chained-task test. Both replay minikube 1.35's real
output shapes: ``docker-env``'s MK_USAGE refusal for the containerd runtime, ``profile list -o
json``, ``image ls`` (short format, ``docker.io/library/`` prefixes) and ``version --short``.
The image contexts and digests are real files in a temporary directory.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import MockContext, Result
from invoke.exceptions import Exit

from tests.conftest import FakeTools
from todo_deploy import images
from todo_deploy.cli import session
from todo_deploy.config import ROOT, ImageConfig, Settings
from todo_deploy.console import Console
from todo_deploy.errors import ConfigError, PrereqError, StageFailed
from todo_deploy.session import Session


def profile_list(runtime: str) -> str:
    return json.dumps({"invalid": [], "valid": [{
        "Name": "minikube", "Status": "OK",
        "Config": {"Name": "minikube", "Driver": "docker", "CPUs": 2, "Memory": 4096,
                   "KubernetesConfig": {"KubernetesVersion": "v1.32.0",
                                        "ContainerRuntime": runtime},
                   "Nodes": [{"Name": "", "ControlPlane": True, "Worker": True}]}}]})


REFUSAL = ('\n❌  Exiting due to MK_USAGE: The docker-env command is only compatible with the '
           '"docker" runtime, but this cluster was configured to use the "containerd" runtime.\n')
NOT_RUNNING = ('\n🤷  The control-plane node minikube host is not running: state=Stopped\n'
               '👉  To start a cluster, run: "minikube start"\n')
VERSION = "v1.35.0\n"


def settings_in(tmp_path: Path) -> Settings:
    configs = {}
    for component in images.COMPONENTS:
        src = tmp_path / "src" / component
        src.mkdir(parents=True)
        (src / "main.txt").write_text(f"{component} v1\n")
        (src / ".env").write_text("SECRET=never-in-context\n")
        dockerfile = tmp_path / "docker" / component / "Dockerfile"
        dockerfile.parent.mkdir(parents=True)
        dockerfile.write_text("ARG BASE_IMAGE=scratch\nFROM ${BASE_IMAGE}\nCOPY main.txt /\n")
        configs[component] = ImageConfig(component, f"todo-{component}", src, dockerfile)
    return Settings(images=configs, state_dir=tmp_path / "state")


def new_session(c: MockContext, settings: Settings) -> tuple[Session, io.StringIO]:
    out = io.StringIO()
    return Session(c, settings, Console(no_color=True, file=out, err_file=out)), out


def containerd_context(extra: dict[object, Result]) -> MockContext:
    run: dict[object, Result] = {
        "minikube version --short": Result(VERSION),
        "minikube -p minikube docker-env --shell none": Result(stderr=REFUSAL, exited=14),
        "minikube profile list -o json": Result(profile_list("containerd")),
        # no `kubectl config current-context`: a build asks no cluster (MockContext raises)
    }
    run.update(extra)
    return MockContext(run=run)


def test_containerd_runtime_builds_with_minikube_image_build(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    ref = images.prepare(settings.images["backend"], {}).ref.ref
    build_cmd = re.compile(
        rf"^minikube -p minikube image build -t {re.escape(ref)} "
        rf"-f {re.escape(images.DOCKERFILE_IN_CONTEXT)} \S*/todo-build-\w+$")
    c = containerd_context({
        # before the build, then after it (the build is judged by the tag being listed)
        "minikube -p minikube image ls": [
            Result("registry.k8s.io/pause:3.10\n"),
            Result(f"registry.k8s.io/pause:3.10\ndocker.io/library/{ref}\n")],
        build_cmd: Result("Step 1/2 : FROM scratch\nSuccessfully built 0123abcd\n"),
        f"minikube -p minikube image tag {ref} todo-backend:latest": Result(""),
    })
    s, out = new_session(c, settings)
    built = images.run_build(s, only="backend")
    assert [(b.ref, b.built) for b in built] == [(ref, True)]
    assert "minikube image build" in out.getvalue()
    assert "containerd" in out.getvalue()
    assert "; context" not in out.getvalue()  # not known without asking kubectl: not asked


def test_the_build_header_names_the_context_when_the_run_knows_it(tmp_path: Path) -> None:
    settings = settings_in(tmp_path).override(context="minikube")  # --context minikube
    c = containerd_context({
        "minikube -p minikube image ls": Result("registry.k8s.io/pause:3.10\n"),
        re.compile(r"^minikube -p minikube image build "): Result("Successfully built 1\n")})
    s, out = new_session(c, settings)
    with pytest.raises(StageFailed):  # the tag never appears: a failed build, after the header
        images.run_build(s, only="backend")
    assert "; context minikube" in out.getvalue()


def test_minikube_image_build_exiting_0_without_the_tag_is_a_failed_build(
        tmp_path: Path) -> None:
    """minikube exits 0 when the build inside the node fails (kubernetes/minikube#16576)."""
    settings = settings_in(tmp_path)
    ref = images.prepare(settings.images["backend"], {}).ref.ref
    c = containerd_context({
        "minikube -p minikube image ls": Result("registry.k8s.io/pause:3.10\n"),
        re.compile(r"^minikube -p minikube image build "): Result(
            "", "error: failed to solve: process \"/bin/sh -c false\" did not complete\n"),
    })
    s, _ = new_session(c, settings)
    with pytest.raises(StageFailed) as exc:
        images.run_build(s, only="backend")
    assert ref in exc.value.message
    assert exc.value.details is not None and "failed to solve" in exc.value.details
    assert not (settings.state_dir / images.STATE_FILE).exists()


def test_containerd_runtime_skips_a_tag_minikube_already_lists(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    ref = images.prepare(settings.images["frontend"], {}).ref.ref
    c = containerd_context({
        "minikube -p minikube image ls": Result(
            f"docker.io/library/{ref}\ndocker.io/library/todo-frontend:latest\n"),
        f"minikube -p minikube image tag {ref} todo-frontend:latest": Result(""),
    })
    s, _ = new_session(c, settings)
    built = images.run_build(s, only="frontend")
    assert [(b.ref, b.built) for b in built] == [(ref, False)]


def test_build_args_reach_minikube_image_build_as_build_opts(tmp_path: Path) -> None:
    """containerd builds with buildctl: minikube turns --build-opt=X into --X, and buildctl
    takes build args as --opt build-arg:K=V (it has no --build-arg flag)."""
    settings = settings_in(tmp_path)
    ref = images.prepare(settings.images["backend"], {"BASE_IMAGE": "python:3.11-slim"}).ref.ref
    build_cmd = re.compile(
        rf"^minikube -p minikube image build -t {re.escape(ref)} -f \S+ "
        r"--build-opt=opt=build-arg:BASE_IMAGE=python:3.11-slim --build-opt=no-cache "
        r"\S*/todo-build-\w+$")
    c = containerd_context({
        "minikube -p minikube image ls": [Result(""), Result(f"docker.io/library/{ref}\n")],
        build_cmd: Result("Successfully built 0123abcd\n"),
        f"minikube -p minikube image tag {ref} todo-backend:latest": Result(""),
    })
    s, _ = new_session(c, settings)
    built = images.run_build(s, only="backend", no_cache=True,
                             build_args=["backend:BASE_IMAGE=python:3.11-slim"])
    assert built[0].built


def test_build_opts_follow_the_builder_of_each_runtime() -> None:
    args = [("BASE_IMAGE", "python:3.11-slim")]
    assert images.minikube_build_opts("containerd", args, no_cache=False) == [
        "--build-opt=opt=build-arg:BASE_IMAGE=python:3.11-slim"]
    assert images.minikube_build_opts("cri-o", args, no_cache=True) == [
        "--build-opt=build-arg=BASE_IMAGE=python:3.11-slim", "--build-opt=no-cache"]


def test_stopped_docker_runtime_cluster_is_a_prerequisite_error(tmp_path: Path) -> None:
    c = MockContext(run={
        "minikube version --short": Result(VERSION),
        "minikube -p minikube docker-env --shell none": Result(stderr=NOT_RUNNING, exited=89),
        "minikube profile list -o json": Result(profile_list("docker")),
    })
    s, _ = new_session(c, settings_in(tmp_path))
    with pytest.raises(PrereqError) as exc:
        images.run_build(s)
    assert exc.value.hint is not None and "minikube -p minikube start" in exc.value.hint


def test_failed_prerequisite_exits_3_without_a_traceback(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    c = MockContext(run={
        "minikube version --short": Result(VERSION),
        "minikube -p minikube docker-env --shell none": Result(stderr=NOT_RUNNING, exited=89),
        "minikube profile list -o json": Result(profile_list("docker")),
    })
    c.config["todo"] = {"state_dir": str(tmp_path / "state")}
    with pytest.raises(Exit) as exc, session(c, no_color=True) as s:
        images.run_build(s)
    assert exc.value.code == 3
    assert "Traceback" not in capsys.readouterr().err


def test_unknown_only_value_is_a_config_error_before_any_command(tmp_path: Path) -> None:
    s, _ = new_session(MockContext(run={}), settings_in(tmp_path))
    with pytest.raises(ConfigError):
        images.run_build(s, only="db")


def test_a_failed_build_stops_the_chained_tasks(fake_tools: FakeTools, tmp_path: Path) -> None:
    """`inv build config`: build cannot reach minikube's daemon → exit 3, `config` never runs."""
    fake_tools.rule("minikube", r"^version", stdout=VERSION)
    fake_tools.rule("minikube", r"docker-env", stderr=NOT_RUNNING, code=89)
    fake_tools.rule("minikube", r"^profile list", stdout=profile_list("docker"))
    env = {**os.environ, "INVOKE_TODO_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1"}
    inv = Path(sys.executable).parent / "inv"
    proc = subprocess.run([str(inv), "build", "config"], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "resolved configuration" not in proc.stdout
    assert "minikube -p minikube start" in proc.stderr
