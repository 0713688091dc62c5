"""`inv verify` end to end on MockContext, and its parts that shape what the user reads:
``helm test`` (its argv and timeouts, the verdict when it fails, what is remembered between
runs), ``verify`` (which checks run and when), the report's JSON, ``VerifyFailed``'s message
and fix, and ``run_verify``'s prerequisites and output.

helm's and kubectl's answers replay the live test cluster's captures (tests/fixtures/helm,
tests/fixtures/kubectl).
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
from invoke import MockContext, Result

from tests.conftest import HealthServer
from tests.unit.test_verify import (
    BACKEND_HEALTH,
    EVENTS,
    HELM_FIXTURES,
    HELM_TEST,
    PREREQS,
    TEST_POD_LOG,
    WORKLOADS,
    failed_test_pod_log,
    healthy_commands,
    helm_test_result,
    kube,
    text,
)
from todo_deploy import proc, verify
from todo_deploy.config import Settings
from todo_deploy.console import CheckResult, Console
from todo_deploy.errors import PrereqError, StageFailed
from todo_deploy.session import Session

CONTEXT = {"kubectl config current-context": Result("minikube\n")}


def session(c: MockContext, tmp: Path, **settings: object) -> Session:
    return Session(c, Settings(state_dir=tmp, **settings),  # type: ignore[arg-type]
                   Console(no_color=True, file=io.StringIO(), err_file=io.StringIO()))


def helm_calls(c: MockContext) -> list[tuple[str, object]]:
    return [(call.args[0], call.kwargs.get("timeout"))
            for call in c.run.call_args_list  # type: ignore[attr-defined]
            if call.args[0].startswith("helm test")]


# -- helm test -------------------------------------------------------------------------------


@pytest.mark.parametrize(("timeout", "flag"), [(0.2, "1s"), (0.5, "1s"), (1.0, "1s"),
                                               (1.6, "2s"), (90.0, "90s")])
def test_helm_tests_timeout_is_whole_seconds_and_never_below_one(
        timeout: float, flag: str) -> None:
    assert verify.helm_test_argv(Settings(namespace="ns", release="rel"), timeout) == [
        "helm", "test", "rel", "--namespace", "ns", "--timeout", flag]


@pytest.mark.parametrize(("verify_timeout", "flag", "limit"), [
    (60.0, "60s", 120.0), (120.0, "120s", 180.0), (300.0, "120s", 180.0)])
def test_helm_test_waits_at_most_two_minutes_within_verifys_timeout(
        tmp_path: Path, verify_timeout: float, flag: str, limit: float) -> None:
    command = HELM_TEST.replace("--timeout 120s", f"--timeout {flag}")
    c = MockContext(run={**CONTEXT, command: helm_test_result("pass")})
    s = session(c, tmp_path, verify_timeout=verify_timeout)
    check = verify.helm_test_check(s.tools, s.settings)
    assert check.ok
    assert helm_calls(c) == [(command, limit)]  # helm's own limit, then a minute more


def test_a_passing_helm_test_without_suite_lines_still_says_passed(tmp_path: Path) -> None:
    c = MockContext(run={**CONTEXT, HELM_TEST: Result("NAME: todo-app\nREVISION: 4\n")})
    s = session(c, tmp_path)
    check = verify.helm_test_check(s.tools, s.settings)
    assert (check.name, check.ok, check.detail, check.hint) == (
        "helm test todo-app", True, "passed", None)
    assert 0.0 <= check.seconds < 60
    assert verify.passed_revisions(s.settings) == {"minikube/todo/todo-app": 4}


def test_a_passing_helm_test_without_a_revision_line_is_not_remembered(tmp_path: Path) -> None:
    c = MockContext(run={**CONTEXT, HELM_TEST: [helm_test_result("pass"),
                                                Result("TEST SUITE: x\nPhase: Succeeded\n")]})
    s = session(c, tmp_path)
    verify.helm_test_check(s.tools, s.settings)
    assert verify.passed_revisions(s.settings) == {"minikube/todo/todo-app": 1}
    verify.helm_test_check(s.tools, s.settings)
    assert verify.passed_revisions(s.settings) == {}


def test_the_skipped_helm_test_says_why_and_took_no_time(tmp_path: Path) -> None:
    c = MockContext(run={**CONTEXT, HELM_TEST: helm_test_result("pass")})
    s = session(c, tmp_path)
    verify.helm_test_check(s.tools, s.settings)
    check = verify.helm_test_check(s.tools, s.settings, unchanged=1)
    assert check == CheckResult("helm test todo-app", True, 0.0,
                                "passed on revision 1, which this run left unchanged: not run "
                                "again (inv verify runs it)")


def test_a_pass_in_another_context_or_namespace_does_not_skip_helm_test(tmp_path: Path) -> None:
    (tmp_path / verify.HELM_TESTS_FILE).write_text(json.dumps(
        {"other/todo/todo-app": 1, "minikube/other/todo-app": 1, "minikube/todo/other": 1,
         "minikube/todo/todo-app": "1"}))  # not a revision number
    c = MockContext(run={**CONTEXT, HELM_TEST: helm_test_result("pass")})
    s = session(c, tmp_path)
    assert verify.helm_test_check(s.tools, s.settings, unchanged=1).ok
    assert len(helm_calls(c)) == 1


def failing(c_extra: dict[str, Result], tmp: Path) -> CheckResult:
    c = MockContext(run={**CONTEXT, **c_extra})
    s = session(c, tmp)
    return verify.helm_test_check(s.tools, s.settings)


LOGS_HINT = ("kubectl -n todo logs todo-app-test-health --context minikube   # the failed test "
             "pod stays; then: inv logs backend; inv logs frontend")


def test_a_failing_helm_test_reads_the_fail_lines_of_its_pod_without_the_bodies(
        tmp_path: Path) -> None:
    log = failed_test_pod_log(3).stdout
    assert "URLError" in log  # the pod prints the error after the URL
    check = failing({HELM_TEST: helm_test_result("fail"), TEST_POD_LOG: Result(
        "PASS http://todo-backend:7860/health 200 ok\n" + log)}, tmp_path)
    assert (check.ok, check.detail, check.hint) == (
        False, "FAIL http://todo-backend:7860/health; FAIL http://todo-frontend:3000/api/health",
        LOGS_HINT)
    assert 0.0 <= check.seconds < 60


def test_without_fail_lines_a_failing_helm_test_says_helms_last_error_line(
        tmp_path: Path) -> None:
    stderr = (HELM_FIXTURES / "test-fail-helm3.stderr").read_text()
    assert len(stderr.strip().splitlines()) > 1
    check = failing({HELM_TEST: helm_test_result("fail"),
                     TEST_POD_LOG: Result("", stderr="error: pod not found\n", exited=1)},
                    tmp_path)
    assert check.detail == stderr.strip().splitlines()[-1]  # helm's own line, as it is


def test_a_log_that_cannot_be_read_is_not_searched_for_verdicts(tmp_path: Path) -> None:
    check = failing({HELM_TEST: Result("", stderr="Error: timed out\n", exited=1),
                     TEST_POD_LOG: Result("FAIL http://stale\n", exited=1)}, tmp_path)
    assert check.detail == "Error: timed out"


def test_a_failing_helm_test_with_no_output_at_all_says_its_exit_code(tmp_path: Path) -> None:
    check = failing({HELM_TEST: Result("", exited=3), TEST_POD_LOG: Result("")}, tmp_path)
    assert check.detail == "exit 3"
    check = failing({HELM_TEST: Result("Error: only on stdout\n", exited=1),
                     TEST_POD_LOG: Result("")}, tmp_path)
    assert check.detail == "Error: only on stdout"


def test_the_test_pods_verdicts_are_its_pass_and_fail_lines() -> None:
    assert verify.pod_verdicts("starting\nPASS http://a 200 {}\nFAIL  http://b  503\n"
                               "  FAIL indented\nFAILED x\n") == [
        "PASS http://a", "FAIL http://b"]


# -- verify: which checks run ------------------------------------------------------------------


def test_verify_runs_only_the_rollout_and_http_checks_without_nodeport_or_helm_test(
        nodeport: HealthServer) -> None:
    c = MockContext(run=healthy_commands(nodeport))
    report = verify.verify(kube(c), Settings())
    assert [ch.name for ch in report.checks] == [
        "rollout todo-backend", "rollout todo-frontend", *(p.name for p in verify.PROBES)]
    assert report.ok and report.findings == ()


def test_verify_polls_at_its_poll_interval_and_shows_each_progress_line(
        nodeport: HealthServer) -> None:
    c = MockContext(run={**healthy_commands(nodeport), EVENTS: Result(text("events-healthy")),
                         WORKLOADS: [Result(text("workloads-backend-starting")),
                                     Result(text("workloads-complete"))]})
    lines: list[str] = []
    started = time.monotonic()
    report = verify.verify(kube(c), Settings(), poll=0.05, progress=lines.append)
    assert time.monotonic() - started < verify.POLL_SECONDS  # one short poll, not the default
    assert report.ok and len(lines) == 2
    assert lines[-1].startswith("backend 2/2 ready") and "; frontend 2/2 ready" in lines[-1]


def test_a_missing_deployment_fails_verify_naming_the_namespace_and_runs_no_http_check(
        nodeport: HealthServer) -> None:
    objs = [o for o in json.loads(text("workloads-complete"))["items"]
            if o["kind"] != "Deployment" or o["metadata"]["name"] != "todo-backend"]
    c = MockContext(run={WORKLOADS: Result(json.dumps({"kind": "List", "items": objs}))})
    report = verify.verify(kube(c), Settings(namespace="todo"))
    assert [ch.detail for ch in report.checks if not ch.ok] == [
        "Deployment todo-backend not found in namespace todo"]
    assert len(report.checks) == 2 and not report.ok


def test_a_frontend_url_that_cannot_be_found_is_a_failed_nodeport_check(
        nodeport: HealthServer) -> None:
    def no_service() -> verify.access.AppUrl:
        raise StageFailed("service todo-frontend not found in namespace todo: x", "inv deploy")

    c = MockContext(run=healthy_commands(nodeport))
    report = verify.verify(kube(c), Settings(), user_url=no_service,
                           helm_test=lambda: CheckResult("helm test todo-app", True))
    assert report.checks[-2:] == (
        CheckResult("NodePort from this host", False, 0.0,
                    "service todo-frontend not found in namespace todo: x", "inv deploy"),
        CheckResult("helm test todo-app", True))
    assert not report.ok


def test_the_http_checks_retry_within_verifys_timeout(nodeport: HealthServer) -> None:
    c = MockContext(run=healthy_commands(nodeport, **{BACKEND_HEALTH: [
        Result("", stderr="Error from server (ServiceUnavailable): x\n", exited=1),
        Result('{"status":"healthy"}')]}))
    report = verify.verify(kube(c), Settings())
    backend = next(ch for ch in report.checks if ch.name == verify.PROBES[0].name)
    assert backend.ok and backend.seconds >= 1.0


# -- the report and the failure ----------------------------------------------------------------


def test_the_json_report_has_every_field_of_every_check() -> None:
    report = verify.VerifyReport((
        CheckResult("a", True, 1.23456, "fine"),
        CheckResult("b", False, 0.0004, "bad", "fix b"),
        CheckResult("c", False, 2.0, "unknown", None, required=False)), ())
    assert report.as_dict(Settings(namespace="ns", release="rel")) == {
        "ok": False, "namespace": "ns", "release": "rel",
        "checks": [
            {"name": "a", "ok": True, "status": "pass", "seconds": 1.235, "detail": "fine",
             "hint": None},
            {"name": "b", "ok": False, "status": "FAIL", "seconds": 0.0, "detail": "bad",
             "hint": "fix b"},
            {"name": "c", "ok": False, "status": "warn", "seconds": 2.0, "detail": "unknown",
             "hint": None}],
        "findings": []}


def test_the_failure_counts_only_required_checks_and_names_the_first() -> None:
    report = verify.VerifyReport((
        CheckResult("warned", False, required=False, hint="w"),
        CheckResult("passed", True),
        CheckResult("first", False, hint=None),
        CheckResult("second", False, hint="fix second")), ())
    shown = verify.VerifyFailed(report, shown=True)
    assert (shown.message, shown.hint) == (
        "verify failed: 2 of 4 checks (first: first)", "the fixes above, then: inv verify")
    alone = verify.VerifyFailed(report, shown=False)
    assert alone.hint == "inv status"  # the first failure has no fix of its own
    assert alone.report is report


def test_without_the_table_the_failure_gives_the_first_failures_own_fix() -> None:
    report = verify.VerifyReport((CheckResult("x", False, hint="inv deploy"),
                                  CheckResult("y", False, hint="inv logs y")), ())
    assert verify.VerifyFailed(report, shown=False).hint == "inv deploy"


def test_a_failure_with_no_required_failed_check_names_none() -> None:
    report = verify.VerifyReport((CheckResult("w", False, required=False),), ())
    assert verify.VerifyFailed(report, shown=False).message == "verify failed: 0 of 1 checks"


# -- run_verify --------------------------------------------------------------------------------


def run(c: MockContext, tmp: Path, *, as_json: bool = False, helm_test: bool = True,
        unchanged: int | None = None, **settings: object) -> tuple[str, list[CheckResult]]:
    out = io.StringIO()
    s = Session(c, Settings(state_dir=tmp, **settings),  # type: ignore[arg-type]
                Console(no_color=True, file=out, err_file=io.StringIO()))
    if unchanged is not None:
        s.store(verify.RELEASE_UNCHANGED, unchanged)
    checks = verify.run_verify(s, as_json=as_json, helm_test=helm_test)
    return out.getvalue(), checks


def test_verify_says_what_it_verifies_where_and_returns_its_checks(
        nodeport: HealthServer, tmp_path: Path) -> None:
    out, checks = run(MockContext(run=healthy_commands(nodeport)), tmp_path,
                      verify_timeout=240)
    assert out.splitlines()[0].strip().endswith(
        "verify release todo-app in namespace todo, context minikube (timeout 240s)")
    assert out.splitlines()[2].strip() == "inv verify"  # the table's title
    assert [ch.name for ch in checks][-1] == "helm test todo-app" and len(checks) == 7
    assert all(ch.ok for ch in checks)


def test_verify_in_an_up_whose_deploy_changed_nothing_skips_a_passed_helm_test(
        nodeport: HealthServer, tmp_path: Path) -> None:
    run(MockContext(run=healthy_commands(nodeport)), tmp_path)  # records revision 1
    without_helm = {k: v for k, v in healthy_commands(nodeport).items()
                    if not k.startswith("helm test")}
    _, checks = run(MockContext(run=without_helm), tmp_path, unchanged=1)
    assert checks[-1].detail.startswith("passed on revision 1")


def test_a_json_failure_gives_the_first_failures_fix_not_the_tables(
        nodeport: HealthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "HTTP_RETRY_SECONDS", 0.0)
    c = MockContext(run=healthy_commands(nodeport, **{BACKEND_HEALTH: Result(
        "", stderr="Error from server (NotFound): x\n", exited=1)}))
    with pytest.raises(verify.VerifyFailed) as exc:
        run(c, tmp_path, as_json=True)
    assert exc.value.hint == "kubectl -n todo get svc todo-backend --context minikube; inv deploy"


def test_a_json_crash_report_carries_the_findings(tmp_path: Path) -> None:
    from tests.unit.test_verify import CRASH_POD

    c = MockContext(run={
        **PREREQS, WORKLOADS: Result(text("workloads-backend-crashloop")),
        EVENTS: Result(text("events-crashloop")),
        re.compile(rf"^kubectl logs {CRASH_POD} "): Result("boom\n")})
    out = io.StringIO()
    s = Session(c, Settings(state_dir=tmp_path),
                Console(no_color=True, file=out, err_file=io.StringIO()))
    with pytest.raises(verify.VerifyFailed):
        verify.run_verify(s, as_json=True)
    findings = json.loads(out.getvalue())["findings"]
    assert [(f["cause"], f["pod"]) for f in findings] == [("crash-loop", CRASH_POD)]


def test_on_other_targets_verify_does_not_need_minikube(
        nodeport: HealthServer, tmp_path: Path) -> None:
    commands = {k: v for k, v in healthy_commands(nodeport).items()
                if not k.startswith("minikube")}
    commands[re.compile(r"^kubectl get --raw /readyz")] = Result("ok")
    commands[re.compile(r"^kubectl get nodes ")] = Result("127.0.0.1")
    c = MockContext(run=commands)
    out = io.StringIO()
    s = Session(c, Settings.from_config(None, target="kind", state_dir=tmp_path),
                Console(no_color=True, file=out, err_file=io.StringIO()))
    checks = verify.run_verify(s)  # as `inv up` calls it: the table, helm test included
    assert not any(call.args[0].startswith("minikube")
                   for call in c.run.call_args_list)  # type: ignore[attr-defined]
    assert len(checks) == 7 and checks[-1].name == "helm test todo-app"
    assert "Result: SUCCESS — 7 of 7 checks passed" in out.getvalue()


MISSING = Result("", stderr="sh: 1: tool: not found\n", exited=127)
STOPPED = json.dumps({"Name": "minikube", "Host": "Stopped", "Kubelet": "Stopped",
                      "APIServer": "Stopped", "Kubeconfig": "Configured"})


@pytest.mark.parametrize(("command", "answer", "check"), [
    ("minikube version --short", MISSING, "minikube installed"),
    ("kubectl version --client -o json", MISSING, "kubectl installed"),
    ("helm version --template '{{.Version}}'", MISSING, "helm 3 or 4"),
    ("minikube -p minikube status -o json", Result(STOPPED, exited=7), "minikube minikube running"),
])
def test_verify_stops_at_each_missing_prerequisite_before_asking_the_cluster(
        nodeport: HealthServer, tmp_path: Path, command: str, answer: Result,
        check: str) -> None:
    c = MockContext(run=healthy_commands(nodeport, **{command: answer}))
    with pytest.raises(PrereqError) as exc:
        run(c, tmp_path)
    assert exc.value.message.startswith(f"{check}: ")
    assert not any(call.args[0].startswith("kubectl get deployments")
                   for call in c.run.call_args_list)  # type: ignore[attr-defined]


def test_without_helm_test_verify_does_not_need_helm(
        nodeport: HealthServer, tmp_path: Path) -> None:
    c = MockContext(run=healthy_commands(nodeport, **{
        "helm version --template '{{.Version}}'": MISSING}))
    _, checks = run(c, tmp_path, helm_test=False)
    assert len(checks) == 6 and all(ch.ok for ch in checks)


def test_run_verify_polls_at_the_interval_it_is_given(
        nodeport: HealthServer, tmp_path: Path) -> None:
    c = MockContext(run={**healthy_commands(nodeport), EVENTS: Result(text("events-healthy")),
                         WORKLOADS: [Result(text("workloads-backend-starting")),
                                     Result(text("workloads-complete"))]})
    out = io.StringIO()
    s = Session(c, Settings(state_dir=tmp_path),
                Console(no_color=True, file=out, err_file=io.StringIO()))
    started = time.monotonic()
    checks = verify.run_verify(s, poll=0.05)
    assert time.monotonic() - started < verify.POLL_SECONDS  # one short poll, not the default
    assert all(ch.ok for ch in checks) and "0/2 ready" in out.getvalue()


def test_after_the_table_the_failure_points_back_at_its_fixes(
        nodeport: HealthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "HTTP_RETRY_SECONDS", 0.0)
    c = MockContext(run=healthy_commands(nodeport, **{BACKEND_HEALTH: Result(
        "", stderr="Error from server (NotFound): x\n", exited=1)}))
    with pytest.raises(verify.VerifyFailed) as exc:
        run(c, tmp_path)
    assert exc.value.hint == "the fixes above, then: inv verify"


def test_a_passing_helm_test_names_each_suite_with_its_phase_in_one_line(
        tmp_path: Path) -> None:
    # two test pods (a chart may add one): each "SUITE: Phase", joined by "; "
    two = helm_test_result("pass").stdout.replace(
        "TEST SUITE:     todo-app-test-health",
        "TEST SUITE:     todo-app-test-db\nPhase:          Succeeded\n"
        "TEST SUITE:     todo-app-test-health")
    c = MockContext(run={**CONTEXT, HELM_TEST: Result(two)})
    s = session(c, tmp_path)
    check = verify.helm_test_check(s.tools, s.settings)
    assert check.detail == "todo-app-test-db: Succeeded; todo-app-test-health: Succeeded"


def test_the_failed_test_pods_log_is_read_within_the_tool_timeout(tmp_path: Path) -> None:
    c = MockContext(run={**CONTEXT, HELM_TEST: helm_test_result("fail"),
                         TEST_POD_LOG: failed_test_pod_log(3)})
    s = session(c, tmp_path, tool_timeout=17.0)
    assert not verify.helm_test_check(s.tools, s.settings).ok
    ((timeout,),) = [(call.kwargs.get("timeout"),)
                     for call in c.run.call_args_list  # type: ignore[attr-defined]
                     if call.args[0] == TEST_POD_LOG]
    assert timeout == 17.0


def test_workloads_that_cannot_be_read_point_at_doctor() -> None:
    c = MockContext(run={WORKLOADS: Result("", stderr="error: You must be logged in to the "
                                           "server (Unauthorized)\n", exited=1)})
    with pytest.raises(proc.ToolError) as err:
        verify.get_workloads(kube(c))
    assert err.value.hint == "inv doctor   # is the cluster up and kubectl pointed at it?"
