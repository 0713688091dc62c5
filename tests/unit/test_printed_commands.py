"""Every kubectl / helm command the suite prints for the user to copy carries the run's context.

The run's calls are bound to one kube-context; a hint that says ``kubectl -n todo get
endpoints`` without it would send the user's next command to whatever context is current.
This walks the hint-producing paths (diagnose's fixes on every target and every captured pod
state, verify's HTTP, NodePort and helm test hints, deploy's rollback / uninstall hints, the
Secret's conflict hint, the URL notes, doctor's unreachable-cluster fix) with a context named
unusually (a space and shell-special characters, so it must also be quoted to be copyable),
and checks every printed kubectl command has ``--context NAME`` and every helm command
``--kube-context NAME``. The pod states are the captured ones of tests/fixtures/kubectl.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import tempfile
from pathlib import Path
from typing import Any

import pytest
from invoke import MockContext, Result

from todo_deploy import access, diagnose, doctor, secrets, verify
from todo_deploy.config import TARGETS, Settings
from todo_deploy.console import Console
from todo_deploy.deploy import parse_history, stuck_hint, uninstall_hint
from todo_deploy.proc import ToolResult
from todo_deploy.session import Session
from todo_deploy.tools import Helm, Kubectl, Tools

CONTEXT = "ops team@eu-west-1/blue"
QUOTED = shlex.quote(CONTEXT)  # 'ops team@eu-west-1/blue'
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kubectl"
STATES = sorted(p.name[len("pods-"):-len(".json")] for p in FIXTURES.glob("pods-*.json"))

# a kubectl / helm command (not prose such as "kubectl's credentials" or "helm with ...")
COMMAND = re.compile(r"\b(kubectl|helm) (?=-n |get |describe |logs |delete |port-forward |"
                     r"cluster-info|rollback |uninstall |history |status |test |exec |patch |"
                     r"apply |list |upgrade )")
# where a printed command ends: the hints separate commands and comments this way
END = re.compile(r"   |; |\)|`|  #| # | then|\n| \|")


def printed_commands(text: str) -> list[str]:
    found = []
    for match in COMMAND.finditer(text):
        rest = text[match.start():]
        end = END.search(rest)
        found.append(rest[:end.start()] if end else rest)
    return found


def kube(c: MockContext | None = None) -> Kubectl:
    return Kubectl(c or MockContext(), CONTEXT, "todo", 120.0)


def helm(c: MockContext | None = None) -> Helm:
    return Helm(c or MockContext(), CONTEXT, "todo", 120.0)


def load(name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((FIXTURES / f"{name}.json").read_text())["items"]
    return items


def diagnose_hints() -> list[str]:
    hints = []
    for target in TARGETS:
        place = diagnose.Place(kube(), target, "dev", "ci")
        for state in STATES:
            for finding in diagnose.classify_pods(load(f"pods-{state}"),
                                                  load(f"events-{state}"), place=place):
                hints.append(finding.hint)
        for state in ("err-image-never-pull", "image-pull-backoff"):  # not an image we build
            for p in load(f"pods-{state}"):
                p["metadata"]["labels"]["component"] = "postgresql"
                found = diagnose.classify_pod(p, load(f"events-{state}"), place=place)
                hints.append(found.hint if found else "")
    return hints


def verify_hints() -> list[str]:
    k = kube()
    hints = [verify.explain_error(probe, stderr, k)[1] for probe in verify.PROBES for stderr in (
        "Error from server (ServiceUnavailable): the server is currently unable to handle the "
        "request\n", 'Error from server (NotFound): services "todo-backend" not found\n')]
    now = [0.0]

    def clock() -> float:
        return now[0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def refused(url: str, timeout: float) -> tuple[int, str]:
        raise ConnectionRefusedError(111, "Connection refused")

    for target in TARGETS:
        settings = Settings.from_config({"registry": {"url": "127.0.0.1:5000"}}, target=target)
        up = access.AppUrl("http://192.168.49.2:30080", "192.168.49.2", 30080, "docker",
                           routable=True, platform="linux")
        hints.append(verify.nodeport_check(up, settings, k, get=refused, clock=clock,
                                           sleep=sleep).hint or "")
    c = MockContext(run={
        re.compile(r"^helm test todo-app "): Result(stderr="Error: 1 error occurred\n",
                                                    exited=1),
        re.compile(r"^kubectl logs todo-app-test-health "): Result("FAIL http://x\n")})
    tools = Tools(CONTEXT, True, kube(c), helm(c), "minikube")
    with tempfile.TemporaryDirectory() as state:  # it records the test's verdict
        hints.append(verify.helm_test_check(tools, Settings(state_dir=Path(state))).hint or "")
    return hints


def deploy_hints() -> list[str]:
    def rows(*statuses: str) -> list[Any]:
        return parse_history(json.dumps([{"revision": n, "status": st}
                                         for n, st in enumerate(statuses, 1)]))

    return [stuck_hint(rows("deployed", "pending-upgrade"), helm(), "todo-app", "todo") or "",
            stuck_hint(rows("pending-install"), helm(), "todo-app", "todo") or "",
            uninstall_hint(helm(), "todo-app", "todo")]


def access_and_secret_hints() -> list[str]:
    conflict = ToolResult(["kubectl", "apply"], 1, "",
                          "Apply failed with 1 conflict: conflict with \"helm\"\n")
    return [access.url_note("docker", "darwin", "minikube", kube()) or "",
            access.port_forward_command(kube()),
            secrets._apply_error(kube(), Settings(), conflict).hint or ""]


def doctor_hints() -> list[str]:
    c = MockContext(run={re.compile(r"^kubectl get --raw /readyz "): Result(
        stderr="The connection to the server 10.0.0.1:6443 was refused\n", exited=1)})
    s = Session(c, Settings.from_config(None, target="docker", context=CONTEXT),
                Console(no_color=True, file=io.StringIO(), err_file=io.StringIO()))
    return [doctor.check_context(s).hint or ""]


PATHS = {"diagnose": diagnose_hints, "verify": verify_hints, "deploy": deploy_hints,
         "access and secrets": access_and_secret_hints, "doctor": doctor_hints}


@pytest.mark.parametrize("path", PATHS)
def test_every_printed_kubectl_and_helm_command_carries_the_runs_context(path: str) -> None:
    commands = [cmd for hint in PATHS[path]() for cmd in printed_commands(hint)]
    assert commands, f"{path}: no kubectl/helm command printed (the walk found nothing)"
    lacking = [cmd for cmd in commands
               if f"{'--kube-context' if cmd.startswith('helm') else '--context'} {QUOTED}"
               not in cmd]
    assert lacking == []


def test_the_walk_sees_the_commands_of_every_kind_of_hint() -> None:
    """The walk reaches the commands the issue names (so a path that stops printing them, or a
    pattern that stops finding them, is noticed)."""
    text = "\n".join(hint for walk in PATHS.values() for hint in walk())
    seen = {" ".join(cmd.split()[:3]) for cmd in printed_commands(text)}
    for expected in ("kubectl -n todo", "helm rollback todo-app", "helm uninstall todo-app",
                     "kubectl describe nodes", "kubectl get storageclass",
                     "kubectl cluster-info --context"):
        assert any(s.startswith(expected) for s in seen), (expected, sorted(seen))
    assert f"kubectl -n todo get endpoints todo-backend --context {QUOTED}" in text
    assert f"kubectl -n todo port-forward svc/todo-frontend 3000:3000 --context {QUOTED}" in text


def test_the_pattern_finds_a_command_that_lacks_the_context() -> None:
    """The check itself: a bare command is found and reported as lacking."""
    commands = printed_commands("check: kubectl -n todo get pvc; helm status todo-app   # x")
    assert commands == ["kubectl -n todo get pvc", "helm status todo-app"]
    assert all(QUOTED not in cmd for cmd in commands)


def test_a_printed_command_is_the_argv_the_client_runs_quoted_for_a_shell() -> None:
    assert kube().command("-n", "todo", "exec", "todo-postgres-0", "--", "psql", "-U", "x y") \
        == f"kubectl -n todo exec todo-postgres-0 --context {QUOTED} -- psql -U 'x y'"
    assert shlex.split(helm().command("rollback", "todo-app", "2")) == \
        ["helm", "rollback", "todo-app", "2", "--kube-context", CONTEXT]
