"""`inv verify`'s checks one by one, at their limits: the rollout watch (progress lines, what
stops it, how long it sleeps), the rollout verdicts per branch, the proxied HTTP checks and
their retry window, the NodePort check and ``fetch`` against real sockets on 127.0.0.1, and
the texts that name a failure (judge, explain_error).

kubectl answers come from MockContext replaying the live cluster's captures
(tests/fixtures/kubectl); time is a fake clock that only moves when verify sleeps.
"""

from __future__ import annotations

import copy
import http.client
import http.server
import json
import socket
import threading
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from invoke import MockContext, Result

from tests.unit.test_verify import (
    BACKEND_HEALTH,
    EVENTS,
    INTERNAL_ERROR,
    KUBE,
    WORKLOADS,
    kube,
    objects,
    text,
)
from todo_deploy import access, diagnose, verify
from todo_deploy.config import Settings
from todo_deploy.console import CheckResult
from todo_deploy.diagnose import Cause, Finding


class Clock:
    """Time that only moves when verify sleeps; it starts far from 0, so a duration that
    adds the start instead of subtracting it shows."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    @property
    def elapsed(self) -> float:
        return self.now - self.start


def workloads(*names: str) -> dict[str, Any]:
    return {WORKLOADS: [Result(text(name)) for name in names] if len(names) > 1
            else Result(text(names[0]))}


def as_list(objs: list[dict[str, Any]]) -> Result:
    return Result(json.dumps({"kind": "List", "items": objs}))


# -- the rollout watch -------------------------------------------------------------------------


def test_each_new_progress_line_is_shown_once_naming_both_components() -> None:
    clock = Clock()
    c = MockContext(run={**workloads("workloads-backend-starting", "workloads-backend-starting",
                                      "workloads-complete"),
                         EVENTS: Result(text("events-healthy"))})
    lines: list[str] = []
    watch = verify.watch_rollout(kube(c), Settings(), poll=2.0, progress=lines.append,
                                 clock=clock, sleep=clock.sleep)
    starting = [verify.rollout_state(comp, name, objects("workloads-backend-starting"))
                for comp, name in verify.DEPLOYMENTS]
    done = [verify.rollout_state(comp, name, objects("workloads-complete"))
            for comp, name in verify.DEPLOYMENTS]
    assert lines == [f"backend {starting[0].detail}; frontend {starting[1].detail}",
                     f"backend {done[0].detail}; frontend {done[1].detail}"]
    assert watch.ok and watch.findings == () and not watch.timed_out
    assert watch.seconds == clock.elapsed == 4.0


def test_a_missing_deployment_ends_the_watch_at_once_without_asking_for_events() -> None:
    objs = [o for o in objects("workloads-complete")
            if not (o["kind"] == "Deployment" and o["metadata"]["name"] == "todo-frontend")]
    clock = Clock()
    c = MockContext(run={WORKLOADS: as_list(objs)})  # no events answer: asking would raise
    watch = verify.watch_rollout(kube(c), Settings(), clock=clock, sleep=clock.sleep)
    assert [st.found for st in watch.states] == [True, False]
    assert not watch.ok and watch.findings == () and clock.slept == []
    checks = verify.rollout_checks(watch, Settings())
    assert checks[1] == CheckResult(
        "rollout todo-frontend", False, 0.0,
        "Deployment todo-frontend not found in namespace todo", "inv deploy")


def deadline_cluster(*, message: bool = True) -> MockContext:
    """The captured progress deadline without its pods: nothing but the Deployment's own
    condition can end the watch."""
    objs = [o for o in objects("workloads-progress-deadline") if o["kind"] != "Pod"]
    if not message:
        d = next(o for o in objs if o["kind"] == "Deployment"
                 and o["metadata"]["name"] == "todo-backend")
        for cond in d["status"]["conditions"]:
            cond.pop("message", None)
    return MockContext(run={WORKLOADS: as_list(objs), EVENTS: Result(text("events-healthy"))})


@pytest.mark.parametrize("message", [True, False])
def test_a_progress_deadline_ends_the_watch_at_once_as_that_rollouts_failure(
        message: bool) -> None:
    clock = Clock()
    watch = verify.watch_rollout(kube(deadline_cluster(message=message)), Settings(),
                                 clock=clock, sleep=clock.sleep)
    assert clock.slept == [] and not watch.timed_out and watch.findings == ()
    backend = verify.rollout_checks(watch, Settings())[0]
    assert backend.name == "rollout todo-backend" and not backend.ok
    assert backend.detail == (watch.states[0].failed if message else "ProgressDeadlineExceeded")
    assert backend.hint == "inv status; inv logs backend"


def readiness_starting() -> MockContext:
    """The backend's new pods failing their readiness probe for the first time: a finding
    that is not a verdict yet (it may resolve itself)."""
    objs = [o for o in objects("workloads-readiness-failing") if o["kind"] != "Pod"]
    objs += objects("pods-readiness-starting")
    events = copy.deepcopy(objects("events-readiness-starting"))
    for event in events:
        if "Readiness probe failed" in event.get("message", ""):
            event["count"] = 1
            event["firstTimestamp"] = event["lastTimestamp"]
    return MockContext(run={WORKLOADS: as_list(objs),
                            EVENTS: Result(json.dumps({"items": events}))})


def test_a_finding_that_is_not_yet_a_verdict_keeps_the_watch_going_and_is_named_at_the_timeout(
        ) -> None:
    clock = Clock()
    settings = Settings(verify_timeout=9.5)
    watch = verify.watch_rollout(kube(readiness_starting()), settings, poll=3.0, clock=clock,
                                 sleep=clock.sleep)
    assert clock.slept == [3.0, 3.0, 3.0, 0.5]  # the last sleep ends at the deadline
    assert watch.timed_out and watch.seconds == 9.5
    assert [(f.cause, f.fatal) for f in watch.findings] == [(Cause.READINESS, False)]
    backend = verify.rollout_checks(watch, settings)[0]
    assert backend.detail.startswith("readiness: ") and not backend.ok


def test_only_the_fatal_findings_are_reported_when_a_verdict_stops_the_watch() -> None:
    c = readiness_starting()
    crash = copy.deepcopy(next(p for p in objects("pods-crashloop")
                               if p["metadata"]["name"].startswith("todo-backend-")))
    pod_hash = verify.rollout_state("backend", "todo-backend", json.loads(
        c.run(WORKLOADS).stdout)["items"]).pods[0]["metadata"]["labels"]["pod-template-hash"]
    crash["metadata"]["labels"]["pod-template-hash"] = pod_hash
    crash["metadata"]["name"] = f"todo-backend-{pod_hash}-crash"
    objs = json.loads(c.run(WORKLOADS).stdout)["items"] + [crash]
    name = crash["metadata"]["name"]
    c = MockContext(run={
        WORKLOADS: as_list(objs), EVENTS: c.run(EVENTS),
        f"kubectl logs {name} -n todo -c backend --tail=20 --previous --context minikube":
            Result("boom\n"),
        f"kubectl logs {name} -n todo -c backend --tail=20 --context minikube": Result("")})
    clock = Clock()
    watch = verify.watch_rollout(kube(c), Settings(), clock=clock, sleep=clock.sleep)
    assert clock.slept == []
    assert [(f.cause, f.pod) for f in watch.findings] == [(Cause.CRASH_LOOP, name)]


# -- rollout verdicts per branch ---------------------------------------------------------------


def finding(component: str, pod: str, cause: Cause = Cause.CRASH_LOOP) -> Finding:
    return Finding(cause, pod, component, component, "CrashLoopBackOff",
                   f"container {component} keeps crashing", f"inv logs {component}")


def rollout(component: str, **fields: Any) -> verify.RolloutState:
    return verify.RolloutState(component, f"todo-{component}", found=True, **fields)


def test_each_rollout_gets_its_own_verdict_in_order() -> None:
    watch = verify.WatchResult(
        (rollout("backend", done=True, detail="2/2 ready (revision 3)"),
         rollout("frontend", detail="1/2 ready; 1 of 2 updated replicas available")),
        (), 42.0, timed_out=True)
    settings = Settings(verify_timeout=120)
    assert verify.rollout_checks(watch, settings) == [
        CheckResult("rollout todo-backend", True, 42.0, "2/2 ready (revision 3)"),
        CheckResult("rollout todo-frontend", False, 42.0,
                    "timed out after 120s: 1/2 ready; 1 of 2 updated replicas available",
                    "inv verify --timeout 240   # or: inv status; inv logs frontend")]


def test_a_components_first_finding_is_its_rollouts_verdict_and_no_pod_check() -> None:
    first, second = finding("backend", "todo-backend-a"), finding("backend", "todo-backend-b")
    watch = verify.WatchResult((rollout("backend"), rollout("frontend")), (first, second), 7.0)
    assert verify.rollout_checks(watch, Settings()) == [
        CheckResult("rollout todo-backend", False, 7.0,
                    "crash-loop: container backend keeps crashing", "inv logs backend"),
        CheckResult("rollout todo-frontend", False, 7.0,
                    "stopped while waiting (): another component failed", None)]


def test_a_finding_of_a_pod_outside_both_deployments_is_a_check_of_its_own() -> None:
    db = finding("postgresql", "todo-postgres-0")
    watch = verify.WatchResult((rollout("backend", done=True, detail="ok"),
                                rollout("frontend", detail="waiting")), (db,), 3.0)
    checks = verify.rollout_checks(watch, Settings())
    assert checks[0] == CheckResult("pod todo-postgres-0", False, 3.0,
                                    "crash-loop: container postgresql keeps crashing",
                                    "inv logs postgresql")
    assert [c.name for c in checks] == ["pod todo-postgres-0", "rollout todo-backend",
                                        "rollout todo-frontend"]


def test_a_failed_rollout_names_the_deployments_own_message() -> None:
    watch = verify.WatchResult((rollout("backend", failed="RS timed out progressing"),
                                rollout("frontend", done=True, detail="2/2")), (), 5.0)
    assert verify.rollout_checks(watch, Settings())[0] == CheckResult(
        "rollout todo-backend", False, 5.0, "RS timed out progressing",
        "inv status; inv logs backend")


# -- the HTTP checks through the API server ----------------------------------------------------


PROBE = verify.PROBES[0]  # backend GET /health
UNAVAILABLE = Result("", stderr="Error from server (ServiceUnavailable): the server is "
                     "currently unable to handle the request\n", exited=1)
ENDPOINTS_HINT = ("kubectl -n todo get endpoints todo-backend --context minikube; "
                  "inv logs backend")


def proxied(c: MockContext, clock: Clock, deadline: float | None = None) -> CheckResult:
    return verify.http_check(kube(c), Settings(), PROBE, clock=clock, sleep=clock.sleep,
                             deadline=clock.now + 1000 if deadline is None else deadline)


def raw_calls(c: MockContext) -> int:
    return sum(1 for call in c.run.call_args_list  # type: ignore[attr-defined]
               if call.args[0] == BACKEND_HEALTH)


def test_a_failing_probe_is_retried_each_second_for_the_retry_window_then_fails() -> None:
    clock = Clock()
    c = MockContext(run={BACKEND_HEALTH: UNAVAILABLE})
    check = proxied(c, clock)
    window = verify.HTTP_RETRY_SECONDS
    assert clock.slept == [1.0] * int(window) and raw_calls(c) == int(window) + 1
    assert check == CheckResult(
        PROBE.name, False, window,
        "503 or no ready endpoint behind service todo-backend (Error from server "
        "(ServiceUnavailable): the server is currently unable to handle the request)",
        ENDPOINTS_HINT)


def test_the_retry_window_ends_at_verifys_own_deadline() -> None:
    clock = Clock()
    c = MockContext(run={BACKEND_HEALTH: UNAVAILABLE})
    check = proxied(c, clock, deadline=clock.now + 3)
    assert raw_calls(c) == 4 and check.seconds == 3.0 and not check.ok


def test_a_probe_that_passes_on_a_retry_passes_without_a_hint() -> None:
    clock = Clock()
    c = MockContext(run={BACKEND_HEALTH: [UNAVAILABLE, Result('{"status":"healthy"}')]})
    assert proxied(c, clock) == CheckResult(PROBE.name, True, 1.0, '{"status": "healthy"}', None)


def test_a_2xx_with_the_wrong_body_points_at_the_components_logs() -> None:
    clock = Clock(0.0)
    check = verify.http_check(kube(MockContext(run={BACKEND_HEALTH: Result("[]")})), Settings(),
                              PROBE, deadline=0.0, clock=clock, sleep=clock.sleep)
    assert check == CheckResult(PROBE.name, False, 0.0,
                                'expected {"status": "healthy"}, got []', "inv logs backend")


def test_kubectls_stdout_explains_when_its_stderr_is_empty() -> None:
    clock = Clock(0.0)
    c = MockContext(run={BACKEND_HEALTH: Result(INTERNAL_ERROR, exited=1)})
    check = verify.http_check(kube(c), Settings(), PROBE, deadline=0.0, clock=clock,
                              sleep=clock.sleep)
    assert check.detail.startswith("5xx from todo-backend (Error from server (InternalError)")


def test_the_probes_reach_each_service_on_its_port_and_path() -> None:
    assert [verify.proxy_path("todo", p.service, p.port, p.path) for p in verify.PROBES] == [
        "/api/v1/namespaces/todo/services/todo-backend:7860/proxy/health",
        "/api/v1/namespaces/todo/services/todo-frontend:3000/proxy/api/health",
        "/api/v1/namespaces/todo/services/todo-frontend:3000/proxy/api/backend/api/todos"]


# -- judge and explain_error -------------------------------------------------------------------


def test_judge_names_what_it_got_cut_at_80_characters() -> None:
    health, todos = verify.PROBES[0], verify.PROBES[2]
    assert verify.judge(health, '{"status":"healthy"}') == (True, '{"status": "healthy"}')
    assert verify.judge(health, '{"status": "starting"}') == (
        False, 'expected {"status": "healthy"}, got {"status": "starting"}')
    assert verify.judge(health, '["healthy"]') == (
        False, 'expected {"status": "healthy"}, got ["healthy"]')
    long = json.dumps({"status": "x" * 200})
    assert verify.judge(health, long) == (
        False, 'expected {"status": "healthy"}, got ' + long[:80])
    assert verify.judge(todos, long) == (False, "expected a JSON list of todos, got " + long[:80])
    assert verify.judge(todos, '{"detail": "x"}') == (
        False, 'expected a JSON list of todos, got {"detail": "x"}')
    html = "  <html>" + "x" * 200 + "</html>\n"
    assert verify.judge(todos, html) == (False, f"not JSON: {html.strip()[:80]!r}")
    assert len(verify.judge(todos, html)[1]) == len("not JSON: ''") + 80
    assert verify.judge(todos, "[1, 2]")[1].startswith("200, 2 todo(s) for the demo user")


@pytest.mark.parametrize("line", [
    "error: You must be logged in to the server (the server has asked for the client to provide "
    "credentials)",
    "Error from server (Unauthorized): the server has asked for the client to provide "
    "credentials"])
def test_a_401_through_a_health_probe_points_at_kubectls_credentials(line: str) -> None:
    assert verify.explain_error(verify.PROBES[0], line + "\n", KUBE) == (
        line, "inv doctor   # kubectl's credentials for the cluster")
    detail, hint = verify.explain_error(verify.PROBES[2], line + "\n", KUBE)
    assert detail == f"401: the backend rejected the frontend's demo token ({line})"
    assert hint == ("frontend and backend must share BETTER_AUTH_SECRET: inv secrets && "
                    "inv deploy")


def test_each_kubectl_error_gets_its_own_fix_with_the_runs_context() -> None:
    unavailable = "Error from server (ServiceUnavailable): unable to handle the request"
    not_found = 'Error from server (NotFound): services "todo-frontend" not found'
    assert verify.explain_error(verify.PROBES[1], unavailable, KUBE) == (
        f"503 or no ready endpoint behind service todo-frontend ({unavailable})",
        "kubectl -n todo get endpoints todo-frontend --context minikube; inv logs frontend")
    assert verify.explain_error(verify.PROBES[1], not_found, KUBE) == (
        f"404 from todo-frontend or no such service ({not_found})",
        "kubectl -n todo get svc todo-frontend --context minikube; inv deploy")
    assert verify.explain_error(verify.PROBES[2], INTERNAL_ERROR, KUBE) == (
        "5xx through the frontend's proxy: the backend failed the request or cannot be reached "
        f"({INTERNAL_ERROR.strip()})",
        "inv logs backend   # e.g. the database refuses its password; then: inv logs frontend")


def test_an_unknown_error_is_its_last_line_and_no_output_says_so() -> None:
    assert verify.explain_error(verify.PROBES[1], "first line (NotFound)\nUnable to connect\n",
                                KUBE) == ("Unable to connect", "inv logs frontend")
    assert verify.explain_error(verify.PROBES[0], "\n", KUBE) == ("no output", "inv logs backend")


# -- fetch: a real GET on 127.0.0.1 ------------------------------------------------------------


@contextmanager
def answering(status: int, body: bytes) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering every GET with ``status`` and ``body``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/health"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [200, 503])
def test_fetch_returns_the_status_and_at_most_4096_bytes_of_the_body_decoded_leniently(
        status: int) -> None:
    body = b"\xff" + b"a" * 5000  # not UTF-8, and longer than what is kept
    with answering(status, body) as url:
        code, text_ = verify.fetch(url, 5.0)
    assert code == status
    assert text_ == "\ufffd" + "a" * 4095


def test_fetch_ignores_the_environments_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{dead}")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead}")
    with answering(200, b'{"status":"healthy"}') as url:
        assert verify.fetch(url, 5.0) == (200, '{"status":"healthy"}')


def test_fetch_gives_up_at_its_timeout_on_a_node_that_accepts_but_never_answers() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel accepts; nobody ever answers
        started = time.monotonic()
        with pytest.raises(OSError):
            verify.fetch(f"http://127.0.0.1:{silent.getsockname()[1]}/api/health", 0.5)
    assert time.monotonic() - started < 10


# -- the NodePort check ------------------------------------------------------------------------


URL = "http://192.168.49.2:30080"
ROUTABLE = access.AppUrl(URL, "192.168.49.2", 30080, "docker", routable=True, platform="linux")


class Answers:
    """A fake GET (the ``get`` of nodeport_check): answers or raises in turn, recording calls."""

    def __init__(self, *answers: tuple[int, str] | BaseException) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, timeout: float) -> tuple[int, str]:
        self.calls.append((url, timeout))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


def nodeport(get: Answers, clock: Clock, target: access.AppUrl = ROUTABLE,
             settings: Settings | None = None) -> CheckResult:
    return verify.nodeport_check(target, settings or Settings(), KUBE, get=get, clock=clock,
                                 sleep=clock.sleep)


SVC_HINT = ("kubectl -n todo get svc todo-frontend -o wide --context minikube   # its nodePort; "
            "if this host cannot reach the node IP: minikube service todo-frontend -n todo --url")


def test_a_healthy_nodeport_passes_at_the_first_get_with_a_5s_timeout() -> None:
    clock, get = Clock(), Answers((200, '{"status":"healthy"}'))
    assert nodeport(get, clock) == CheckResult(
        "NodePort 30080 from this host", True, 0.0,
        f'GET {URL}/api/health: {{"status": "healthy"}}', None)
    assert get.calls == [(f"{URL}/api/health", 5.0)]


@pytest.mark.parametrize("status", [201, 204, 301, 404, 500])
def test_only_a_200_passes_the_nodeport_even_with_a_healthy_body(status: int) -> None:
    clock = Clock()
    check = nodeport(Answers((status, '{"status":"healthy"}')), clock)
    assert check == CheckResult("NodePort 30080 from this host", False,
                                verify.HTTP_RETRY_SECONDS,
                                f"HTTP {status} from {URL}/api/health", SVC_HINT)


def test_a_nodeport_is_retried_each_second_for_the_retry_window() -> None:
    clock = Clock()
    get = Answers(ConnectionRefusedError(111, "Connection refused"))
    check = nodeport(get, clock)
    assert len(get.calls) == int(verify.HTTP_RETRY_SECONDS) + 1
    assert clock.slept == [1.0] * int(verify.HTTP_RETRY_SECONDS)
    assert check.seconds == verify.HTTP_RETRY_SECONDS and not check.ok
    assert check.detail == f"GET {URL}/api/health: [Errno 111] Connection refused"


def test_a_nodeport_that_comes_up_on_a_retry_passes() -> None:
    clock = Clock()
    get = Answers(ConnectionRefusedError(111, "refused"), (200, '{"status":"healthy"}'))
    check = nodeport(get, clock)
    assert check.ok and check.seconds == 1.0 and check.hint is None


@pytest.mark.parametrize(("error", "said"), [
    (urllib.error.URLError("timed out"), "timed out"),  # its reason, not its repr
    (http.client.RemoteDisconnected("Remote end closed connection"),
     "Remote end closed connection"),
    (ValueError("unknown url type"), "unknown url type"),
])
def test_each_way_a_get_can_fail_is_a_failed_check_naming_why(
        error: Exception, said: str) -> None:
    check = nodeport(Answers(error), Clock())
    assert not check.ok and check.detail == f"GET {URL}/api/health: {said}"


@pytest.mark.parametrize("error", [
    urllib.error.URLError(TimeoutError("timed out")),  # urllib's connect timeout
    urllib.error.URLError(OSError(113, "No route to host")),
    OSError(101, "Network is unreachable"),
])
def test_a_node_ip_the_host_cannot_route_to_is_found_by_trying_and_is_a_warning(
        error: Exception) -> None:
    clock = Clock()
    get = Answers(error)
    check = nodeport(get, clock)
    command = "minikube service todo-frontend -n todo --url"
    assert len(get.calls) == verify.UNROUTABLE_TRIES  # not the whole retry window
    assert not check.ok and not check.required
    assert check.detail.startswith("not checked: this host gets no answer at all from the "
                                   "node IP 192.168.49.2 (GET ")
    assert check.detail.endswith(f"Open it through `{command}`")
    assert check.hint == f"{command}   # in a second terminal"


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(111, "Connection refused"),  # the node answered: no listener
    TimeoutError("timed out"),  # a read timeout: connected, then no answer
    urllib.error.URLError("timed out"),
])
def test_a_node_that_answers_even_with_an_error_stays_a_failure(error: Exception) -> None:
    check = nodeport(Answers(error), Clock())
    assert not check.ok and check.required
    assert check.seconds == verify.HTTP_RETRY_SECONDS


def test_one_unanswered_get_then_a_refusal_is_no_warning() -> None:
    get = Answers(urllib.error.URLError(TimeoutError("timed out")),
                  ConnectionRefusedError(111, "refused"))
    check = nodeport(get, Clock())
    assert check.required and not check.ok


def test_on_other_targets_the_nodeport_hint_names_the_port_forward() -> None:
    settings = Settings.from_config(None, target="kind")
    check = nodeport(Answers(ConnectionRefusedError(111, "refused")), Clock(), settings=settings)
    assert check.hint == ("kubectl -n todo get svc todo-frontend -o wide --context minikube"
                          "   # its nodePort; if this host cannot reach the node IP: "
                          "kubectl -n todo port-forward svc/todo-frontend 3000:3000 "
                          "--context minikube")


def test_another_profiles_minikube_service_command_names_the_profile() -> None:
    settings = Settings(profile="dev")
    check = nodeport(Answers(ConnectionRefusedError(111, "refused")), Clock(), settings=settings)
    assert check.hint is not None
    assert check.hint.endswith("minikube -p dev service todo-frontend -n todo --url")


def test_a_node_that_is_not_known_to_be_local_is_a_warning_with_its_note_not_a_get() -> None:
    target = access.AppUrl("http://10.0.0.7:30080", "10.0.0.7", 30080, routable=False,
                           platform="linux", note="if 10.0.0.7 is not reachable: port-forward")
    get = Answers((200, "{}"))
    assert nodeport(get, Clock(), target) == CheckResult(
        "NodePort 30080 from this host", False, 0.0,
        "not checked: if 10.0.0.7 is not reachable: port-forward", None, required=False)
    assert get.calls == []


def test_a_routable_node_without_a_known_driver_is_checked() -> None:
    target = access.AppUrl("http://10.0.0.7:30080", "10.0.0.7", 30080, routable=True,
                           platform="linux")
    get = Answers((200, '{"status":"healthy"}'))
    assert nodeport(get, Clock(), target).ok and len(get.calls) == 1


@pytest.mark.parametrize(("platform", "named_"), [("darwin", "macOS"), ("sunos5", "sunos5")])
def test_an_unreachable_node_ip_is_a_warning_naming_the_driver_and_the_host(
        platform: str, named_: str) -> None:
    target = access.AppUrl(URL, "192.168.49.2", 30080, "podman", routable=False,
                           platform=platform)
    get = Answers((200, "{}"))
    command = "minikube service todo-frontend -n todo --url"
    assert nodeport(get, Clock(), target) == CheckResult(
        "NodePort 30080 from this host", False, 0.0,
        f"not checked: with the podman driver on {named_} the node IP 192.168.49.2 is not "
        f"reachable from the host. Open the app through `{command}` (it keeps a tunnel open "
        "and prints the URL)", f"{command}   # in a second terminal", required=False)
    assert get.calls == []


def test_the_nodeport_check_judges_the_body_as_the_frontends_health() -> None:
    check = nodeport(Answers((200, '{"status":"starting"}')), Clock())
    assert not check.ok
    assert check.detail == 'expected {"status": "healthy"}, got {"status": "starting"}'


def test_place_of_the_settings_reaches_the_findings_hints() -> None:
    """The watch classifies pods with the run's place (target, profile): its fixes say so."""
    clock = Clock()
    c = MockContext(run={**workloads("workloads-readiness-failing"),
                         EVENTS: Result(text("events-readiness-failing"))})
    watch = verify.watch_rollout(kube(c), Settings(), clock=clock, sleep=clock.sleep)
    place = diagnose.Place.of(Settings(), kube(c))
    expected = diagnose.group(diagnose.classify_pods(
        list(watch.states[0].pods), objects("events-readiness-failing"), place=place))
    assert [f.hint for f in watch.findings] == [f.hint for f in expected if f.fatal]
