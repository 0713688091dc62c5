"""Each doctor check on its own, in-process (issue 14: branches no fixture reaches): what it
is called, what it says when it passes, what it says and which fix it gives when it fails,
and the limits of the fit check tested at the limit and one step either side.

invoke's MockContext answers the exact commands with the real tools' output shapes (those of
tests/unit/test_doctor.py: minikube 1.34 ``status``/``profile list``, ``kubectl version
--client -o json``, helm's ``version --template``); the chart's requests come from the REAL
helm's render; the Docker engine is tests/fakes/fake_docker_engine.py (dockerd 20.10's
``/version``).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from invoke import MockContext, Result

from tests.conftest import ROOT, real_render
from tests.fakes import fake_docker_engine, fake_registry
from todo_deploy import chart, doctor
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.session import Session

RUNNING = {"Name": "minikube", "Host": "Running", "Kubelet": "Running", "APIServer": "Running",
           "Kubeconfig": "Configured", "Worker": False}
STOPPED = {**RUNNING, "Host": "Stopped", "Kubelet": "Stopped", "APIServer": "Stopped",
           "Kubeconfig": "Stopped"}
ONBOARD = "scripts/onboard.sh   # or: .venv/bin/pip install -e ."
HELM_VERSION = "helm version --template '{{.Version}}'"
KUBECTL_VERSION = "kubectl version --client -o json"


def profiles(cpus: int = 2, memory: int = 4000, runtime: str = "docker") -> str:
    """``minikube profile list -o json`` with the one profile ``minikube``."""
    return json.dumps({"invalid": [], "valid": [{"Name": "minikube", "Status": "OK", "Config": {
        "Name": "minikube", "Driver": "docker", "CPUs": cpus, "Memory": memory,
        "KubernetesConfig": {"KubernetesVersion": "v1.31.0", "ContainerRuntime": runtime},
        "Nodes": [{"Name": "", "ControlPlane": True, "Worker": True}]}}]})


NO_PROFILE = json.dumps({"invalid": [], "valid": []})


@pytest.fixture(autouse=True)
def no_tools_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH is an empty folder: every answer comes from the MockContext (a version is then
    asked through ``proc.run`` each run, as for a tool that is not on PATH)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


def session(tmp_path: Path, answers: dict[Any, Result] | None = None,
            **settings: Any) -> tuple[Session, io.StringIO]:
    out = io.StringIO()
    settings.setdefault("state_dir", str(tmp_path / "state"))
    c = MockContext(run=answers or {}, repeat=True)
    return Session(c, Settings.from_config(None, **settings),
                   Console(no_color=True, file=out, err_file=out)), out


def calls(s: Session) -> list[str]:
    return [call.args[0] for call in s.c.run.call_args_list]  # type: ignore[attr-defined]


# -- docker SDK ------------------------------------------------------------------------------------


def test_the_docker_sdk_check_names_the_installed_version(tmp_path: Path) -> None:
    import docker

    s, _ = session(tmp_path)
    result = doctor.check_docker_sdk(s)
    assert (result.name, result.ok, result.detail, result.hint, result.required) == \
        ("docker SDK", True, f"docker SDK {docker.__version__}", None, True)


def test_without_the_docker_sdk_the_check_says_how_to_install_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "docker", None)  # importlib finds no spec for it
    s, _ = session(tmp_path)
    result = doctor.check_docker_sdk(s)
    assert (result.ok, result.detail, result.hint) == \
        (False, "python package `docker` is not installed", ONBOARD)


# -- minikube, kubectl, helm installed -------------------------------------------------------------


def test_minikube_installed_names_its_version(tmp_path: Path) -> None:
    s, _ = session(tmp_path, {"minikube version --short": Result("v1.34.0\n")})
    result = doctor.check_minikube(s)
    assert (result.name, result.ok, result.detail, result.hint) == \
        ("minikube installed", True, "minikube v1.34.0", None)


def test_minikube_not_on_path_fails_with_its_install_command(tmp_path: Path) -> None:
    s, _ = session(tmp_path, {"minikube version --short": Result(
        stderr="bash: line 1: minikube: command not found\n", exited=127)})
    result = doctor.check_minikube(s)
    assert (result.ok, result.detail) == (False, "minikube not found on PATH")
    assert result.hint == doctor.tool_fix("minikube") and "brew install minikube" in result.hint


def test_minikube_failing_its_version_query_fails_with_its_words_and_no_hint(
        tmp_path: Path) -> None:
    s, _ = session(tmp_path, {"minikube version --short": Result(
        stderr="E1129 minikube is broken\n", exited=1)})
    result = doctor.check_minikube(s)
    assert not result.ok and result.hint is None
    assert result.detail == "`minikube version --short` exited 1: E1129 minikube is broken"


@pytest.mark.parametrize(("stdout", "version"), [
    (json.dumps({"clientVersion": {"gitVersion": "v1.31.0", "major": "1"}}), "v1.31.0"),
    (json.dumps({"clientVersion": {"major": "1"}}), "?"),
    (json.dumps({"kustomizeVersion": "v5"}), "?"),
    ("", "?"),
])
def test_kubectl_installed_names_its_client_version_and_the_context(
        tmp_path: Path, stdout: str, version: str) -> None:
    s, _ = session(tmp_path, {KUBECTL_VERSION: Result(stdout)}, context="kind-ci")
    result = doctor.check_kubectl(s)
    assert (result.name, result.ok, result.detail, result.hint) == \
        ("kubectl installed", True, f"kubectl {version}, context kind-ci", None)


def test_kubectl_without_any_context_says_unset(tmp_path: Path) -> None:
    s, _ = session(tmp_path, {
        KUBECTL_VERSION: Result(json.dumps({"clientVersion": {"gitVersion": "v1.34.1"}})),
        "kubectl config current-context": Result(
            stderr="error: current-context is not set\n", exited=1)}, target="docker")
    assert doctor.current_context(s) == ""
    assert doctor.check_kubectl(s).detail == "kubectl v1.34.1, context unset"


@pytest.mark.parametrize(("stdout", "ok", "detail"), [
    ("v3.17.3", True, "helm v3.17.3 (Helm 3)"),
    ("v4.1.4", True, "helm v4.1.4 (Helm 4)"),
    ("v2.17.0", False, "helm v2.17.0 (need 3 or 4)"),
    ("v5.0.0", False, "helm v5.0.0 (need 3 or 4)"),
    ("", False, "helm ? (need 3 or 4)"),
])
def test_helm_must_be_3_or_4(tmp_path: Path, stdout: str, ok: bool, detail: str) -> None:
    s, _ = session(tmp_path, {HELM_VERSION: Result(stdout)})
    result = doctor.check_helm(s)
    assert (result.name, result.ok, result.detail) == ("helm 3 or 4", ok, detail)
    assert result.hint == (None if ok else doctor.tool_fix("helm"))


# -- tool versions, kept per binary ----------------------------------------------------------------


@pytest.fixture
def helm_binary(no_tools_on_path: Path) -> Path:
    """A helm on PATH (never run: the MockContext answers for it)."""
    path = no_tools_on_path / "helm"
    path.write_text("#!/bin/sh\nexit 99\n")
    path.chmod(0o755)
    return path


def test_a_version_is_kept_per_binary_with_its_identity(
        tmp_path: Path, helm_binary: Path, machine_cache: Path) -> None:
    s, _ = session(tmp_path, {HELM_VERSION: Result("v3.17.3")}, tool_timeout=7)
    assert doctor.helm_version(s).version == "v3.17.3"
    assert s.c.run.call_args.kwargs["timeout"] == 7  # type: ignore[attr-defined]
    kept = json.loads((machine_cache / "todo-deploy" / "tool-versions.json").read_text())
    assert kept == {"helm version --template {{.Version}}": {
        "binary": doctor.binary_identity(str(helm_binary)), "stdout": "v3.17.3"}}

    again, _ = session(tmp_path, {})  # a new run: nothing may be asked
    assert doctor.helm_version(again).version == "v3.17.3"
    assert calls(again) == []


def test_a_version_kept_for_another_binary_or_damaged_is_asked_again(
        tmp_path: Path, helm_binary: Path, machine_cache: Path) -> None:
    cache_file = machine_cache / "todo-deploy" / "tool-versions.json"
    cache_file.parent.mkdir(parents=True)
    key = "helm version --template {{.Version}}"
    identity = doctor.binary_identity(str(helm_binary))
    for entry in ({"binary": ["/elsewhere/helm", 1, 2], "stdout": "v3.0.0"},
                  "v3.0.0",  # not an entry at all
                  {"stdout": "v3.0.0"},
                  {"binary": identity},  # this binary's, but no answer kept with it
                  {"binary": identity, "stdout": None}):
        cache_file.write_text(json.dumps({key: entry, "other": "kept"}))
        s, _ = session(tmp_path, {HELM_VERSION: Result("v4.1.4")})
        assert doctor.helm_version(s).version == "v4.1.4"
        assert calls(s) == [HELM_VERSION]
        kept = json.loads(cache_file.read_text())
        assert kept[key]["stdout"] == "v4.1.4" and kept["other"] == "kept"


def test_a_version_is_still_answered_when_the_cache_cannot_be_written(
        tmp_path: Path, helm_binary: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # the cache folder cannot be made
    s, _ = session(tmp_path, {HELM_VERSION: Result("v3.17.3")})
    assert doctor.helm_version(s).version == "v3.17.3"


def test_each_tool_keeps_its_own_version_within_a_run(tmp_path: Path) -> None:
    s, _ = session(tmp_path, {HELM_VERSION: Result("v3.17.3"),
                              "minikube version --short": Result("v1.34.0\n")}, tool_timeout=9)
    assert doctor.helm_version(s).version == "v3.17.3"
    assert doctor.version_output(s, ["minikube", "version", "--short"]) == "v1.34.0\n"
    assert doctor.helm_version(s).version == "v3.17.3"  # asked once in the run
    assert calls(s) == [HELM_VERSION, "minikube version --short"]
    assert s.c.run.call_args.kwargs["timeout"] == 9  # type: ignore[attr-defined]


# -- the cluster -----------------------------------------------------------------------------------


def test_a_running_minikube_whose_context_is_the_profile_passes(tmp_path: Path) -> None:
    s, _ = session(tmp_path, {"minikube -p minikube status -o json": Result(
        json.dumps(RUNNING)), "kubectl config current-context": Result("minikube\n")})
    result = doctor.check_cluster(s)
    assert (result.name, result.ok, result.hint, result.required) == \
        ("minikube minikube running", True, None, False)
    assert result.detail == ("host Running, kubelet Running, apiserver Running, "
                             "kubeconfig Configured; kube-context minikube")


def test_a_running_minikube_under_another_context_says_how_to_switch(tmp_path: Path) -> None:
    s, _ = session(tmp_path, {"minikube -p dev status -o json": Result(json.dumps(RUNNING)),
                              "kubectl config current-context": Result("kind-ci\n")},
                   profile="dev")
    result = doctor.check_cluster(s, required=True)
    assert (result.name, result.ok, result.required) == ("minikube dev running", False, True)
    assert result.detail == "minikube is running but the kube-context is 'kind-ci', not 'dev'"
    assert result.hint == "inv up --context dev   (or: kubectl config use-context dev)"


def test_a_stopped_minikube_is_only_a_warning_by_default(tmp_path: Path) -> None:
    s, _ = session(tmp_path, {"minikube -p minikube status -o json": Result(
        json.dumps(STOPPED), exited=7)})
    result = doctor.check_cluster(s)
    assert (result.ok, result.required, result.status) == (False, False, "warn")
    assert result.hint == ("minikube -p minikube start --cpus 2 --memory 4096   "
                           "(or: inv up, which starts it)")


READYZ = re.compile(r"^kubectl get --raw /readyz --context ")


@pytest.mark.parametrize(("context", "kind"), [("kind-ci", "local"),
                                               ("prod", "remote, named explicitly")])
def test_other_targets_check_the_api_server_of_the_context(
        tmp_path: Path, context: str, kind: str) -> None:
    s, _ = session(tmp_path, {READYZ: Result("ok")}, target="docker", context=context)
    for result in (doctor.check_cluster(s, required=True), doctor.check_context(s)):
        assert (result.name, result.ok, result.hint, result.required) == \
            (f"cluster of context {context} reachable", True, None, True)
        assert result.detail == f"context {context} ({kind}): API server ready"
    assert calls(s)[0] == f"kubectl get --raw /readyz --context {context}"
    assert not doctor.check_cluster(s).required  # a warning unless required
    assert not doctor.check_context(s, required=False).required


@pytest.mark.parametrize(("stderr", "said"), [
    ("E1129 memcache.go\nThe connection to the server 10.0.0.1:6443 was refused\n\n",
     "The connection to the server 10.0.0.1:6443 was refused"),
    ("", "exit 1"),
])
def test_an_api_server_that_does_not_answer_says_its_last_words_and_the_fix(
        tmp_path: Path, stderr: str, said: str) -> None:
    s, _ = session(tmp_path, {READYZ: Result(stderr=stderr, exited=1)}, target="docker",
                   context="prod")
    result = doctor.check_context(s)
    assert (result.ok, result.detail) == (
        False, f"the API server of context 'prod' does not answer: {said}")
    assert result.hint == "kubectl cluster-info --context prod   # or name another: --context NAME"


def test_no_context_at_all_fails_the_check_with_how_to_name_one(tmp_path: Path) -> None:
    s, _ = session(tmp_path, {"kubectl config current-context": Result(
        stderr="error: current-context is not set\n", exited=1)}, target="kind")
    result = doctor.check_context(s)
    assert (result.name, result.ok) == ("cluster of context ? reachable", False)
    assert result.detail.startswith("no kube-context")
    assert result.hint == "inv up --context NAME   (or set todo.context in invoke.yaml)"


# -- the chart fits the cluster: at the limit and one step either side -----------------------------


@cache
def render(values: str, embedded: bool) -> str:
    """The REAL helm's render of the chart with ``values`` (a values file's text)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "values.yaml"
        path.write_text(values)
        settings = Settings(values_file=path) if values else Settings()
        return real_render(chart.requests_argv(settings, embedded_db=embedded), 3)


def fit(tmp_path: Path, *, values: str = "", listing: str = NO_PROFILE,
        env: str = "DATABASE_URL=postgresql://u:p@db.example.com:5432/todo\n",
        **settings: Any) -> Any:
    """doctor's fit check with the chart's requests rendered by the real helm."""
    env_path = tmp_path / ".env"
    env_path.write_text(env)
    if values:
        (tmp_path / "values.yaml").write_text(values)
        settings["values_file"] = str(tmp_path / "values.yaml")
    embedded = "DATABASE_URL=postgresql" not in env
    s, _ = session(tmp_path, {
        re.compile(rf"^helm template .*postgresql\.enabled={str(embedded).lower()}$"):
            Result(render(values, embedded)),
        "minikube profile list -o json": Result(listing)}, env_file=str(env_path), **settings)
    return doctor.check_resources(s)


SYSTEM = "(+ system: 1450m / 1706Mi)"  # the default chart: 700m / 1536Mi, plus the system's


@pytest.mark.parametrize(("memory", "ok"), [(1705, False), (1706, True), (1707, True)])
def test_a_profiles_memory_is_enough_from_the_charts_requests_plus_the_systems(
        tmp_path: Path, memory: int, ok: bool) -> None:
    result = fit(tmp_path, listing=profiles(cpus=2, memory=memory))
    assert (result.name, result.ok, result.required) == ("cluster fits the chart", ok, True)
    assert result.detail == (f"minikube has 2 CPU / {memory}Mi; chart requests 700m CPU / "
                             f"1536Mi {SYSTEM}")
    assert result.hint == (None if ok else "minikube -p minikube delete && minikube -p "
                           "minikube start --cpus 2 --memory 4096")


BACKEND_CPU = "backend:\n  resources:\n    requests:\n      cpu: {cpu}\n"


@pytest.mark.parametrize(("cpu", "need", "ok"), [("524m", 1998, True), ("525m", 2000, True),
                                                 ("526m", 2002, False)])
def test_a_profiles_cpus_are_enough_at_exactly_the_request(
        tmp_path: Path, cpu: str, need: int, ok: bool) -> None:
    """Two backend replicas at ``cpu`` + the frontend's 200m + the system's 750m."""
    result = fit(tmp_path, values=BACKEND_CPU.format(cpu=cpu), listing=profiles(cpus=2,
                                                                                 memory=8000))
    assert result.ok is ok
    assert f"(+ system: {need}m / 1706Mi)" in result.detail
    assert result.hint == (None if ok else "minikube -p minikube delete && minikube -p "
                           "minikube start --cpus 3 --memory 4096")


def test_the_fix_asks_for_the_cpus_rounded_up_and_the_memory_needed(tmp_path: Path) -> None:
    values = ("backend:\n  resources:\n    requests:\n      cpu: 1026m\n      memory: 2000Mi\n")
    result = fit(tmp_path, values=values, listing=profiles(cpus=3, memory=8000))
    assert "chart requests 2252m CPU / 4512Mi (+ system: 3002m / 4682Mi)" in result.detail
    assert result.hint == ("minikube -p minikube delete && minikube -p minikube start "
                           "--cpus 4 --memory 4682")


def test_the_embedded_postgresql_adds_its_pod_to_the_requests(tmp_path: Path) -> None:
    result = fit(tmp_path, env="DATABASE_URL=\n", listing=profiles(cpus=2, memory=1834))
    assert result.ok
    assert result.detail.endswith("chart requests 750m CPU / 1664Mi (+ system: 1500m / 1834Mi)")


@pytest.mark.parametrize(("cpus", "memory", "ok"), [(2, 1705, False), (2, 1706, True),
                                                    (1, 8192, False)])
def test_without_a_profile_the_configured_size_must_fit(
        tmp_path: Path, cpus: int, memory: int, ok: bool) -> None:
    result = fit(tmp_path, cpus=cpus, memory=memory)
    assert result.ok is ok
    assert result.detail == (f"no profile yet; `inv up` will start it with {cpus} CPU / "
                             f"{memory}Mi; chart requests 700m CPU / 1536Mi {SYSTEM}")
    assert result.hint == (None if ok else "raise todo.minikube.cpus / memory in invoke.yaml")


@pytest.mark.parametrize(("cpu", "ok"), [("525m", True), ("526m", False)])
def test_without_a_profile_the_configured_cpus_are_enough_at_exactly_the_request(
        tmp_path: Path, cpu: str, ok: bool) -> None:
    assert fit(tmp_path, values=BACKEND_CPU.format(cpu=cpu), cpus=2, memory=8192).ok is ok


@pytest.mark.parametrize(("cpus", "memory", "has"), [
    (0, 0, "no CPU limit (this host: 8 CPU) / no memory limit (this host: 16000Mi)"),
    (0, 4000, "no CPU limit (this host: 8 CPU) / 4000Mi"),
    (4, 0, "4 CPU / no memory limit (this host: 16000Mi)"),
])
def test_a_no_limit_profile_fits_with_what_its_host_has(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpus: int, memory: int,
        has: str) -> None:
    """`minikube start --cpus=no-limit --memory=no-limit` stores CPUs 0 / Memory 0 (minikube
    1.37's getCPUCount / getMemorySize for the docker and podman drivers)."""
    monkeypatch.setattr(doctor, "host_capacity", lambda: (8, 16000))
    result = fit(tmp_path, listing=profiles(cpus=cpus, memory=memory))
    assert result.ok and result.hint is None
    assert result.detail == f"minikube has {has}; chart requests 700m CPU / 1536Mi {SYSTEM}"


def test_a_no_limit_profile_on_a_host_too_small_still_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "host_capacity", lambda: (1, 16000))
    assert not fit(tmp_path, listing=profiles(cpus=0, memory=0)).ok


def test_the_host_capacity_is_this_machines() -> None:
    cpus, memory = doctor.host_capacity()
    assert cpus == os.cpu_count()
    assert memory > 0


def test_a_missing_chart_fails_the_fit_check_with_where_to_look(tmp_path: Path) -> None:
    s, _ = session(tmp_path, chart=str(tmp_path / "nochart"))
    result = doctor.check_resources(s)
    assert (result.ok, result.detail, result.hint) == (
        False, f"chart not found: {tmp_path / 'nochart'}", "inv config  # check todo.chart")
    assert calls(s) == []


# -- the Docker engine the build will use ----------------------------------------------------------


def docker_env(host: str) -> str:
    return f"DOCKER_TLS_VERIFY=0\nDOCKER_HOST={host}\nMINIKUBE_ACTIVE_DOCKERD=minikube\n"


@pytest.fixture
def engine() -> Iterator[str]:
    with fake_docker_engine.serving() as host:
        yield host


DOCKER_ENV = "minikube -p minikube docker-env --shell none"


def test_minikubes_engine_answers_with_its_version(tmp_path: Path, engine: str) -> None:
    s, _ = session(tmp_path, {DOCKER_ENV: Result(docker_env(engine))})
    result = doctor.check_docker_engine(s)
    assert (result.name, result.ok, result.hint, result.required) == \
        ("Docker engine (minikube minikube)", True, None, True)
    assert result.detail == f"Docker 20.10.24+dfsg1 at {engine}"
    assert not doctor.check_docker_engine(s, required=False).required


def test_the_hosts_engine_answers_for_the_other_targets(
        tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine)
    s, _ = session(tmp_path, target="docker")
    result = doctor.check_docker_engine(s)
    assert (result.name, result.ok) == ("Docker engine (host)", True)
    assert result.detail.startswith("Docker 20.10.24+dfsg1 at ")
    assert calls(s) == []  # minikube is not asked


def test_an_engine_that_does_not_name_its_version_still_answers(tmp_path: Path) -> None:
    with fake_docker_engine.serving(version='{"ApiVersion": "1.41"}') as host:
        s, _ = session(tmp_path, {DOCKER_ENV: Result(docker_env(host))})
        result = doctor.check_docker_engine(s)
    assert (result.ok, result.detail) == (True, f"Docker ? at {host}")


def test_minikubes_engine_not_answering_says_start_minikube(tmp_path: Path) -> None:
    s, _ = session(tmp_path, {DOCKER_ENV: Result(docker_env("tcp://127.0.0.1:9"))})
    result = doctor.check_docker_engine(s)
    assert not result.ok
    assert result.detail.startswith("no Docker engine answers at tcp://127.0.0.1:9: ")
    assert "Connection refused" in result.detail and "\n" not in result.detail
    assert result.hint == "minikube -p minikube start   (or: inv build --target host)"


def test_the_hosts_engine_not_answering_says_start_docker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    s, _ = session(tmp_path, build_target="host")
    result = doctor.check_docker_engine(s)
    assert (result.name, result.ok) == ("Docker engine (host)", False)
    assert result.hint == ("start Docker on this machine (Linux: systemctl start docker; "
                           "macOS: open Docker Desktop)")


def test_an_engine_that_hangs_fails_within_the_tool_timeout(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        host = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        s, _ = session(tmp_path, {DOCKER_ENV: Result(docker_env(host))}, tool_timeout=1)
        result = doctor.check_docker_engine(s)
    assert not result.ok and "timed out" in result.detail.lower()
    assert result.seconds < 8


@pytest.mark.parametrize("runtime", ["containerd", "cri-o", "CRI-O"])
def test_a_minikube_without_docker_needs_no_engine(tmp_path: Path, runtime: str) -> None:
    s, _ = session(tmp_path, {
        DOCKER_ENV: Result(stderr="X Exiting due to MK_USAGE: docker-env is only compatible "
                                  "with the docker runtime\n", exited=14),
        "minikube profile list -o json": Result(profiles(runtime=runtime))})
    result = doctor.check_docker_engine(s)
    assert (result.ok, result.hint) == (True, None)
    assert result.detail == (f"minikube runs {runtime}: no Docker engine there; images are "
                             "built with `minikube image build`")


@pytest.mark.parametrize("listing", [profiles(runtime="docker"), NO_PROFILE])
def test_an_unreachable_docker_env_fails_with_minikubes_reason(tmp_path: Path,
                                                               listing: str) -> None:
    s, _ = session(tmp_path, {
        DOCKER_ENV: Result(stderr="X Exiting due to GUEST_STATUS: host is not running\n",
                           exited=80),
        "minikube profile list -o json": Result(listing)})
    result = doctor.check_docker_engine(s)
    assert not result.ok
    assert result.detail == ("cannot reach minikube's Docker daemon (`minikube docker-env` "
                             "exited 80: X Exiting due to GUEST_STATUS: host is not running)")
    assert result.hint == ("minikube -p minikube start   "
                           "(or build on the host: inv build --target host)")


# -- kind and the registry -------------------------------------------------------------------------


@pytest.mark.parametrize(("stdout", "found"), [("No kind clusters found.\n", "none"),
                                               ("other\nci-2\n", "other, ci-2")])
def test_a_missing_kind_cluster_names_the_ones_there_and_how_to_create_it(
        tmp_path: Path, stdout: str, found: str) -> None:
    s, _ = session(tmp_path, {"kind get clusters": Result(stdout)}, target="kind",
                   kind_cluster="ci")
    result = doctor.check_kind(s)
    assert (result.name, result.ok) == ("kind cluster ci", False)
    assert result.detail == f"no kind cluster 'ci' (found: {found})"
    assert result.hint == "kind create cluster --name ci   (or set todo.kind.cluster)"


def test_the_kind_cluster_is_found_with_its_context(tmp_path: Path) -> None:
    s, _ = session(tmp_path, {"kind get clusters": Result("other\nci\n")}, target="kind",
                   kind_cluster="ci")
    result = doctor.check_kind(s)
    assert (result.ok, result.detail, result.hint) == \
        (True, "kind cluster ci (context kind-ci)", None)


def registry_session(tmp_path: Path, host: str) -> Session:
    return session(tmp_path, target="registry", registry=f"{host}/team")[0]


def test_an_open_registry_passes(tmp_path: Path) -> None:
    with fake_registry.serving(200) as host:
        result = doctor.check_registry(registry_session(tmp_path, host))
    assert (result.name, result.ok, result.detail, result.hint) == \
        (f"registry {host}", True, f"registry {host} answers (no login needed)", None)


def test_a_registry_that_wants_a_login_passes_with_one_in_the_docker_config(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    with fake_registry.serving(401) as host:
        result = doctor.check_registry(registry_session(tmp_path, host))
        assert (result.ok, result.detail, result.hint) == (
            False, f"registry {host} wants a login and the docker config has none",
            f"docker login {host}")
        (tmp_path / "docker").mkdir()
        (tmp_path / "docker" / "config.json").write_text(json.dumps({"auths": {host: {}}}))
        result = doctor.check_registry(registry_session(tmp_path, host))
    assert (result.ok, result.detail, result.hint) == (
        True, f"registry {host} answers; the docker config has a login for it", None)


@pytest.mark.parametrize("status", [404, 500])
def test_a_registry_that_answers_something_else_is_not_a_registry(tmp_path: Path,
                                                                  status: int) -> None:
    with fake_registry.serving(status) as host:
        result = doctor.check_registry(registry_session(tmp_path, host))
    assert not result.ok and result.detail.startswith(f"registry {host} does not answer: ")
    assert result.hint == (f"check todo.registry.url ({host}/team); curl -v "
                           f"http://{host}/v2/")


def test_nothing_at_the_registry_says_why(tmp_path: Path) -> None:
    with fake_registry.serving(200) as host:
        pass  # closed again
    result = doctor.check_registry(registry_session(tmp_path, host))
    assert not result.ok and "Connection refused" in result.detail


# -- .env ------------------------------------------------------------------------------------------


def test_a_valid_env_names_its_keys_sorted(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text((ROOT / ".env.example").read_text())
    path.chmod(0o600)
    s, _ = session(tmp_path, env_file=str(path))
    result = doctor.check_env(s)
    assert (result.name, result.ok, result.hint) == (".env present and valid", True, None)
    assert result.detail == ".env: BETTER_AUTH_SECRET, COHERE_API_KEY, DATABASE_URL, " \
        "POSTGRES_PASSWORD"


def test_an_env_with_warnings_counts_them_and_lists_only_known_keys(tmp_path: Path) -> None:
    path = tmp_path / "prod.env"
    path.write_text("COHERE_API_KEY=\nDATABASE_URL=\nCOHERE_KEY=x\n")
    path.chmod(0o644)  # readable by others: a warning too
    s, _ = session(tmp_path, env_file=str(path))
    result = doctor.check_env(s)
    assert result.ok
    assert result.detail == ("prod.env: COHERE_API_KEY, DATABASE_URL; 2 warning(s): "
                             "inv secrets --dry-run")


def test_an_invalid_env_points_at_the_dry_run_that_lists_each_line(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("DATABASE_URL=mysql://x/y\n")
    s, _ = session(tmp_path, env_file=str(path))
    result = doctor.check_env(s)
    assert (result.name, result.ok) == (".env present and valid", False)
    assert result.detail == f"{path} has 1 problem(s); nothing was applied"
    assert result.hint == "inv secrets --dry-run   # lists each problem with its line"
    assert result.required and result.seconds >= 0


def test_a_missing_env_keeps_the_hint_that_says_how_to_make_one(tmp_path: Path) -> None:
    s, _ = session(tmp_path, env_file=str(tmp_path / ".env"))
    result = doctor.check_env(s)
    assert (result.ok, result.detail) == (False, f"{tmp_path / '.env'} does not exist")
    assert result.hint == "cp .env.example .env   (or run scripts/onboard.sh, which does it)"


# -- every check, in doctor's order (all_checks), the verdict (run_doctor) and require -------------

SDK, MK, FIT, KUBECTL, HELM, ENV = ("docker SDK", "minikube installed", "cluster fits the chart",
                                    "kubectl installed", "helm 3 or 4", ".env present and valid")
CLUSTER, ENGINE, HOST_ENGINE = ("minikube minikube running", "Docker engine (minikube minikube)",
                                "Docker engine (host)")


def healthy(engine: str, **answers: Result) -> dict[Any, Result]:
    """Every answer of a healthy minikube machine (``answers`` replace some, by command)."""
    found: dict[Any, Result] = {
        "minikube version --short": Result("v1.34.0\n"),
        "minikube -p minikube status -o json": Result(json.dumps(RUNNING)),
        "kubectl config current-context": Result("minikube\n"),
        "minikube profile list -o json": Result(profiles()),
        DOCKER_ENV: Result(docker_env(engine)),
        KUBECTL_VERSION: Result(json.dumps({"clientVersion": {"gitVersion": "v1.31.0"}})),
        HELM_VERSION: Result("v3.17.3"),
        re.compile(r"^helm template .*postgresql\.enabled=true$"): Result(render("", True)),
        re.compile(r"^helm template .*postgresql\.enabled=false$"): Result(render("", False)),
        READYZ: Result("ok"),
    }
    for command, result in answers.items():
        found[command.replace("_", " ")] = result
    return found


def doctor_session(tmp_path: Path, answers: dict[Any, Result],
                   **settings: Any) -> tuple[Session, io.StringIO]:
    env = tmp_path / ".env"
    if not env.exists():
        env.write_text((ROOT / ".env.example").read_text())
        env.chmod(0o600)
    return session(tmp_path, answers, env_file=str(env), **settings)


def names(results: list[Any]) -> list[str]:
    return [r.name for r in results]


def test_a_healthy_minikube_machine_runs_every_check_in_order_and_remembers_the_passes(
        tmp_path: Path, engine: str) -> None:
    s, _ = doctor_session(tmp_path, healthy(engine))
    results = doctor.all_checks(s)
    assert names(results) == [SDK, MK, CLUSTER, FIT, ENGINE, KUBECTL, HELM, ENV]
    assert all(r.ok for r in results), results
    assert doctor.passed_checks(s) == {(need, "minikube") for need in (
        "docker-sdk", "minikube", "cluster", "docker-engine", "kubectl", "helm", "env")}


@pytest.mark.parametrize(("build_target", "expected"), [
    ("minikube", [SDK, MK, KUBECTL, HELM, ENV]),
    ("host", [SDK, MK, HOST_ENGINE, KUBECTL, HELM, ENV]),
])
def test_without_minikube_only_a_host_build_still_checks_an_engine(
        tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch, build_target: str,
        expected: list[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine)
    answers = healthy(engine)
    answers["minikube version --short"] = Result(stderr="minikube: command not found\n",
                                                 exited=127)
    s, _ = doctor_session(tmp_path, answers, build_target=build_target)
    results = doctor.all_checks(s)
    assert names(results) == expected
    assert ("minikube", "minikube") not in doctor.passed_checks(s)
    assert ("docker-engine", "minikube") in doctor.passed_checks(s) or build_target == "minikube"


@pytest.mark.parametrize(("build_target", "expected"), [
    ("minikube", [SDK, MK, CLUSTER, FIT, KUBECTL, HELM, ENV]),  # its engine needs it up
    ("host", [SDK, MK, CLUSTER, FIT, HOST_ENGINE, KUBECTL, HELM, ENV]),
])
def test_a_stopped_minikube_skips_its_engine_but_not_the_hosts(
        tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch, build_target: str,
        expected: list[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine)
    answers = healthy(engine)
    answers["minikube -p minikube status -o json"] = Result(json.dumps(STOPPED), exited=7)
    s, _ = doctor_session(tmp_path, answers, build_target=build_target)
    results = doctor.all_checks(s)
    assert names(results) == expected
    assert ("cluster", "minikube") not in doctor.passed_checks(s)


def test_a_running_minikube_too_small_for_the_chart_still_checks_its_engine(
        tmp_path: Path, engine: str) -> None:
    answers = healthy(engine)
    answers["minikube profile list -o json"] = Result(profiles(cpus=1, memory=1024))
    s, _ = doctor_session(tmp_path, answers)
    results = doctor.all_checks(s)
    assert names(results) == [SDK, MK, CLUSTER, FIT, ENGINE, KUBECTL, HELM, ENV]
    assert [r.ok for r in results] == [True, True, True, False, True, True, True, True]


@pytest.mark.parametrize(("target", "extra"), [("docker", []), ("kind", ["kind cluster ci"]),
                                               ("registry", ["registry"])])
def test_other_targets_check_the_context_and_the_hosts_engine(
        tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch, target: str,
        extra: list[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine)
    answers = healthy(engine)
    answers["kind get clusters"] = Result("ci\n")
    with fake_registry.serving(200) as host:
        s, _ = doctor_session(tmp_path, answers, target=target, context="kind-ci",
                              kind_cluster="ci", registry=f"{host}/team")
        results = doctor.all_checks(s)
    extra = [f"registry {host}" if name == "registry" else name for name in extra]
    assert names(results) == [SDK, "cluster of context kind-ci reachable", HOST_ENGINE,
                              *extra, KUBECTL, HELM, ENV]
    assert all(r.ok and r.required for r in results), results
    needs = {"docker-sdk", "cluster", "docker-engine", "kubectl", "helm", "env"}
    needs |= {"kind"} if target == "kind" else {"registry"} if target == "registry" else set()
    assert doctor.passed_checks(s) == {(need, "minikube") for need in needs}
    assert not any(c.startswith("minikube") for c in calls(s))  # minikube is not asked


def test_doctor_passes_and_shows_the_table_under_its_header(tmp_path: Path,
                                                            engine: str) -> None:
    s, out = doctor_session(tmp_path, healthy(engine))
    results = doctor.run_doctor(s)
    assert names(results) == [SDK, MK, CLUSTER, FIT, ENGINE, KUBECTL, HELM, ENV]
    text = out.getvalue()
    assert text.startswith("… checking tools, cluster and .env\n")  # no TTY: a plain line
    assert "inv doctor (target minikube, context minikube)" in text
    assert "Result: SUCCESS — 8 of 8 checks passed" in text


def test_a_warning_alone_does_not_fail_doctor(tmp_path: Path, engine: str) -> None:
    answers = healthy(engine)
    answers["minikube -p minikube status -o json"] = Result(json.dumps(STOPPED), exited=7)
    s, out = doctor_session(tmp_path, answers)
    results = doctor.run_doctor(s)
    assert [r.status for r in results if not r.ok] == ["warn"]
    assert "Result: SUCCESS" in out.getvalue()


def test_only_a_bad_env_is_a_config_error(tmp_path: Path, engine: str) -> None:
    from todo_deploy.errors import ConfigError, ExitCode

    (tmp_path / ".env").write_text("DATABASE_URL=mysql://x/y\n")
    s, _ = doctor_session(tmp_path, healthy(engine))
    with pytest.raises(ConfigError) as err:
        doctor.run_doctor(s)
    assert err.value.message == f"{tmp_path / '.env'} is not valid (see the fix above)"
    assert err.value.hint == "inv secrets --dry-run   # lists each problem with its line"
    assert err.value.code == ExitCode.CONFIG


def test_a_missing_tool_besides_a_bad_env_is_a_missing_prerequisite(
        tmp_path: Path, engine: str) -> None:
    from todo_deploy.errors import ExitCode, PrereqError

    (tmp_path / ".env").write_text("DATABASE_URL=mysql://x/y\n")
    answers = healthy(engine)
    answers[HELM_VERSION] = Result("v2.17.0")
    s, _ = doctor_session(tmp_path, answers)
    with pytest.raises(PrereqError) as err:
        doctor.run_doctor(s)
    assert err.value.message == "doctor found missing prerequisites (see the fixes above)"
    assert err.value.hint == "run the fix commands above, then: inv doctor"
    assert err.value.code == ExitCode.PREREQ


def test_doctor_without_any_context_says_unset_in_its_header(tmp_path: Path,
                                                             engine: str) -> None:
    from todo_deploy.errors import PrereqError

    answers = healthy(engine)
    answers["kubectl config current-context"] = Result(stderr="error: not set\n", exited=1)
    s, out = doctor_session(tmp_path, answers, target="docker")
    with pytest.raises(PrereqError):
        doctor.run_doctor(s)
    assert "inv doctor (target docker, context unset)" in out.getvalue()


def test_require_runs_each_check_once_per_run_and_profile(tmp_path: Path) -> None:
    s, _ = session(tmp_path, {HELM_VERSION: Result("v3.17.3"), KUBECTL_VERSION: Result(
        json.dumps({"clientVersion": {"gitVersion": "v1.31.0"}})),
        "kubectl config current-context": Result("minikube\n")})
    doctor.require(s, "helm")
    doctor.require(s, "helm", "kubectl")  # helm passed already; kubectl is still checked
    assert doctor.passed_checks(s) == {("helm", "minikube"), ("kubectl", "minikube")}
    asked = len(calls(s))
    doctor.require(s, "kubectl", "helm")
    assert len(calls(s)) == asked  # passed earlier in the run: not checked again
    dev = Session(s.c, Settings.from_config(None, profile="dev"), s.console)
    doctor.require(dev, "helm")  # another profile: checked (and passed) for it too
    assert doctor.passed_checks(s) == {("helm", "minikube"), ("kubectl", "minikube"),
                                       ("helm", "dev")}


def test_require_stops_at_the_first_failure_with_doctors_fix(tmp_path: Path) -> None:
    from todo_deploy.errors import PrereqError

    s, _ = session(tmp_path, {HELM_VERSION: Result("v2.17.0")})
    with pytest.raises(PrereqError) as err:
        doctor.require(s, "helm", "kubectl")
    assert err.value.message == "helm 3 or 4: helm v2.17.0 (need 3 or 4)"
    assert err.value.hint == doctor.tool_fix("helm")
    assert calls(s) == [HELM_VERSION]  # kubectl was not asked
    assert doctor.passed_checks(s) == set()  # a failure is checked again next time


def test_a_failure_without_a_fix_points_at_doctor(tmp_path: Path) -> None:
    from todo_deploy.errors import PrereqError

    s, _ = session(tmp_path, {"minikube version --short": Result(stderr="boom\n", exited=1)})
    with pytest.raises(PrereqError) as err:
        doctor.require(s, "minikube")
    assert err.value.message == "minikube installed: `minikube version --short` exited 1: boom"
    assert err.value.hint == "inv doctor"


# -- inv config ------------------------------------------------------------------------------------


def config_rows(text: str) -> dict[str, tuple[str, str]]:
    """The table's rows: setting -> (value, what it is)."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 3 and cells[0] and cells[0] != "setting":
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_config_shows_every_setting_with_its_value_and_meaning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    out = io.StringIO()
    s = Session(MockContext(), Settings.from_config(
        {"build": {"args": {"backend": {"PIP_INDEX": "x", "A": "1"}}}}, target="registry",
        registry="127.0.0.1:5000/team", image_pull_secrets=("pull-a", "pull-b")),
        Console(no_color=True, file=out))
    doctor.show_config(s)
    text = out.getvalue()
    assert "resolved configuration: defaults < invoke.yaml < INVOKE_TODO_<SETTING> (dots " \
        "become _, e.g. INVOKE_TODO_BUILD_KEEP) < flags" in text
    header = next(line for line in text.splitlines() if "setting" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == \
        ["setting", "value", "what it is"]
    rows = config_rows(text)
    assert rows["namespace"] == ("todo", "Kubernetes namespace (created if missing)")
    assert rows["values_file"][0] == ""  # None shows as nothing
    assert rows["registry.pull_secrets"][0] == "pull-a, pull-b"
    assert rows["minikube.cpus"][0] == "2"
    assert rows["images.backend.name"] == ("127.0.0.1:5000/team/todo-backend",
                                           "image repository")
    assert rows["images.frontend.context"] == (str(ROOT / "app" / "frontend"),
                                               "source directory")
    assert rows["images.backend.dockerfile"] == (str(ROOT / "docker" / "backend" /
                                                     "Dockerfile"), "Dockerfile")
    assert rows["build.args.backend"] == ("PIP_INDEX=x, A=1",
                                          "--build-arg per image (part of the image digest)")
    assert rows["build.args.frontend"][0] == ""


def test_config_as_json_is_the_settings_and_nothing_else(tmp_path: Path) -> None:
    s, out = session(tmp_path, namespace="other")
    doctor.show_config(s, as_json=True)
    assert json.loads(out.getvalue()) == json.loads(json.dumps(s.settings.as_dict()))
    assert json.loads(out.getvalue())["namespace"] == "other"
