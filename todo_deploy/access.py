"""How the user reaches the app from the host: the NodePort URL and the ``minikube service`` form.

- The URL is ``http://$(minikube -p P ip):<nodePort of todo-frontend>`` (30080 by the spec):
  what ``inv url`` prints and what ``inv verify`` opens from the host.
- The host routes to the node IP with every driver except the VM-backed container drivers:
  docker (and podman) on macOS and Windows run the node inside Docker Desktop's VM, so its IP
  answers nothing from the host. There ``minikube service todo-frontend -n todo --url`` (it
  keeps a tunnel open and prints a 127.0.0.1 URL) or ``kubectl port-forward`` is the way in;
  ``inv verify`` says so instead of reporting a pass it could not check.
- The spec's literal ``minikube service todo-frontend --url`` looks in namespace ``default``
  and fails: the app lives in ``todo``, so the working form names the namespace.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from . import cluster, proc
from .errors import StageFailed
from .session import Session
from .tools import Kubectl

FRONTEND_SERVICE = "todo-frontend"
DEFAULT_NODE_PORT = 30080
DEFAULT_PROFILE = "minikube"
# (driver, sys.platform) whose node IP the host cannot reach: the node runs in a VM's Docker
VM_CONTAINER_DRIVERS = ("docker", "podman")
VM_PLATFORMS = {"darwin": "macOS", "win32": "Windows"}


@dataclass(frozen=True)
class AppUrl:
    url: str
    ip: str = ""
    port: int = DEFAULT_NODE_PORT
    driver: str = ""
    routable: bool = True  # the host can reach the node IP (see node_routable)
    platform: str = ""  # sys.platform of this host
    note: str | None = None  # how to reach it when the node IP is not routable


def node_routable(driver: str, platform: str) -> bool:
    """Whether this host reaches the node IP (pure): not with docker/podman on macOS/Windows."""
    return not (driver in VM_CONTAINER_DRIVERS and platform in VM_PLATFORMS)


def service_url_command(profile: str, namespace: str) -> str:
    """The working ``minikube service ... --url`` (pure); ``-p`` only for another profile."""
    where = "" if profile == DEFAULT_PROFILE else f"-p {profile} "
    return f"minikube {where}service {FRONTEND_SERVICE} -n {namespace} --url"


def port_forward_command(kube: Kubectl) -> str:
    """``kubectl -n NS port-forward svc/todo-frontend 3000:3000 --context C`` (the run's)."""
    return kube.command("-n", kube.namespace, "port-forward", f"svc/{FRONTEND_SERVICE}",
                        "3000:3000")


def url_note(driver: str, platform: str, profile: str, kube: Kubectl) -> str | None:
    if node_routable(driver, platform):
        return None
    return (f"{VM_PLATFORMS[platform]} + {driver} driver: the node IP is not reachable from the "
            f"host. In a second terminal run `{service_url_command(profile, kube.namespace)}` "
            f"(it keeps a tunnel open and prints the URL), or `{port_forward_command(kube)}` "
            "and open http://127.0.0.1:3000")


URL_KEY = ("frontend-url",)  # forgotten by a deploy that may have changed the Service


def frontend_url(s: Session) -> AppUrl:
    """The node IP and the frontend Service's nodePort (``StageFailed`` without the Service);
    on targets other than minikube the first node's InternalIP (:func:`node_url`). Asked
    once per invoke run: ``inv up``'s verify and url stages share the answer."""
    return s.remember(URL_KEY, lambda: _frontend_url(s))


def _frontend_url(s: Session) -> AppUrl:
    settings, platform = s.settings, sys.platform
    try:
        port = s.tools.kubectl.jsonpath("service", FRONTEND_SERVICE,
                                        "{.spec.ports[0].nodePort}").strip()
    except proc.ToolError as exc:
        raise StageFailed(f"service {FRONTEND_SERVICE} not found in namespace "
                          f"{settings.namespace}: {proc.tail(exc.stderr_tail, 1)}",
                          "inv deploy   (or: inv up)") from None
    number = int(port) if port.isdigit() else DEFAULT_NODE_PORT
    if settings.target != "minikube":
        return node_url(s, number)
    ip = s.minikube.run("ip", hint=f"minikube -p {settings.profile} start   "
                              "(or: inv up)").stdout.strip()
    info = cluster.profile(s)
    driver = info.driver if info else ""
    return AppUrl(f"http://{ip}:{number}", ip, number, driver,
                  node_routable(driver, platform), platform,
                  url_note(driver, platform, settings.profile, s.tools.kubectl))


def node_url(s: Session, port: int) -> AppUrl:
    """Every target but minikube: the NodePort on the first node's InternalIP, and, where that
    node may not be reachable from here (not a local cluster), the port-forward to use."""
    kube = s.tools.kubectl
    ip = kube.run("get", "nodes", "-o",
                  'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}',
                  check=False).stdout.strip()
    forward = f"{port_forward_command(kube)}   then open http://127.0.0.1:3000"
    if not ip:
        return AppUrl("http://127.0.0.1:3000", "127.0.0.1", 3000, routable=False,
                      platform=sys.platform, note=f"no node address: {forward}")
    local = s.tools.local
    return AppUrl(f"http://{ip}:{port}", ip, port, routable=local, platform=sys.platform,
                  note=None if local else f"if {ip} is not reachable from here: {forward}")
