"""minikube's side of the suite (todo_deploy.cluster): the exact commands, what a stopped or
missing profile says, the Docker endpoint parsed from ``minikube docker-env`` (which
variables are kept or dropped, TLS included), and what is asked once per run.

invoke's MockContext answers the exact commands with minikube 1.35's output shapes:
``docker-env --shell none`` (``KEY=value`` lines, ``--shell bash`` with ``export`` and
quotes), ``status -o json`` with its bitmask exit code, ``profile list -o json``.
"""

from __future__ import annotations

import io
import json

import pytest
from invoke import MockContext, Result

from todo_deploy import cluster, doctor
from todo_deploy.config import Settings
from todo_deploy.console import CheckResult, Console
from todo_deploy.errors import PrereqError
from todo_deploy.proc import ToolError
from todo_deploy.session import Session
from todo_deploy.tools import parse_docker_env

DOCKER_ENV_NONE = (  # minikube 1.35, docker driver, `docker-env --shell none`
    "DOCKER_TLS_VERIFY=1\n"
    "DOCKER_HOST=tcp://192.168.49.2:2376\n"
    "DOCKER_CERT_PATH=/root/.minikube/certs\n"
    "MINIKUBE_ACTIVE_DOCKERD=minikube\n"
)
DOCKER_ENV_BASH = (  # the same, `--shell bash`
    'export DOCKER_TLS_VERIFY="1"\n'
    'export DOCKER_HOST="tcp://192.168.49.2:2376"\n'
    'export DOCKER_CERT_PATH="/root/.minikube/certs"\n'
    'export MINIKUBE_ACTIVE_DOCKERD="minikube"\n'
    "\n"
    "# To point your shell to minikube's docker-daemon, run:\n"
    "# eval $(minikube -p minikube docker-env)\n"
)
RUNNING = {"Name": "minikube", "Host": "Running", "Kubelet": "Running",
           "APIServer": "Running", "Kubeconfig": "Configured"}


def session(c: MockContext, **settings: object) -> tuple[Session, io.StringIO]:
    out = io.StringIO()
    return Session(c, Settings(**settings),  # type: ignore[arg-type]
                   Console(no_color=True, file=out, err_file=out)), out


# -- the docker-env parser ---------------------------------------------------------------


def test_docker_env_keeps_the_docker_variables_with_tls() -> None:
    expected = {"DOCKER_TLS_VERIFY": "1", "DOCKER_HOST": "tcp://192.168.49.2:2376",
                "DOCKER_CERT_PATH": "/root/.minikube/certs"}
    assert parse_docker_env(DOCKER_ENV_NONE) == expected
    assert parse_docker_env(DOCKER_ENV_BASH) == expected


def test_docker_env_keeps_the_api_version_and_drops_every_other_variable() -> None:
    env = parse_docker_env("DOCKER_HOST=unix:///var/run/docker.sock\n"
                           "DOCKER_API_VERSION=1.41\nDOCKER_CONFIG=/x\nPATH=/bin\n"
                           "SSH_AUTH_SOCK=/tmp/agent\n")
    assert env == {"DOCKER_HOST": "unix:///var/run/docker.sock", "DOCKER_API_VERSION": "1.41"}


@pytest.mark.parametrize("off", ["0", "", "false", "FALSE", " no ", "No"])
def test_docker_env_drops_tls_verify_when_it_is_off(off: str) -> None:
    """docker-py turns TLS on for any DOCKER_TLS_VERIFY value, even 0."""
    env = parse_docker_env(f"DOCKER_HOST=tcp://h:2375\nDOCKER_TLS_VERIFY={off}\n")
    assert env == {"DOCKER_HOST": "tcp://h:2375"}


@pytest.mark.parametrize("on", ["1", "true", "yes", "on"])
def test_docker_env_keeps_tls_verify_when_it_is_on(on: str) -> None:
    env = parse_docker_env(f"DOCKER_HOST=tcp://h:2376\nDOCKER_TLS_VERIFY={on}\n")
    assert env == {"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": on}


def test_docker_env_drops_a_variable_without_a_value() -> None:
    assert parse_docker_env("DOCKER_HOST=tcp://h:2376\nDOCKER_CERT_PATH\n") == \
        {"DOCKER_HOST": "tcp://h:2376"}
    assert parse_docker_env("") == {}


# -- commands ------------------------------------------------------------------------------


def test_minikube_commands_name_the_profile() -> None:
    assert cluster.minikube(Settings(profile="dev"), "status", "-o", "json") == \
        ["minikube", "-p", "dev", "status", "-o", "json"]
    client = cluster.client(MockContext(), Settings(profile="dev", tool_timeout=7))
    assert (client.profile, client.timeout) == ("dev", 7)


def test_start_asks_for_the_configured_size_with_at_least_ten_minutes() -> None:
    c = MockContext(run={"minikube -p dev start --cpus=4 --memory=8192": Result("")},
                    repeat=True)
    cluster.start(c, Settings(profile="dev", cpus=4, memory=8192, tool_timeout=30))
    assert c.run.call_args.kwargs["timeout"] == 600  # type: ignore[attr-defined]
    cluster.start(c, Settings(profile="dev", cpus=4, memory=8192, tool_timeout=601))
    assert c.run.call_args.kwargs["timeout"] == 601  # type: ignore[attr-defined]


def test_a_failed_start_points_at_minikube_logs_then_delete() -> None:
    c = MockContext(run={"minikube -p dev start --cpus=2 --memory=4096":
                         Result(stderr="boom\n", exited=80)})
    with pytest.raises(ToolError) as err:
        cluster.start(c, Settings(profile="dev"))
    assert err.value.hint == "minikube -p dev logs   # then: minikube -p dev delete"


# -- status --------------------------------------------------------------------------------


def cluster_check(c: MockContext, settings: Settings) -> CheckResult:
    """doctor's check of the minikube target's cluster (what every stage requires)."""
    return doctor.check_cluster(Session(c, settings, Console(no_color=True)), required=True)


def test_a_running_profile_is_running_and_named() -> None:
    c = MockContext(run={"minikube -p minikube status -o json": Result(json.dumps(RUNNING))})
    st = cluster.status(c, Settings())
    assert st.running and st.profile == "minikube"


def test_a_stopped_profile_says_what_is_down_and_how_to_start_it() -> None:
    down = {**RUNNING, "Host": "Stopped", "Kubelet": "Stopped", "APIServer": "Stopped",
            "Kubeconfig": "Stopped"}
    c = MockContext(run={"minikube -p dev status -o json": Result(json.dumps(down), exited=7)})
    check = cluster_check(c, Settings(profile="dev", cpus=3, memory=6000))
    assert not check.ok
    assert check.detail == "host Stopped, kubelet Stopped, apiserver Stopped, kubeconfig Stopped"
    assert "minikube -p dev start --cpus 3 --memory 6000   (or: inv up, which starts it)" in \
        str(check.hint)


def test_a_missing_profile_is_not_running() -> None:
    c = MockContext(run={"minikube -p dev status -o json": Result(
        '{"Name":"dev","Host":"Nonexistent"}', exited=85)})
    st = cluster.status(c, Settings(profile="dev"))
    assert not st.running and "profile 'dev' does not exist" in st.describe()


def test_profile_facts_are_asked_once_per_run_until_a_start() -> None:
    listing = json.dumps({"valid": [{"Name": "minikube", "Config": {
        "Driver": "docker", "CPUs": 2, "Memory": 4096,
        "KubernetesConfig": {"ContainerRuntime": "containerd"}, "Nodes": [{}]}}]})
    c = MockContext(run={"minikube profile list -o json": Result(listing)}, repeat=True)
    s, _ = session(c)
    info = cluster.profile(s)
    assert info is not None and info.runtime == "containerd"
    assert cluster.profile(s) is info
    assert c.run.call_count == 1  # type: ignore[attr-defined]
    cluster.started(s)
    cluster.profile(s)
    assert c.run.call_count == 2  # type: ignore[attr-defined]


# -- the Docker endpoint -------------------------------------------------------------------


def test_builds_on_the_host_ask_minikube_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    endpoint = cluster.docker_endpoint(MockContext(), Settings(build_target="host"))
    assert endpoint == cluster.DockerEndpoint(target="host")
    assert endpoint.host == "local default socket"


def test_the_hosts_engine_is_named_where_docker_host_points(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the docker SDK builds on the host's engine at this process's DOCKER_HOST: messages say so
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    assert cluster.DockerEndpoint(target="host").host == "tcp://127.0.0.1:2375"
    minikubes = cluster.DockerEndpoint(target="minikube",
                                       environment={"DOCKER_HOST": "tcp://192.168.49.2:2376"})
    assert minikubes.host == "tcp://192.168.49.2:2376"


def test_minikube_endpoint_is_the_parsed_docker_env() -> None:
    c = MockContext(run={"minikube -p dev docker-env --shell none": Result(DOCKER_ENV_NONE)})
    endpoint = cluster.docker_endpoint(c, Settings(profile="dev", tool_timeout=9))
    assert endpoint.target == "minikube"
    assert endpoint.host == "tcp://192.168.49.2:2376"
    assert endpoint.environment == parse_docker_env(DOCKER_ENV_NONE)
    assert c.run.call_args.kwargs["timeout"] == 9  # type: ignore[attr-defined]


def test_an_unreachable_minikube_daemon_names_the_exit_code_and_last_stderr_line() -> None:
    c = MockContext(run={"minikube -p dev docker-env --shell none": Result(
        DOCKER_ENV_NONE, stderr="first\nThe control-plane node dev host is not running\n",
        exited=89)})
    with pytest.raises(PrereqError) as err:
        cluster.docker_endpoint(c, Settings(profile="dev"))
    assert err.value.message == (
        "cannot reach minikube's Docker daemon (`minikube docker-env` exited 89: "
        "The control-plane node dev host is not running)")
    assert err.value.hint == ("minikube -p dev start   "
                              "(or build on the host: inv build --target host)")


def test_a_docker_env_without_docker_host_is_unreachable() -> None:
    c = MockContext(run={"minikube -p minikube docker-env --shell none": Result(
        "DOCKER_TLS_VERIFY=1\n")})
    with pytest.raises(PrereqError) as err:
        cluster.docker_endpoint(c, Settings())
    assert err.value.message.endswith("(`minikube docker-env` exited 0: no DOCKER_HOST)")


def test_the_endpoint_is_asked_once_per_run_until_a_start() -> None:
    c = MockContext(run={"minikube -p minikube docker-env --shell none":
                         Result(DOCKER_ENV_NONE)}, repeat=True)
    s, _ = session(c)
    first = cluster.docker_env(s)
    assert cluster.docker_env(s) is first
    assert c.run.call_count == 1  # type: ignore[attr-defined]
    cluster.started(s)
    assert cluster.docker_env(s) == first
    assert c.run.call_count == 2  # type: ignore[attr-defined]


def test_a_start_forgets_the_kube_context_too() -> None:
    s, _ = session(MockContext())
    contexts = iter(["before", "after"])
    assert s.remember(("kubectl-context",), lambda: next(contexts)) == "before"
    cluster.started(s)
    assert s.remember(("kubectl-context",), lambda: next(contexts)) == "after"


@pytest.mark.parametrize(("code", "component"), [(1, "Host"), (2, "Kubelet"),
                                                 (4, "Kubeconfig")])
def test_one_component_down_alone_is_not_running(code: int, component: str) -> None:
    node = {**RUNNING, component: "Stopped" if component != "Kubeconfig" else "Misconfigured"}
    c = MockContext(run={"minikube -p minikube status -o json":
                         Result(json.dumps(node), exited=code)})
    st = cluster.status(c, Settings())
    assert not st.running
    assert ("(" + st.describe() + ")").endswith(
        f"({', '.join(f'{k.lower()} {node[k]}' for k in ('Host', 'Kubelet'))}, "
        f"apiserver Running, kubeconfig {node['Kubeconfig']})")


def test_an_apiserver_down_alone_is_not_running_even_with_exit_0() -> None:
    c = MockContext(run={"minikube -p minikube status -o json":
                         Result(json.dumps({**RUNNING, "APIServer": "Stopped"}))})
    st = cluster.status(c, Settings())
    assert not st.running and "apiserver Stopped" in st.describe()


def test_a_multi_node_status_is_judged_by_its_first_node() -> None:
    nodes = [RUNNING, {**RUNNING, "Name": "minikube-m02", "Host": "Stopped"}]
    c = MockContext(run={"minikube -p minikube status -o json": Result(json.dumps(nodes))})
    assert cluster.status(c, Settings()).running
