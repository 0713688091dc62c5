"""A real single-node Kubernetes on this machine, as local processes (like Kubernetes'
``hack/local-up-cluster.sh``): etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, cri-dockerd + kubelet on the local dockerd, kube-proxy (iptables), CoreDNS on
the pod bridge, and a hostPath volume provisioner that behaves like minikube's.

Networks it creates, and the only ones it uses: the pod bridge ``todo0`` (10.244.0.0/24, the
node's address 10.244.0.1 is its gateway) and the service range 10.96.0.0/16. NodePorts
answer on 127.0.0.1 (kube-proxy's localhost NodePorts, ``route_localnet``). Pods get no NAT
to the outside and CoreDNS forwards no query: pod traffic stays on this machine.

Everything lives in one directory (``TODO_CLUSTER_DIR``, default /var/lib/todo-localcluster);
``down`` stops every process, removes the pods' containers, kube-proxy's rules, the bridge,
mounts and the directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import build, pki

NODE = "todo-local"  # node name, kube-context name and the minikube stand-in's profile
BRIDGE = "todo0"
POD_CIDR = "10.244.0.0/24"
CLUSTER_CIDR = "10.244.0.0/16"
NODE_IP = "10.244.0.1"  # the bridge's address: node InternalIP, DNS server, API advertise
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
API_PORT = 6443
PAUSE_IMAGE = f"todo-localcluster/pause:{build.PAUSE_VERSION}"
STORAGE_CLASS = "standard"
PROVISIONER = "k8s.io/minikube-hostpath"  # minikube's name: same semantics
FORWARD_CHAIN = "TODO-LOCALCLUSTER"
CRI_SOCKET = Path("/run/todo-localcluster/cri-dockerd.sock")  # short: unix paths ≤ 107 bytes
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
              "cri-dockerd", "kubelet", "kube-proxy", "coredns", "provisioner")


def log(message: str) -> None:
    print(f"localcluster: {message}", file=sys.stderr, flush=True)


def root_dir() -> Path:
    return Path(os.environ.get("TODO_CLUSTER_DIR", "/var/lib/todo-localcluster"))


@dataclass(frozen=True)
class Layout:
    """Where everything of one cluster lives."""

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (context ``todo-local``): what ``env`` exports."""
        return self.root / "kubeconfig"

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def shim_dir(self) -> Path:
        return Path(__file__).resolve().parent / "shim"

    def component_kubeconfig(self, stem: str) -> Path:
        return self.config / f"{stem}.kubeconfig"


CLIENTS = (
    pki.Client("admin", "todo-admin", ("system:masters",)),
    pki.Client("controller-manager", "system:kube-controller-manager"),
    pki.Client("scheduler", "system:kube-scheduler"),
    pki.Client("kubelet", f"system:node:{NODE}", ("system:nodes",)),
    pki.Client("kube-proxy", "system:kube-proxy"),
    pki.Client("apiserver-kubelet-client", "kube-apiserver-kubelet-client",
               ("system:masters",)),
    pki.Client("coredns", "system:todo-localcluster:coredns"),
    pki.Client("provisioner", "system:todo-localcluster:provisioner"),
)

SERVERS = (
    pki.Server("apiserver", "kube-apiserver",
               ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local"),
               ("127.0.0.1", NODE_IP, KUBERNETES_SERVICE_IP)),
    # the kubelet's (the API server connects to it for logs, exec and port-forward)
    pki.Server("kubelet-serving", NODE, (NODE, "localhost"), (NODE_IP, "127.0.0.1")),
)


# -- host preparation --------------------------------------------------------------------------


def sh(*argv: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"localcluster: `{' '.join(argv)}` failed ({result.returncode}): "
                         f"{result.stderr.strip() or result.stdout.strip()}")
    if not quiet and result.returncode != 0:
        log(f"(ignored) `{' '.join(argv)}`: {result.stderr.strip()}")
    return result


def write_sysctl(name: str, value: str) -> None:
    Path("/proc/sys", *name.split(".")).write_text(value)


def prepare_host() -> None:
    """Kernel settings, the pod bridge, and FORWARD rules for pod traffic (idempotent)."""
    if not Path("/proc/sys/net/bridge").exists() and shutil.which("modprobe"):
        sh("modprobe", "br_netfilter", check=False)
    if not Path("/proc/sys/net/bridge").exists():
        raise SystemExit("localcluster: br_netfilter is missing (modprobe br_netfilter): "
                         "Service traffic between pods on the bridge needs it")
    write_sysctl("net.ipv4.ip_forward", "1")
    write_sysctl("net.bridge.bridge-nf-call-iptables", "1")
    if sh("ip", "link", "show", BRIDGE, check=False, quiet=True).returncode != 0:
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
    addresses = sh("ip", "-o", "-4", "addr", "show", "dev", BRIDGE).stdout
    if f"{NODE_IP}/" not in addresses:
        sh("ip", "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE)
    sh("ip", "link", "set", BRIDGE, "up")
    # dockerd with --iptables=true sets FORWARD's policy to DROP; accept the pods' traffic.
    if sh("iptables", "-w", "-n", "-L", FORWARD_CHAIN, check=False, quiet=True).returncode:
        sh("iptables", "-w", "-N", FORWARD_CHAIN)
        sh("iptables", "-w", "-A", FORWARD_CHAIN, "-s", CLUSTER_CIDR, "-j", "ACCEPT")
        sh("iptables", "-w", "-A", FORWARD_CHAIN, "-d", CLUSTER_CIDR, "-j", "ACCEPT")
    if sh("iptables", "-w", "-C", "FORWARD", "-j", FORWARD_CHAIN, check=False,
          quiet=True).returncode:
        sh("iptables", "-w", "-I", "FORWARD", "1", "-j", FORWARD_CHAIN)


def remove_kube_chains() -> None:
    """kubelet's and kube-proxy's KUBE-* chains and the jumps to them, in every table of
    iptables and ip6tables (after ``kube-proxy --cleanup``, kubelet's are still there)."""
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            rules = sh(f"{tool}-save", "-t", table, check=False, quiet=True).stdout
            chains = [line[1:].split()[0] for line in rules.splitlines()
                      if line.startswith(":KUBE-")]
            for line in rules.splitlines():
                parts = line.split()
                if line.startswith("-A ") and not parts[1].startswith("KUBE-") and \
                        any(part.startswith("KUBE-") for part in parts):
                    sh(tool, "-w", "-t", table, "-D", *parts[1:], check=False)
            for chain in chains:
                sh(tool, "-w", "-t", table, "-F", chain, check=False, quiet=True)
            for chain in chains:
                sh(tool, "-w", "-t", table, "-X", chain, check=False)


def undo_host() -> None:
    remove_kube_chains()
    while sh("iptables", "-w", "-D", "FORWARD", "-j", FORWARD_CHAIN, check=False,
             quiet=True).returncode == 0:
        pass
    sh("iptables", "-w", "-F", FORWARD_CHAIN, check=False, quiet=True)
    sh("iptables", "-w", "-X", FORWARD_CHAIN, check=False, quiet=True)
    sh("ip", "link", "delete", BRIDGE, check=False, quiet=True)


# -- configuration files -----------------------------------------------------------------------


def kubeconfig(ca: Path, cert: Path, key: Path, server: str) -> dict[str, object]:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": NODE,
        "clusters": [{"name": NODE, "cluster": {"server": server,
                                                "certificate-authority": str(ca)}}],
        "users": [{"name": NODE, "user": {"client-certificate": str(cert),
                                          "client-key": str(key)}}],
        "contexts": [{"name": NODE, "context": {"cluster": NODE, "user": NODE}}],
    }


def write(path: Path, text: str) -> None:
    """Write only a change: kube-proxy exits when its configuration file changes, so an `up`
    on a running cluster must leave identical files alone."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_yaml(path: Path, data: object) -> None:
    write(path, yaml.safe_dump(data, sort_keys=False))


def write_config(layout: Layout) -> None:
    layout.config.mkdir(parents=True, exist_ok=True)
    pki.ensure(layout.pki, clients=CLIENTS, servers=SERVERS)
    server = f"https://127.0.0.1:{API_PORT}"
    ca = layout.pki / "ca.crt"
    for client in CLIENTS:
        cfg = kubeconfig(ca, layout.pki / f"{client.stem}.crt",
                         layout.pki / f"{client.stem}.key", server)
        target = layout.kubeconfig if client.stem == "admin" else \
            layout.component_kubeconfig(client.stem)
        write_yaml(target, cfg)
        target.chmod(0o600)
    write_yaml(layout.config / "scheduler.yaml", {
        "apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": str(layout.component_kubeconfig("scheduler"))},
        "leaderElection": {"leaderElect": False},
    })
    write(layout.config / "resolv.conf", "# pods get cluster DNS only\n")
    write_yaml(layout.config / "kubelet.yaml", {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "address": NODE_IP, "port": 10250, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": 10248,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(ca)}},
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{CRI_SOCKET}",
        "cgroupDriver": "cgroupfs",  # dockerd's, on this cgroup v1 host
        "failCgroupV1": False, "failSwapOn": False,
        "clusterDNS": [NODE_IP], "clusterDomain": "cluster.local",
        "resolvConf": str(layout.config / "resolv.conf"),
        # never garbage-collect or evict images: `inv build` puts them there, nothing pulls
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                         "nodefs.inodesFree": "1%", "imagefs.available": "1%"},
        "rotateCertificates": False, "serializeImagePulls": False,
        "tlsCertFile": str(layout.pki / "kubelet-serving.crt"),
        "tlsPrivateKeyFile": str(layout.pki / "kubelet-serving.key"),
    })
    write_yaml(layout.config / "kube-proxy.yaml", {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(layout.component_kubeconfig("kube-proxy"))},
        "hostnameOverride": NODE, "mode": "iptables", "clusterCIDR": CLUSTER_CIDR,
        "healthzBindAddress": "127.0.0.1:10256", "metricsBindAddress": "127.0.0.1:10249",
        # 0 = leave the host's conntrack settings alone
        "conntrack": {"maxPerCore": 0, "tcpEstablishedTimeout": "0s",
                      "tcpCloseWaitTimeout": "0s"},
        "iptables": {"localhostNodePorts": True},
    })
    cni = layout.config / "cni"
    cni.mkdir(exist_ok=True)
    write(cni / "10-todo-localcluster.conflist", json.dumps({
        "cniVersion": "1.0.0", "name": "todo-localcluster",
        "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": str(layout.root / "cni-ipam"),
                      "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }, indent=2))
    write(layout.config / "Corefile", f"""\
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {{
    bind {NODE_IP}
    errors
    ready 127.0.0.1:8181
    loadbalance
    cache 5
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {layout.component_kubeconfig("coredns")} {NODE}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
}}
.:53 {{
    bind {NODE_IP}
    errors
}}
""")


# -- processes ---------------------------------------------------------------------------------


def commands(layout: Layout, bins: Path) -> dict[str, list[str]]:
    """The argv of every component (flags as in hack/local-up-cluster.sh, trimmed)."""
    p, c = layout.pki, layout.config
    docker_host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return {
        "etcd": [str(bins / "etcd"), "--name", NODE, "--data-dir", str(layout.root / "etcd"),
                 "--listen-client-urls", "http://127.0.0.1:2379",
                 "--advertise-client-urls", "http://127.0.0.1:2379",
                 "--listen-peer-urls", "http://127.0.0.1:2380",
                 "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
                 "--initial-cluster", f"{NODE}=http://127.0.0.1:2380",
                 "--listen-metrics-urls", "http://127.0.0.1:2381",
                 "--unsafe-no-fsync", "--log-level", "warn"],
        "kube-apiserver": [
            str(bins / "kube-apiserver"), "--etcd-servers", "http://127.0.0.1:2379",
            "--bind-address", "0.0.0.0", "--secure-port", str(API_PORT),
            "--advertise-address", NODE_IP,
            "--tls-cert-file", str(p / "apiserver.crt"),
            "--tls-private-key-file", str(p / "apiserver.key"),
            "--client-ca-file", str(p / "ca.crt"),
            "--kubelet-client-certificate", str(p / "apiserver-kubelet-client.crt"),
            "--kubelet-client-key", str(p / "apiserver-kubelet-client.key"),
            "--kubelet-preferred-address-types", "InternalIP",
            "--service-account-key-file", str(p / "sa.pub"),
            "--service-account-signing-key-file", str(p / "sa.key"),
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--authorization-mode", "Node,RBAC",
            "--enable-admission-plugins", "NodeRestriction",
            "--profiling=false", "--v=1"],
        "kube-controller-manager": [
            str(bins / "kube-controller-manager"),
            "--kubeconfig", str(layout.component_kubeconfig("controller-manager")),
            "--authentication-kubeconfig", str(layout.component_kubeconfig("controller-manager")),
            "--authorization-kubeconfig", str(layout.component_kubeconfig("controller-manager")),
            "--service-account-private-key-file", str(p / "sa.key"),
            "--root-ca-file", str(p / "ca.crt"),
            "--cluster-signing-cert-file", str(p / "ca.crt"),
            "--cluster-signing-key-file", str(p / "ca.key"),
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--use-service-account-credentials", "--leader-elect=false",
            "--bind-address", "127.0.0.1", "--profiling=false", "--v=1"],
        "kube-scheduler": [
            str(bins / "kube-scheduler"), "--config", str(c / "scheduler.yaml"),
            "--authentication-kubeconfig", str(layout.component_kubeconfig("scheduler")),
            "--authorization-kubeconfig", str(layout.component_kubeconfig("scheduler")),
            "--bind-address", "127.0.0.1", "--profiling=false", "--v=1"],
        "cri-dockerd": [
            str(bins / "cri-dockerd"), "--container-runtime-endpoint", f"unix://{CRI_SOCKET}",
            "--docker-endpoint", docker_host, "--network-plugin", "cni",
            "--cni-bin-dir", cni_bin_dir(), "--cni-conf-dir", str(c / "cni"),
            "--cni-cache-dir", str(layout.root / "cni-cache"),
            "--pod-infra-container-image", PAUSE_IMAGE,
            "--cri-dockerd-root-directory", str(layout.root / "cri-dockerd"),
            "--hairpin-mode", "hairpin-veth", "--log-level", "info"],
        "kubelet": [
            str(bins / "kubelet"), "--config", str(c / "kubelet.yaml"),
            "--kubeconfig", str(layout.component_kubeconfig("kubelet")),
            "--root-dir", str(layout.root / "kubelet"), "--cert-dir", str(p),
            "--hostname-override", NODE, "--node-ip", NODE_IP, "--v=1"],
        "kube-proxy": [str(bins / "kube-proxy"), "--config", str(c / "kube-proxy.yaml"),
                       "--v=1"],
        "coredns": [str(bins / "coredns"), "-conf", str(c / "Corefile")],
        "provisioner": [sys.executable, "-m", "tests.e2e.localcluster.provisioner",
                        "--kubeconfig", str(layout.component_kubeconfig("provisioner")),
                        "--kubectl", str(bins / "kubectl"), "--root", str(layout.volumes),
                        "--name", PROVISIONER],
    }


def cni_bin_dir() -> str:
    for candidate in ("/usr/lib/cni", "/opt/cni/bin"):
        if (Path(candidate) / "bridge").exists():
            return candidate
    raise SystemExit("localcluster: CNI plugins not found (apt-get install -y "
                     "containernetworking-plugins)")


def pid_of(layout: Layout, name: str) -> int | None:
    path = layout.pids / f"{name}.pid"
    if not path.exists():
        return None
    pid = int(path.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def start(layout: Layout, name: str, argv: list[str]) -> None:
    if pid_of(layout, name):
        return
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.pids.mkdir(parents=True, exist_ok=True)
    with (layout.logs / f"{name}.log").open("ab") as out:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                   start_new_session=True,
                                   cwd=Path(__file__).resolve().parents[3])
    (layout.pids / f"{name}.pid").write_text(str(process.pid))


def stop(layout: Layout, name: str, grace: float = 10.0) -> None:
    pid = pid_of(layout, name)
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and pid_of(layout, name):
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    (layout.pids / f"{name}.pid").unlink(missing_ok=True)


def wait_for(what: str, ready: Callable[[], bool], layout: Layout, component: str,
             timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not pid_of(layout, component):
            break
        time.sleep(0.25)
    tail = (layout.logs / f"{component}.log").read_text(errors="replace").splitlines()[-25:]
    raise SystemExit(f"localcluster: {what} did not come up"
                     f"{'' if pid_of(layout, component) else f' ({component} exited)'}; "
                     f"last lines of {layout.logs / (component + '.log')}:\n"
                     + "\n".join(tail))


def http_ok(url: str, layout: Layout | None = None) -> bool:
    context = None
    if url.startswith("https") and layout is not None:
        context = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
        context.load_cert_chain(str(layout.pki / "admin.crt"), str(layout.pki / "admin.key"))
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def kubectl(layout: Layout, *args: str, stdin: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [str(build.bin_dir() / "kubectl"), "--kubeconfig", str(layout.kubeconfig), *args]
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"localcluster: kubectl {' '.join(args)} failed: {result.stderr}")
    return result


def node_ready(layout: Layout) -> bool:
    out = kubectl(layout, "get", "node", NODE, "-o", "json", check=False)
    if out.returncode != 0:
        return False
    conditions = json.loads(out.stdout).get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def bootstrap_objects() -> list[dict[str, object]]:
    """RBAC for CoreDNS and the provisioner, and the default StorageClass."""
    def role(name: str, rules: list[dict[str, object]]) -> list[dict[str, object]]:
        user = f"system:todo-localcluster:{name}"
        return [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": user}, "rules": rules},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": user},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                         "name": user},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                           "name": user}]},
        ]

    read = ["list", "watch", "get"]
    return [
        *role("coredns", [
            {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
             "verbs": read},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
             "verbs": read}]),
        *role("provisioner", [
            {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": read},
            {"apiGroups": [""], "resources": ["persistentvolumes"],
             "verbs": [*read, "create", "delete"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"],
             "verbs": read},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}]),
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": STORAGE_CLASS, "annotations": {
             "storageclass.kubernetes.io/is-default-class": "true"}},
         "provisioner": PROVISIONER, "reclaimPolicy": "Delete",
         "volumeBindingMode": "WaitForFirstConsumer"},  # see provisioner.py
    ]


def ensure_pause_image(bins: Path) -> None:
    """The sandbox image cri-dockerd is told to use, imported FROM scratch."""
    if sh("docker", "image", "inspect", PAUSE_IMAGE, check=False, quiet=True).returncode == 0:
        return
    tar = subprocess.run(["tar", "-C", str(bins), "--owner=0", "--group=0", "-c", "pause"],
                         capture_output=True, check=True).stdout
    subprocess.run(["docker", "import", "--change", 'ENTRYPOINT ["/pause"]', "-", PAUSE_IMAGE],
                   input=tar, capture_output=True, check=True)


def up() -> Layout:
    """Start everything that is not running; wait until the node is Ready and DNS answers."""
    if os.geteuid() != 0:
        raise SystemExit("localcluster: run as root (it starts kubelet and sets up networking)")
    if sh("docker", "info", check=False, quiet=True).returncode != 0:
        raise SystemExit("localcluster: dockerd is not reachable "
                         "(bash scripts/ci/start-dockerd.sh)")
    started = time.monotonic()
    bins = build.bin_dir()
    build.build()
    layout = Layout(root_dir())
    layout.root.mkdir(parents=True, exist_ok=True)
    (layout.root / "bin").unlink(missing_ok=True)
    (layout.root / "bin").symlink_to(bins)
    write_config(layout)
    prepare_host()
    ensure_pause_image(bins)
    CRI_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    argv = commands(layout, bins)

    start(layout, "etcd", argv["etcd"])
    wait_for("etcd", lambda: http_ok("http://127.0.0.1:2379/health"), layout, "etcd")
    start(layout, "kube-apiserver", argv["kube-apiserver"])
    wait_for("kube-apiserver", lambda: http_ok(f"https://127.0.0.1:{API_PORT}/readyz", layout),
             layout, "kube-apiserver", timeout=120)
    kubectl(layout, "apply", "--server-side", "--field-manager=todo-localcluster", "-f", "-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                              "items": bootstrap_objects()}))
    for name in ("kube-controller-manager", "kube-scheduler", "cri-dockerd"):
        start(layout, name, argv[name])
    wait_for("cri-dockerd", CRI_SOCKET.exists, layout, "cri-dockerd")
    for name in ("kubelet", "kube-proxy", "coredns", "provisioner"):
        start(layout, name, argv[name])
    wait_for(f"node {NODE}", lambda: node_ready(layout), layout, "kubelet", timeout=120)
    wait_for("CoreDNS", lambda: http_ok("http://127.0.0.1:8181/ready"), layout, "coredns")
    wait_for("kube-proxy", lambda: http_ok("http://127.0.0.1:10256/healthz"), layout,
             "kube-proxy")
    wait_for("the default ServiceAccount",
             lambda: kubectl(layout, "get", "serviceaccount", "default", "-n", "default",
                             check=False).returncode == 0,
             layout, "kube-controller-manager")
    log(f"cluster {NODE} ready in {time.monotonic() - started:.1f}s "
        f"(Kubernetes {build.K8S_VERSION}; logs in {layout.logs})")
    return layout


def k8s_containers() -> list[str]:
    out = sh("docker", "ps", "-aq", "--filter", "name=^k8s_", check=False, quiet=True)
    return out.stdout.split()


def mounts_under(path: Path) -> list[str]:
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        target = line.split()[1].replace("\\040", " ")
        if target == str(path) or target.startswith(f"{path}/"):
            found.append(target)
    return sorted(found, key=len, reverse=True)


def down(keep_images: bool = True) -> None:
    """Stop everything and remove all the cluster left on the host."""
    layout = Layout(root_dir())
    for name in ("kubelet", "provisioner", "coredns"):
        stop(layout, name)
    containers = k8s_containers()
    if containers:
        sh("docker", "rm", "-f", *containers, check=False)
    for name in ("cri-dockerd", "kube-proxy", "kube-scheduler", "kube-controller-manager",
                 "kube-apiserver", "etcd"):
        stop(layout, name)
    kube_proxy = layout.root / "bin" / "kube-proxy"  # the binaries `up` used
    if kube_proxy.exists():
        sh(str(kube_proxy), "--cleanup", check=False, quiet=True)
    undo_host()
    for target in mounts_under(layout.root):
        sh("umount", "-l", target, check=False)
    shutil.rmtree(layout.root, ignore_errors=True)
    shutil.rmtree(CRI_SOCKET.parent, ignore_errors=True)
    if not keep_images:
        sh("docker", "image", "rm", PAUSE_IMAGE, check=False, quiet=True)
    log("cluster removed")


def status() -> dict[str, bool]:
    layout = Layout(root_dir())
    return {name: pid_of(layout, name) is not None for name in COMPONENTS}


def env_lines(layout: Layout) -> Iterable[str]:
    """Shell lines that point kubectl, helm and the suite at this cluster."""
    yield f"export KUBECONFIG={layout.kubeconfig}"
    yield f"export PATH={layout.shim_dir}:{build.bin_dir()}:$PATH"
    yield f"export INVOKE_TODO_MINIKUBE_PROFILE={NODE}"
