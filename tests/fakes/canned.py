"""Canned answers of the real tools, in one place, for the fakes and MockContext tests.

Each is the shape the real tool prints (minikube 1.35, kubectl 1.31+, helm 3.17.3 / 4.1.4);
kubectl's pod, event and workload JSON is captured from the live cluster into
``tests/fixtures/kubectl`` by ``scripts/capture-fixtures.sh`` and read from there.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kubectl"

# minikube -p minikube status -o json (exit 0 running; exit 7 stopped)
RUNNING_STATUS: dict[str, Any] = {"Name": "minikube", "Host": "Running", "Kubelet": "Running",
                                  "APIServer": "Running", "Kubeconfig": "Configured",
                                  "Worker": False}
RUNNING = json.dumps(RUNNING_STATUS)
STOPPED = json.dumps({"Name": "minikube", "Host": "Stopped", "Kubelet": "Stopped",
                      "APIServer": "Stopped", "Kubeconfig": "Stopped", "Worker": False})


def profiles(runtime: str = "docker", memory: int = 4096) -> str:
    """minikube profile list -o json, one valid profile ``minikube``."""
    return json.dumps({"invalid": [], "valid": [{"Name": "minikube", "Status": "OK", "Config": {
        "Driver": "docker", "CPUs": 2, "Memory": memory,
        "KubernetesConfig": {"ContainerRuntime": runtime}, "Nodes": [{"Name": ""}]}}]})


PROFILES = profiles()
# minikube start, its last line (stdout)
MINIKUBE_STARTED = ('🏄  Done! kubectl is now configured to use "minikube" cluster and '
                    '"default" namespace by default\n')
# minikube docker-env on a containerd cluster (stderr, exit 14)
DOCKER_ENV_REFUSAL = (
    "\n❌  Exiting due to MK_USAGE: The docker-env command is only compatible with the "
    '"docker" runtime, but this cluster was configured to use the "containerd" runtime.\n')

HELM_VERSIONS = {3: "v3.17.3", 4: "v4.1.4"}  # helm version --template {{.Version}}
RELEASE_NOT_FOUND = "Error: release: not found\n"  # helm history of no release (exit 1)
ROLLBACK_OK = "Rollback was a success! Happy Helming!\n"
# kubectl get ... -o json when nothing matches
EMPTY_LIST = json.dumps({"apiVersion": "v1", "items": [], "kind": "List",
                         "metadata": {"resourceVersion": ""}})
SECRET_NOT_FOUND = 'Error from server (NotFound): secrets "todo-secrets" not found\n'
CRASH_LOG = "todo-api: configuration error: missing required environment variable DATABASE_URL\n"


def history(*rows: tuple[int, str]) -> str:
    """helm history RELEASE --output json."""
    return json.dumps([{"revision": n, "updated": f"2025-05-20T10:0{n}:00.000000000Z",
                        "status": status, "chart": "todo-app-1.0.0", "app_version": "1.0.0",
                        "description": "Install complete" if n == 1 else "Upgrade complete"}
                       for n, status in rows])


def upgraded(revision: int) -> str:
    """helm upgrade --install ... -o json."""
    return json.dumps({"name": "todo-app", "info": {
        "first_deployed": "2025-05-20T10:00:00Z", "last_deployed": "2025-05-20T10:05:00Z",
        "deleted": "", "description": "Upgrade complete", "status": "deployed",
        "notes": "Reach the app:\n  http://$(minikube ip):30080"},
        "version": revision, "namespace": "todo"})


def secret_json(digest: str = "", embedded: bool = False,
                data: dict[str, str] | None = None) -> str:
    """kubectl get secret todo-secrets -n todo -o json: the Secret inv secrets applied (its
    digest and embedded-db annotations, its data base64-encoded as the API server returns it)."""
    annotations = {"todo-app.dev/embedded-db": str(embedded).lower()}
    if digest:
        annotations["todo-app.dev/secret-digest"] = digest
    return json.dumps({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "todo-secrets", "namespace": "todo", "annotations": annotations,
                     "labels": {"app": "todo-app", "app.kubernetes.io/part-of": "todo-app",
                                "app.kubernetes.io/managed-by": "todo-deploy"},
                     "resourceVersion": "4242", "uid": "5f0c8a9e-0000-4000-8000-000000000001"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in (data or {}).items()}})


def nodes(*runtimes: str, cluster: str = "ci") -> str:
    """kubectl get nodes -o json of a kind cluster (kindest/node v1.31.0: its nodeInfo), one
    node per runtime (``containerd://1.7.18``: containerRuntimeVersion as kubelet reports it),
    the first ``CLUSTER-control-plane``, the others ``CLUSTER-worker``, ``-worker2``..."""
    items = []
    for index, runtime in enumerate(runtimes):
        name = f"{cluster}-control-plane" if index == 0 else \
            f"{cluster}-worker{index if index > 1 else ''}"
        items.append({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": name, "labels": {"kubernetes.io/hostname": name}}, "status": {
            "addresses": [{"address": f"172.18.0.{index + 2}", "type": "InternalIP"},
                          {"address": name, "type": "Hostname"}],
            "nodeInfo": {"architecture": "amd64", "bootID": "", "containerRuntimeVersion": runtime,
                         "kernelVersion": "6.1.0-27-amd64", "kubeProxyVersion": "",
                         "kubeletVersion": "v1.31.0", "machineID": "", "operatingSystem": "linux",
                         "osImage": "Debian GNU/Linux 12 (bookworm)", "systemUUID": ""}}})
    return json.dumps({"apiVersion": "v1", "items": items, "kind": "List",
                       "metadata": {"resourceVersion": ""}})


# The run lock's kubectl answers (todo_deploy/lock.py), captured from the live cluster by
# tests/e2e/capture_lease.py (namespace todo-lock-capture, holder alice@build-box:4242).
def lease_fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


LEASE_CREATED = lease_fixture("lease-created.json")  # kubectl create -f - -o json
LEASE_REPLACED = lease_fixture("lease-replaced.json")  # kubectl replace -f - -o json
LEASE_DELETED = lease_fixture("lease-deleted.txt")  # kubectl delete --raw ... -f -
LEASE_ALREADY_EXISTS = lease_fixture("lease-already-exists.txt")
LEASE_CONFLICT = lease_fixture("lease-conflict.txt")
LEASE_NOT_FOUND = lease_fixture("lease-not-found.txt")
LEASE_NAMESPACE_NOT_FOUND = lease_fixture("lease-namespace-not-found.txt")
LEASE_DELETE_CONFLICT = lease_fixture("lease-delete-conflict.txt")
LEASE_CREATE = r"^create -f - -n \S+ -o json"
LEASE_RELEASE = r"^delete --raw /apis/coordination\.k8s\.io/v1/namespaces/\S+/leases/"


def lease_json(holder: str, *, renewed: str, acquired: str = "", seconds: int = 30,
               resource_version: str = "1202", transitions: int = 1) -> str:
    """The captured Lease (lease-get.json) held by ``holder``, last renewed at ``renewed``."""
    lease = json.loads(lease_fixture("lease-get.json"))
    lease["metadata"]["resourceVersion"] = resource_version
    lease["spec"].update(holderIdentity=holder, renewTime=renewed,
                         acquireTime=acquired or renewed, leaseDurationSeconds=seconds,
                         leaseTransitions=transitions)
    return json.dumps(lease)


def lock_commands(namespace: str = "todo", context: str = "minikube",
                  release: str = "todo-app") -> dict[str, str]:
    """The two calls of an uncontended run lock, as MockContext sees them → kubectl's answer."""
    return {f"kubectl create -f - -n {namespace} -o json --context {context}": LEASE_CREATED,
            f"kubectl delete --raw /apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/"
            f"todo-deploy-{release} -f - --context {context}": LEASE_DELETED}


# `kubectl get services --all-namespaces -o json` on the live local cluster with the app
# deployed (todo/todo-frontend holds nodePort 30080); SERVICES_FRESH: the same cluster before
# any deploy (only default/kubernetes), what the nodePort check sees on a first install.
SERVICES_ALL = (FIXTURES / "services-all-namespaces.json").read_text()
SERVICES_FRESH = json.dumps({**json.loads(SERVICES_ALL), "items": [
    svc for svc in json.loads(SERVICES_ALL)["items"]
    if svc["metadata"]["namespace"] == "default"]})
SERVICES_LIST = r"^get services --all-namespaces -o json"


# The fakes' usual answers (tool, argv regex, stdout) of a cluster where no other run holds the
# run lock (a Lease created, then deleted) and no other Service holds the chart's nodePort:
# the fake_tools fixture's fallbacks and bench/verify.py's recording fakes.
UNCONTENDED_CLUSTER = (("kubectl", LEASE_CREATE, LEASE_CREATED),
                       ("kubectl", LEASE_RELEASE, LEASE_DELETED),
                       ("kubectl", SERVICES_LIST, SERVICES_FRESH))
