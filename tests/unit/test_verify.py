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
from todo_deploy import diagnose, verify
from todo_deploy.cli import Session
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.diagnose import Cause
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
    "kubectl version --client -o json": Result('{"clientVersion": {"gitVersion": "v1.31.0"}}'),
    "kubectl config current-context": Result("minikube\n"),
    "minikube -p minikube status -o json": Result(MINIKUBE_RUNNING),
}
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
    found = diagnose.group(diagnose.classify_pods(state.pods, objects("events-crashloop")))
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
        "provide credentials)\n", Settings())
    assert detail.startswith("401: the backend rejected the frontend's demo token")
    assert hint.startswith("frontend and backend must share BETTER_AUTH_SECRET")


def test_503_names_the_service_and_its_endpoints() -> None:
    detail, hint = verify.explain_error(
        verify.PROBES[0],
        "Error from server (ServiceUnavailable): the server is currently unable to handle the "
        "request\n", Settings())
    assert "todo-backend" in detail
    assert hint.startswith("kubectl -n todo get endpoints todo-backend")


# what kubectl printed on the live cluster when the backend could not log in to PostgreSQL
INTERNAL_ERROR = ('Error from server (InternalError): an error on the server ("Internal Server '
                  'Error") has prevented the request from succeeding\n')


def test_a_5xx_through_the_frontends_proxy_points_at_the_backends_logs_first() -> None:
    detail, hint = verify.explain_error(verify.PROBES[2], INTERNAL_ERROR, Settings())
    assert "the backend failed the request" in detail
    assert hint.startswith("inv logs backend")


def test_a_5xx_from_a_service_itself_points_at_that_components_logs() -> None:
    detail, hint = verify.explain_error(verify.PROBES[1], INTERNAL_ERROR, Settings())
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


def run_task(c: MockContext, as_json: bool = False) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    console = Console(no_color=True, file=out, err_file=err)
    s = Session(c, Settings(), console)
    try:
        verify.run_verify(s, as_json=as_json)
    except verify.VerifyFailed as exc:
        console.error(exc.message, exc.hint)
        code = int(exc.code)
    return out.getvalue(), err.getvalue(), code


def healthy_cluster(**extra: Result) -> MockContext:
    return MockContext(run={
        **PREREQS,
        WORKLOADS: Result(text("workloads-complete")),
        BACKEND_HEALTH: Result(HEALTHY),
        FRONTEND_HEALTH: Result(HEALTHY),
        ROUND_TRIP: Result('[]'),
        **extra,
    })


def test_healthy_release_passes_all_five_checks_with_a_table_and_summary() -> None:
    out, _, code = run_task(healthy_cluster())
    assert code == 0
    for name in ("rollout todo-backend", "rollout todo-frontend", "backend GET /health",
                 "frontend GET /api/health", "frontend → backend"):
        assert name in out
    assert "Result: SUCCESS — 5 of 5 checks passed" in out


def test_failed_http_check_exits_1_and_the_summary_says_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    c = healthy_cluster(**{BACKEND_HEALTH: Result(
        "", stderr="Error from server (ServiceUnavailable): the server is currently unable "
                   "to handle the request\n", exited=1)})
    monkeypatch.setattr(verify, "HTTP_RETRY_SECONDS", 0.0)
    out, err, code = run_task(c)
    assert code == 1
    assert "Result: FAILURE — 1 of 5 checks failed" in out
    assert "backend GET /health: 503 or no ready endpoint" in out
    assert "verify failed: 1 of 5 checks (first: backend GET /health)" in err


def test_json_output_is_one_document_with_checks_and_findings() -> None:
    out, _, code = run_task(healthy_cluster(), as_json=True)
    data = json.loads(out)
    assert code == 0
    assert data["ok"] is True
    assert [c["status"] for c in data["checks"]] == ["pass"] * 5
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
