"""The tool clients (todo_deploy/tools.py): one kube-context per run, on every call.

Exact commands with invoke's ``MockContext``; the outputs replay the real tools' shapes
(``helm history -o json``, kubectl's NotFound message, helm's "release: not found").
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from invoke import MockContext, Result
from invoke.exceptions import Exit

import tasks
from todo_deploy import tools
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.errors import ConfigError, ExitCode
from todo_deploy.session import Session

HISTORY = json.dumps([{"revision": 1, "updated": "2026-11-29T10:00:00Z", "status": "superseded",
                       "chart": "todo-app-1.0.0", "app_version": "1.0.0",
                       "description": "Install complete"},
                      {"revision": 2, "updated": "2026-11-29T10:05:00Z", "status": "deployed",
                       "chart": "todo-app-1.0.0", "app_version": "1.0.0",
                       "description": "Upgrade complete"}])


def kube(c: MockContext, context: str = "ctx-a") -> tools.Kubectl:
    return tools.Kubectl(c, context, "todo", 120.0)


def helm(c: MockContext, context: str = "ctx-a") -> tools.Helm:
    return tools.Helm(c, context, "todo", 120.0)


def session(c: MockContext, **overrides: object) -> tuple[Session, io.StringIO]:
    out = io.StringIO()
    return Session(c, Settings.from_config(None, **overrides),
                   Console(no_color=True, file=out, err_file=out)), out


def test_kubectl_puts_the_context_after_the_arguments() -> None:
    c = MockContext(run={"kubectl get pods -n todo -l app=todo-app -o json --context ctx-a":
                         Result('{"items": [{"metadata": {"name": "p"}}]}')})
    assert kube(c).items("pods", "app=todo-app") == [{"metadata": {"name": "p"}}]


def test_kubectl_puts_the_context_before_the_double_dash_that_ends_its_flags() -> None:
    c = MockContext(run={"kubectl exec -i -n todo pg -c postgresql --context ctx-a -- psql -X":
                         Result("")})
    assert kube(c).run("exec", "-i", "-n", "todo", "pg", "-c", "postgresql", "--", "psql",
                       "-X").ok


def test_helm_calls_carry_kube_context_and_the_client_parses_the_history() -> None:
    c = MockContext(run={"helm history todo-app --namespace todo --max 20 --output json "
                         "--kube-context ctx-a": Result(HISTORY)})
    assert [(r.number, r.status) for r in helm(c).history("todo-app")] == [
        (1, "superseded"), (2, "deployed")]


def test_one_logs_builder_for_a_pod_and_for_a_selector() -> None:
    k = kube(MockContext())
    assert k.logs_argv(pod="p-1", container="backend", tail=20, previous=True) == [
        "kubectl", "logs", "p-1", "-n", "todo", "-c", "backend", "--tail=20", "--previous",
        "--context", "ctx-a"]
    assert k.logs_argv(selector="app=todo-app", follow=True) == [
        "kubectl", "logs", "-n", "todo", "-l", "app=todo-app", "--all-containers", "--prefix",
        "--tail=100", "--max-log-requests=10", "-f", "--context", "ctx-a"]


def test_a_missing_object_is_a_typed_not_found_error() -> None:
    c = MockContext(run={"kubectl get secret s -n todo -o 'jsonpath={.data}' --context ctx-a":
                         Result("", stderr='Error from server (NotFound): secrets "s" not '
                                'found\n', exited=1)})
    with pytest.raises(tools.NotFound):
        kube(c).jsonpath("secret", "s", "{.data}")


@pytest.mark.parametrize("stderr", [
    "error: You must be logged in to the server (Unauthorized)\n",
    # a webhook saying "not found" is a failure of the call, not a missing object
    'Error from server (InternalError): failed calling webhook: service "hook" not found\n',
])
def test_another_failure_is_a_tool_error_not_a_not_found(stderr: str) -> None:
    c = MockContext(run={"kubectl get secret s -n todo -o 'jsonpath={.data}' --context ctx-a":
                         Result("", stderr=stderr, exited=1)})
    with pytest.raises(tools.proc.ToolError) as failed:
        kube(c).jsonpath("secret", "s", "{.data}")
    assert not isinstance(failed.value, tools.NotFound)


def test_uninstalling_a_release_that_is_not_there_says_so_without_string_matching() -> None:
    c = MockContext(run={"helm uninstall todo-app -n todo --wait --kube-context ctx-a": Result(
        "", stderr="Error: uninstall: Release not loaded: todo-app: release: not found\n",
        exited=1)})
    assert helm(c).uninstall("todo-app", 300) is False


@pytest.mark.parametrize(("tool", "stderr"), [
    ("kubectl", 'Error from server (NotFound): secrets "todo-secrets" not found\n'),
    ("kubectl", 'Error from server (NotFound): namespaces "todo" not found\n'),
    ("helm", "Error: release: not found\n"),
    ("helm", "Error: uninstall: Release not loaded: todo-app: release: not found\n"),
])
def test_the_tools_own_not_found_answers_are_not_found(tool: str, stderr: str) -> None:
    assert tools.is_not_found(tool, stderr)


@pytest.mark.parametrize(("tool", "stderr"), [
    # words in other failures: a credential plugin, a kubeconfig, a webhook, a chart path
    ("kubectl", 'error: exec: "gke-gcloud-auth-plugin": executable file not found in $PATH\n'),
    ("kubectl", "error: stat /home/u/.kube/config: no such file: context not found\n"),
    ("kubectl", 'Error from server (InternalError): Internal error occurred: failed calling '
                'webhook "v.example.com": service "hook" not found\n'),
    ("helm", "Error: INSTALLATION FAILED: path \"./chart\" not found\n"),
    ("helm", "Error: Kubernetes cluster unreachable: context \"kind-x\" not found\n"),
    ("minikube", "Error from server (NotFound): secrets \"s\" not found\n"),  # not its own
])
def test_other_stderr_with_the_words_is_not_not_found(tool: str, stderr: str) -> None:
    assert not tools.is_not_found(tool, stderr)


@pytest.mark.parametrize(("named", "current", "target", "want"), [
    ("flag-or-config", "current", "minikube", "flag-or-config"),
    ("", "kind-dev", "kind", "kind-dev"),
    ("", "", "minikube", "dev-profile"),  # `minikube start` will create it
])
def test_the_context_is_the_named_one_else_the_current_one_else_the_profile(
        named: str, current: str, target: str, want: str) -> None:
    assert tools.resolve_context(named, current, target=target, profile="dev-profile") == want


def test_no_context_at_all_for_a_cluster_target_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        tools.resolve_context("", "", target="registry", profile="minikube")


def test_the_context_flag_wins_over_config() -> None:
    assert Settings.from_config({"context": "from-config"}).context == "from-config"
    assert Settings.from_config({"context": "from-config"}, context="flag").context == "flag"


@pytest.mark.parametrize(("name", "local"), [
    ("minikube", True), ("dev", True), ("kind-ci", True), ("docker-desktop", True),
    ("todo-local", True), ("k3d-lab", True),
    ("arn:aws:eks:eu-west-1:1:cluster/prod", False), ("gke_p_z_prod", False), ("k3s", False)])
def test_local_contexts_are_known_by_the_names_local_tools_give_them(name: str,
                                                                     local: bool) -> None:
    assert tools.is_local_context(name, profile="dev") is local


def test_a_named_context_is_resolved_without_asking_kubectl() -> None:
    s, _ = session(MockContext(run={}), context="prod")  # any command would raise
    assert (s.tools.context, s.tools.explicit) == ("prod", True)


def test_the_current_context_is_asked_once_per_run_and_kept() -> None:
    c = MockContext(run={"kubectl config current-context": [Result("minikube\n"),
                                                           Result("prod-eks\n")]})
    first, _ = session(c)
    assert first.tools.context == "minikube"
    later, _ = session(c)  # a chained task of the same run (`inv build secrets deploy`)
    assert later.tools.context == "minikube"
    assert [call.args[0] for call in c.run.call_args_list] == [  # type: ignore[attr-defined]
        "kubectl config current-context"]


# -- safety: a cluster that is only current by chance is never changed ------------------------

REMOTE = {"kubectl config current-context": Result("arn:aws:eks:eu-west-1:1:cluster/prod\n")}


def ran(c: MockContext) -> list[str]:
    return [call.args[0] for call in c.run.call_args_list]  # type: ignore[attr-defined]


@pytest.mark.parametrize("task", ["up", "deploy", "down"])
def test_a_remote_current_context_not_named_is_refused_with_exit_2_and_nothing_run(
        task: str, capsys: pytest.CaptureFixture[str]) -> None:
    c = MockContext(run=dict(REMOTE))
    with pytest.raises(Exit) as refused:
        getattr(tasks, task)(c)
    assert refused.value.code == ExitCode.CONFIG
    assert ran(c) == ["kubectl config current-context"]
    err = capsys.readouterr().err
    assert "not a local cluster" in err and "--context arn:aws:eks:eu-west-1:1:cluster/prod" in err


def test_secrets_refuses_a_remote_current_context_before_storing_or_applying(
        tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("DATABASE_URL=postgresql://u:p-0123456789@db:5432/todo\nCOHERE_API_KEY=\n"
                   "BETTER_AUTH_SECRET=" + "s" * 48 + "\n")
    before = env.read_text()
    c = MockContext(run=dict(REMOTE))
    with pytest.raises(Exit) as refused:
        tasks.secrets(c, env_file=str(env))
    assert refused.value.code == ExitCode.CONFIG
    assert ran(c) == ["kubectl config current-context"]
    assert env.read_text() == before


def test_a_remote_context_named_explicitly_is_allowed() -> None:
    s, _ = session(MockContext(run={}), context="arn:aws:eks:eu-west-1:1:cluster/prod")
    tools.require_safe(s.tools, "deploy")  # no refusal


def test_a_local_current_context_needs_no_name() -> None:
    s, _ = session(MockContext(run={"kubectl config current-context": Result("kind-ci\n")}))
    tools.require_safe(s.tools, "deploy")
