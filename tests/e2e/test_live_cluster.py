"""`inv up` end to end on a live cluster, from a fresh clone and a fresh .env.

The tests run in this order and share one cluster and one copy of the repo (see conftest):
deploy → idempotence → the edit loop → a .env change → each failure class of `inv verify` →
a failed deploy that rolls back → day-2 tasks → secrets → `inv down --purge`.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need
from tests.e2e.support import NAMESPACE, ROOT, App, ArgvSampler, Cluster, InvRun

# the first `inv up` builds both images (a cold one takes minutes on 2 cores)
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

RELEASE = "todo-app"
SELECTOR = "app=todo-app"
NODEPORT = "http://127.0.0.1:30080"
VERDICT_SECONDS = 20.0  # each failure class is named within this (the bar)
BROKEN_MAIN = ('def main() -> int:\n'
               '    print("e2e: broken on purpose", flush=True)\n'
               '    return 3\n\n\n'
               'def _unused_main() -> int:\n')


# -- helpers ---------------------------------------------------------------------------------


def http(method: str, url: str, body: dict[str, Any] | None = None,
         timeout: float = 10) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.loads(response.read() or b"null")


def pods(cluster: Cluster) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.kubectl_json("get", "pods", "-n", NAMESPACE, "-l",
                                                       SELECTOR)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def pod_state(cluster: Cluster, component: str | None = None) -> dict[str, int]:
    """{pod uid: restarts} of the app's pods (of one component)."""
    return {p["metadata"]["uid"]: sum(c.get("restartCount", 0)
                                      for c in p["status"].get("containerStatuses") or [])
            for p in pods(cluster)
            if component is None or p["metadata"]["labels"].get("component") == component}


def wait_until(what: str, check: Any, timeout: float = 120, every: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def settled(cluster: Cluster) -> bool:
    """Both Deployments rolled out, every app pod Ready, nothing terminating."""
    for name in ("todo-backend", "todo-frontend"):
        d = cluster.kubectl_json("get", "deployment", name, "-n", NAMESPACE)
        status, want = d["status"], d["spec"]["replicas"]
        if (status.get("updatedReplicas"), status.get("readyReplicas"),
                status.get("replicas")) != (want, want, want):
            return False
    items = cluster.kubectl_json("get", "pods", "-n", NAMESPACE, "-l", SELECTOR)["items"]
    return all(not p["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
        for p in items)


class Answered:
    """What a user of the app meets while a block runs (a rolling update, say): a thread GETs
    ``url`` every 50 ms and keeps each answer that is not a 200. On leaving, it goes on until
    no app pod is terminating any more (the old pods' whole shutdown), then stops."""

    def __init__(self, cluster: Cluster, url: str):
        self.cluster, self.url = cluster, url
        self.count = 0
        self.failed: list[tuple[float, str]] = []  # (seconds since the start, what came back)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._started = 0.0

    def _loop(self) -> None:
        while not self._stop.is_set():
            at = time.monotonic() - self._started
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    outcome = "" if response.status == 200 else f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                outcome = f"HTTP {exc.code}: {exc.read(200).decode(errors='replace')}"
            except OSError as exc:  # refused, no route, timed out
                outcome = repr(exc)[:200]
            self.count += 1
            if outcome:
                self.failed.append((round(at, 2), outcome))
            self._stop.wait(0.05)

    def __enter__(self) -> Answered:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        try:
            if kind is None:  # not after a failed block: its error is the news
                wait_until("the old pods to finish shutting down", lambda: not any(
                    p["metadata"].get("deletionTimestamp") for p in self.cluster.kubectl_json(
                        "get", "pods", "-n", NAMESPACE, "-l", SELECTOR)["items"]), 120, 0.5)
        finally:
            self._stop.set()
            self._thread.join()


def release_revision(cluster: Cluster) -> int:
    rows = json.loads(cluster.run("helm", "history", RELEASE, "-n", NAMESPACE, "-o",
                                  "json").stdout)
    return int(rows[-1]["revision"])


def helm_set(cluster: Cluster, app: App, *sets: str) -> None:
    """A bad revision made with helm itself (not the suite): the suite's values plus ``sets``."""
    argv = ["helm", "upgrade", RELEASE, str(app.path / "helm" / "todo-app"), "-n", NAMESPACE,
            "--reuse-values"]
    for item in sets:
        argv += ["--set-string" if item.startswith("backend.image.tag=") else "--set", item]
    cluster.run(*argv)


def roll_back(cluster: Cluster, revision: int) -> int:
    """Roll back to ``revision``; the new revision it makes (helm keeps only the last 10, so
    the newest good revision is the one to go back to next time)."""
    cluster.run("helm", "rollback", RELEASE, str(revision), "-n", NAMESPACE, "--wait",
                "--timeout", "180s", timeout=240)
    wait_until("the app to settle after the rollback", lambda: settled(cluster), 180)
    return release_revision(cluster)


def env_hash(cluster: Cluster, pod: str, container: str, variable: str) -> str:
    """sha256 of an environment variable inside a container (the value itself never leaves)."""
    code = (f"import hashlib, os; print(hashlib.sha256(os.environ.get({variable!r}, '')"
            ".encode()).hexdigest())")
    return cluster.run("kubectl", "exec", "-n", NAMESPACE, pod, "-c", container, "--",
                       "python", "-c", code).stdout.strip()


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def docker_in_cluster(cluster: Cluster, *args: str, stdin: str | None = None) -> None:
    """docker against the daemon the cluster's node uses (minikube docker-env)."""
    env_text = cluster.run("minikube", "-p", cluster.profile, "docker-env", "--shell",
                           "none").stdout
    env = dict(cluster.env)
    env.update(line.split("=", 1) for line in env_text.splitlines() if "=" in line)
    saved, cluster.env = cluster.env, env
    try:
        cluster.run("docker", *args, stdin=stdin, timeout=300)
    finally:
        cluster.env = saved


def image_tag(cluster: Cluster, deployment: str) -> str:
    d = cluster.kubectl_json("get", "deployment", deployment, "-n", NAMESPACE)
    image: str = d["spec"]["template"]["spec"]["containers"][0]["image"]
    return image.rsplit(":", 1)[1]


# -- state shared by the ordered tests -----------------------------------------------------------


class State:
    good_revision = 0
    todo_title = ""
    edit_seconds = 0.0


# -- 1. fresh clone → verified ---------------------------------------------------------------


def test_onboarding_takes_a_fresh_clone_to_a_verified_deployment(app: App,
                                                                argv_sampler: ArgvSampler
                                                                ) -> None:
    """README's first command: its own virtualenv, .env from .env.example, doctor, inv up."""
    env = {k: v for k, v in app.env.items() if k != "PYTHONPATH"}  # the clone's own install
    (app.path / ".env").unlink()  # a fresh clone has none: onboarding makes it
    started = time.monotonic()
    result = subprocess.run(["bash", "scripts/onboard.sh", "--yes"], cwd=app.path, env=env,
                            capture_output=True, text=True, timeout=1700)
    run = InvRun(("onboard",), result.returncode, result.stdout + result.stderr,
                 time.monotonic() - started)
    app.runs.append(run)
    assert run.code == 0, run.output[-6000:]
    assert (app.path / ".venv" / "bin" / "inv").exists()
    assert "Todo app is up and verified" in run.output
    verified = run.output.split("Verify: rollout and HTTP checks", 1)[1].split("[7/7]", 1)[0]
    assert "Result: SUCCESS — 7 of 7 checks passed" in verified  # + NodePort and helm test
    assert settled(app.cluster)
    components = {p["metadata"]["labels"]["component"] for p in pods(app.cluster)}
    assert components == {"backend", "frontend", "postgresql"}
    postgres = app.cluster.kubectl_json("get", "statefulset", "todo-postgres", "-n", NAMESPACE)
    assert postgres["status"].get("readyReplicas") == 1
    State.good_revision = release_revision(app.cluster)


def test_nodeport_30080_answers_the_health_check_from_the_host(app: App) -> None:
    assert http("GET", f"{NODEPORT}/api/health") == (200, {"status": "healthy"})


def test_a_todo_created_through_the_frontends_proxy_is_read_back(app: App) -> None:
    State.todo_title = f"e2e {uuid.uuid4()}"
    status, created = http("POST", f"{NODEPORT}/api/backend/api/todos",
                           {"title": State.todo_title})
    assert status in (200, 201)
    _, listed = http("GET", f"{NODEPORT}/api/backend/api/todos")
    assert any(t["id"] == created["id"] and t["title"] == State.todo_title for t in listed)


def test_network_policies_select_the_live_pods_and_the_apps_traffic_passes(app: App) -> None:
    """The chart's NetworkPolicies are in place, each live pod is selected by exactly its own,
    and the app's traffic (NodePort -> frontend -> backend -> PostgreSQL) still flows.

    The local cluster's bridge CNI (like minikube's default) accepts NetworkPolicies but does
    not enforce them, so this shows they break nothing, not that they block: what each policy
    admits is judged from the rendered objects in tests/chart/test_chart_render.py."""
    policies = {p["metadata"]["name"]: p["spec"] for p in app.cluster.kubectl_json(
        "get", "networkpolicy", "-n", NAMESPACE)["items"]}
    assert set(policies) == {"todo-backend", "todo-frontend", "todo-postgres"}
    for pod in pods(app.cluster):
        labels = pod["metadata"]["labels"]
        chosen = [name for name, spec in policies.items()
                  if spec["podSelector"]["matchLabels"].items() <= labels.items()]
        own = {"postgresql": "todo-postgres"}.get(labels["component"],
                                                  f"todo-{labels['component']}")
        assert chosen == [own], pod["metadata"]["name"]
    status, listed = http("GET", f"{NODEPORT}/api/backend/api/todos")
    assert status == 200 and any(t["title"] == State.todo_title for t in listed)


def test_the_frontend_runs_on_the_node_line_its_dockerfile_defaults_to(app: App) -> None:
    """Node 24 LTS (not the spec's end-of-life node:20-alpine); the stand-in base the tier
    builds with (TODO_NODE_BASE, scripts/ci/build-bases.sh) must be the same line."""
    text = (ROOT / "docker" / "frontend" / "Dockerfile").read_text()
    match = re.search(r"^ARG BASE_IMAGE=node:(\d+)", text, re.M)
    assert match, "docker/frontend/Dockerfile has no node:<major> default"
    pod = next(p for p in pods(app.cluster) if p["metadata"]["labels"]["component"] == "frontend")
    version = app.cluster.run("kubectl", "exec", "-n", NAMESPACE, pod["metadata"]["name"],
                              "-c", "frontend", "--", "node", "--version").stdout.strip()
    assert version.startswith(f"v{match.group(1)}."), version


def test_the_database_pod_has_a_stable_name_through_the_headless_service(app: App) -> None:
    pod = next(p for p in pods(app.cluster)
               if p["metadata"]["labels"]["component"] == "postgresql")
    backend = next(p for p in pods(app.cluster)
                   if p["metadata"]["labels"]["component"] == "backend")
    name = f"{pod['metadata']['name']}.todo-postgres-headless"
    resolved = app.cluster.run(
        "kubectl", "exec", "-n", NAMESPACE, backend["metadata"]["name"], "-c", "backend", "--",
        "python", "-c", f"import socket; print(socket.gethostbyname({name!r}))").stdout.strip()
    assert resolved == pod["status"]["podIP"]


def test_the_browser_tier_passes_against_the_deployed_app(app: App) -> None:
    """app/frontend/tests/browser (Chromium) once against the app through NodePort 30080; its
    two outage tests stop the backend, so that tier skips them against a deployed app."""
    frontend = ROOT / "app" / "frontend"
    if not (frontend / "node_modules" / "playwright-core").is_dir():
        need("the browser tier", "npm ci in app/frontend first (scripts/test.sh does)")
    ip = app.cluster.run("minikube", "-p", app.cluster.profile, "ip").stdout.strip()
    base = NODEPORT if app.cluster.kind == "local" else f"http://{ip}:30080"
    result = subprocess.run(["npm", "--prefix", str(frontend), "run", "test:browser"],
                            env={**app.cluster.env, "TODO_BROWSER_BASE_URL": base},
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]


def test_helm_test_passes(app: App) -> None:
    out = app.cluster.run("helm", "test", RELEASE, "-n", NAMESPACE, "--timeout", "120s",
                          timeout=180)
    assert "Phase:          Succeeded" in out.stdout


def test_inv_verify_opens_the_nodeport_from_the_host_and_runs_helm_test(app: App) -> None:
    """What the user opens (the URL `inv url` prints) and `helm test`, from verify itself."""
    run = app.inv("verify", "--json")
    report = json.loads(run.output[: run.output.rindex("}") + 1])
    checks = {c["name"]: c for c in report["checks"]}
    url = app.inv("url").output.splitlines()[0].strip()
    node = checks["NodePort 30080 from this host"]
    assert node["status"] == "pass", node
    assert node["detail"] == f'GET {url}/api/health: {{"status": "healthy"}}'
    helm_test = checks[f"helm test {RELEASE}"]
    assert helm_test["status"] == "pass", helm_test
    assert helm_test["detail"] == f"{RELEASE}-test-health: Succeeded"
    skipped = app.inv("verify", "--json", "--skip-helm-test")
    names = [c["name"] for c in json.loads(skipped.output[: skipped.output.rindex("}") + 1])[
        "checks"]]
    assert len(names) == 6 and not any(n.startswith("helm test") for n in names)


def test_verify_fails_when_the_nodeport_does_not_answer(app: App) -> None:
    """Only the host's way in is broken: the frontend Service becomes ClusterIP (no nodePort;
    the API server's proxy still reaches the frontend), so the URL `inv url` prints (30080)
    refuses. verify must fail on that alone; the Service is put back afterwards."""
    svc = ["kubectl", "-n", NAMESPACE, "patch", "service", "todo-frontend", "--type=json", "-p"]
    app.cluster.run(*svc, '[{"op":"replace","path":"/spec/type","value":"ClusterIP"},'
                          '{"op":"remove","path":"/spec/ports/0/nodePort"}]')

    def refused() -> bool:
        try:
            http("GET", f"{NODEPORT}/api/health", timeout=2)
        except OSError:
            return True
        return False

    try:
        wait_until("kube-proxy to drop NodePort 30080", refused, 30)
        run = app.inv("verify", "--json", check=False)
    finally:
        app.cluster.run(*svc, '[{"op":"replace","path":"/spec/type","value":"NodePort"},'
                              '{"op":"add","path":"/spec/ports/0/nodePort","value":30080}]')
    assert run.code == 1, run.output
    report = json.loads(run.output[: run.output.rindex("}") + 1])
    failed = [c for c in report["checks"] if c["status"] == "FAIL"]
    assert [c["name"] for c in failed] == ["NodePort 30080 from this host"]
    assert (f"minikube -p {app.cluster.profile} service todo-frontend -n todo --url"
            in failed[0]["hint"])
    wait_until("NodePort 30080 to answer again", lambda: not refused(), 30)


def test_pods_run_as_uid_1001_on_a_read_only_root_filesystem(app: App) -> None:
    for component, container in (("backend", "backend"), ("frontend", "frontend")):
        pod = next(p for p in pods(app.cluster)
                   if p["metadata"]["labels"]["component"] == component)
        name = pod["metadata"]["name"]
        ids = app.cluster.run("kubectl", "exec", "-n", NAMESPACE, name, "-c", container, "--",
                              "id", "-u").stdout.strip()
        assert ids == "1001"
        write = app.cluster.run("kubectl", "exec", "-n", NAMESPACE, name, "-c", container,
                                "--", "touch", "/root-fs-probe", check=False)
        assert write.returncode != 0 and "Read-only file system" in write.stderr
        spec = next(c for c in pod["spec"]["containers"] if c["name"] == container)
        assert spec["securityContext"]["readOnlyRootFilesystem"] is True


# -- 2. nothing changed → nothing happens ------------------------------------------------------


def test_a_second_up_rebuilds_nothing_and_restarts_no_pod(app: App) -> None:
    before = pod_state(app.cluster)
    run = app.inv("up")
    assert "nothing to build" in run.output
    assert pod_state(app.cluster) == before


# -- 3. the edit loop ------------------------------------------------------------------------


def test_a_backend_edit_rebuilds_and_rolls_only_the_backend(app: App) -> None:
    frontend_before = pod_state(app.cluster, "frontend")
    backend_before = pod_state(app.cluster, "backend")
    frontend_tag = image_tag(app.cluster, "todo-frontend")
    source = app.path / "app" / "backend" / "todo_api" / "__init__.py"
    source.write_text(source.read_text() + f"# e2e edit {uuid.uuid4()}\n")
    with Answered(app.cluster, f"{NODEPORT}/api/backend/api/todos") as users:
        run = app.inv("up")
    State.edit_seconds = run.seconds
    # every request through the frontend's proxy answered while the backend pods were
    # replaced: without the chart's drainSeconds, 502s (a pod stopped listening before
    # kube-proxy stopped sending it requests); without the proxy's resend of an idempotent
    # request, a rare 502 (a pooled connection closed by a stopping pod)
    assert users.count > 20 and users.failed == [], users.failed
    assert "built todo-backend:" in run.output
    assert "skipped: todo-frontend" in run.output
    assert image_tag(app.cluster, "todo-frontend") == frontend_tag
    assert pod_state(app.cluster, "frontend") == frontend_before
    assert not set(pod_state(app.cluster, "backend")) & set(backend_before)
    State.good_revision = release_revision(app.cluster)


# -- 4. a .env change -----------------------------------------------------------------------------


def test_a_changed_env_value_rolls_the_pods_and_the_old_value_is_gone(app: App) -> None:
    from dotenv import set_key

    secret_before = app.cluster.kubectl_json("get", "secret", "todo-secrets", "-n", NAMESPACE)
    backend_before = set(pod_state(app.cluster, "backend"))
    old_key = app.env_values().get("COHERE_API_KEY", "")
    new_key = f"e2e-cohere-{uuid.uuid4().hex}"
    set_key(app.path / ".env", "COHERE_API_KEY", new_key, quote_mode="never")
    with Answered(app.cluster, f"{NODEPORT}/api/backend/api/todos") as users:
        app.inv("up")  # rolls both Deployments: the NodePort's pods and the proxy's
    assert users.count > 20 and users.failed == [], users.failed
    secret_after = app.cluster.kubectl_json("get", "secret", "todo-secrets", "-n", NAMESPACE)
    assert secret_after["data"] != secret_before["data"]
    assert not set(pod_state(app.cluster, "backend")) & backend_before
    for pod in pods(app.cluster):
        if pod["metadata"]["labels"]["component"] == "backend":
            seen = env_hash(app.cluster, pod["metadata"]["name"], "backend", "COHERE_API_KEY")
            assert seen == sha(new_key) != sha(old_key)
    State.good_revision = release_revision(app.cluster)


# -- 5. each failure class of inv verify, on real pods ---------------------------------------


def _crash_image(app: App) -> str:
    good = image_tag(app.cluster, "todo-backend")
    tag = "e2e-crash"
    dockerfile = (f"FROM todo-backend:{good}\n"
                  'CMD ["python", "-c", "import sys; print(\'e2e: crashing on purpose\', '
                  'flush=True); sys.exit(3)"]\n')
    docker_in_cluster(app.cluster, "build", "-t", f"todo-backend:{tag}", "-", stdin=dockerfile)
    return tag


FAILURES = {
    # cause: (helm --set ..., what the finding must say)
    "image-missing": (("backend.image.tag=000000000000",), "ErrImageNeverPull"),
    "crash-loop": (("backend.image.tag={crash}",), "exit code 3"),
    "config-error": (("secrets.existingSecret=todo-secrets-absent",),
                     'secret "todo-secrets-absent" not found'),
    "readiness": (("backend.readinessPath=/e2e-no-such-path",), "GET /e2e-no-such-path"),
    "unschedulable": (("backend.resources.requests.cpu=64", "backend.resources.limits.cpu=64"),
                      "Insufficient cpu"),
}


@pytest.mark.parametrize("cause", list(FAILURES))
def test_verify_names_each_failure_class_within_20_seconds(app: App, cause: str) -> None:
    sets, words = FAILURES[cause]
    crash = _crash_image(app) if cause == "crash-loop" else ""
    helm_set(app.cluster, app, *(s.format(crash=crash) for s in sets))
    try:
        run = app.inv("verify", "--json", "--timeout", "90", check=False)
        assert run.code == 1, run.output
        report = json.loads(run.output[: run.output.rindex("}") + 1])
        causes = {f["cause"]: f for f in report["findings"]}
        assert cause in causes, run.output
        finding = causes[cause]
        assert words in finding["message"] + " ".join(finding["events"]), finding
        if cause == "crash-loop":
            assert any("e2e: crashing on purpose" in line for line in finding["logs"])
        assert run.seconds <= VERDICT_SECONDS, f"{cause}: verdict after {run.seconds:.1f}s"
    finally:
        State.good_revision = roll_back(app.cluster, State.good_revision)


# -- 6. a failed deploy ------------------------------------------------------------------------


def test_a_failed_deploy_is_diagnosed_rolled_back_and_the_old_revision_serves(app: App) -> None:
    before = release_revision(app.cluster)  # what serves now (and must go on serving)
    main = app.path / "app" / "backend" / "todo_api" / "__main__.py"
    original = main.read_text()
    main.write_text(original.replace("def main() -> int:\n", BROKEN_MAIN, 1))
    try:
        run = app.inv("up", check=False)
    finally:
        main.write_text(original)
    assert run.code == 1, run.output
    assert "exit code 3" in run.output
    assert "e2e: broken on purpose" in run.output  # the crashed run's log line
    assert f"rolled back {RELEASE} to revision {before}" in run.output
    history = json.loads(app.cluster.run("helm", "history", RELEASE, "-n", NAMESPACE, "-o",
                                         "json").stdout)
    assert history[-2]["status"] == "failed"
    assert history[-1]["description"] == f"Rollback to {before}"
    wait_until("the previous revision to serve again", lambda: settled(app.cluster), 120)
    assert http("GET", f"{NODEPORT}/api/health") == (200, {"status": "healthy"})
    _, listed = http("GET", f"{NODEPORT}/api/backend/api/todos")
    assert any(t["title"] == State.todo_title for t in listed)
    assert run.seconds < 120, f"the failed deploy took {run.seconds:.0f}s to give its verdict"
    State.good_revision = release_revision(app.cluster)


def test_a_database_that_cannot_start_is_rolled_back_and_its_stuck_pod_replaced(
        app: App) -> None:
    """A StatefulSet does not replace a pod of a failed revision by itself ("forced
    rollback"): without the suite deleting it, the rollback's wait ran out."""
    import yaml

    config = yaml.safe_load(Path(app.env["INVOKE_RUNTIME_CONFIG"]).read_text())
    values_file = Path(config["todo"].get("values_file") or app.path / "e2e-db-values.yaml")
    original = values_file.read_text() if values_file.exists() else None
    values = yaml.safe_load(original or "{}") or {}
    values.setdefault("postgresql", {}).setdefault("image", {})["tag"] = "no-such-tag"
    values["postgresql"]["image"]["pullPolicy"] = "Never"
    values_file.write_text(yaml.safe_dump(values))
    if original is None:  # minikube: no values file yet; point the run at this one
        config["todo"]["values_file"] = str(values_file)
        Path(app.env["INVOKE_RUNTIME_CONFIG"]).write_text(yaml.safe_dump(config))
    before = release_revision(app.cluster)
    try:
        run = app.inv("deploy", check=False)
    finally:
        if original is None:
            values_file.unlink()
            del config["todo"]["values_file"]
            Path(app.env["INVOKE_RUNTIME_CONFIG"]).write_text(yaml.safe_dump(config))
        else:
            values_file.write_text(original)
    assert run.code == 1, run.output
    assert "postgresql: image" in run.output and "no-such-tag" in run.output
    assert f"rolled back {RELEASE} to revision {before}" in run.output
    assert "deleted pod todo-postgres-0" in run.output
    wait_until("the database to serve again", lambda: settled(app.cluster) and app.cluster
               .kubectl_json("get", "statefulset", "todo-postgres", "-n", NAMESPACE)["status"]
               .get("readyReplicas") == 1, 120)
    _, listed = http("GET", f"{NODEPORT}/api/backend/api/todos")
    assert any(t["title"] == State.todo_title for t in listed)


# -- 6b. one mutating run at a time (issue 23, 2) -----------------------------------------------

LEASE = f"todo-deploy-{RELEASE}"


def start_inv(app: App, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``inv ARGS`` in the fresh copy, started and left running (its pid is its lock's pid)."""
    return subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=app.path,
                            env=env or app.env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(app: App, process: subprocess.Popen[str], *args: str) -> InvRun:
    output, _ = process.communicate(timeout=900)
    run = InvRun(("pid", str(process.pid), *args), process.returncode, output, 0.0)
    app.runs.append(run)
    return run


def lease_holder(cluster: Cluster) -> str | None:
    found = cluster.run("kubectl", "get", "lease", LEASE, "-n", NAMESPACE, "-o", "json",
                        check=False)
    return json.loads(found.stdout)["spec"].get("holderIdentity") if found.returncode == 0 \
        else None


def two_deploys_at_once(app: App, *flags: str) -> list[tuple[int, InvRun]]:
    args = ("deploy", "--redeploy", *flags)
    started = [start_inv(app, *args) for _ in range(2)]
    return [(p.pid, finish(app, p, *args)) for p in started]


def test_two_deploys_at_once_one_upgrades_and_the_other_refuses_naming_it(app: App) -> None:
    before = release_revision(app.cluster)
    runs = two_deploys_at_once(app)
    assert sorted(run.code for _, run in runs) == [0, 3], [run.output for _, run in runs]
    (winner, _), (_, loser) = sorted(runs, key=lambda r: r[1].code)
    assert "is locked by another run" in loser.output, loser.output
    assert f":{winner} inv deploy since " in loser.output  # names the run that holds it
    assert "--wait-lock" in loser.output  # and the fix
    assert release_revision(app.cluster) == before + 1  # exactly one upgrade
    assert lease_holder(app.cluster) is None  # released at the end


def test_with_wait_lock_the_second_deploy_waits_for_the_first_then_upgrades(app: App) -> None:
    before = release_revision(app.cluster)
    runs = two_deploys_at_once(app, "--wait-lock=300")
    assert [run.code for _, run in runs] == [0, 0], [run.output for _, run in runs]
    waited = [(pid, run) for pid, run in runs if "for the lock of release" in run.output]
    assert len(waited) == 1, [run.output for _, run in runs]
    other = next(pid for pid, _ in runs if pid != waited[0][0])
    assert "held by " in waited[0][1].output and f":{other} inv deploy" in waited[0][1].output
    history = json.loads(app.cluster.run("helm", "history", RELEASE, "-n", NAMESPACE, "-o",
                                         "json").stdout)
    assert [(r["revision"], r["status"]) for r in history[-2:]] == [
        (before + 1, "superseded"), (before + 2, "deployed")]  # one after the other
    assert lease_holder(app.cluster) is None


def test_a_lock_left_by_a_killed_deploy_is_refused_then_taken_over_after_it_expires(
        app: App) -> None:
    import os
    import signal

    env = {**app.env, "INVOKE_TODO_LOCK_LEASE_SECONDS": "10"}
    killed = start_inv(app, "deploy", "--redeploy", env=env)
    wait_until("the deploy to take its lock", lambda: lease_holder(app.cluster), 120, 0.2)
    os.kill(killed.pid, signal.SIGKILL)  # no finally, no release: a crash
    killed.communicate()
    assert f":{killed.pid} inv deploy" in (lease_holder(app.cluster) or "")
    saved = app.env
    app.env = env
    try:
        refused = app.inv("deploy", check=False)
        assert refused.code == 3, refused.output
        assert f":{killed.pid} inv deploy since " in refused.output
        # the killed run's helm (a process of its own) finishes by itself: let it
        wait_until("the killed run's helm to finish", lambda: not json.loads(app.cluster.run(
            "helm", "history", RELEASE, "-n", NAMESPACE, "-o", "json").stdout)[-1][
            "status"].startswith("pending"), 300)
        taken = app.inv("deploy", "--wait-lock=120")
    finally:
        app.env = saved
    assert "took over the lock of release" in taken.output, taken.output
    assert f":{killed.pid} inv deploy" in taken.output  # names the run it took it from
    assert lease_holder(app.cluster) is None
    wait_until("the app to settle", lambda: settled(app.cluster), 120)


# -- 7. day 2 ----------------------------------------------------------------------------------


def test_status_names_the_release_chart_images_and_ready_pods(app: App) -> None:
    out = app.inv("status").output
    assert f"{release_revision(app.cluster)}" in out
    assert "todo-app-1.0.0" in out
    assert f"todo-backend:{image_tag(app.cluster, 'todo-backend')}" in out
    for pod in pods(app.cluster):
        assert pod["metadata"]["name"] in out


def test_logs_backend_shows_the_backends_own_lines(app: App) -> None:
    out = app.inv("logs", "backend", "--tail", "20").output
    assert "GET /health" in out
    assert "todo-frontend" not in out


def test_url_prints_an_address_that_serves_the_app(app: App) -> None:
    output = app.inv("url").output
    url = output.strip().splitlines()[0].strip()  # stdout: the URL alone
    assert url.startswith("http://") and url.endswith(":30080")
    assert http("GET", f"{url}/api/health") == (200, {"status": "healthy"})
    profile = app.cluster.profile  # the working `minikube service` form, namespace included
    assert f"or: minikube -p {profile} service todo-frontend -n todo --url" in output


# -- 8. secrets --------------------------------------------------------------------------------


def test_no_secret_value_in_the_release_in_argv_or_in_output(app: App,
                                                             argv_sampler: ArgvSampler) -> None:
    secrets = [v for k, v in app.env_values().items() if k != "DATABASE_URL" and len(v) >= 8]
    assert len(secrets) >= 3  # BETTER_AUTH_SECRET, POSTGRES_PASSWORD, COHERE_API_KEY
    release = "\n".join(app.cluster.run("helm", "get", what, RELEASE, "-n", NAMESPACE,
                                        *extra).stdout
                        for what, *extra in (("values", "--all"), ("manifest",), ("notes",),
                                             ("hooks",)))
    outputs = "\n".join(run.output for run in app.runs)
    argvs = "\n".join(argv_sampler.seen)
    assert len(argv_sampler.seen) > 50  # the sampler really saw the runs' processes
    for value in secrets:
        assert value not in release
        assert value not in outputs
        assert value not in argvs


# -- 8b. objects applied with kubectl apply -k k8s/ -------------------------------------------


def test_a_deploy_over_objects_applied_with_kubectl_apply_k_adopts_them(app: App) -> None:
    """k8s/ says managed-by kubectl; Helm refuses such objects unless they are handed over.
    The release is uninstalled (the Secret and images stay), k8s/ is applied with kubectl,
    then `inv deploy` adopts every object (Helm 4: server-side apply takes kubectl's fields
    over) and `inv verify` passes."""
    from todo_deploy import chart, deploy

    app.inv("down")
    app.cluster.run("kubectl", "apply", "-k", str(app.path / "k8s"))
    rendered = app.cluster.run("helm", "template", RELEASE, str(app.path / "helm" / "todo-app"),
                               "--namespace", NAMESPACE, "--skip-tests", "--set",
                               "postgresql.enabled=true").stdout
    docs = chart.split_documents(rendered)
    listed = app.cluster.run(*deploy.existing_objects_argv(NAMESPACE, docs)).stdout
    live = json.loads(listed)["items"]
    assert {o["metadata"]["labels"]["app.kubernetes.io/managed-by"] for o in live} == {"kubectl"}
    found = chart.in_the_way(live, docs, RELEASE, NAMESPACE)  # the live shapes, judged
    assert {f.key for f in found} == {chart.object_key(o) for o in live} and all(
        f.adopt for f in found), found

    run = app.inv("deploy")
    assert f"adopted into release {RELEASE}" in run.output, run.output
    for obj in app.cluster.kubectl_json("get", *(f.ref for f in found), "-n",
                                        NAMESPACE)["items"]:
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert obj["metadata"]["annotations"]["meta.helm.sh/release-name"] == RELEASE
    manifest = app.cluster.run("helm", "get", "manifest", RELEASE, "-n", NAMESPACE).stdout
    assert all(f"name: {f.key.split('/')[1]}" in manifest for f in found)
    app.inv("verify")
    again = app.inv("deploy")  # nothing left to adopt
    assert "adopted" not in again.output


# -- 9. down --purge ---------------------------------------------------------------------------


def test_down_purge_leaves_nothing_of_ours_behind(app: App) -> None:
    app.inv("down", "--purge", "--yes")
    cluster = app.cluster
    assert cluster.run("helm", "status", RELEASE, "-n", NAMESPACE, check=False).returncode
    leftovers = cluster.kubectl_json("get", "all,pvc,secret,configmap,networkpolicy",
                                     "-n", NAMESPACE, "-l", SELECTOR)["items"]
    assert leftovers == []
    assert cluster.kubectl_json("get", "secret", "-n", NAMESPACE,
                                "--field-selector", "metadata.name=todo-secrets")["items"] == []
    volumes = [pv["metadata"]["name"] for pv in cluster.kubectl_json("get", "pv")["items"]
               if (pv["spec"].get("claimRef") or {}).get("namespace") == NAMESPACE]
    assert volumes == []
    listed = cluster.run("minikube", "-p", cluster.profile, "image", "ls").stdout.split()
    # the repositories this suite builds; other repositories in a shared daemon (a dev image
    # another checkout left, a helper's build) are not ours to judge here
    ours = [ref for ref in listed
            if ref.rsplit(":", 1)[0].rsplit("/", 1)[-1] in {"todo-backend", "todo-frontend"}]
    assert ours == []


# -- 10. the other Helm major ------------------------------------------------------------------


def test_helm_3_deploys_verifies_and_removes_the_same_app(app: App) -> None:
    """The tier runs on Helm 4 (TODO_E2E_HELM); the suite's Helm 3 flags meet a live cluster
    here: install, verify, status, uninstall."""
    import os

    from tests.e2e.support import helm_dir

    other = "3" if os.environ.get("TODO_E2E_HELM", "4") == "4" else "4"
    try:
        folder = helm_dir(other)
    except FileNotFoundError as missing:
        need(f"helm {other}", str(missing))
    saved = app.env
    app.env = {**saved, "PATH": f"{folder}:{saved['PATH']}"}
    try:
        up = app.inv("up")
        assert "Todo app is up and verified" in up.output and f"Helm {other}:" in up.output
        assert "todo-app-1.0.0" in app.inv("status").output
        app.inv("down", "--purge", "--yes")
    finally:
        app.env = saved
    assert app.cluster.run("helm", "status", RELEASE, "-n", NAMESPACE, check=False).returncode
