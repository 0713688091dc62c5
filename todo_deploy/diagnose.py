"""Why pods are not becoming ready: one named cause per pod, with the fix.

Shared by ``inv deploy`` (on failure) and ``inv verify`` (fail fast while watching a rollout).

- :func:`classify_pod` is pure: a pod object and the namespace's events (the shapes of
  ``kubectl get pods -o json`` / ``kubectl get events -o json``) → a :class:`Finding` or None.
- :func:`diagnose` reads those from the cluster, classifies every pod of the app, and adds the
  last log lines (current and ``--previous``) for crash-looping containers.
- :func:`report` prints the findings through the console: cause, informative events, logs, fix.

Causes, as kubelet and the scheduler name them:

============================  =====================================  ============================
cause                         kubelet / scheduler words              fix
============================  =====================================  ============================
image-missing                 ErrImageNeverPull, ImagePullBackOff,   ``inv build``
                              ErrImagePull, InvalidImageName
crash-loop                    CrashLoopBackOff, or a container that  exit code + last log lines
                              just terminated non-zero
config-error                  CreateContainerConfigError             ``inv secrets``
readiness                     Unhealthy "Readiness probe failed"     probe path + last event
database                      the backend's ``/ready`` answers 503   DATABASE_URL in ``.env``
unschedulable                 PodScheduled=False Unschedulable       the nodes' CPU / memory
stopped (never fatal)         phase Failed, reason Evicted /         the node's pressure
                              NodeShutdown (the ReplicaSet replaces
                              it)
============================  =====================================  ============================

One crash of a container after its pod was Ready (``ContainersReady`` turned False after that
run started) is reported, not fatal: kubelet restarts it, and a second crash soon after is
``CrashLoopBackOff``. Helm's hook pods (the ``helm test`` pod carries the app's labels) are no
app pods and are never classified.

The fixes depend on the target (:class:`Place`): minikube's (``minikube image load``, its CPU
and memory, its storage addons), kind's (``kind load docker-image``, the kind config), the
registry's (push, pull errors, imagePullSecrets) or the host's dockerd (``docker`` target).
Every kubectl command a fix prints is rendered by the run's kubectl client
(:meth:`~todo_deploy.tools.Kubectl.command`), so it carries the run's ``--context``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from . import proc
from .config import Settings
from .console import Console
from .tools import Kubectl, parse_items

APP_SELECTOR = "app=todo-app"
LOG_TAIL = 20
EVENTS_SHOWN = 5
# A readiness probe that keeps failing this long after its first failure is a verdict, not a
# pod that is still starting (the chart probes every 5 s; the backend's start-up takes < 10 s).
READINESS_GRACE_SECONDS = 60.0
# ...but a probe answered with a 4xx this many times asks for the wrong path or port: a verdict
# within seconds (kubelet marks the pod unready after failureThreshold = 2 such answers).
CLIENT_ERROR = re.compile(r"statuscode: 4\d\d")
CLIENT_ERROR_FAILURES = 2
# The backend's readiness path checks the database (``SELECT 1``): a 503 there is the database
# the pod cannot use (a bad DATABASE_URL, a database that is down), a verdict after this long
# (four failed probes at the chart's 5 s period; the embedded PostgreSQL is already up, the
# backend's init container waited for it).
DATABASE_READINESS_PATH = "/ready"
DATABASE_GRACE_SECONDS = 20.0
UNAVAILABLE = re.compile(r"statuscode: 503")
# A claim that stays unbound this long has no StorageClass or provisioner to answer it.
UNBOUND_CLAIM = "unbound immediate PersistentVolumeClaims"
STORAGE_GRACE_SECONDS = 30.0
# kubelet retries a failed sandbox; this many failures in a row is a verdict.
SANDBOX_FAILURES = 3

BUILT_COMPONENTS = ("backend", "frontend")  # the images `inv build` makes
IMAGE_REASONS = ("ErrImageNeverPull", "ImagePullBackOff", "ErrImagePull", "InvalidImageName")
# Event reasons that say nothing is wrong: hidden from the user.
ROUTINE_REASONS = frozenset({
    "Scheduled", "Pulling", "Pulled", "Created", "Started", "Killing", "SuccessfulCreate",
    "SuccessfulDelete", "ScalingReplicaSet", "SandboxChanged", "AddedInterface",
})
# Event reasons worth showing even when kubelet files them as Normal.
INFORMATIVE_REASONS = frozenset({
    "Failed", "BackOff", "Unhealthy", "FailedScheduling", "FailedMount", "FailedAttachVolume",
    "FailedCreate", "FailedCreatePodSandBox", "ErrImageNeverPull", "OOMKilling", "Evicted",
    "ProgressDeadlineExceeded", "FailedKillPod", "ProvisioningFailed",
})


class Cause(StrEnum):
    IMAGE_MISSING = "image-missing"
    CRASH_LOOP = "crash-loop"
    CONFIG_ERROR = "config-error"
    READINESS = "readiness"
    DATABASE = "database"
    UNSCHEDULABLE = "unschedulable"
    SANDBOX = "sandbox"
    STOPPED = "stopped"  # evicted or stopped by its node: the ReplicaSet replaces it


@dataclass(frozen=True)
class Finding:
    """One pod's problem: what kubelet says, in our words, with the next command."""

    cause: Cause
    pod: str
    component: str  # backend | frontend | postgresql | the pod's name
    container: str | None
    reason: str  # kubelet's or the scheduler's own word, e.g. ErrImageNeverPull
    message: str  # one line naming the cause
    hint: str
    fatal: bool = True  # False: may still resolve itself; a verdict only at the timeout
    exit_code: int | None = None
    events: tuple[str, ...] = ()  # informative events of the pod, oldest first
    logs: tuple[str, ...] = ()  # last log lines (filled in by ``diagnose``)
    crashed_run_is_current: bool = False  # crash-loop: logs of the current run, not --previous
    also: tuple[str, ...] = ()  # other pods with the same cause (``group``)

    def details(self) -> str:
        parts: list[str] = []
        if self.events:
            parts.append("events:")
            parts += [f"  {line}" for line in self.events]
        if self.logs:
            parts += list(self.logs)
        return "\n".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cause": str(self.cause), "pod": self.pod, "component": self.component,
            "container": self.container, "reason": self.reason, "message": self.message,
            "hint": self.hint, "fatal": self.fatal, "exit_code": self.exit_code,
            "events": list(self.events), "logs": list(self.logs), "also": list(self.also),
        }


# -- events (pure) ----------------------------------------------------------------------------


def is_informative(event: dict[str, Any]) -> bool:
    """Warnings and failure reasons; never the routine Scheduled/Pulled/Created/Started."""
    reason = str(event.get("reason", ""))
    if reason in ROUTINE_REASONS:
        return False
    return event.get("type") == "Warning" or reason in INFORMATIVE_REASONS


def event_count(event: dict[str, Any]) -> int:
    series = event.get("series") or {}
    return int(event.get("count") or series.get("count") or 1)


def _ts(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def event_last_seen(event: dict[str, Any]) -> datetime | None:
    series = event.get("series") or {}
    return (_ts(event.get("lastTimestamp")) or _ts(series.get("lastObservedTime"))
            or _ts(event.get("eventTime")) or _ts((event.get("metadata") or {}).get(
                "creationTimestamp")))


def event_first_seen(event: dict[str, Any]) -> datetime | None:
    return (_ts(event.get("firstTimestamp")) or _ts(event.get("eventTime"))
            or event_last_seen(event))


def pod_events(events: Iterable[dict[str, Any]], pod_name: str,
               pod_uid: str | None = None) -> list[dict[str, Any]]:
    """The events about ``pod_name``, oldest first; with ``pod_uid``, only this incarnation's:
    a StatefulSet's pod keeps its name (todo-postgres-0), and the events of the pod it
    replaced stay for an hour."""
    def about(e: dict[str, Any]) -> dict[str, Any]:
        return e.get("involvedObject") or e.get("regarding") or {}

    mine = [e for e in events
            if about(e).get("kind") == "Pod" and about(e).get("name") == pod_name
            and (pod_uid is None or about(e).get("uid") in (None, pod_uid))]
    epoch = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
    return sorted(mine, key=lambda e: event_last_seen(e) or epoch)


def render_event(event: dict[str, Any]) -> str:
    count = event_count(event)
    times = f" (x{count})" if count > 1 else ""
    message = " ".join(str(event.get("message") or event.get("note") or "").split())
    return f"{event.get('type', 'Normal')} {event.get('reason', '?')}{times}: {message}"


def informative_events(events: Iterable[dict[str, Any]], pod_name: str,
                       limit: int = EVENTS_SHOWN) -> tuple[str, ...]:
    """``events`` already of one pod (or of the namespace: filtered by ``pod_name``)."""
    shown = [render_event(e) for e in pod_events(events, pod_name) if is_informative(e)]
    return tuple(shown[-limit:])


# -- classification (pure) --------------------------------------------------------------------


def component_of(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    return str(labels.get("component") or labels.get("app.kubernetes.io/component")
               or meta.get("name", "?"))


def _container_specs(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = pod.get("spec") or {}
    return {c.get("name", ""): c
            for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])}


def _statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(
        status.get("containerStatuses") or [])


def probe_target(container: dict[str, Any] | None) -> str:
    """``GET /health on port 7860`` from the container's readinessProbe."""
    probe = (container or {}).get("readinessProbe") or {}
    http = probe.get("httpGet")
    if http:
        return f"GET {http.get('path', '/')} on port {http.get('port', '?')}"
    if probe.get("tcpSocket"):
        return f"TCP port {probe['tcpSocket'].get('port', '?')}"
    if probe.get("exec"):
        return "exec " + " ".join(str(a) for a in probe["exec"].get("command") or [])
    return "its readiness probe"


@dataclass(frozen=True)
class Place:
    """Where the pods run, for the fixes the findings name: the target (minikube, kind,
    registry, docker), minikube's profile, kind's cluster, and the run's kubectl client, which
    renders every kubectl command a fix prints (with the run's ``--context``)."""

    kube: Kubectl
    target: str = "minikube"
    profile: str = "minikube"
    kind_cluster: str = "kind"

    @classmethod
    def of(cls, settings: Settings, kube: Kubectl) -> Place:
        return cls(kube, settings.target, settings.profile, settings.kind_cluster)

    def kubectl(self, *args: str) -> str:
        return self.kube.command(*args)


def resources_hint(place: Place) -> str:
    if place.target == "minikube":
        return (f"minikube needs more CPU/memory (inv doctor shows what the chart requests): "
                f"minikube -p {place.profile} delete && INVOKE_TODO_MINIKUBE_CPUS=4 "
                f"INVOKE_TODO_MINIKUBE_MEMORY=6144 inv up   "
                f"(or lower the chart's resources.requests)")
    nodes = place.kubectl("describe", "nodes")
    if place.target == "kind":
        cluster = place.kind_cluster
        return (f"the kind nodes lack CPU/memory (they are containers of this host's Docker, "
                f"within its limits; inv doctor shows what the chart requests): {nodes}   "
                f"then more room for Docker, or more nodes in the kind config (nodes: "
                f"- role: worker) and: kind delete cluster --name {cluster} && kind create "
                f"cluster --name {cluster} --config kind.yaml   (or lower the chart's "
                "resources.requests)")
    return (f"no node of the cluster has the CPU/memory the chart requests (inv doctor shows "
            f"them): {nodes}   then add nodes or free room, or lower the chart's "
            "resources.requests")


def image_hint(place: Place, image: str, ours: bool, pod: str,
               namespace: str) -> tuple[str, str]:
    """(where the image is not, the fix) for a pod whose image is missing, per target."""
    if place.target == "kind":
        return (f"in kind cluster {place.kind_cluster}'s nodes",
                "inv build --target kind   # builds on the host and loads into kind cluster "
                f"{place.kind_cluster}; then: inv deploy" if ours else
                f"docker pull {image} && kind load docker-image {image} --name "
                f"{place.kind_cluster}   (or name an image that exists in your values file: "
                "todo.values_file)")
    if place.target == "docker":
        return ("in the host's Docker daemon (the node's)",
                "inv build --target docker   # builds in the host's dockerd, which the node "
                "uses; then: inv deploy" if ours else
                f"docker pull {image}   # into the host's dockerd, which the node uses (or "
                "name an image that exists in your values file: todo.values_file)")
    if place.target == "registry":
        return ("pulled by the node",
                "inv build --target registry   # pushes it; if the registry has it, the node "
                "cannot pull it: a private registry needs a pull Secret named in "
                "todo.registry.pull_secrets (imagePullSecrets), and the node must reach the "
                "registry's address; the kubelet's words: "
                f"{place.kubectl('-n', namespace, 'describe', 'pod', pod)}" if ours else
                f"push {image} where the node can pull it, or add its pull Secret to "
                "todo.registry.pull_secrets (imagePullSecrets)")
    return ("in minikube's Docker daemon",
            "inv build   # builds into minikube's daemon; then: inv deploy" if ours else
            f"minikube -p {place.profile} image load {image}   (or name an image "
            "that exists in your values file: todo.values_file)")


@dataclass(frozen=True)
class PodView:
    """What every failure class reads of one pod (built once per pod)."""

    pod: dict[str, Any]
    events: list[dict[str, Any]]  # this pod's events, oldest first
    place: Place

    @property
    def name(self) -> str:
        return str((self.pod.get("metadata") or {}).get("name", "?"))

    @property
    def namespace(self) -> str:
        return str((self.pod.get("metadata") or {}).get("namespace", "default"))

    @property
    def component(self) -> str:
        return component_of(self.pod)

    @property
    def shown(self) -> tuple[str, ...]:
        return informative_events(self.events, self.name)

    @property
    def specs(self) -> dict[str, dict[str, Any]]:
        return _container_specs(self.pod)

    def finding(self, cause: Cause, container: str | None, reason: str, message: str,
                hint: str, **extra: Any) -> Finding:
        return Finding(cause, self.name, self.component, container, reason, message, hint,
                       events=self.shown, **extra)


def _unschedulable(v: PodView) -> Finding | None:
    scheduled = next((c for c in (v.pod.get("status") or {}).get("conditions") or []
                      if c.get("type") == "PodScheduled"), None)
    if not scheduled or scheduled.get("status") != "False" or \
            scheduled.get("reason") != "Unschedulable":
        return None
    why = " ".join(str(scheduled.get("message", "")).split())
    if UNBOUND_CLAIM in why:
        # provisioning takes seconds; longer means no StorageClass or provisioner answers
        tries = [e for e in v.events if e.get("reason") == "FailedScheduling"]
        first = event_first_seen(tries[0]) if tries else None
        last = event_last_seen(tries[-1]) if tries else None
        waiting = (last - first).total_seconds() if first and last else 0.0
        return v.finding(Cause.UNSCHEDULABLE, None, "UnboundVolumeClaim",
                         f"pod {v.name} waits for a volume: its PersistentVolumeClaim is not "
                         f"bound ({waiting:.0f}s): {why}",
                         storage_hint(v.place, v.namespace),
                         fatal=waiting >= STORAGE_GRACE_SECONDS)
    return v.finding(Cause.UNSCHEDULABLE, None, "Unschedulable",
                     f"pod {v.name} cannot be scheduled: {why or 'no node fits it'}",
                     resources_hint(v.place), fatal="Insufficient" in why)


def _image_missing(v: PodView) -> Finding | None:
    for status in _statuses(v.pod):
        reason = str(((status.get("state") or {}).get("waiting") or {}).get("reason", ""))
        if reason in IMAGE_REASONS:
            container = str(status.get("name", ""))
            image = status.get("image") or v.specs.get(container, {}).get("image", "?")
            where, fix = image_hint(v.place, str(image), v.component in BUILT_COMPONENTS,
                                    v.name, v.namespace)
            what = (f"image {image} cannot be {where} ({reason})" if v.place.target == "registry"
                    else f"image {image} is not {where} ({reason})")
            return v.finding(Cause.IMAGE_MISSING, container, reason, what, fix)
    return None


def _config_error(v: PodView) -> Finding | None:
    for status in _statuses(v.pod):
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") != "CreateContainerConfigError":
            continue
        container = str(status.get("name", ""))
        text = " ".join(str(waiting.get("message", "")).split())
        about_secret = "secret" in text.lower() or "key" in text.lower()
        return v.finding(
            Cause.CONFIG_ERROR, container, "CreateContainerConfigError",
            f"container {container} cannot be created: {text or 'CreateContainerConfigError'}"
            + (" (a Secret or one of its keys is missing)" if about_secret else ""),
            "inv secrets   # creates todo-secrets with every key; then: inv deploy"
            if about_secret else "inv deploy   # re-creates the chart's ConfigMap")
    return None


def is_hook_pod(pod: dict[str, Any]) -> bool:
    """A pod Helm runs as a hook (pure): the chart's ``helm test`` pod (``helm.sh/hook:
    test``) carries the app's labels, but it is no app pod: it runs once and stops, and a
    failed one stays for its logs. Its verdict is helm test's, never a crash loop."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get("helm.sh/hook"))


def _stopped(v: PodView) -> Finding | None:
    """A pod its node evicted (memory or disk pressure) or stopped (node shutdown): phase
    Failed with the node's reason. Its containers' exit codes are the kill's, not the app's;
    the ReplicaSet has already started a replacement, so this is news, never a verdict."""
    status = v.pod.get("status") or {}
    reason = str(status.get("reason") or "")
    if status.get("phase") != "Failed" or not reason:
        return None
    words = " ".join(str(status.get("message") or "").split())
    return v.finding(
        Cause.STOPPED, None, reason,
        f"pod {v.name} was stopped by its node ({reason}){': ' + words if words else ''}; "
        "its ReplicaSet starts a replacement",
        f"{v.place.kubectl('describe', 'nodes')}   # the node's pressure conditions; "
        f"the stopped pod can go: {v.place.kubectl('-n', v.namespace, 'delete', 'pod', v.name)}",
        fatal=False)


def crashed_after_ready(pod: dict[str, Any], terminated: dict[str, Any]) -> bool:
    """Whether the container's run that ``terminated`` had made the pod Ready before it
    crashed (pure): ``ContainersReady`` turned False after that run started (it was True in
    between). A container that crashes at start never makes it Ready: the condition has been
    False since before the run began."""
    started = _ts(terminated.get("startedAt"))
    cond = next((c for c in (pod.get("status") or {}).get("conditions") or []
                 if c.get("type") == "ContainersReady"), None)
    changed = _ts((cond or {}).get("lastTransitionTime"))
    return bool(started and changed and cond and cond.get("status") == "False"
                and changed > started)


def _crash_loop(v: PodView) -> Finding | None:
    for status in _statuses(v.pod):
        state = status.get("state") or {}
        reason = str((state.get("waiting") or {}).get("reason", ""))
        now = state.get("terminated") or {}
        if reason != "CrashLoopBackOff" and not (now and int(now.get("exitCode", 0)) != 0):
            continue
        container = str(status.get("name", ""))
        if reason != "CrashLoopBackOff" and crashed_after_ready(v.pod, now):
            # one crash of a pod that was serving: kubelet restarts it at once; a second
            # crash soon after is CrashLoopBackOff, which is a verdict
            once = str(now.get("reason") or "Error")
            return v.finding(
                Cause.CRASH_LOOP, container, once,
                f"container {container} crashed once after its pod was ready: exit code "
                f"{now.get('exitCode')} ({once}); kubelet restarts it",
                f"inv logs {v.component}   "
                f"({v.place.kubectl('-n', v.namespace, 'logs', v.name, '-c', container)})",
                fatal=False, exit_code=int(now.get("exitCode", 0)),
                crashed_run_is_current=True)
        last = (status.get("lastState") or {}).get("terminated") or {}
        term = now if now and int(now.get("exitCode", 0)) != 0 else last
        code = term.get("exitCode")
        why = term.get("reason") or "Error"
        restarts = int(status.get("restartCount", 0))
        previous = v.place.kubectl("-n", v.namespace, "logs", v.name, "-c", container,
                                   "--previous")
        hint = ("the container ran out of memory: raise its resources.limits.memory in "
                "helm/todo-app/values.yaml, then: inv deploy" if why == "OOMKilled" else
                f"read the log lines above; more: inv logs {v.component}   ({previous})")
        return v.finding(
            Cause.CRASH_LOOP, container, reason or why,
            f"container {container} keeps crashing: exit code {code} ({why}), "
            f"{restarts} restart(s)",
            hint, exit_code=None if code is None else int(code),
            # the crashed run is the container's current one until kubelet restarts it
            crashed_run_is_current=bool(now))
    return None


def _sandbox(v: PodView) -> Finding | None:
    """kubelet cannot create the pod's sandbox (its network or the runtime): the pod stays
    ContainerCreating and only the events say why."""
    failures = [e for e in v.events if e.get("reason") == "FailedCreatePodSandBox"]
    if not failures:
        return None
    phase = (v.pod.get("status") or {}).get("phase")
    if phase not in (None, "Pending"):
        return None
    count = sum(event_count(e) for e in failures)
    words = " ".join(str(failures[-1].get("message", "")).split())
    place = v.place
    if place.target == "minikube":
        look = (f"minikube -p {place.profile} logs --problems   (then: minikube -p "
                f"{place.profile} delete && inv up)")
    elif place.target == "kind":
        look = (f"kind export logs --name {place.kind_cluster}   (then: kind delete cluster "
                f"--name {place.kind_cluster} && inv up)")
    else:
        look = f"{place.kubectl('describe', 'nodes')}   (the node's kubelet and runtime logs)"
    return v.finding(
        Cause.SANDBOX, None, "FailedCreatePodSandBox",
        f"the node cannot start pod {v.name}'s sandbox ({count}x): {words}",
        f"a node-side problem (container runtime or pod network), not the app's: {look}",
        fatal=count >= SANDBOX_FAILURES)


def _readiness(v: PodView, grace: float) -> Finding | None:
    for status in (v.pod.get("status") or {}).get("containerStatuses") or []:
        if not (status.get("state") or {}).get("running") or status.get("ready"):
            continue
        container = str(status.get("name", ""))
        probes = [e for e in v.events if e.get("reason") == "Unhealthy"
                  and "Readiness probe failed" in str(e.get("message", ""))]
        if not probes:
            continue
        last_event = probes[-1]
        first, last_seen = event_first_seen(probes[0]), event_last_seen(last_event)
        failing_for = (last_seen - first).total_seconds() if first and last_seen else 0.0
        failures = sum(event_count(e) for e in probes)
        target = probe_target(v.specs.get(container))
        words = " ".join(str(last_event.get("message", "")).split())
        # a 4xx is an answer, not a slow start: the probe asks for the wrong path or port
        answered = CLIENT_ERROR.search(words) is not None
        if target.startswith(f"GET {DATABASE_READINESS_PATH} ") and UNAVAILABLE.search(words):
            return v.finding(
                Cause.DATABASE, container, "Unhealthy",
                f"the backend cannot use its database: {target} answers 503 ({failures}x in "
                f"{failing_for:.0f}s; the pod runs, /health is fine)",
                f"check DATABASE_URL in .env (host, port, user, password, database), then: "
                f"inv secrets deploy   # details: inv logs {v.component}",
                fatal=failing_for >= DATABASE_GRACE_SECONDS)
        return v.finding(
            Cause.READINESS, container, "Unhealthy",
            f"readiness probe {target} keeps failing for container {container} "
            f"({failures}x in {failing_for:.0f}s); last: {words}",
            f"inv logs {v.component}   # why does {target.split(' on ')[0]} not answer 200?",
            fatal=failing_for >= grace or (answered and failures >= CLIENT_ERROR_FAILURES))
    return None


def storage_hint(place: Place, namespace: str) -> str:
    check = (f"check: {place.kubectl('get', 'storageclass')}; "
             f"{place.kubectl('-n', namespace, 'get', 'pvc')}")
    if place.target == "minikube":
        return (f"no default StorageClass, or its provisioner does not run: minikube -p "
                f"{place.profile} addons enable storage-provisioner && minikube -p "
                f"{place.profile} addons enable default-storageclass   ({check})")
    if place.target == "kind":
        return ("no default StorageClass, or its provisioner does not run (kind installs "
                "local-path-provisioner as StorageClass standard): "
                f"{place.kubectl('-n', 'local-path-storage', 'get', 'pods')}   ({check})")
    return ("no default StorageClass, or its provisioner does not run: install one for this "
            "cluster and mark it default (annotation "
            f"storageclass.kubernetes.io/is-default-class=true)   ({check})")


def classify_pod(pod: dict[str, Any], events: list[dict[str, Any]], *, place: Place,
                 readiness_grace: float = READINESS_GRACE_SECONDS) -> Finding | None:
    """The cause that keeps ``pod`` from becoming ready, or None when nothing is wrong (yet)
    or it is no app pod (a Helm hook: the helm test pod): one function per failure class,
    the first that names a cause wins (krane's ``doom_reason``). ``events`` may hold the
    whole namespace's events; ``place`` says where the pods run (the fixes depend on it)."""
    meta = pod.get("metadata") or {}
    if is_hook_pod(pod):
        return None
    view = PodView(pod, pod_events(events, str(meta.get("name", "?")), meta.get("uid")),
                   place)
    for check in (_stopped, _unschedulable, _image_missing, _config_error, _crash_loop,
                  _sandbox):
        found = check(view)
        if found is not None:
            return found
    return _readiness(view, readiness_grace)


def classify_pods(pods: Iterable[dict[str, Any]], events: list[dict[str, Any]], *,
                  place: Place) -> list[Finding]:
    found = (classify_pod(pod, events, place=place) for pod in pods)
    return [f for f in found if f is not None]


def group(findings: Sequence[Finding]) -> list[Finding]:
    """One finding per (component, cause, fatal); the other pods are listed in ``also`` (a
    pod that may still recover never hides one that will not)."""
    first: dict[tuple[str, Cause, bool], Finding] = {}
    for f in findings:
        key = (f.component, f.cause, f.fatal)
        if key in first:
            first[key] = replace(first[key], also=(*first[key].also, f.pod))
        else:
            first[key] = f
    return list(first.values())


items = parse_items  # the parser is kubectl's client's (tools.parse_items)


# -- the cluster side -------------------------------------------------------------------------


def get_pods(kube: Kubectl) -> list[dict[str, Any]]:
    return kube.items("pods", APP_SELECTOR,
                      hint="inv doctor   # is the cluster up and kubectl pointed at it?")


def get_events(kube: Kubectl) -> list[dict[str, Any]]:
    return kube.events()


def with_logs(kube: Kubectl, finding: Finding) -> Finding:
    """Add the last log lines of the run that crashed: the current run while it is the
    terminated one, else ``--previous`` (kubelet has started it again); the other one when
    that has no lines (yet)."""
    if finding.cause is not Cause.CRASH_LOOP:
        return finding
    order = (False, True) if finding.crashed_run_is_current else (True, False)
    for previous in order:
        result = proc.run(kube.c, kube.logs_argv(pod=finding.pod, container=finding.container,
                                                 tail=LOG_TAIL, previous=previous),
                          timeout=kube.timeout, check=False)
        text = proc.tail(result.stdout, LOG_TAIL) if result.ok else ""
        if text:
            label = ("the run that crashed" if previous == order[0] else
                     "the run before it" if previous else "the current run")
            lines = [f"logs of {label} ({'--previous' if previous else 'current'}):"]
            return replace(finding, logs=(*lines, *(f"  {line}" for line in text.splitlines())))
    return finding


def diagnose(place: Place) -> list[Finding]:
    """Classify every pod of the app (``-l app=todo-app``); crash loops get their logs."""
    kube = place.kube
    pods = get_pods(kube)
    events = get_events(kube)
    found = group(classify_pods(pods, events, place=place))
    return [with_logs(kube, f) for f in found]


def report(console: Console, findings: Sequence[Finding]) -> None:
    """Each cause, its informative events and logs, and the fix (nothing when all is well)."""
    for f in findings:
        others = f" (also: {', '.join(f.also)})" if f.also else ""
        console.error(f"{f.component}: {f.message}{others}", f.hint, f.details() or None)
