"""Day-2 tasks: ``inv status``, ``inv logs``, ``inv url``, ``inv down``.

- The URL is ``http://$(minikube -p P ip):<nodePort of todo-frontend>`` (30080 by the spec).
  ``minikube service --url`` is not used: on macOS with the docker driver it holds a tunnel
  open and never returns; there the node IP is not reachable from the host either, so the
  user is told to run that command in a second terminal (or ``kubectl port-forward``).
- ``inv down`` uninstalls the release. ``--purge`` also deletes the Secret, the embedded
  PostgreSQL's volume (its data) and the built images; it asks first unless ``--yes``, and
  refuses when nobody can answer (no terminal, or CI).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import cluster, diagnose, doctor, proc, tools, verify
from .cli import Session
from .errors import ConfigError, StageFailed
from .tools import ReleaseInfo, parse_release_list

__all__ = ["ReleaseInfo", "parse_release_list"]  # the Helm client's

FRONTEND_SERVICE = "todo-frontend"
DEFAULT_NODE_PORT = 30080
COMPONENTS = ("backend", "frontend")
LOG_TAIL = 100
IMAGE_GC_SECONDS = 120.0  # how long down --purge waits for kubelet to free the images
IMAGE_RETRY_SECONDS = 3.0


@dataclass(frozen=True)
class AppUrl:
    url: str
    note: str | None = None  # how to reach it when the node IP is not routable


@dataclass(frozen=True)
class PodRow:
    name: str
    component: str
    ready: str  # "1/1"
    status: str  # Running, CrashLoopBackOff, Pending, ...
    restarts: int
    image: str


# -- pure helpers -----------------------------------------------------------------------------


def pod_row(pod: dict[str, Any]) -> PodRow:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    ready = sum(1 for c in containers if c.get("ready"))
    total = len((pod.get("spec") or {}).get("containers") or containers) or len(containers)
    shown = str(status.get("phase", "?"))
    for c in containers:
        state = c.get("state") or {}
        why = (state.get("waiting") or {}).get("reason") or (
            state.get("terminated") or {}).get("reason")
        if why:
            shown = str(why)
            break
    if meta.get("deletionTimestamp"):
        shown = "Terminating"
    images = sorted({str(c.get("image", "")) for c in (pod.get("spec") or {}).get(
        "containers") or []})
    return PodRow(str(meta.get("name", "?")), diagnose.component_of(pod), f"{ready}/{total}",
                  shown, sum(int(c.get("restartCount", 0)) for c in containers),
                  ", ".join(images))


def url_note(driver: str, platform: str, profile: str, namespace: str) -> str | None:
    if driver == "docker" and platform == "darwin":
        return (f"macOS + docker driver: the node IP is not reachable from the host. In a "
                f"second terminal run `minikube -p {profile} service {FRONTEND_SERVICE} -n "
                f"{namespace} --url` (it keeps a tunnel open and prints the URL), or "
                f"`kubectl -n {namespace} port-forward svc/{FRONTEND_SERVICE} 3000:3000` and "
                f"open http://127.0.0.1:3000")
    return None


def non_interactive(console_interactive: bool, env: dict[str, str] | None = None) -> bool:
    env = dict(os.environ) if env is None else env
    return not console_interactive or env.get("CI", "").lower() in ("1", "true", "yes")


# -- cluster reads ------------------------------------------------------------------------------


def frontend_url(s: Session) -> AppUrl:
    settings = s.settings
    try:
        port = s.tools.kubectl.jsonpath("service", FRONTEND_SERVICE,
                                        "{.spec.ports[0].nodePort}").strip()
    except proc.ToolError as exc:
        raise StageFailed(f"service {FRONTEND_SERVICE} not found in namespace "
                          f"{settings.namespace}: {proc.tail(exc.stderr_tail, 1)}",
                          "inv deploy   (or: inv up)") from None
    port = port or str(DEFAULT_NODE_PORT)
    if settings.target != "minikube":
        return node_url(s, port)
    ip = s.minikube.run("ip", hint=f"minikube -p {settings.profile} start   "
                              "(or: inv up)").stdout.strip()
    info = cluster.profile(s)
    note = url_note(info.driver if info else "", sys.platform, settings.profile,
                    settings.namespace)
    return AppUrl(f"http://{ip}:{port}", note)


# -- the tasks ----------------------------------------------------------------------------------


def node_url(s: Session, port: str) -> AppUrl:
    """Every target but minikube: the NodePort on the first node's InternalIP, and, where that
    node may not be reachable from here (not a local cluster), the port-forward to use."""
    kube, ns = s.tools.kubectl, s.settings.namespace
    ip = kube.run("get", "nodes", "-o",
                  'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}',
                  check=False).stdout.strip()
    forward = (f"kubectl --context {s.tools.context} -n {ns} port-forward "
               f"svc/{FRONTEND_SERVICE} 3000:3000   then open http://127.0.0.1:3000")
    if not ip:
        return AppUrl("http://127.0.0.1:3000", f"no node address: {forward}")
    return AppUrl(f"http://{ip}:{port}",
                  None if s.tools.local else f"if {ip} is not reachable from here: {forward}")


def run_status(s: Session) -> ReleaseInfo | None:
    """Release, revision, images and tags, pods and readiness, URL."""
    doctor.require(s, "helm", "kubectl", "cluster")
    console, settings = s.console, s.settings
    release = s.tools.helm.release_info(settings.release)
    if release is None:
        console.warn(f"release {settings.release} is not installed in namespace "
                     f"{settings.namespace}", "inv up   (or: inv deploy)")
        return None
    console.table(f"release {release.name} (context {s.tools.context})",
                  ("namespace", "revision", "status", "chart", "updated"),
                  [(release.namespace or settings.namespace, release.revision, release.status,
                    release.chart, release.updated)])
    objects = verify.get_workloads(s.tools.kubectl)
    states = [verify.rollout_state(comp, name, objects) for comp, name in verify.DEPLOYMENTS]
    images = {d["metadata"]["name"]: ", ".join(
        c.get("image", "") for c in d["spec"]["template"]["spec"].get("containers", []))
        for d in objects if d.get("kind") == "Deployment"}
    console.table("deployments", ("deployment", "image:tag", "rollout"),
                  [(st.deployment, images.get(st.deployment, "-"),
                    ("complete, " if st.done else "") + st.detail) for st in states])
    rows = [pod_row(p) for p in objects if p.get("kind") == "Pod"]
    console.table("pods", ("pod", "component", "ready", "status", "restarts"),
                  [(r.name, r.component, r.ready, r.status, r.restarts) for r in rows])
    url = frontend_url(s)
    console.info(f"URL: {url.url}")
    if url.note:
        console.warn(url.note)
    return release


def run_logs(s: Session, component: str | None = None, *, follow: bool = False,
             tail: int = LOG_TAIL) -> None:
    if component is not None and component not in COMPONENTS:
        # invoke hands a positional argument over first, so `inv logs --help` lands here
        raise ConfigError(f"inv logs needs a component first: backend, frontend or all "
                          f"(got {component!r})", "inv logs backend -f   (help: inv --help logs)")
    doctor.require(s, "kubectl", "cluster")
    selector = diagnose.APP_SELECTOR + (f",component={component}" if component else "")
    argv = s.tools.kubectl.logs_argv(selector=selector, tail=tail, follow=follow)
    if follow:
        sink = s.console.line_sink()
        result = proc.run(s.c, argv, stream=sink, check=False)
        sink.flush()
    else:
        result = proc.run(s.c, argv, timeout=s.settings.tool_timeout, check=False)
        for line in result.stdout.splitlines():
            s.console.info(line)
    if not result.ok:
        raise StageFailed(f"kubectl logs failed: {proc.tail(result.stderr, 1)}",
                          "inv status   # are the pods there?")


def run_url(s: Session) -> AppUrl:
    doctor.require(s, *(("minikube",) if s.settings.target == "minikube" else ()), "kubectl",
                   "cluster")
    url = frontend_url(s)
    s.console.info(url.url)
    if url.note:
        s.console.warn(url.note)
    return url


def image_refs_to_remove(listed: set[str], repositories: Sequence[str]) -> list[str]:
    """Every tag of our repositories among ``minikube image ls`` refs (pure)."""
    return sorted(ref for ref in listed if ref.rsplit(":", 1)[0] in repositories)


def run_down(s: Session, *, purge: bool = False, yes: bool = False) -> None:
    """helm uninstall; with ``purge`` also the Secret, the database volume and the images."""
    console, settings = s.console, s.settings
    if purge and not yes:
        what = (f"the Secret {settings.secret_name}, the PostgreSQL volume (all todos) and "
                f"the built images")
        if non_interactive(console.interactive):
            raise ConfigError(f"inv down --purge deletes {what}; refusing without "
                              "confirmation (no terminal or CI)", "inv down --purge --yes")
        if not console.confirm(f"Delete release {settings.release} and {what}?"):
            console.info("nothing deleted")
            return
    tools.require_safe(s.tools, "uninstall")
    doctor.require(s, "helm", "kubectl", "cluster")
    ns, kube = settings.namespace, s.tools.kubectl
    if s.tools.helm.uninstall(settings.release, settings.deploy_timeout):
        console.success(f"release {settings.release} uninstalled from namespace {ns} "
                        f"(context {s.tools.context})")
    else:
        console.info(f"release {settings.release} is not installed in namespace {ns}")
    if not purge:
        return
    kube.run("delete", "secret", settings.secret_name, "-n", ns, "--ignore-not-found")
    console.success(f"Secret {settings.secret_name} deleted")
    selector = f"{diagnose.APP_SELECTOR},component=postgresql"
    volumes = kube.run("get", "pvc", "-n", ns, "-l", selector, "-o",
                       "jsonpath={.items[*].spec.volumeName}", check=False).stdout.split()
    kube.run("delete", "pvc", "-n", ns, "-l", selector, "--ignore-not-found")
    if volumes:  # the provisioner deletes the volume (the data) after the claim: wait for it
        with console.status("waiting for the provisioner to delete the volume"):
            gone = kube.run("wait", "--for=delete", *(f"pv/{v}" for v in volumes),
                            "--timeout=120s", timeout=settings.tool_timeout + 120, check=False)
        if not gone.ok and "not found" not in gone.stderr.lower():
            console.warn(f"the claim is deleted but volume {' '.join(volumes)} is still there "
                         f"(reclaim policy Retain?): {proc.tail(gone.stderr, 1)}",
                         "kubectl delete pv " + " ".join(volumes))
    console.success("PostgreSQL volume deleted")
    repositories = [image.name for image in settings.images.values()]
    if settings.builds_on_host:
        console.warn("images were built in the host's Docker daemon; remove them there",
                     "docker image rm $(docker image ls -q " + " ".join(repositories) + ")")
        return
    def ours() -> list[str]:
        return image_refs_to_remove(s.minikube.images(), repositories)

    refs = ours()
    # The runtime refuses to remove an image that a stopped container of the deleted pods
    # still references; kubelet garbage-collects those containers within about a minute.
    deadline = time.monotonic() + IMAGE_GC_SECONDS
    left = refs
    with console.status(f"removing {len(refs)} image(s) (waiting for kubelet to remove the "
                        "stopped containers that still use them)"):
        while left:
            result = s.minikube.run("image", "rm", *left, check=False)
            left = ours()
            if left and time.monotonic() >= deadline:
                raise proc.ToolError(s.minikube.argv("image", "rm", *left),
                                     result.code, result.stderr,
                                     f"minikube -p {settings.profile} image rm "
                                     + " ".join(left) + "   # once no container uses them")
            if left:
                time.sleep(IMAGE_RETRY_SECONDS)
    console.success(f"images removed: {', '.join(refs) if refs else 'none found'}")
