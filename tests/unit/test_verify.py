"""`inv verify`: rollout logic on real kubectl shapes, exact commands, verdicts and output.

No API server can run here: the workloads/pods/events JSON in tests/fixtures/kubectl/ replays
the shapes kubectl prints for a minikube cluster, and MockContext answers the exact commands.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from invoke import MockContext, Result
from invoke.exceptions import Exit

import tasks
from tests.conftest import HealthServer
from todo_deploy import access, diagnose, verify
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.diagnose import Cause
from todo_deploy.session import Session
from todo_deploy.tools import Kubectl

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kubectl"
WORKLOADS = ("kubectl get deployments,replicasets,pods -n todo -l app=todo-app -o json "
             "--context minikube")
EVENTS = ("kubectl get events -n todo --field-selector involvedObject.kind=Pod -o json "
          "--context minikube")
RAW = "kubectl get --raw /api/v1/namespaces/todo/services/"
CTX = " --context minikube"  # every call to the cluster carries the run's context
BACKEND_HEALTH = RAW + "todo-backend:7860/proxy/health" + CTX
FRONTEND_HEALTH = RAW + "todo-frontend:3000/proxy/api/health" + CTX
ROUND_TRIP = RAW + "todo-frontend:3000/proxy/api/backend/api/todos" + CTX
HEALTHY = '{"status":"healthy"}'
MINIKUBE_RUNNING = json.dumps({"Name": "minikube", "Host": "Running", "Kubelet": "Running",
                               "APIServer": "Running", "Kubeconfig": "Configured"})
PREREQS = {
    "minikube version --short": Result("v1.35.0\n"),
    "kubectl version --client -o json": Result('{"clientVersion": {"gitVersion": "v1.31.0"}}'),
    "kubectl config current-context": Result("minikube\n"),
    "minikube -p minikube status -o json": Result(MINIKUBE_RUNNING),
    "helm version --template '{{.Version}}'": Result("v3.17.3"),
}
NODE_IP = "minikube -p minikube ip"
NODE_PORT = ("kubectl get service todo-frontend -n todo -o 'jsonpath={.spec.ports[0].nodePort}'"
             " --context minikube")
PROFILE_LIST = "minikube profile list -o json"
DOCKER_PROFILE = json.dumps({"invalid": [], "valid": [{"Name": "minikube", "Status": "OK",
    "Config": {"Driver": "docker", "CPUs": 2, "Memory": 4096,
               "KubernetesConfig": {"ContainerRuntime": "docker"}, "Nodes": [{"Name": ""}]}}]})
HELM_TEST = "helm test todo-app --namespace todo --timeout 120s --kube-context minikube"
TEST_POD_LOG = "kubectl logs todo-app-test-health -n todo --tail=20 --context minikube"
HELM_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "helm"


def helm_test_result(outcome: str, major: int = 3) -> Result:
    """``helm test`` as helm ``major`` printed it against the live test cluster, and the
    failed test pod's log (scripts/capture-helm-test.sh): a passing and a failing test pod."""
    base = HELM_FIXTURES / f"test-{outcome}-helm{major}"
    return Result(base.with_suffix(".stdout").read_text(),
                  stderr=base.with_suffix(".stderr").read_text(),
                  exited=int(base.with_suffix(".code").read_text()))


def failed_test_pod_log(major: int = 3) -> Result:
    return Result((HELM_FIXTURES / f"test-fail-logs-helm{major}.stdout").read_text())


KUBE = Kubectl(MockContext(), "minikube", "todo", 120.0)  # renders the hints' commands


def kube(c: MockContext) -> Kubectl:
    """kubectl's client as a session makes it (context minikube, namespace todo)."""
    return Kubectl(c, "minikube", "todo", 120.0)


def text(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def objects(name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(text(name))["items"]
    return items


def of_kind(name: str, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects(name) if o["kind"] == kind]


def newest_hash(name: str, deployment: str = "todo-backend") -> str:
    d = next(o for o in of_kind(name, "Deployment") if o["metadata"]["name"] == deployment)
    rs = verify.newest_replicaset(d, of_kind(name, "ReplicaSet"))
    assert rs is not None
    return str(rs["metadata"]["labels"]["pod-template-hash"])


def crash_pod() -> str:
    """The crash-looping pod the watch reports first (names come from the captured state)."""
    state = verify.rollout_state("backend", "todo-backend", objects("workloads-backend-crashloop"))
    found = diagnose.group(diagnose.classify_pods(
        state.pods, objects("events-crashloop"),
        place=diagnose.Place(Kubectl(MockContext(), "minikube", "todo", 120.0))))
    return found[0].pod


CRASH_POD = crash_pod()


class FakeClock:
    """Time that only moves when verify sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


# -- rollout state (pure) ----------------------------------------------------------------------


def test_complete_rollout_is_done_with_ready_count_and_revision() -> None:
    state = verify.rollout_state("backend", "todo-backend", objects("workloads-complete"))
    deployment = of_kind("workloads-complete", "Deployment")[0]
    revision = deployment["metadata"]["annotations"][verify.REVISION]
    assert state.done
    assert state.detail == f"2/2 ready (revision {revision})"
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in state.pods} == {
        newest_hash("workloads-complete")}


def test_rollout_with_old_pods_still_serving_is_not_done_and_watches_only_new_pods() -> None:
    name = "workloads-backend-crashloop"
    state = verify.rollout_state("backend", "todo-backend", objects(name))
    old = [p for p in of_kind(name, "Pod") if p["metadata"]["labels"].get("component") ==
           "backend" and p["metadata"]["labels"]["pod-template-hash"] != newest_hash(name)]
    assert old, "the capture has the old revision's pod still serving"
    assert not state.done
    assert state.pods and {p["metadata"]["labels"]["pod-template-hash"]
                           for p in state.pods} == {newest_hash(name)}
    assert state.detail.startswith("0/2 ready; ")


def test_unobserved_generation_is_waiting_for_the_controller() -> None:
    objs = objects("workloads-complete")
    objs[0]["metadata"]["generation"] = 3
    state = verify.rollout_state("backend", "todo-backend", objs)
    assert not state.done
    assert "waiting for the new spec to be observed" in state.detail


def test_progress_deadline_exceeded_is_a_failed_rollout() -> None:
    state = verify.rollout_state("backend", "todo-backend",
                                 objects("workloads-progress-deadline"))
    rs = f"todo-backend-{newest_hash('workloads-progress-deadline')}"
    assert state.failed == f'ReplicaSet "{rs}" has timed out progressing.'


def test_missing_deployment_is_reported_as_not_found() -> None:
    state = verify.rollout_state("backend", "todo-backend", [])
    assert not state.found


# -- HTTP judgement (pure) ----------------------------------------------------------------------


def test_health_body_must_say_healthy() -> None:
    probe = verify.PROBES[0]
    assert verify.judge(probe, HEALTHY)[0]
    ok, detail = verify.judge(probe, '{"status": "starting"}')
    assert not ok and "expected" in detail


def test_round_trip_expects_a_json_list_of_todos() -> None:
    probe = verify.PROBES[2]
    assert verify.judge(probe, '[{"id": 1, "title": "a", "completed": false}]') == (
        True, "200, 1 todo(s) for the demo user: proxy, JWT (BETTER_AUTH_SECRET) and "
              "database agree")
    assert not verify.judge(probe, "<html>")[0]


def test_401_on_the_round_trip_points_at_better_auth_secret() -> None:
    detail, hint = verify.explain_error(
        verify.PROBES[2],
        "error: You must be logged in to the server (the server has asked for the client to "
        "provide credentials)\n", KUBE)
    assert detail.startswith("401: the backend rejected the frontend's demo token")
    assert hint.startswith("frontend and backend must share BETTER_AUTH_SECRET")


def test_503_names_the_service_and_its_endpoints() -> None:
    detail, hint = verify.explain_error(
        verify.PROBES[0],
        "Error from server (ServiceUnavailable): the server is currently unable to handle the "
        "request\n", KUBE)
    assert "todo-backend" in detail
    assert hint.startswith("kubectl -n todo get endpoints todo-backend")


# what kubectl printed on the live cluster when the backend could not log in to PostgreSQL
INTERNAL_ERROR = ('Error from server (InternalError): an error on the server ("Internal Server '
                  'Error") has prevented the request from succeeding\n')


def test_a_5xx_through_the_frontends_proxy_points_at_the_backends_logs_first() -> None:
    detail, hint = verify.explain_error(verify.PROBES[2], INTERNAL_ERROR, KUBE)
    assert "the backend failed the request" in detail
    assert hint.startswith("inv logs backend")


def test_a_5xx_from_a_service_itself_points_at_that_components_logs() -> None:
    detail, hint = verify.explain_error(verify.PROBES[1], INTERNAL_ERROR, KUBE)
    assert detail.startswith("5xx from todo-frontend")
    assert hint == "inv logs frontend"


# -- the watch and the checks (exact commands) --------------------------------------------------


def test_crash_loop_stops_the_watch_at_once_with_exit_code_and_previous_logs() -> None:
    clock = FakeClock()
    c = MockContext(run={
        WORKLOADS: Result(text("workloads-backend-crashloop")),
        EVENTS: Result(text("events-crashloop")),
        f"kubectl logs {CRASH_POD} -n todo -c backend --tail=20 --previous"
            " --context minikube": Result(
            "todo-api: configuration error: missing required environment variable "
            "DATABASE_URL\n"),
        f"kubectl logs {CRASH_POD} -n todo -c backend --tail=20 --context minikube": Result(""),
    })
    watch = verify.watch_rollout(kube(c), Settings(), clock=clock, sleep=clock.sleep)
    assert clock.now == 0.0  # no waiting: the first poll already has the verdict
    assert [f.cause for f in watch.findings] == [Cause.CRASH_LOOP]
    assert watch.findings[0].exit_code == 2
    assert "DATABASE_URL" in "\n".join(watch.findings[0].logs)


def test_pods_still_starting_are_polled_again_until_ready() -> None:
    clock = FakeClock()
    c = MockContext(run={
        WORKLOADS: [Result(text("workloads-backend-starting")),
                    Result(text("workloads-complete"))],
        EVENTS: Result(text("events-healthy")),
    })
    watch = verify.watch_rollout(kube(c), Settings(), poll=2.0, clock=clock, sleep=clock.sleep)
    assert watch.ok
    assert clock.now == 2.0


def test_rollout_that_never_finishes_times_out_at_the_configured_timeout() -> None:
    clock = FakeClock()
    c = MockContext(run={
        WORKLOADS: Result(text("workloads-backend-starting")),
        EVENTS: Result(text("events-healthy")),
    })
    settings = Settings(verify_timeout=10)
    watch = verify.watch_rollout(kube(c), settings, poll=3.0, clock=clock, sleep=clock.sleep)
    assert watch.timed_out and not watch.ok
    assert clock.now == 10.0
    checks = verify.rollout_checks(watch, settings)
    assert checks[0].detail.startswith("timed out after 10s: 0/2 ready")
    assert checks[0].hint is not None and checks[0].hint.startswith("inv verify --timeout 20")


def test_readiness_failing_with_a_4xx_is_a_verdict() -> None:
    c = MockContext(run={
        WORKLOADS: Result(text("workloads-readiness-failing")),
        EVENTS: Result(text("events-readiness-failing")),
    })
    clock = FakeClock()
    watch = verify.watch_rollout(kube(c), Settings(), clock=clock, sleep=clock.sleep)
    assert [f.cause for f in watch.findings] == [Cause.READINESS]
    assert "GET /e2e-no-such-path on port 7860" in watch.findings[0].message


def run_task(state_dir: Path, c: MockContext, as_json: bool = False) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    console = Console(no_color=True, file=out, err_file=err)
    s = Session(c, Settings(state_dir=state_dir), console)
    try:
        verify.run_verify(s, as_json=as_json)
    except verify.VerifyFailed as exc:
        console.error(exc.message, exc.hint)
        code = int(exc.code)
    return out.getvalue(), err.getvalue(), code


def healthy_cluster(node: HealthServer, **extra: Result) -> MockContext:
    return MockContext(run=healthy_commands(node, **extra))


def healthy_commands(node: HealthServer, **extra: Result) -> dict[str, Result]:
    """A complete rollout; the NodePort is ``node`` (a real server on 127.0.0.1)."""
    return {
        **PREREQS,
        WORKLOADS: Result(text("workloads-complete")),
        BACKEND_HEALTH: Result(HEALTHY),
        FRONTEND_HEALTH: Result(HEALTHY),
        ROUND_TRIP: Result('[]'),
        NODE_IP: Result("127.0.0.1\n"),
        NODE_PORT: Result(str(node.port)),
        PROFILE_LIST: Result(DOCKER_PROFILE),
        HELM_TEST: helm_test_result("pass"),
        **extra,
    }


def test_healthy_release_passes_all_seven_checks_with_a_table_and_summary(
        nodeport: HealthServer, tmp_path: Path) -> None:
    out, _, code = run_task(tmp_path, healthy_cluster(nodeport))
    assert code == 0
    for name in ("rollout todo-backend", "rollout todo-frontend", "backend GET /health",
                 "frontend GET /api/health", "frontend → backend", f"NodePort {nodeport.port}",
                 "helm test todo-app"):
        assert name in out  # the table folds long names: their full form is in the JSON
    assert "Result: SUCCESS — 7 of 7 checks passed" in out


def test_verify_opens_the_nodeport_url_from_the_host_and_runs_helm_test(
        nodeport: HealthServer, tmp_path: Path) -> None:
    out, _, code = run_task(tmp_path, healthy_cluster(nodeport), as_json=True)
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 0
    assert nodeport.paths == ["/api/health"]  # really requested, from this host
    node = checks[f"NodePort {nodeport.port} from this host"]
    assert node["status"] == "pass"
    assert node["detail"] == (f"GET http://127.0.0.1:{nodeport.port}/api/health: "
                              '{"status": "healthy"}')
    assert checks["helm test todo-app"]["detail"] == "todo-app-test-health: Succeeded"


def test_a_nodeport_that_refuses_fails_verify_and_names_the_minikube_service_form(
        nodeport: HealthServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(verify, "HTTP_RETRY_SECONDS", 0.0)
    out, _, code = run_task(tmp_path, healthy_cluster(nodeport, **{NODE_PORT: Result(str(port))}))
    assert code == 1
    assert "Result: FAILURE — 1 of 7 checks failed" in out
    assert f"NodePort {port} from this host: GET http://127.0.0.1:{port}/api/health" \
        in out
    assert "if this host cannot reach the node IP: minikube service todo-frontend -n todo " \
           "--url" in out


def test_a_nodeport_answering_503_is_a_failure(nodeport: HealthServer,
                                               monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    nodeport.status, nodeport.body = 503, '{"status":"unhealthy"}'
    monkeypatch.setattr(verify, "HTTP_RETRY_SECONDS", 0.0)
    out, _, code = run_task(tmp_path, healthy_cluster(nodeport))
    assert code == 1
    assert f"HTTP 503 from http://127.0.0.1:{nodeport.port}/api/health" in out


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_docker_driver_on_macos_or_windows_is_not_reported_as_a_pass(
        nodeport: HealthServer, monkeypatch: pytest.MonkeyPatch, platform: str,
        tmp_path: Path) -> None:
    monkeypatch.setattr(access.sys, "platform", platform)
    out, _, code = run_task(tmp_path, healthy_cluster(nodeport))
    assert code == 0  # not a failure: it could not be checked from here
    assert nodeport.paths == []  # and it was not pretended
    assert "Result: SUCCESS — 6 of 7 checks passed" in out
    where = {"darwin": "macOS", "win32": "Windows"}[platform]
    assert (f"NodePort {nodeport.port} from this host: not checked: with the docker "
            f"driver on {where} the node IP 127.0.0.1 is not reachable from the host") in out
    assert "fix: minikube service todo-frontend -n todo --url   # in a second terminal" in out


def test_the_hyperkit_or_kvm_style_drivers_and_docker_on_linux_route_to_the_node() -> None:
    assert access.node_routable("docker", "linux")
    assert access.node_routable("kvm2", "linux")
    assert access.node_routable("hyperkit", "darwin")
    assert access.node_routable("qemu2", "darwin")
    assert not access.node_routable("docker", "darwin")
    assert not access.node_routable("podman", "win32")


@pytest.mark.parametrize("major", [3, 4])
def test_a_failing_helm_test_fails_verify_with_the_test_pods_verdict(
        nodeport: HealthServer, major: int, tmp_path: Path) -> None:
    out, err, code = run_task(tmp_path, healthy_cluster(nodeport, **{
        HELM_TEST: helm_test_result("fail", major), TEST_POD_LOG: failed_test_pod_log(major)}))
    assert code == 1
    assert "Result: FAILURE — 1 of 7 checks failed" in out
    assert "helm test todo-app: FAIL http://todo-backend:7860/health; FAIL " \
           "http://todo-frontend:3000/api/health" in out
    assert "fix: kubectl -n todo logs todo-app-test-health" in out
    assert "verify failed: 1 of 7 checks (first: helm test todo-app)" in err


def test_helm_test_runs_by_default_and_skip_helm_test_leaves_it_out(
        nodeport: HealthServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    state = {"todo": {"state_dir": str(tmp_path)}}  # helm test's verdict is kept there
    c = healthy_cluster(nodeport)
    c.config.update(state)
    tasks.verify(c)
    assert "helm test todo-app" in capsys.readouterr().out
    assert (tmp_path / verify.HELM_TESTS_FILE).is_file()
    without_helm = {k: v for k, v in healthy_commands(nodeport).items()
                    if not k.startswith("helm ")}
    c = MockContext(run=without_helm)
    c.config.update(state)
    tasks.verify(c, skip_helm_test=True)  # no helm call at all
    printed = capsys.readouterr().out
    assert "helm test" not in printed and "Result: SUCCESS — 6 of 6 checks passed" in printed


def test_failed_http_check_exits_1_and_the_summary_says_why(
        nodeport: HealthServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    c = healthy_cluster(nodeport, **{BACKEND_HEALTH: Result(
        "", stderr="Error from server (ServiceUnavailable): the server is currently unable "
                   "to handle the request\n", exited=1)})
    monkeypatch.setattr(verify, "HTTP_RETRY_SECONDS", 0.0)
    out, err, code = run_task(tmp_path, c)
    assert code == 1
    assert "Result: FAILURE — 1 of 7 checks failed" in out
    assert "backend GET /health: 503 or no ready endpoint" in out
    assert "verify failed: 1 of 7 checks (first: backend GET /health)" in err


def test_json_output_is_one_document_with_checks_and_findings(nodeport: HealthServer,
                                                              tmp_path: Path) -> None:
    out, _, code = run_task(tmp_path, healthy_cluster(nodeport), as_json=True)
    data = json.loads(out)
    assert code == 0
    assert data["ok"] is True
    assert [c["status"] for c in data["checks"]] == ["pass"] * 7
    assert data["findings"] == []


def test_verify_task_exits_1_on_a_crash_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    c = MockContext(run={
        **PREREQS,
        WORKLOADS: Result(text("workloads-backend-crashloop")),
        EVENTS: Result(text("events-crashloop")),
        f"kubectl logs {CRASH_POD} -n todo -c backend --tail=20 --previous"
            " --context minikube": Result("boom\n"),
        f"kubectl logs {CRASH_POD} -n todo -c backend --tail=20 --context minikube": Result(""),
    })
    monkeypatch.setenv("NO_COLOR", "1")
    with pytest.raises(Exit) as exc:
        tasks.verify(c)
    assert exc.value.code == 1


def test_a_crashing_embedded_postgres_is_named_while_the_backend_waits_for_it() -> None:
    db = next(p for p in objects("pods-crashloop") if p["metadata"]["name"] == CRASH_POD)
    db["metadata"].update(name="todo-postgres-0", labels={
        "app": "todo-app", "component": "postgresql", "apps.kubernetes.io/pod-index": "0",
        "controller-revision-hash": "todo-postgres-6d5f7c8b9",
        "statefulset.kubernetes.io/pod-name": "todo-postgres-0"})
    db["metadata"]["ownerReferences"][0].update(kind="StatefulSet", name="todo-postgres")
    db["status"]["containerStatuses"][0]["name"] = "postgresql"
    objs = [*objects("workloads-backend-starting"), db]
    c = MockContext(run={
        WORKLOADS: Result(json.dumps({"kind": "List", "items": objs})),
        EVENTS: Result(text("events-healthy")),
        "kubectl logs todo-postgres-0 -n todo -c postgresql --tail=20 --previous"
            " --context minikube": Result(
            "initdb: error: could not change permissions of directory\n"),
        "kubectl logs todo-postgres-0 -n todo -c postgresql --tail=20"
            " --context minikube": Result(""),
    })
    clock = FakeClock()
    settings = Settings()
    watch = verify.watch_rollout(kube(c), settings, clock=clock, sleep=clock.sleep)
    checks = verify.rollout_checks(watch, settings)
    assert checks[0].name == "pod todo-postgres-0"
    assert checks[0].detail.startswith("crash-loop: container postgresql keeps crashing")
    assert "stopped while waiting" in checks[1].detail


def test_verify_alone_masks_env_values_that_a_crash_log_prints(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Each task has its own console: `inv verify` (alone, or chained after `inv secrets`)
    must still mask what .env holds when it prints a crash-looping pod's log tail."""
    url = "postgresql://app:pw-s3cr3t-9x@db.example.com:5432/todo"
    env = tmp_path / ".env"
    env.write_text(f"DATABASE_URL={url}\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET={'a' * 40}\n")
    c = MockContext(run={
        **PREREQS,
        WORKLOADS: Result(text("workloads-backend-crashloop")),
        EVENTS: Result(text("events-crashloop")),
        f"kubectl logs {CRASH_POD} -n todo -c backend --tail=20 --previous"
            " --context minikube": Result(
            f"ValidationError: database_url input_value='{url}'\n"
            "password authentication failed: pw-s3cr3t-9x\n"),
        f"kubectl logs {CRASH_POD} -n todo -c backend --tail=20 --context minikube": Result(""),
    })
    c.config["todo"] = {"env_file": str(env)}
    monkeypatch.setenv("NO_COLOR", "1")
    with pytest.raises(Exit) as exc:
        tasks.verify(c)
    assert exc.value.code == 1
    printed = capsys.readouterr()
    shown = printed.out + printed.err
    assert "ValidationError: database_url input_value='••••'" in shown
    assert "password authentication failed: ••••" in shown
    assert "pw-s3cr3t-9x" not in shown and url not in shown


@pytest.mark.parametrize("major", [3, 4])
def test_helm_test_passes_on_both_majors_without_fetching_the_pods_log(
        nodeport: HealthServer, major: int, tmp_path: Path) -> None:
    out, _, code = run_task(tmp_path, healthy_cluster(nodeport, **{
        HELM_TEST: helm_test_result("pass", major)}), as_json=True)
    assert code == 0  # MockContext has no `kubectl logs` answer: a call would raise
    helm_test = json.loads(out)["checks"][-1]
    assert (helm_test["name"], helm_test["status"], helm_test["detail"]) == (
        "helm test todo-app", "pass", "todo-app-test-health: Succeeded")


def test_helm_test_phases_pairs_each_suite_with_its_phase() -> None:
    for major in (3, 4):
        stdout = (HELM_FIXTURES / f"test-fail-helm{major}.stdout").read_text()
        assert verify.helm_test_phases(stdout) == ["todo-app-test-health: Failed"]
    assert verify.helm_test_phases("NOTES:\nPhase: nothing\n") == []


# -- helm test once per revision in the no-op loop (#11.16) ------------------------------------


def helm_test_session(c: MockContext, state: Path, unchanged: int | None) -> Session:
    """A session whose deploy stage (earlier in the same run) left the release at revision
    ``unchanged`` (None: it upgraded, or did not run)."""
    s = Session(c, Settings(state_dir=state), Console(no_color=True, file=io.StringIO(),
                                                      err_file=io.StringIO()))
    if unchanged is not None:
        s.store(verify.RELEASE_UNCHANGED, unchanged)
    return s


def helm_calls(c: MockContext) -> list[str]:
    return [call.args[0] for call in c.run.call_args_list  # type: ignore[attr-defined]
            if call.args[0].startswith("helm test")]


def test_helm_test_is_not_run_again_on_the_revision_it_passed_when_deploy_changed_nothing(
        tmp_path: Path) -> None:
    first = MockContext(run={"kubectl config current-context": Result("minikube\n"),
                             HELM_TEST: helm_test_result("pass")})  # the fixture: REVISION 1
    s = helm_test_session(first, tmp_path, None)
    assert verify.helm_test_check(s.tools, s.settings).ok and helm_calls(first) == [HELM_TEST]
    again = MockContext(run={"kubectl config current-context": Result("minikube\n")})
    s = helm_test_session(again, tmp_path, unchanged=1)
    check = verify.helm_test_check(s.tools, s.settings, unchanged=s.recall(
        verify.RELEASE_UNCHANGED))
    assert check.ok and helm_calls(again) == []  # MockContext would raise on a helm call
    assert "passed on revision 1" in check.detail and "not run again" in check.detail


@pytest.mark.parametrize("unchanged", [None, 2])  # upgraded in this run; another revision
def test_helm_test_runs_when_the_release_changed_or_was_not_tested(
        tmp_path: Path, unchanged: int | None) -> None:
    for _ in range(2):  # the first run records revision 1 as passed
        c = MockContext(run={"kubectl config current-context": Result("minikube\n"),
                             HELM_TEST: helm_test_result("pass")})
        s = helm_test_session(c, tmp_path, unchanged)
        assert verify.helm_test_check(s.tools, s.settings, unchanged=unchanged).ok
        assert helm_calls(c) == [HELM_TEST]


def test_a_failed_helm_test_is_forgotten_so_the_next_no_op_runs_it_again(
        tmp_path: Path) -> None:
    passing = MockContext(run={"kubectl config current-context": Result("minikube\n"),
                               HELM_TEST: helm_test_result("pass")})
    s = helm_test_session(passing, tmp_path, None)
    verify.helm_test_check(s.tools, s.settings)
    failing = MockContext(run={"kubectl config current-context": Result("minikube\n"),
                               HELM_TEST: helm_test_result("fail"),
                               TEST_POD_LOG: failed_test_pod_log(3)})
    s = helm_test_session(failing, tmp_path, None)
    assert not verify.helm_test_check(s.tools, s.settings).ok
    rerun = MockContext(run={"kubectl config current-context": Result("minikube\n"),
                             HELM_TEST: helm_test_result("pass")})
    s = helm_test_session(rerun, tmp_path, unchanged=1)
    assert verify.helm_test_check(s.tools, s.settings, unchanged=1).ok
    assert helm_calls(rerun) == [HELM_TEST]


def test_tested_revision_reads_helms_revision_line() -> None:
    for outcome in ("pass", "fail"):
        for major in (3, 4):
            stdout = (HELM_FIXTURES / f"test-{outcome}-helm{major}.stdout").read_text()
            assert verify.tested_revision(stdout) == 1
    assert verify.tested_revision("NAME: todo-app\nREVISION: 12\n") == 12
    assert verify.tested_revision("TEST SUITE: x\n") is None
