"""`inv verify`: watch the rollout, fail fast with a named cause, then check the app over HTTP.

1. Rollout watch (krane-style): poll ``kubectl get deployments,replicasets,pods`` for the
   pods of each Deployment's newest ReplicaSet (by ``pod-template-hash``) until both
   Deployments are complete, a pod has a fatal cause (:mod:`todo_deploy.diagnose`), or the
   overall timeout (``timeouts.verify`` / ``--timeout``) runs out.
2. HTTP checks through the API server's service proxy, which works with every minikube driver
   (no NodePort, tunnel or port-forward): ``kubectl get --raw
   /api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH``.
3. What the user opens: ``GET /api/health`` on the NodePort URL ``inv url`` prints, from this
   host, where the driver routes the host to the node. Where it does not (docker/podman
   driver on macOS or Windows) the check is not a pass: a warning says so and gives the
   ``minikube service todo-frontend -n NS --url`` command (:mod:`todo_deploy.access`).
4. ``helm test`` of the release (the chart's test pod GETs both health endpoints through
   their Services); ``--skip-helm-test`` leaves it out.
5. A table (check, status, time, detail) and a summary of what passed and what failed and why;
   ``--json`` prints one JSON document instead. Any failure exits 1 (a warning does not).
"""

from __future__ import annotations

import errno
import http.client
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import access, diagnose, doctor, keptfile, proc
from .config import Settings
from .console import CheckResult
from .diagnose import Finding
from .errors import StageFailed, SuiteError
from .session import Session
from .tools import Kubectl, Tools, is_not_found

DEPLOYMENTS = (("backend", "todo-backend"), ("frontend", "todo-frontend"))
REVISION = "deployment.kubernetes.io/revision"
POLL_SECONDS = 2.0
WATCH_RETRY_SECONDS = 60.0  # failed reads of a rollout watch are retried this long
HTTP_RETRY_SECONDS = 15.0  # endpoints can trail a finished rollout by a few seconds
NODEPORT_PATH = "/api/health"
HELM_TEST_SECONDS = 120.0  # helm test's --timeout (the test pod takes seconds)


# -- rollout (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RolloutState:
    component: str
    deployment: str
    found: bool
    done: bool = False
    ready: int = 0
    desired: int = 0
    detail: str = ""
    failed: str | None = None  # the Deployment itself gave up (ProgressDeadlineExceeded)
    pods: tuple[dict[str, Any], ...] = field(default=(), compare=False)


def _by_kind(objects: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]


def _owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    meta = owner.get("metadata") or {}
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == owner.get("kind") and (
                ref.get("uid") == meta.get("uid") or ref.get("name") == meta.get("name")):
            return True
    return False


def newest_replicaset(deployment: dict[str, Any],
                      replicasets: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The ReplicaSet of the Deployment's current revision (the highest revision as fallback)."""
    owned = [rs for rs in replicasets if _owned_by(rs, deployment)]
    if not owned:
        return None

    def revision(obj: dict[str, Any]) -> int:
        value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0")
        return int(value) if str(value).isdigit() else 0

    current = revision(deployment)
    exact = [rs for rs in owned if revision(rs) == current]
    return exact[0] if exact else max(owned, key=revision)


def rollout_state(component: str, name: str,
                  objects: Sequence[dict[str, Any]]) -> RolloutState:
    """Where the rollout of Deployment ``name`` stands (the logic of ``kubectl rollout status``),
    with the pods of its newest ReplicaSet."""
    deployment = next((d for d in _by_kind(objects, "Deployment")
                       if (d.get("metadata") or {}).get("name") == name), None)
    if deployment is None:
        return RolloutState(component, name, found=False, detail="Deployment not found")
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    desired = int(spec.get("replicas", 1))
    rs = newest_replicaset(deployment, _by_kind(objects, "ReplicaSet"))
    pod_hash = ((rs or {}).get("metadata") or {}).get("labels", {}).get("pod-template-hash")
    pods = tuple(p for p in _by_kind(objects, "Pod")
                 if pod_hash and (p.get("metadata") or {}).get("labels", {}).get(
                     "pod-template-hash") == pod_hash
                 and not (p.get("metadata") or {}).get("deletionTimestamp"))
    ready = sum(1 for p in pods if _pod_ready(p))
    base = RolloutState(component, name, found=True, ready=ready, desired=desired, pods=pods)
    if int((deployment.get("metadata") or {}).get("generation", 0)) > int(
            status.get("observedGeneration", 0)):
        return replace(base, detail="waiting for the new spec to be observed")
    progressing: dict[str, Any] = next((cond for cond in status.get("conditions") or []
                        if cond.get("type") == "Progressing"), {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        # never "" (read as "not failed"): the reason stands in for a missing message
        return replace(base, failed=str(progressing.get("message") or "ProgressDeadlineExceeded"),
                       detail="exceeded its progress deadline")
    updated = int(status.get("updatedReplicas", 0))
    total = int(status.get("replicas", 0))
    available = int(status.get("availableReplicas", 0))
    if updated < desired:
        detail = f"{updated} of {desired} new replicas updated"
    elif total > updated:
        detail = f"{total - updated} old replica(s) pending termination"
    elif available < updated:
        detail = f"{available} of {updated} updated replicas available"
    else:
        return replace(base, done=True, detail=f"{ready}/{desired} ready"
                       + (f" (revision {_rev(deployment)})" if _rev(deployment) else ""))
    return replace(base, detail=f"{ready}/{desired} ready; {detail}")


def _owner_kind(obj: dict[str, Any]) -> str:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or [{}]
    return str(refs[0].get("kind", ""))


def _rev(obj: dict[str, Any]) -> str:
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, ""))


def _pod_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


# -- HTTP through the API server's service proxy (pure parts) --------------------------------


@dataclass(frozen=True)
class HttpProbe:
    name: str
    component: str
    service: str
    port: int
    path: str
    expect: str  # "healthy": {"status": "healthy"}; "todo-list": a JSON list of todos


PROBES = (
    HttpProbe("backend GET /health", "backend", "todo-backend", 7860, "/health", "healthy"),
    HttpProbe("frontend GET /api/health", "frontend", "todo-frontend", 3000, "/api/health",
              "healthy"),
    HttpProbe("frontend → backend: GET /api/backend/api/todos", "frontend", "todo-frontend",
              3000, "/api/backend/api/todos", "todo-list"),
)


def proxy_path(namespace: str, service: str, port: int, path: str) -> str:
    return f"/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{path}"


def judge(probe: HttpProbe, body: str) -> tuple[bool, str]:
    """(ok, detail) for a 2xx response body."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return False, f"not JSON: {body.strip()[:80]!r}"
    if probe.expect == "healthy":
        if isinstance(data, dict) and data.get("status") == "healthy":
            return True, '{"status": "healthy"}'
        return False, f'expected {{"status": "healthy"}}, got {json.dumps(data)[:80]}'
    if isinstance(data, list):
        return True, (f"200, {len(data)} todo(s) for the demo user: proxy, JWT "
                      "(BETTER_AUTH_SECRET) and database agree")
    return False, f"expected a JSON list of todos, got {json.dumps(data)[:80]}"


def explain_error(probe: HttpProbe, stderr: str, kube: Kubectl) -> tuple[str, str]:
    """(detail, hint) for a failed ``kubectl get --raw`` (kubectl hides the body of non-2xx);
    the kubectl commands of the hints are the run's client's (its context)."""
    line = proc.tail(stderr, 1) or "no output"
    ns = kube.namespace
    if "must be logged in" in line or "(Unauthorized)" in line:
        if probe.expect == "todo-list":
            return (f"401: the backend rejected the frontend's demo token ({line})",
                    "frontend and backend must share BETTER_AUTH_SECRET: inv secrets && "
                    "inv deploy")
        return line, "inv doctor   # kubectl's credentials for the cluster"
    if "(ServiceUnavailable)" in line:
        return (f"503 or no ready endpoint behind service {probe.service} ({line})",
                f"{kube.command('-n', ns, 'get', 'endpoints', probe.service)}; "
                f"inv logs {probe.component}")
    if is_not_found("kubectl", line):
        return (f"404 from {probe.service} or no such service ({line})",
                f"{kube.command('-n', ns, 'get', 'svc', probe.service)}; inv deploy")
    if "(InternalError)" in line:
        if probe.expect == "todo-list":  # the proxy passes the backend's answer on
            return (f"5xx through the frontend's proxy: the backend failed the request or "
                    f"cannot be reached ({line})",
                    "inv logs backend   # e.g. the database refuses its password; "
                    "then: inv logs frontend")
        return (f"5xx from {probe.service} ({line})", f"inv logs {probe.component}")
    return line, f"inv logs {probe.component}"


# -- the stage --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchResult:
    states: tuple[RolloutState, ...]
    findings: tuple[Finding, ...]
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return all(st.done for st in self.states)


@dataclass(frozen=True)
class VerifyReport:
    checks: tuple[CheckResult, ...]
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks if c.required)

    def as_dict(self, settings: Settings) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "namespace": settings.namespace,
            "release": settings.release,
            "checks": [{"name": c.name, "ok": c.ok, "status": c.status,
                        "seconds": round(c.seconds, 3), "detail": c.detail, "hint": c.hint}
                       for c in self.checks],
            "findings": [f.as_dict() for f in self.findings],
        }


def get_workloads(kube: Kubectl) -> list[dict[str, Any]]:
    return kube.items("deployments,replicasets,pods", diagnose.APP_SELECTOR,
                      hint="inv doctor   # is the cluster up and kubectl pointed at it?")


def watch_rollout(kube: Kubectl, settings: Settings, *, poll: float = POLL_SECONDS,
                  progress: Callable[[str], None] | None = None,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> WatchResult:
    """Poll until both rollouts complete, a pod has a fatal cause, or the timeout passes.

    A read that fails after the first one worked (the API server restarting, a timeout) is
    retried with backoff for up to ``WATCH_RETRY_SECONDS`` (never past the deadline); the
    first read is not: a cluster that does not answer at all is news at once."""
    started = clock()
    deadline = started + settings.verify_timeout
    last_line = ""
    retry = proc.Retry(budget=WATCH_RETRY_SECONDS, clock=clock)
    answered = False
    while True:
        try:
            objects = get_workloads(kube)
        except SuiteError as exc:
            if not answered or clock() >= deadline:
                raise
            wait = retry.failed(exc)
            if progress:
                progress(f"the API server did not answer ({exc.message}); asking again in "
                         f"{wait:.0f}s")
            sleep(max(0.0, min(wait, deadline - clock())))
            continue
        answered = True
        retry.ok()
        states = tuple(rollout_state(comp, name, objects) for comp, name in DEPLOYMENTS)
        line = "; ".join(f"{st.component} {st.detail}" for st in states)
        if progress and line != last_line:
            progress(line)
            last_line = line
        if all(st.done for st in states):
            return WatchResult(states, (), clock() - started)
        if any(not st.found for st in states):
            return WatchResult(states, (), clock() - started)
        # the new ReplicaSets' pods, plus what they depend on (the embedded PostgreSQL's pod)
        pending = [p for st in states if not st.done for p in st.pods] + [
            p for p in _by_kind(objects, "Pod") if _owner_kind(p) == "StatefulSet"]
        events = diagnose.get_events(kube)
        findings = diagnose.group(diagnose.classify_pods(
            pending, events, place=diagnose.Place.of(settings, kube)))
        gave_up = any(st.failed for st in states)
        timed_out = clock() >= deadline
        if gave_up or timed_out or any(f.fatal for f in findings):
            chosen = [f for f in findings if f.fatal] or findings
            with_logs = tuple(diagnose.with_logs(kube, f) for f in chosen)
            return WatchResult(states, with_logs, clock() - started, timed_out=timed_out)
        sleep(max(0.0, min(poll, deadline - clock())))


def rollout_checks(watch: WatchResult, settings: Settings) -> list[CheckResult]:
    results = [CheckResult(f"pod {f.pod}", False, watch.seconds, f"{f.cause}: {f.message}",
                           f.hint)
               for f in watch.findings if f.component not in dict(DEPLOYMENTS)]
    for st in watch.states:
        name = f"rollout {st.deployment}"
        if st.done:
            results.append(CheckResult(name, True, watch.seconds, st.detail))
            continue
        if not st.found:
            results.append(CheckResult(
                name, False, watch.seconds,
                f"Deployment {st.deployment} not found in namespace {settings.namespace}",
                "inv deploy"))
            continue
        mine = [f for f in watch.findings if f.component == st.component]
        if mine:
            f = mine[0]
            results.append(CheckResult(name, False, watch.seconds,
                                       f"{f.cause}: {f.message}", f.hint))
        elif st.failed:
            results.append(CheckResult(name, False, watch.seconds, st.failed,
                                       f"inv status; inv logs {st.component}"))
        elif watch.timed_out:
            results.append(CheckResult(
                name, False, watch.seconds,
                f"timed out after {settings.verify_timeout:.0f}s: {st.detail}",
                f"inv verify --timeout {int(settings.verify_timeout * 2)}   "
                f"# or: inv status; inv logs {st.component}"))
        else:
            results.append(CheckResult(name, False, watch.seconds,
                                       f"stopped while waiting ({st.detail}): another "
                                       "component failed", None))
    return results


def http_check(kube: Kubectl, settings: Settings, probe: HttpProbe, *, deadline: float,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> CheckResult:
    """One proxied GET, retried for a few seconds while endpoints catch up."""
    started = clock()
    retry_until = min(deadline, started + HTTP_RETRY_SECONDS)
    path = proxy_path(settings.namespace, probe.service, probe.port, probe.path)
    while True:
        result = kube.raw(path)
        if result.ok:
            ok, detail = judge(probe, result.stdout)
            hint = None
        else:
            ok = False
            detail, hint = explain_error(probe, result.stderr or result.stdout, kube)
        if ok or clock() >= retry_until:
            return CheckResult(probe.name, ok, clock() - started, detail,
                               None if ok else hint or f"inv logs {probe.component}")
        sleep(1.0)


# -- what the user opens: NodePort from the host, and helm test ------------------------------


Fetch = Callable[[str, float], tuple[int, str]]


def fetch(url: str, timeout: float) -> tuple[int, str]:
    """GET ``url`` from this host, no proxy (the node IP is local): (status, body)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status), response.read(4096).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(4096).decode(errors="replace")


UNROUTABLE_TRIES = 2  # GETs in a row that reach nothing at all before the check says so


def unroutable(exc: BaseException) -> bool:
    """Whether a failed GET reached nothing at all: the connection got no answer (a connect
    timeout: urllib's URLError around a TimeoutError) or no route to the node (EHOSTUNREACH,
    ENETUNREACH), as where the host cannot route to the node's network (rootless drivers,
    WSL2). A refused connection, an HTTP error or a read timeout reached the node (pure)."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return isinstance(exc, urllib.error.URLError)
    return isinstance(reason, OSError) and reason.errno in (errno.EHOSTUNREACH,
                                                             errno.ENETUNREACH)


def nodeport_check(target: access.AppUrl, settings: Settings, kube: Kubectl, *,
                   get: Fetch = fetch, clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], None] = time.sleep) -> CheckResult:
    """``GET /api/health`` on the URL ``inv url`` prints, retried while kube-proxy catches up;
    where the host cannot reach the node (``target.routable`` false) a warning, not a pass."""
    name = f"NodePort {target.port} from this host"
    command = (access.service_url_command(settings.profile, settings.namespace)
               if settings.target == "minikube" else access.port_forward_command(kube))
    if not target.routable and not target.driver:  # another target's node, not known local
        return CheckResult(name, False, 0.0, f"not checked: {target.note}", None,
                           required=False)
    if not target.routable:
        host = access.VM_PLATFORMS.get(target.platform, target.platform)
        return CheckResult(name, False, 0.0, f"not checked: with the {target.driver} driver "
                           f"on {host} the node IP "
                           f"{target.ip} is not reachable from the host. Open the app "
                           f"through `{command}` (it keeps a tunnel open and prints the URL)",
                           f"{command}   # in a second terminal", required=False)
    url = target.url + NODEPORT_PATH
    svc = kube.command("-n", settings.namespace, "get", "svc", access.FRONTEND_SERVICE,
                       "-o", "wide")
    started = clock()
    nothing = 0  # GETs in a row that reached nothing
    while True:
        try:
            status, body = get(url, 5.0)
            ok, detail = judge(HttpProbe(name, "frontend", access.FRONTEND_SERVICE,
                                         target.port, NODEPORT_PATH, "healthy"), body)
            if status != 200:
                ok, detail = False, f"HTTP {status} from {url}"
            nothing = 0
        except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, timeout
            ok, detail = False, f"GET {url}: {getattr(exc, 'reason', exc)}"
            nothing = nothing + 1 if unroutable(exc) else 0
            if nothing >= UNROUTABLE_TRIES:  # found by trying: a warning, as for known cases
                return CheckResult(
                    name, False, clock() - started,
                    f"not checked: this host gets no answer at all from the node IP "
                    f"{target.ip} ({detail}), so it cannot route there (the app answered "
                    f"through the API server above). Open it through `{command}`",
                    f"{command}   # in a second terminal", required=False)
        if ok or clock() - started >= HTTP_RETRY_SECONDS:
            return CheckResult(name, ok, clock() - started,
                               f"GET {url}: {detail}" if ok else detail,
                               None if ok else
                               f"{svc}   # its nodePort; if this host cannot reach the "
                               f"node IP: {command}")
        sleep(1.0)


def helm_test_argv(settings: Settings, timeout: float) -> list[str]:
    """``helm test`` (same flags on Helm 3 and 4). Not ``--logs``: Helm 3 fetches the logs
    after the chart's ``hook-succeeded`` policy deleted a passing test pod and then exits 1
    ("unable to get pod logs"), seen with helm 3.17 on the live cluster."""
    return ["helm", "test", settings.release, "--namespace", settings.namespace,
            "--timeout", f"{max(1, round(timeout))}s"]


def helm_test_phases(stdout: str) -> list[str]:
    """``TEST SUITE: NAME`` / ``Phase: PHASE`` pairs of ``helm test`` → ``NAME: PHASE`` (pure;
    the same lines on Helm 3 and 4)."""
    found, suite = [], ""
    for line in stdout.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "TEST SUITE":
            suite = value.strip()
        elif key.strip() == "Phase" and suite:
            found.append(f"{suite}: {value.strip()}")
    return found


def pod_verdicts(log: str) -> list[str]:
    """The chart's test pod's ``PASS url`` / ``FAIL url`` lines, without the body (pure)."""
    return [" ".join(line.split()[:2]) for line in log.splitlines()
            if line.startswith(("PASS ", "FAIL "))]


# Set by inv deploy when it left the release as it was (the Revision it kept): a helm test that
# passed on that revision need not run again in the same `inv up`.
RELEASE_UNCHANGED = ("release-unchanged",)
HELM_TESTS_FILE = "helm-tests.json"  # in the state directory: {context/ns/release: revision}
REVISION_RE = re.compile(r"^REVISION:\s*(\d+)\s*$", re.MULTILINE)


def tested_revision(stdout: str) -> int | None:
    """The release revision ``helm test`` ran against (its ``REVISION: N`` line; pure)."""
    match = REVISION_RE.search(stdout)
    return int(match.group(1)) if match else None


def _tests_file(settings: Settings) -> Path:
    return settings.state_dir / HELM_TESTS_FILE


def passed_revisions(settings: Settings) -> dict[str, int]:
    data = keptfile.load(_tests_file(settings))
    return {k: v for k, v in data.items() if isinstance(v, int)}


def _record(settings: Settings, key: str, revision: int | None) -> None:
    """Remember that ``helm test`` passed on ``revision`` (None: forget, it failed)."""
    known = passed_revisions(settings)
    if revision is None:
        known.pop(key, None)
    else:
        known[key] = revision
    keptfile.save(_tests_file(settings), known)  # read-only: helm test runs every time


def helm_test_check(clients: Tools, settings: Settings, *,
                    unchanged: int | None = None) -> CheckResult:
    """``helm test`` of the release (in the run's kube-context); when it fails, the test pod's
    own verdict from its log (the chart keeps a failed test pod). When this run's deploy left
    the release at revision ``unchanged`` and helm test passed on that revision before, it is
    not run again (``inv verify`` on its own always runs it)."""
    name = f"helm test {settings.release}"
    key = f"{clients.context}/{settings.namespace}/{settings.release}"
    if unchanged is not None and passed_revisions(settings).get(key) == unchanged:
        return CheckResult(name, True, 0.0, f"passed on revision {unchanged}, which this run "
                           "left unchanged: not run again (inv verify runs it)")
    timeout = min(HELM_TEST_SECONDS, settings.verify_timeout)
    started = time.monotonic()
    result = clients.helm.run(*helm_test_argv(settings, timeout)[1:], timeout=timeout + 60,
                              check=False)
    pod = f"{settings.release}-test-health"
    if result.ok:
        _record(settings, key, tested_revision(result.stdout))
        return CheckResult(name, True, time.monotonic() - started,
                           "; ".join(helm_test_phases(result.stdout)) or "passed")
    _record(settings, key, None)
    log = proc.run(clients.kubectl.c, clients.kubectl.logs_argv(pod=pod, tail=20),
                   timeout=settings.tool_timeout, check=False)
    failed = [v for v in pod_verdicts(log.stdout if log.ok else "")
              if v.startswith("FAIL")]
    why = "; ".join(failed) or proc.tail(result.stderr or result.stdout, 1) or \
        f"exit {result.code}"
    return CheckResult(name, False, time.monotonic() - started, why,
                       f"{clients.kubectl.command('-n', settings.namespace, 'logs', pod)}"
                       "   # the failed test pod stays; then: inv logs backend; "
                       "inv logs frontend")


def verify(kube: Kubectl, settings: Settings, *, poll: float = POLL_SECONDS,
           progress: Callable[[str], None] | None = None,
           user_url: Callable[[], access.AppUrl] | None = None,
           helm_test: Callable[[], CheckResult] | None = None) -> VerifyReport:
    """Rollout, then (when it completed) the HTTP checks through the API server, the NodePort
    check of ``user_url()`` and ``helm_test()`` (None: left out)."""
    started = time.monotonic()
    watch = watch_rollout(kube, settings, poll=poll, progress=progress)
    checks = rollout_checks(watch, settings)
    if watch.ok:
        deadline = started + settings.verify_timeout
        checks += [http_check(kube, settings, probe, deadline=max(deadline, time.monotonic()))
                   for probe in PROBES]
        if user_url is not None:
            try:
                checks.append(nodeport_check(user_url(), settings, kube))
            except StageFailed as exc:
                checks.append(CheckResult("NodePort from this host", False, 0.0,
                                          exc.message, exc.hint))
        if helm_test is not None:
            checks.append(helm_test())
    return VerifyReport(tuple(checks), watch.findings)


class VerifyFailed(StageFailed):
    """The table and summary already said what failed and why."""

    def __init__(self, report: VerifyReport, *, shown: bool):
        self.report = report
        failed = [c for c in report.checks if not c.ok and c.required]
        first = failed[0] if failed else None
        hint = first.hint if first and first.hint else "inv status"
        super().__init__(
            f"verify failed: {len(failed)} of {len(report.checks)} checks"
            + (f" (first: {first.name})" if first else ""),
            "the fixes above, then: inv verify" if shown else hint)


def run_verify(s: Session, *, as_json: bool = False, poll: float = POLL_SECONDS,
               helm_test: bool = True) -> list[CheckResult]:
    """Entry point of ``inv verify``: rollout, HTTP checks, NodePort, ``helm test`` (unless
    ``helm_test`` is false), table + summary (or JSON)."""
    # minikube only where the NodePort URL comes from it (other targets: the node's address)
    doctor.require(s, *(["minikube"] if s.settings.target == "minikube" else []), "kubectl",
                   *(["helm"] if helm_test else []), "cluster")
    console, settings = s.console, s.settings
    if not as_json:
        console.heading(f"verify release {settings.release} in namespace {settings.namespace}, "
                        f"context {s.tools.context} "
                        f"(timeout {settings.verify_timeout:.0f}s)")
    report = verify(s.tools.kubectl, settings, poll=poll,
                    progress=None if as_json else console.detail,
                    user_url=lambda: access.frontend_url(s),
                    helm_test=(lambda: helm_test_check(
                        s.tools, settings, unchanged=s.recall(RELEASE_UNCHANGED)))
                    if helm_test else None)
    if as_json:
        console.json(report.as_dict(settings))
    else:
        diagnose.report(console, report.findings)
        console.checks("inv verify", report.checks)
        console.summary(report.checks, what="checks")
    if not report.ok:
        raise VerifyFailed(report, shown=not as_json)
    return list(report.checks)
