"""Capture the kubectl fixtures (tests/fixtures/kubectl) from the live local cluster.

``scripts/capture-fixtures.sh`` (root, dockerd, the stand-in images as in .ci/run) runs this:
it deploys the app from a fresh copy, then puts it in each state the fast tests replay, waits
until the cluster shows that state, and saves what the suite reads:

- ``pods-STATE.json``: ``kubectl get pods -n todo -l app=todo-app -o json``
- ``events-STATE.json``: ``kubectl get events -n todo --field-selector involvedObject.kind=Pod
  -o json``, only the events of those pods
- ``workloads-STATE.json`` (some states): ``kubectl get deployments,replicasets,pods ...``

Each bad state is made with helm (``upgrade --reuse-values --set``) or kubectl, never by
editing a fixture, and rolled back before the next. The fast tests read their expectations
(pod names, images, counts) from these files, so a re-capture needs no test edit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.localcluster import cluster as local
from tests.e2e.support import NAMESPACE, ROOT, App, Cluster, local_cluster_env, make_app
from todo_deploy.deploy import stuck_statefulset_pods

OUT = ROOT / "tests" / "fixtures" / "kubectl"
SELECTOR = "app=todo-app"
RELEASE = "todo-app"
Pods = list[dict[str, Any]]


class Capture:
    def __init__(self, app: App, out: Path):
        self.app, self.cluster, self.out = app, app.cluster, out
        self.good = 0

    # -- reading and saving -------------------------------------------------------------------

    def pods(self) -> Pods:
        items: Pods = self.cluster.kubectl_json("get", "pods", "-n", NAMESPACE, "-l",
                                                SELECTOR)["items"]
        return items

    def save(self, state: str | None, *, workloads: str | None = None) -> None:
        """pods-STATE and events-STATE (unless ``state`` is None), workloads-WORKLOADS."""
        if state is not None:
            pods = self.cluster.kubectl_json("get", "pods", "-n", NAMESPACE, "-l", SELECTOR)
            names = {p["metadata"]["name"] for p in pods["items"]}
            events = self.cluster.kubectl_json("get", "events", "-n", NAMESPACE,
                                               "--field-selector", "involvedObject.kind=Pod")
            events["items"] = [e for e in events["items"]
                               if e["involvedObject"]["name"] in names]
            self._write(f"pods-{state}", pods)
            self._write(f"events-{state}", events)
            print(f"captured {state}: {len(pods['items'])} pod(s), "
                  f"{len(events['items'])} event(s)", flush=True)
        if workloads is not None:
            self._write(f"workloads-{workloads}", self.cluster.kubectl_json(
                "get", "deployments,replicasets,pods", "-n", NAMESPACE, "-l", SELECTOR))
            print(f"captured workloads-{workloads}", flush=True)

    def _write(self, name: str, data: dict[str, Any]) -> None:
        (self.out / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")

    # -- making states ------------------------------------------------------------------------

    def helm_set(self, *sets: str, strings: tuple[str, ...] = ()) -> None:
        argv = ["helm", "upgrade", RELEASE, str(self.app.path / "helm" / "todo-app"), "-n",
                NAMESPACE, "--reuse-values"]
        for item in sets:
            argv += ["--set", item]
        for item in strings:
            argv += ["--set-string", item]
        self.cluster.run(*argv)

    def wait(self, what: str, found: Callable[[Pods], bool], timeout: float = 180,
             every: float = 0.5) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found(self.pods()):
                return
            time.sleep(every)
        raise SystemExit(f"capture: timed out waiting for {what}")

    def reset(self) -> None:
        """Back to the good revision, every pod Ready; old events and stray objects gone."""
        self.cluster.run("helm", "rollback", RELEASE, str(self.good), "-n", NAMESPACE)
        self.good = self.revision()  # helm keeps 10 revisions: the newest good one lasts
        time.sleep(2)  # the StatefulSet controller computes its new updateRevision
        for pod in stuck_statefulset_pods(self.cluster.kubectl_json(
                "get", "statefulsets,pods", "-n", NAMESPACE, "-l", SELECTOR)["items"]):
            self.cluster.run("kubectl", "delete", "pod", pod, "-n", NAMESPACE)
        self.cluster.run("kubectl", "delete", "pods,pvc,secret", "-n", NAMESPACE, "-l",
                         "todo-app.dev/capture=stray", "--ignore-not-found", "--wait")
        self.wait("every pod Ready", lambda pods: bool(pods) and all(map(ready, pods)), 240)
        self.cluster.run("kubectl", "delete", "events", "-n", NAMESPACE, "--all")

    def stray_pod(self, name: str, component: str, extra_spec: dict[str, Any],
                  *extra: dict[str, Any]) -> None:
        """A bare pod of the app's labels (for states the chart cannot be put in)."""
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": NAMESPACE,
                            "labels": {"app": "todo-app", "component": component,
                                       "todo-app.dev/capture": "stray"}},
               "spec": {"containers": [{"name": component, "image": self.backend_image(),
                                        "imagePullPolicy": "Never"}], **extra_spec}}
        self.cluster.run("kubectl", "apply", "-f", "-",
                         stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                           "items": [*extra, pod]}))

    def revision(self) -> int:
        return int(json.loads(self.cluster.run("helm", "history", RELEASE, "-n", NAMESPACE,
                                               "-o", "json").stdout)[-1]["revision"])

    def backend_image(self) -> str:
        d = self.cluster.kubectl_json("get", "deployment", "todo-backend", "-n", NAMESPACE)
        image: str = d["spec"]["template"]["spec"]["containers"][0]["image"]
        return image

    def crash_image(self) -> str:
        dockerfile = (f"FROM {self.backend_image()}\nCMD [\"python\", \"-c\", \"import sys; "
                      "print('todo-api: configuration error: missing required environment "
                      "variable DATABASE_URL', flush=True); sys.exit(2)\"]\n")
        self.cluster.run("docker", "build", "-q", "-t", "todo-backend:capture-crash", "-",
                         stdin=dockerfile, timeout=300)
        return "capture-crash"


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod["status"].get("conditions") or [])


def statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """Init containers' statuses, then the containers' (the backend's init container uses the
    backend's image, so a missing image shows there first)."""
    return [*(pod["status"].get("initContainerStatuses") or []),
            *(pod["status"].get("containerStatuses") or [])]


def waiting(reason: str) -> Callable[[Pods], bool]:
    def found(pods: Pods) -> bool:
        return any(((s.get("state") or {}).get("waiting") or {}).get("reason") == reason
                   for p in pods for s in statuses(p))
    return found


def terminated(predicate: Callable[[dict[str, Any], int], bool]) -> Callable[[Pods], bool]:
    def found(pods: Pods) -> bool:
        for p in pods:
            for s in statuses(p):
                term = ((s.get("state") or {}).get("terminated")
                        or (s.get("lastState") or {}).get("terminated") or {})
                if term and predicate(term, int(s.get("restartCount", 0))):
                    return True
        return False
    return found


def condition(kind: str, reason: str) -> Callable[[Pods], bool]:
    def found(pods: Pods) -> bool:
        return any(c["type"] == kind and c.get("reason") == reason
                   for p in pods for c in p["status"].get("conditions") or [])
    return found


def readiness_failures(at_least: int, c: Capture) -> Callable[[Pods], bool]:
    def found(pods: Pods) -> bool:
        events = c.cluster.kubectl_json("get", "events", "-n", NAMESPACE)["items"]
        count = sum(int(e.get("count") or (e.get("series") or {}).get("count") or 1)
                    for e in events if e.get("reason") == "Unhealthy"
                    and "Readiness probe failed" in str(e.get("message")))
        return count >= at_least
    return found


def run(c: Capture) -> None:
    c.save("healthy", workloads="complete")
    c.cluster.run("kubectl", "delete", "events", "-n", NAMESPACE, "--all")

    c.helm_set(strings=("backend.image.tag=000000000000",))
    c.wait("ErrImageNeverPull", waiting("ErrImageNeverPull"))
    c.save("err-image-never-pull")
    c.reset()

    c.helm_set("backend.image.pullPolicy=IfNotPresent",
               strings=("backend.image.repository=127.0.0.1:1/todo-backend",))
    c.wait("ImagePullBackOff", waiting("ImagePullBackOff"))
    c.save("image-pull-backoff")
    c.reset()

    rolled = c.backend_image()
    c.cluster.run("docker", "tag", rolled, "todo-backend:capture-roll")
    c.helm_set(strings=("backend.image.tag=capture-roll",))
    c.wait("a new backend pod starting", lambda pods: any(
        p["spec"]["containers"][0]["image"] == "todo-backend:capture-roll" and not ready(p)
        for p in pods), every=0.1)
    c.save(None, workloads="backend-starting")
    c.reset()

    crash = c.crash_image()
    c.helm_set(strings=(f"backend.image.tag={crash}",))
    c.wait("the first crash", terminated(lambda term, restarts: restarts == 0
                                         and term.get("exitCode") == 2), every=0.1)
    c.save("first-crash")
    c.wait("CrashLoopBackOff after 2 restarts", lambda pods: waiting("CrashLoopBackOff")(pods)
           and any(s.get("restartCount", 0) >= 2 for p in pods
                   for s in p["status"].get("containerStatuses") or []))
    c.save("crashloop", workloads="backend-crashloop")
    c.reset()

    c.helm_set("frontend.resources.requests.memory=20Mi", "frontend.resources.limits.memory=20Mi")
    c.wait("OOMKilled", terminated(lambda term, _: term.get("reason") == "OOMKilled"))
    c.save("oomkilled")
    c.reset()

    c.helm_set("secrets.existingSecret=todo-secrets-absent")
    c.wait("CreateContainerConfigError", waiting("CreateContainerConfigError"))
    c.save("secret-missing")
    c.reset()

    partial = {"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "todo-secrets-partial", "namespace": NAMESPACE,
                            "labels": {"todo-app.dev/capture": "stray"}},
               "stringData": {"database-url": "postgresql://x:y@todo-postgres:5432/todo",
                              "better-auth-secret": "x" * 32}}
    c.cluster.run("kubectl", "apply", "-f", "-", stdin=json.dumps(partial))
    c.helm_set("secrets.existingSecret=todo-secrets-partial")
    c.wait("a missing key", waiting("CreateContainerConfigError"))
    c.save("secret-key-missing")
    c.reset()

    c.helm_set("backend.readinessPath=/e2e-no-such-path")
    c.wait("the first readiness failure", readiness_failures(1, c), every=0.2)
    c.save("readiness-starting")
    c.wait("readiness failing for a while", readiness_failures(12, c), timeout=240, every=2)
    c.save("readiness-failing", workloads="readiness-failing")
    c.reset()

    c.helm_set("postgresql.image.pullPolicy=Never", strings=("postgresql.image.tag=capture",))
    c.wait("the database's image missing", waiting("ErrImageNeverPull"))
    c.cluster.run("helm", "rollback", RELEASE, str(c.good), "-n", NAMESPACE)
    time.sleep(3)
    (c.out / "statefulset-stuck.json").write_text(json.dumps(c.cluster.kubectl_json(
        "get", "statefulsets,pods", "-n", NAMESPACE, "-l", SELECTOR), indent=2) + "\n")
    print("captured statefulset-stuck", flush=True)
    c.reset()

    c.helm_set("backend.resources.requests.memory=64Gi", "backend.resources.limits.memory=64Gi")
    c.wait("Unschedulable", condition("PodScheduled", "Unschedulable"))
    c.save("unschedulable")
    c.reset()

    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "capture-unbound", "namespace": NAMESPACE,
                          "labels": {"todo-app.dev/capture": "stray"}},
             "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "no-such-class",
                      "resources": {"requests": {"storage": "1Gi"}}}}
    c.stray_pod("todo-postgres-capture", "postgresql",
                {"volumes": [{"name": "data", "persistentVolumeClaim": {
                    "claimName": "capture-unbound"}}]}, claim)
    c.wait("an unbound claim", condition("PodScheduled", "Unschedulable"))
    time.sleep(5)
    c.save("unbound-claim")
    c.reset()

    handler = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
               "metadata": {"name": "capture-missing-handler"}, "handler": "no-such-handler"}
    c.stray_pod("todo-backend-capture", "backend",
                {"runtimeClassName": "capture-missing-handler"}, handler)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        events = c.cluster.kubectl_json("get", "events", "-n", NAMESPACE)["items"]
        if sum(int(e.get("count") or 1) for e in events
               if e.get("reason") == "FailedCreatePodSandBox") >= 3:
            break
        time.sleep(1)
    c.save("sandbox-failing")
    c.cluster.run("kubectl", "delete", "runtimeclass", "capture-missing-handler")
    c.reset()

    # last: a Deployment that gave up is not rolled back cleanly by helm's kstatus wait (it
    # still reads "Progress deadline exceeded"), so the capture ends here (inv down --purge)
    c.helm_set(strings=(f"backend.image.tag={crash}",))
    c.cluster.run("kubectl", "patch", "deployment", "todo-backend", "-n", NAMESPACE, "-p",
                  json.dumps({"spec": {"progressDeadlineSeconds": 10}}))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        d = c.cluster.kubectl_json("get", "deployment", "todo-backend", "-n", NAMESPACE)
        if any(cond.get("reason") == "ProgressDeadlineExceeded"
               for cond in d["status"].get("conditions") or []):
            break
        time.sleep(1)
    c.save(None, workloads="progress-deadline")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    layout = local.up()
    live = Cluster("local", local.NODE, local_cluster_env(layout))
    live.run("kubectl", "delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait",
             timeout=240)
    work = Path(tempfile.mkdtemp(prefix="capture-"))
    try:
        app = make_app(live, work)
        app.inv("up", timeout=1800)
        capture = Capture(app, args.out)
        capture.good = capture.revision()
        run(capture)
        app.inv("down", "--purge", "--yes")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
