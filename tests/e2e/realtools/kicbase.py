"""minikube's docker-driver node image ("kicbase"), built here from Debian bookworm packages.

minikube v1.37.0's own ``deploy/kicbase/Dockerfile`` starts from Ubuntu and downloads docker-ce,
cri-dockerd, the CNI plugins, crictl, buildkit, podman, cri-o and nerdctl; its comment says the
base "could be changed to any debian that can run systemd". This follows it with what Debian
and our own builds have:

- debootstrap ``--variant=minbase`` bookworm with the packages of that Dockerfile that Debian
  has (systemd, docker.io — the daemon ``minikube docker-env`` points at —, containerd, runc,
  conntrack, iptables, socat, openssh-server, sudo, the CNI plugins, ...);
- cri-dockerd from the local cluster's build (tests/e2e/localcluster/build.py), with the unit
  files of its module; crictl from its module (tools.crictl);
- minikube's own files from its module: the entrypoint, sysctl and containerd configs, the
  automount and scheduled-stop units; the ``docker`` user (groups docker, sudo), sshd, and the
  systemd trimming of the Dockerfile;
- runc-nosysres as ``/usr/local/sbin/runc``: dockerd's and containerd's default runtime
  ``runc`` is looked up on PATH, where /usr/local/sbin comes first, so the node's runtimes use
  it whatever minikube writes into daemon.json and docker.service (it rewrites both). This
  machine only: see go/runcwrap.

Left out: auto-pause, buildkit, podman, cri-o, nerdctl(d), the NVIDIA toolkit (none is used by
the docker runtime; cri-o and ``minikube image build`` on containerd need what is missing).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.e2e.localcluster import build as localbuild

from . import tools

KIC_VERSION = "v0.0.48"  # pkg/drivers/kic/types.go Version of minikube v1.37.0
IMAGE = "todo-kicbase"
PACKAGES = (
    # services
    "systemd", "systemd-sysv", "dbus",
    # Kubernetes components
    "conntrack", "iptables", "iproute2", "ethtool", "socat", "util-linux", "mount", "ebtables",
    "kmod", "libseccomp2", "pigz", "bash", "ca-certificates", "curl", "rsync", "procps",
    "iputils-ping", "netcat-openbsd", "vim-tiny", "lz4", "gnupg", "sudo", "openssh-server",
    "dnsutils", "containernetworking-plugins",
    # the runtimes
    "docker.io", "containerd", "runc",
)
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEBOOTSTRAP_CACHE = Path("/var/cache/todo-debootstrap")


def _minikube_files() -> Path:
    return tools.module_dir("k8s.io/minikube", tools.MINIKUBE_VERSION) / "deploy" / "kicbase"


def _cri_dockerd_units() -> Path:
    return (tools.module_dir("github.com/Mirantis/cri-dockerd", localbuild.CRI_DOCKERD_VERSION)
            / "packaging" / "systemd")


def image_key() -> str:
    """What the image is made of: the package list, the files copied in, this builder."""
    digest = hashlib.sha256()
    for part in (KIC_VERSION, *PACKAGES, localbuild.cache_key()):
        digest.update(part.encode() + b"\0")
    for path in (Path(__file__), tools.runc_wrapper(), tools.crictl(),
                 *sorted(p for p in _minikube_files().rglob("*") if p.is_file())):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def image_name() -> str:
    return f"{IMAGE}:{KIC_VERSION}-bookworm-{image_key()}"


def _exists(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image],
                          capture_output=True).returncode == 0


def mirror() -> str:
    """The Debian mirror apt uses here (as scripts/ci/build-bases.sh finds it)."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and line.rstrip("/").endswith("/debian"):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def _install(source: Path, target: Path, mode: int = 0o644) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(mode)


def _chroot(root: Path, script: str) -> None:
    subprocess.run(["chroot", str(root), "/bin/bash", "-euo", "pipefail", "-c", script],
                   check=True, capture_output=True, text=True)


def _rootfs(root: Path) -> None:
    DEBOOTSTRAP_CACHE.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
                             f"--cache-dir={DEBOOTSTRAP_CACHE}", "bookworm", str(root), mirror()],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"realtools: debootstrap failed:\n{result.stdout[-3000:]}"
                         f"{result.stderr[-2000:]}")
    kic = _minikube_files()
    _install(CA_BUNDLE, root / "etc/ssl/certs/ca-certificates.crt")
    for name in ("10-network-security.conf", "11-tcp-mtu-probing.conf"):
        _install(kic / name, root / "etc/sysctl.d" / name)
    _install(kic / "containerd.toml", root / "etc/containerd/config.toml")
    _install(kic / "containerd_docker_io_hosts.toml",
             root / "etc/containerd/certs.d/docker.io/hosts.toml")
    _install(kic / "entrypoint", root / "usr/local/bin/entrypoint", 0o755)
    _install(kic / "automount/minikube-automount", root / "usr/sbin/minikube-automount", 0o755)
    _install(kic / "automount/minikube-automount.service",
             root / "usr/lib/systemd/system/minikube-automount.service")
    _install(kic / "scheduled-stop/minikube-scheduled-stop",
             root / "var/lib/minikube/scheduled-stop/minikube-scheduled-stop", 0o755)
    _install(kic / "scheduled-stop/minikube-scheduled-stop.service",
             root / "usr/lib/systemd/system/minikube-scheduled-stop.service")
    _install(localbuild.bin_dir() / "cri-dockerd", root / "usr/bin/cri-dockerd", 0o755)
    for unit in ("cri-docker.socket", "cri-docker.service"):
        _install(_cri_dockerd_units() / unit, root / "usr/lib/systemd/system" / unit)
    _install(tools.crictl(), root / "usr/bin/crictl", 0o755)
    _install(tools.runc_wrapper(), root / "usr/local/sbin/runc", 0o755)
    # the CNI plugins where kubelet and minikube's CNI configs look for them
    cni = root / "opt/cni/bin"
    cni.mkdir(parents=True, exist_ok=True)
    for plugin in (root / "usr/lib/cni").iterdir():
        shutil.copy2(plugin, cni / plugin.name)
    # the Dockerfile's RUN steps, in order
    _chroot(root, """
find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
echo ReadKMsg=no >> /etc/systemd/journald.conf
ln -sf "$(command -v systemd)" /sbin/init
mkdir -p /etc/kubernetes/manifests /var/run/sshd /kind
sed -i /usr/lib/systemd/system/systemd-tmpfiles-clean.timer -e 's#OnBootSec=.*#OnBootSec=1min#'
sed -i /etc/nsswitch.conf -re 's#^(hosts:\\s*).*#\\1files dns#'
mkdir -p /etc/systemd/system/multi-user.target.wants
ln -fs /usr/lib/systemd/system/minikube-automount.service \
   /etc/systemd/system/multi-user.target.wants/minikube-automount.service
systemctl disable containerd >/dev/null 2>&1 || true
systemctl enable docker.socket docker.service ssh.service >/dev/null 2>&1
# minikube's docker.service calls /usr/bin/dockerd (docker-ce's path); Debian's is /usr/sbin
ln -sf /usr/sbin/dockerd /usr/bin/dockerd
sed -ri 's/UsePAM yes/#UsePAM yes/g' /etc/ssh/sshd_config
adduser --ingroup docker --disabled-password --gecos '' docker >/dev/null
adduser docker sudo >/dev/null
# adduser --disabled-password leaves the account locked ("!"), and sshd (without PAM, as the
# Dockerfile sets it) refuses every login to a locked account, keys included: minikube logs in
# as docker with its key only. "*" keeps password logins impossible but unlocks the account.
usermod -p '*' docker
# minikube runs commands over ssh in non-login shells; Debian's default PATH for them lacks
# the sbin directories (iptables, sysctl, ...), Ubuntu's (the upstream kicbase) has them
mkdir -p /etc/ssh/sshd_config.d
echo 'SetEnv PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  > /etc/ssh/sshd_config.d/minikube-path.conf
echo '%sudo ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers
install -d -o docker -g docker /home/docker/.ssh
rm -rf /usr/share/doc/* /usr/share/man/* /var/lib/apt/lists/* /var/cache/apt/*.bin \
       /var/cache/apt/archives/*.deb
""")
    (root / "version.json").write_text(
        f'{{"iso_version": "{tools.MINIKUBE_VERSION}", "kicbase_version": "{KIC_VERSION}", '
        f'"minikube_version": "{tools.MINIKUBE_VERSION}", "commit": "todo-debian-bookworm"}}\n')
    (root / "kic.txt").write_text(f"kic! Build: debian bookworm {image_key()}\n")


def docker_import(root: Path, image: str, changes: list[str]) -> None:
    """``docker import`` of the directory ``root`` (numeric owners kept) as ``image``."""
    tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."],
                           stdout=subprocess.PIPE)
    assert tar.stdout is not None
    argv = ["docker", "import", *(f"--change={c}" for c in changes), "-", image]
    result = subprocess.run(argv, stdin=tar.stdout, capture_output=True, text=True)
    tar.stdout.close()
    if result.returncode != 0:
        tar.kill()
    tar.wait()
    if result.returncode != 0 or tar.returncode != 0:
        raise SystemExit(f"realtools: docker import of {image} failed: {result.stderr}")


def build() -> str:
    """The node image's name (built when missing)."""
    image = image_name()
    if _exists(image):
        return image
    tools.log(f"building minikube's node image {image} (debootstrap; first time on this "
              "machine)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kicbase-") as tmp:
        root = Path(tmp) / "rootfs"
        _rootfs(root)
        # docker import takes ENV/EXPOSE/ENTRYPOINT; STOPSIGNAL needs a (one-line) build
        imported = f"{IMAGE}-rootfs:{image_key()}"
        docker_import(root, imported, ["ENV container=docker", "EXPOSE 22",
                                       'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]'])
        # systemd exits on SIGRTMIN+3 (SIGTERM re-executes it): the Dockerfile's STOPSIGNAL
        dockerfile = f"FROM {imported}\nSTOPSIGNAL SIGRTMIN+3\n"
        result = subprocess.run(["docker", "build", "-q", "-t", image, "-"], input=dockerfile,
                                capture_output=True, text=True)
        subprocess.run(["docker", "image", "rm", imported], capture_output=True)
        if result.returncode != 0:
            raise SystemExit(f"realtools: docker build of {image} failed: {result.stderr}")
    seconds = time.monotonic() - started
    tools.log(f"built {image} in {seconds:.0f}s")
    for line in subprocess.run(["docker", "image", "ls", IMAGE, "--format",
                                "{{.Repository}}:{{.Tag}}"], capture_output=True,
                               text=True).stdout.split():
        if line != image:  # an older build: never used again
            subprocess.run(["docker", "image", "rm", line], capture_output=True)
    return image
