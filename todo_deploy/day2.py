"""Day-2 tasks: ``inv status``, ``inv logs``, ``inv url``, ``inv down``.

- The URL is ``http://$(minikube -p P ip):<nodePort of todo-frontend>`` (30080 by the spec;
  :mod:`todo_deploy.access`), alone on stdout; the working ``minikube service todo-frontend
  -n todo --url`` follows as an aside (the spec's form lacks ``-n todo``). ``inv url`` does
  not run it: on macOS with the docker driver it holds a tunnel open and never returns;
  there the node IP is not reachable from the host either, so the user is told to run that
  command in a second terminal (or ``kubectl port-forward``).
- ``inv down`` uninstalls the release. ``--purge`` also deletes the Secret, the embedded
  PostgreSQL's volume (its data) and the built images; it asks first unless ``--yes``, and
  refuses when nobody can answer (no terminal, or CI).
"""

from __future__ import annotations

import os
import re
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import diagnose, doctor, lock, proc, tools, verify
from .access import AppUrl, frontend_url, service_url_command
from .errors import ConfigError, StageFailed
from .session import Session
from .tools import ReleaseInfo, parse_release_list

__all__ = ["ReleaseInfo", "parse_release_list"]  # the Helm client's

COMPONENTS = ("backend", "frontend")
LOG_TAIL = 100
IMAGE_GC_SECONDS = 120.0  # how long down --purge waits for kubelet to free the images
IMAGE_RETRY_SECONDS = 3.0
VOLUME_WAIT_SECONDS = 20  # a provisioner deletes a released volume within about a second
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
HOSTPATH_PROVISIONER = "k8s.io/minikube-hostpath"  # minikube's storage-provisioner
HOSTPATH_ROOT = "/tmp/hostpath-provisioner/"  # its volumes' parent directory in the node


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




def non_interactive(console_interactive: bool, env: dict[str, str] | None = None) -> bool:
    env = dict(os.environ) if env is None else env
    return not console_interactive or env.get("CI", "").lower() in ("1", "true", "yes")


# -- cluster reads ------------------------------------------------------------------------------




# -- the tasks ----------------------------------------------------------------------------------


def run_status(s: Session) -> ReleaseInfo | None:
    """Release, revision, images and tags, pods and readiness, URL."""
    doctor.require(s, "helm", "kubectl", "cluster")
    console, settings = s.console, s.settings
    release = s.tools.helm.release_info(settings.release)
    if release is None:
        console.warn(f"release {settings.release} is not installed in namespace "
                     f"{settings.namespace} (context {s.tools.context})",
                     "inv up   (or: inv deploy)")
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
    s.console.aside(f"logs of {component or 'all'} pods in namespace {s.settings.namespace}, "
                    f"context {s.tools.context}")
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
    """The URL alone on stdout (``curl $(inv url)`` works); the ``minikube service`` form, and
    on a host that cannot reach the node IP how to get in, on stderr."""
    doctor.require(s, *(("minikube",) if s.settings.target == "minikube" else ()), "kubectl",
                   "cluster")
    url = frontend_url(s)
    s.console.info(url.url)
    if s.settings.target == "minikube":  # other targets have no minikube to ask
        s.console.aside(f"or: {service_url_command(s.settings.profile, s.settings.namespace)}"
                        f"   (keeps a tunnel open; the spec's `minikube service todo-frontend "
                        f"--url` looks in namespace default, the app is in "
                        f"{s.settings.namespace})")
    s.console.aside(f"(the frontend of namespace {s.settings.namespace}, context "
                    f"{s.tools.context})")
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
    with lock.held(s, "down", create_namespace=False):  # never under another run's deploy
        _down(s, purge=purge)


def _down(s: Session, *, purge: bool) -> None:
    console, settings = s.console, s.settings
    ns, kube = settings.namespace, s.tools.kubectl
    if s.tools.helm.uninstall(settings.release, settings.deploy_timeout):
        console.success(f"release {settings.release} uninstalled from namespace {ns} "
                        f"(context {s.tools.context})")
    else:
        console.info(f"release {settings.release} is not installed in namespace {ns} "
                     f"(context {s.tools.context})")
    if not purge:
        return
    kube.run("delete", "secret", settings.secret_name, "-n", ns, "--ignore-not-found")
    console.success(f"Secret {settings.secret_name} deleted")
    selector = f"{diagnose.APP_SELECTOR},component=postgresql"
    volumes = kube.run("get", "pvc", "-n", ns, "-l", selector, "-o",
                       "jsonpath={.items[*].spec.volumeName}", check=False).stdout.split()
    kube.run("delete", "pvc", "-n", ns, "-l", selector, "--ignore-not-found")
    if not volumes:  # what an earlier down left (a volume its provisioner ignored)
        listed = kube.run("get", "pv", "-o", "json", check=False)
        volumes = volumes_of_our_claims(tools.parse_objects(listed.stdout) if listed.ok else [], ns)
    if volumes and _delete_volumes(s, volumes):
        console.success("PostgreSQL volume deleted")
    repositories = [image.name for image in settings.images.values()]
    if settings.builds_on_host:
        _purge_host_images(s, repositories)
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


def _delete_volumes(s: Session, volumes: list[str]) -> bool:
    """Wait for the provisioner to delete the claims' volumes (the data); delete minikube's
    orphaned hostPath volumes itself. False (with a warning and the command) when any is left."""
    console, settings, kube = s.console, s.settings, s.tools.kubectl
    with console.status("waiting for the provisioner to delete the volume"):
        gone = kube.run("wait", "--for=delete", *(f"pv/{v}" for v in volumes),
                        f"--timeout={VOLUME_WAIT_SECONDS}s",
                        timeout=settings.tool_timeout + VOLUME_WAIT_SECONDS, check=False)
    if gone.ok or tools.is_not_found("kubectl", gone.stderr):
        return True
    listed = kube.run("get", "pv", *volumes, "--ignore-not-found", "-o", "json", check=False)
    items = tools.parse_objects(listed.stdout) if listed.ok else []
    left = {str(pv.get("metadata", {}).get("name")) for pv in items} if listed.ok \
        else set(volumes)
    for name, path in orphaned_hostpath_volumes(items):
        # what the provisioner does for a volume of its own: remove the directory, then the PV
        s.minikube.run("ssh", "--", "sudo", "rm", "-rf", shlex.quote(path))
        kube.run("delete", "pv", name, "--ignore-not-found")
        console.info(f"volume {name}: minikube's provisioner ignores it (made before its last "
                     f"restart), so its directory {path} in the node was removed here")
        left.discard(name)
    if left:
        console.warn(f"the claim is deleted but volume {' '.join(sorted(left))} is still there "
                     f"(reclaim policy Retain?): {proc.tail(gone.stderr, 1)}",
                     kube.command("delete", "pv", *sorted(left)))
        return False
    return True


def volumes_of_our_claims(items: Sequence[dict[str, Any]], namespace: str) -> list[str]:
    """Names of the volumes claimed by the embedded database's claims in ``namespace``
    (``data-todo-postgres-N``, the StatefulSet's claim template), whatever their phase (pure)."""
    from .deploy import POSTGRES_STATEFULSET  # here: deploy's imports are not needed before

    claim = re.compile(rf"data-{re.escape(POSTGRES_STATEFULSET)}-\d+")
    return sorted(str((pv.get("metadata") or {}).get("name")) for pv in items
                  if (ref := (pv.get("spec") or {}).get("claimRef") or {})
                  and ref.get("namespace") == namespace
                  and claim.fullmatch(str(ref.get("name") or "")))


def orphaned_hostpath_volumes(items: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(name, directory) of each Released volume that minikube's hostpath provisioner made and
    will never delete (pure). It deletes only volumes whose ``hostPathProvisionerIdentity``
    annotation is its own identity, and takes a new one each time it starts (every ``minikube
    start``): a volume made before a restart stays Released, its data on the node, forever.
    Only directories under the provisioner's own root qualify."""
    found = []
    for pv in items:
        meta, spec = pv.get("metadata") or {}, pv.get("spec") or {}
        path = str((spec.get("hostPath") or {}).get("path") or "")
        if ((meta.get("annotations") or {}).get(PROVISIONED_BY) == HOSTPATH_PROVISIONER
                and (pv.get("status") or {}).get("phase") == "Released"
                and spec.get("persistentVolumeReclaimPolicy") == "Delete"
                and path.startswith(HOSTPATH_ROOT) and ".." not in path.split("/")):
            found.append((str(meta.get("name")), path))
    return found


def _purge_host_images(s: Session, repositories: Sequence[str]) -> None:
    """``--target host``: every tag of our repositories on images the suite built (their
    label), removed from the host's daemon; other images of the same names stay."""
    from .images import target

    with target.open_builder(s) as builder:
        refs = sorted(t.ref for repository in repositories for t in builder.tags(repository))
        refused = [(ref, why) for ref in refs if (why := builder.remove(ref))]
    if refused:
        left = [ref for ref, _ in refused]
        raise StageFailed(f"could not remove {', '.join(left)} from the host's Docker daemon: "
                          f"{proc.tail(refused[0][1], 1)}",
                          "docker image rm " + " ".join(left) + "   # once no container uses them")
    s.console.success(f"images removed from the host's daemon: "
                      f"{', '.join(refs) if refs else 'none found'}")
