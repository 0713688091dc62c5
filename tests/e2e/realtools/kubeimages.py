"""What minikube's kubeadm bootstrapper asks for, built here from the local cluster's Go builds.

minikube v1.37.0 with ``--preload=false`` (pkg/minikube/machine/cache_images.go,
cache_binaries.go) takes:

- the images of ``images.Kubeadm`` for Kubernetes v1.34.0 (constants_kubeadm_images.go:
  etcd 3.6.4-0, CoreDNS v1.12.1, pause 3.10.1) and its ``storage-provisioner:v5``, by name from
  the host's Docker daemon (``retrieveDaemon``) into ``~/.minikube/cache/images/amd64/``, then
  into the node's runtime (``docker load``) when the node lacks them. So the images only have to
  be in the host's daemon under the names minikube asks for; minikube does the rest itself.
- ``kubeadm``, ``kubelet``, ``kubectl`` from ``~/.minikube/cache/linux/amd64/v1.34.0/`` when
  they are there (``download.Binary`` checks only that the file exists), copied to the node.

The Kubernetes images hold the local cluster's multi-call ``kube`` binary (go/kube: the
upstream commands, unmodified) under each command's name in /usr/local/bin, as upstream's
images do; kubeadm's static pod manifests run them by name. kube-proxy's image adds Debian's
iptables, conntrack and ipset (upstream's distroless-iptables has the same tools). pause comes
from the same build; CoreDNS, with the plugins of minikube's Corefile, from go/coredns
(tools.coredns); storage-provisioner from the minikube module, with one patch
(PROVISIONER_PATCH).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.localcluster import build as localbuild

from . import kicbase, tools

# minikube v1.37.0: constants.DefaultKubernetesVersion and KubeadmImages["v1.34.0"]
KUBERNETES_VERSION = "v1.34.0"
ETCD_TAG = "3.6.4-0"
COREDNS_TAG = "v1.12.1"
PAUSE_TAG = "3.10.1"
KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
                 "kubelet", "kubectl", "kubeadm", "etcd")
BINARIES = ("kubeadm", "kubelet", "kubectl")  # constants.KubernetesReleaseBinaries
PROXY_PACKAGES = ("iptables", "conntrack", "ipset", "kmod", "iproute2")
LABEL = "todo.realtools.kubeimages"
PATH_ENV = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Image:
    name: str  # what kubeadm / minikube ask for
    dockerfile: str  # built with the context of its kind ("kube", "proxy", or a binary's dir)
    context: str


def image_key() -> str:
    """What the images are made of: the local cluster's build, this file, CoreDNS's module."""
    digest = hashlib.sha256()
    for part in (localbuild.cache_key(), KUBERNETES_VERSION, tools.MINIKUBE_VERSION,
                 tools.key(files=tools.GO_DIR / "coredns"), *PROXY_PACKAGES):
        digest.update(part.encode() + b"\0")
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:12]


def images() -> list[Image]:
    key = image_key()
    base = f"todo-realtools/kube-bin:{key}"
    proxy_base = f"todo-realtools/kube-proxy-base:{key}"
    label = f"LABEL {LABEL}={key}"

    def kube(command: str) -> str:
        return f"FROM {base}\n{label}\nENTRYPOINT [\"/usr/local/bin/{command}\"]\n"

    def scratch(binary: str) -> str:
        return (f"FROM scratch\nCOPY {binary} /{binary}\n{PATH_ENV}\n{label}\n"
                f"ENTRYPOINT [\"/{binary}\"]\n")

    k8s = "registry.k8s.io"
    return [
        *(Image(f"{k8s}/{c}:{KUBERNETES_VERSION}", kube(c), "none")
          for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")),
        Image(f"{k8s}/kube-proxy:{KUBERNETES_VERSION}",
              f"FROM {proxy_base}\nCOPY --from={base} /usr/local/bin/ /usr/local/bin/\n"
              f"{label}\nENTRYPOINT [\"/usr/local/bin/kube-proxy\"]\n", "none"),
        Image(f"{k8s}/etcd:{ETCD_TAG}", kube("etcd"), "none"),
        Image(f"{k8s}/coredns/coredns:{COREDNS_TAG}", scratch("coredns"), "coredns"),
        Image(f"{k8s}/pause:{PAUSE_TAG}", scratch("pause"), "bin"),
        Image(f"gcr.io/k8s-minikube/storage-provisioner:{tools.MINIKUBE_STORAGE_PROVISIONER_TAG}",
              scratch("storage-provisioner"), "provisioner"),
    ]


def _label(image: str) -> str | None:
    result = subprocess.run(["docker", "image", "inspect", "--format",
                             f'{{{{index .Config.Labels "{LABEL}"}}}}', image],
                            capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def _docker_build(tag: str, dockerfile: str, context: Path | None) -> None:
    argv = ["docker", "build", "-q", "-t", tag]
    if context is None:
        result = subprocess.run([*argv, "-"], input=dockerfile, capture_output=True, text=True)
    else:
        (context / "Dockerfile").write_text(dockerfile)
        result = subprocess.run([*argv, str(context)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"realtools: docker build of {tag} failed:\n{result.stderr[-3000:]}")


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


# minikube v1.37.0's own source builds a storage-provisioner that exits at once: its
# sig-storage-lib-external-provisioner v6.3.0 asks client-go for an "endpoints" leader-election
# lock, which the client-go v0.33 of the same go.mod removed ("endpoints lock is removed,
# migrate to leases"). Upstream still ships the v5 image built in 2021 with an older client-go.
# One provisioner per node needs no leader election: turn it off (the library's own option).
PROVISIONER_PATCH: localbuild.Patch = (
    "pkg/storage/storage_provisioner.go",
    "controller.NewProvisionController(clientset, provisionerName, hostPathProvisioner, "
    "serverVersion.GitVersion)",
    "controller.NewProvisionController(clientset, provisionerName, hostPathProvisioner, "
    "serverVersion.GitVersion, controller.LeaderElection(false))")


def storage_provisioner() -> Path:
    """minikube's storage-provisioner (cmd/storage-provisioner, its Makefile's ldflags), from a
    copy of its module with PROVISIONER_PATCH."""
    ldflags = (f"-s -w -X k8s.io/minikube/pkg/storage.version="
               f"{tools.MINIKUBE_STORAGE_PROVISIONER_TAG}")

    def build(out: Path) -> float:
        source = tools.module_dir("k8s.io/minikube", tools.MINIKUBE_VERSION)
        with tempfile.TemporaryDirectory(prefix="minikube-src-", dir=tools.cache_root()) as tmp:
            work = localbuild.patched_copy(source, Path(tmp) / "src", (PROVISIONER_PATCH,),
                                           f"minikube {tools.MINIKUBE_VERSION}")
            return tools.go_build(work, "./cmd/storage-provisioner", out, ldflags)

    return tools.cached("storage-provisioner",
                        tools.key(tools.MINIKUBE_VERSION, ldflags, *PROVISIONER_PATCH),
                        "storage-provisioner", build)


def _proxy_base(tag: str, work: Path) -> None:
    root = work / "proxy-rootfs"
    kicbase.DEBOOTSTRAP_CACHE.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["debootstrap", "--variant=minbase",
                             "--include=" + ",".join(PROXY_PACKAGES),
                             f"--cache-dir={kicbase.DEBOOTSTRAP_CACHE}", "bookworm", str(root),
                             kicbase.mirror()], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"realtools: debootstrap (kube-proxy base) failed:\n"
                         f"{result.stdout[-3000:]}{result.stderr[-2000:]}")
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    kicbase.docker_import(root, tag, [PATH_ENV])


def build() -> list[str]:
    """Build what is missing or stale; returns the image names minikube will ask for."""
    if localbuild.K8S_VERSION != KUBERNETES_VERSION:
        raise SystemExit(f"realtools: the local cluster builds Kubernetes {localbuild.K8S_VERSION},"
                         f" minikube {tools.MINIKUBE_VERSION} runs {KUBERNETES_VERSION}")
    wanted = images()
    key = image_key()
    stale = [image for image in wanted if _label(image.name) != key]
    if not stale:
        return [image.name for image in wanted]
    tools.log(f"building {len(stale)} Kubernetes {KUBERNETES_VERSION} images for minikube "
              "(first time on this machine)")
    started = time.monotonic()
    bins = localbuild.bin_dir()
    base = f"todo-realtools/kube-bin:{key}"
    proxy_base = f"todo-realtools/kube-proxy-base:{key}"
    with tempfile.TemporaryDirectory(prefix="kubeimages-", dir=tools.cache_root()) as tmp:
        work = Path(tmp)
        if _label(base) is None:
            ctx = work / "kube"
            _link_or_copy(bins / "kube", ctx / "usr/local/bin/kube")
            for command in KUBE_COMMANDS:
                (ctx / "usr/local/bin" / command).symlink_to("kube")
            _docker_build(base, f"FROM scratch\nCOPY usr /usr\n{PATH_ENV}\n", ctx)
        if any("kube-proxy" in image.name for image in stale) and _label(proxy_base) is None:
            _proxy_base(proxy_base, work)
        contexts = {"bin": bins, "coredns": tools.coredns().parent,
                    "provisioner": storage_provisioner().parent}
        for image in stale:
            if image.context == "none":
                _docker_build(image.name, image.dockerfile, None)
                continue
            ctx = work / image.context
            if not ctx.exists():
                for item in contexts[image.context].iterdir():
                    if item.is_file() and not item.is_symlink():
                        _link_or_copy(item, ctx / item.name)
            _docker_build(image.name, image.dockerfile, ctx)
    tools.log(f"built the Kubernetes images in {time.monotonic() - started:.0f}s")
    return [image.name for image in wanted]


def install_binaries(minikube_home: Path) -> Path:
    """kubeadm, kubelet and kubectl where minikube's cache looks for them; returns the dir."""
    target = minikube_home / "cache" / "linux" / "amd64" / KUBERNETES_VERSION
    target.mkdir(parents=True, exist_ok=True)
    kube = localbuild.bin_dir() / "kube"
    for name in BINARIES:
        dest = target / name
        if dest.exists() and dest.stat().st_size == kube.stat().st_size and \
                dest.stat().st_mtime >= kube.stat().st_mtime:
            continue
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.copy2(kube, tmp)
        tmp.replace(dest)
    return target
