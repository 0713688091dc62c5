"""`inv doctor`, `inv config` and the task list.

minikube and a cluster cannot run here: the fake minikube/kubectl/helm (tests/fakes) replay
the real tools' output shapes (`minikube status -o json` with its bitmask exit code,
`minikube profile list -o json`, `kubectl version --client -o json`, `helm version`).
PATH holds only the fakes, so a tool installed on the developer's machine cannot leak in.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from invoke.context import Context

from tests.conftest import ROOT, FakeTools, real_render
from tests.fakes import fake_docker_engine
from todo_deploy import chart, doctor, proc
from todo_deploy.cluster import parse_status
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.session import Session

RUNNING = {"Name": "minikube", "Host": "Running", "Kubelet": "Running", "APIServer": "Running",
           "Kubeconfig": "Configured", "Worker": False}
PROFILES = {"invalid": [], "valid": [{"Name": "minikube", "Status": "OK", "Config": {
    "Name": "minikube", "Driver": "docker", "CPUs": 2, "Memory": 4000,
    "KubernetesConfig": {"KubernetesVersion": "v1.31.0", "ContainerRuntime": "docker"},
    "Nodes": [{"Name": "", "ControlPlane": True, "Worker": True}]}}]}


@functools.cache
def fit_render(embedded: bool) -> str:
    """What the REAL helm renders for doctor's fit check (embedded PostgreSQL off / on)."""
    return real_render(chart.requests_argv(Settings(), embedded_db=embedded), 3)


def inv(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture
def only_fakes(fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    """PATH = the fakes plus a shell (invoke runs commands through bash)."""
    (fake_tools.bin_dir / "bash").symlink_to(shutil.which("bash") or "/bin/bash")
    monkeypatch.setenv("PATH", str(fake_tools.bin_dir))
    return fake_tools


@pytest.fixture
def engine() -> Iterator[str]:
    """A Docker Engine API answering /version (tests/fakes/fake_docker_engine.py)."""
    with fake_docker_engine.serving() as host:
        yield host


def docker_env(host: str) -> str:
    """``minikube docker-env --shell none``'s shape, pointing at ``host``."""
    return (f"DOCKER_TLS_VERIFY=0\nDOCKER_HOST={host}\n"
            "MINIKUBE_ACTIVE_DOCKERD=minikube\n")


def healthy(fake: FakeTools, engine: str = "") -> None:
    if engine:
        fake.rule("minikube", r"docker-env --shell none", stdout=docker_env(engine))
    fake.rule("minikube", r"^version --short", stdout="v1.34.0\n")
    fake.rule("minikube", r"status -o json", stdout=json.dumps(RUNNING))
    fake.rule("minikube", r"^profile list -o json", stdout=json.dumps(PROFILES))
    fake.rule("kubectl", r"^version --client",
              stdout=json.dumps({"clientVersion": {"gitVersion": "v1.31.0"}}))
    fake.rule("kubectl", r"^config current-context", stdout="minikube\n")
    fake.rule("helm", r"^version", stdout="v3.17.3")
    fake.rule("kubectl", r"^get --raw /readyz", stdout="ok")  # the API server's own answer
    for embedded in (False, True):  # the fit check's render (the REAL helm's output)
        fake.rule("helm", rf"^template .*postgresql.enabled={str(embedded).lower()}",
                  stdout=fit_render(embedded))


def env_file(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    path.write_text((ROOT / ".env.example").read_text())
    return path


@pytest.mark.parametrize("major", [3, 4])
def test_the_rendered_chart_requests_the_spec_total(major: int) -> None:
    """From the REAL render: 700m / 1536 Mi (the spec's ~0.7 CPU, ~1.5Gi); the embedded
    PostgreSQL adds its pod (an init container counts as the scheduler counts it)."""
    def rendered(embedded: bool) -> tuple[int, int]:
        text = real_render(chart.requests_argv(Settings(), embedded_db=embedded), major)
        return chart.pod_requests(d.obj for d in chart.split_documents(text))

    assert rendered(False) == (700, 1536)
    assert rendered(True) == (750, 1664)


def test_pod_requests_count_the_larger_of_init_and_main_containers_times_replicas() -> None:
    def container(cpu: str, mem: str) -> dict[str, Any]:
        return {"resources": {"requests": {"cpu": cpu, "memory": mem}}}

    pod = {"kind": "Deployment", "spec": {"replicas": 2, "template": {"spec": {
        "containers": [container("100m", "64Mi"), container("50m", "64Mi")],
        "initContainers": [container("200m", "32Mi")]}}}}
    service = {"kind": "Service", "spec": {}}
    assert chart.pod_requests([pod, service]) == (2 * 200, 2 * 128)
    assert chart.pod_requests([pod], "limits") == (0, 0)


@pytest.mark.parametrize(("quantity", "milli"), [("250m", 250), ("0.5", 500), ("2", 2000)])
def test_cpu_quantities(quantity: str, milli: int) -> None:
    assert chart.parse_cpu(quantity) == milli


@pytest.mark.parametrize(("quantity", "mib"), [("512Mi", 512), ("1Gi", 1024), ("128M", 122)])
def test_memory_quantities(quantity: str, mib: int) -> None:
    assert chart.parse_memory_mib(quantity) == mib


@pytest.mark.parametrize(("text", "major"), [("v3.17.3", 3), ("v4.1.4+g1234", 4), ("", 0)])
def test_helm_major_is_detected(text: str, major: int) -> None:
    assert doctor.parse_helm_version(text).major == major


def test_status_bitmask_exit_code_still_parses_json() -> None:
    stopped = {**RUNNING, "Host": "Stopped", "Kubelet": "Stopped", "APIServer": "Stopped"}
    status = parse_status(json.dumps(stopped), 7, "minikube")
    assert status.exists and not status.running and status.down_mask == 7


def test_missing_profile_is_not_running() -> None:
    status = parse_status("", 85, "dev")
    assert not status.exists and not status.running


def test_doctor_without_minikube_exits_3_with_table_and_both_fixes(
        only_fakes: FakeTools, tmp_path: Path) -> None:
    healthy(only_fakes)
    only_fakes.remove("minikube", "helm")
    result = inv("doctor", "--env-file", str(env_file(tmp_path)))
    assert result.returncode == 3
    out = result.stdout
    assert "minikube installed" in out and "FAIL" in out
    assert "Linux: curl -LO https://storage.googleapis.com/minikube" in out
    assert "macOS: brew install minikube" in out
    assert "macOS: brew install helm" in out
    assert "Traceback" not in result.stderr


def test_doctor_passes_when_everything_is_there(only_fakes: FakeTools, tmp_path: Path,
                                                engine: str) -> None:
    healthy(only_fakes, engine)
    result = inv("doctor", "--env-file", str(env_file(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Result: SUCCESS" in result.stdout
    assert "Helm 3" in result.stdout and "minikube has 2 CPU / 4000Mi" in result.stdout
    assert "inv doctor (target minikube, context minikube)" in result.stdout  # the header


def test_doctor_flags_a_cluster_too_small_for_the_chart(
        only_fakes: FakeTools, tmp_path: Path, engine: str) -> None:
    small = json.loads(json.dumps(PROFILES))
    small["valid"][0]["Config"].update(CPUs=1, Memory=1024)
    only_fakes.rule("minikube", r"^profile list", stdout=json.dumps(small))
    healthy(only_fakes, engine)
    result = inv("doctor", "--env-file", str(env_file(tmp_path)))
    assert result.returncode == 3
    assert "cluster fits the chart" in result.stdout
    assert "minikube -p minikube delete && minikube -p minikube start --cpus 2" in result.stdout


def test_stopped_cluster_is_only_a_warning_in_doctor(
        only_fakes: FakeTools, tmp_path: Path) -> None:
    stopped = {**RUNNING, "Host": "Stopped", "Kubelet": "Stopped", "APIServer": "Stopped"}
    only_fakes.rule("minikube", r"status -o json", stdout=json.dumps(stopped), code=7)
    healthy(only_fakes)
    result = inv("doctor", "--env-file", str(env_file(tmp_path)))
    assert result.returncode == 0, result.stdout
    assert "warn" in result.stdout and "inv up, which starts it" in result.stdout


def test_doctor_reports_a_bad_env(only_fakes: FakeTools, tmp_path: Path, engine: str) -> None:
    healthy(only_fakes, engine)
    path = tmp_path / ".env"
    path.write_text("DATABASE_URL=mysql://x/y\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET=\n")
    result = inv("doctor", "--env-file", str(path))
    assert result.returncode == 2  # only the input is wrong: a config error, not a missing tool
    assert ".env present and valid" in result.stdout
    assert "inv secrets --dry-run" in result.stdout


def test_bad_build_target_from_the_environment_is_a_config_error() -> None:
    result = inv("config", env_extra={"INVOKE_TODO_BUILD_TARGET": "laptop"})
    assert result.returncode == 2
    assert "'laptop'" in result.stderr and "Traceback" not in result.stderr


def test_config_precedence_yaml_then_env_then_flag(tmp_path: Path) -> None:
    """One setting (the namespace) given by invoke.yaml, INVOKE_TODO_NAMESPACE and
    --namespace: each later layer wins, as a task shows it (``inv secrets --dry-run``)."""
    shutil.copy(ROOT / "tasks.py", tmp_path / "tasks.py")
    (tmp_path / ".env").write_text("DATABASE_URL=\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET=\n")
    (tmp_path / ".env").chmod(0o600)
    (tmp_path / "invoke.yaml").write_text(yaml.safe_dump(
        {"todo": {"namespace": "from-yaml", "env_file": str(tmp_path / ".env")}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}

    def secret(*flags: str, **extra: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "invoke", "secrets", "--dry-run", *flags], cwd=tmp_path,
            env={**env, "NO_COLOR": "1", "COLUMNS": "200", **extra}, capture_output=True,
            text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stdout + result.stderr
        found = re.findall(r"Secret ([a-z-]+/[a-z-]+)", result.stdout)
        assert found, result.stdout
        return str(found[0])

    assert secret() == "from-yaml/todo-secrets"
    assert secret(INVOKE_TODO_NAMESPACE="from-env") == "from-env/todo-secrets"
    assert secret("--namespace", "from-flag", INVOKE_TODO_NAMESPACE="from-env") == \
        "from-flag/todo-secrets"
    # a key this invoke.yaml does not name still takes its environment variable (the
    # defaults are the collection's configuration, so invoke knows every key)
    assert secret(INVOKE_TODO_SECRET_NAME="other-secret") == "from-yaml/other-secret"


def test_every_task_is_listed_with_help() -> None:
    listing = inv("--list").stdout
    for name in ("config", "doctor", "secrets"):
        line = next((x for x in listing.splitlines() if x.strip().startswith(name + " ")), "")
        assert len(line.split()) > 1, f"{name} has no help line"


def test_every_flag_of_every_task_has_help() -> None:
    import tasks

    missing = []
    for obj in vars(tasks).values():
        body = getattr(obj, "body", None)
        if body is None or not hasattr(obj, "help"):
            continue
        for arg in obj.get_arguments():
            if not arg.help:
                missing.append(f"{obj.name} --{arg.name}")
    assert missing == []


def test_install_hints_use_the_arm64_binaries_on_arm64() -> None:
    for machine in ("aarch64", "arm64"):
        fixes = doctor.install_fixes(machine, root=False)
        assert "minikube-linux-arm64" in fixes["minikube"][0]
        assert "/bin/linux/arm64/kubectl" in fixes["kubectl"][0]
        assert "amd64" not in fixes["minikube"][0] + fixes["kubectl"][0]


def test_install_hints_use_the_amd64_binaries_on_x86_64() -> None:
    fixes = doctor.install_fixes("x86_64", root=False)
    assert "minikube-linux-amd64" in fixes["minikube"][0]
    assert "/bin/linux/amd64/kubectl" in fixes["kubectl"][0]


def test_install_hints_say_sudo_only_when_not_root() -> None:
    as_user = doctor.install_fixes("x86_64", root=False)
    as_root = doctor.install_fixes("x86_64", root=True)
    for tool in ("minikube", "kubectl"):
        assert "sudo install" in as_user[tool][0]
        assert "sudo" not in as_root[tool][0] and " install " in as_root[tool][0]


# -- the Docker engine the build will use (issue 11 #10) -----------------------------------------


def test_doctor_fails_naming_minikubes_engine_when_it_does_not_answer(
        only_fakes: FakeTools, tmp_path: Path) -> None:
    healthy(only_fakes, "tcp://127.0.0.1:9")  # the SDK is installed; nothing listens there
    result = inv("doctor", "--env-file", str(env_file(tmp_path)))
    assert result.returncode == 3
    line = next(x for x in result.stdout.splitlines() if "Docker engine" in x)
    assert "Docker engine (minikube" in line and "FAIL" in line
    assert "no Docker engine answers at tcp://127.0.0.1:9" in result.stdout


def test_host_builds_check_the_hosts_engine_not_minikubes(
        only_fakes: FakeTools, tmp_path: Path, engine: str) -> None:
    healthy(only_fakes)  # minikube's docker-env answers nothing: it must not be asked
    result = inv("doctor", "--env-file", str(env_file(tmp_path)), "--target", "docker",
                 env_extra={"DOCKER_HOST": engine})
    assert "Docker engine (host)" in result.stdout
    assert result.returncode == 0, result.stdout
    assert "Docker 20.10.24+dfsg1" in result.stdout
    assert not any("docker-env" in " ".join(a) for a in only_fakes.argvs("minikube"))
    assert "minikube installed" not in result.stdout  # the docker target needs no minikube


def test_host_engine_missing_says_start_docker(only_fakes: FakeTools, tmp_path: Path) -> None:
    healthy(only_fakes)
    result = inv("doctor", "--env-file", str(env_file(tmp_path)), "--target", "docker",
                 env_extra={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert result.returncode == 3
    assert "Docker engine (host)" in result.stdout and "start Docker" in result.stdout


# -- tool versions: asked once per binary, not once per run (#11.16) ---------------------------


def version_session(tmp_path: Path) -> Session:
    """A new invoke run (a new Context: nothing remembered from an earlier run)."""
    return Session(Context(), Settings(state_dir=tmp_path / "state"),
                   Console(no_color=True, file=io.StringIO(), err_file=io.StringIO()))


def version_calls(fake: FakeTools) -> list[str]:
    return [" ".join([c["tool"], *c["argv"]]) for c in fake.calls() if "version" in c["argv"]]


def test_a_tools_version_is_asked_once_per_binary_until_the_binary_changes(
        fake_tools: FakeTools, tmp_path: Path, machine_cache: Path) -> None:
    fake_tools.rule("helm", r"^version", stdout="v3.17.3")
    assert doctor.helm_version(version_session(tmp_path)).version == "v3.17.3"
    assert doctor.helm_version(version_session(tmp_path)).version == "v3.17.3"
    assert version_calls(fake_tools) == ["helm version --template {{.Version}}"]
    assert (machine_cache / "todo-deploy" / "tool-versions.json").is_file()

    helm = fake_tools.bin_dir / "helm"  # upgraded in place: another size and mtime
    helm.write_text(helm.read_text() + "\n# upgraded\n")
    fake_tools.rules.clear()
    fake_tools.rule("helm", r"^version", stdout="v4.1.4")
    assert doctor.helm_version(version_session(tmp_path)).version == "v4.1.4"
    assert len(version_calls(fake_tools)) == 2


def test_a_tool_not_on_path_is_still_reported_missing_with_its_install_hint(
        only_fakes: FakeTools, tmp_path: Path) -> None:
    only_fakes.remove("helm")
    with pytest.raises(proc.ToolMissing):
        doctor.version_output(version_session(tmp_path), ["helm", "version"])


def test_an_unreadable_versions_cache_is_asked_again_not_an_error(
        fake_tools: FakeTools, tmp_path: Path, machine_cache: Path) -> None:
    cache = machine_cache / "todo-deploy" / "tool-versions.json"
    cache.parent.mkdir(parents=True)
    cache.write_text("{not json")
    fake_tools.rule("kubectl", r"^version", stdout='{"clientVersion": {"gitVersion": "v1.34.1"}}')
    out = doctor.version_output(version_session(tmp_path), ["kubectl", "version", "--client",
                                                            "-o", "json"])
    assert "v1.34.1" in out and json.loads(cache.read_text())  # rewritten, valid again


def test_the_chart_is_rendered_once_per_content_for_the_fit_check(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    copy = tmp_path / "chart"
    shutil.copytree(ROOT / "helm" / "todo-app", copy)
    fake_tools.rule("helm", r"^template ", stdout=fit_render(False))

    def requests() -> tuple[int, int]:
        s = Session(Context(), Settings(chart=copy, state_dir=tmp_path / "state"),
                    Console(no_color=True, file=io.StringIO(), err_file=io.StringIO()))
        return chart.chart_requests(s, embedded_db=False)

    assert requests() == requests() == (700, 1536)
    assert len(fake_tools.calls("helm")) == 1  # the second run read the kept figure
    (copy / "values.yaml").write_text((copy / "values.yaml").read_text() + "\n# edited\n")
    requests()
    assert len(fake_tools.calls("helm")) == 2  # another chart content: rendered again
