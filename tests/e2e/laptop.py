"""A developer's laptop on this machine: a non-root user in the docker group with the real
minikube v1.37.0 (docker driver), kubectl, helm and docker on PATH, and a fresh clone.

What differs from a laptop, and why (this machine only):
- Nothing can be pulled. minikube's node image is built here (realtools.kicbase) and named
  with ``MINIKUBE_BASE_IMAGE``; the Kubernetes images and binaries are built here
  (realtools.kubeimages) and minikube takes them from the host's daemon and its cache, so
  ``MINIKUBE_PRELOAD=false`` (the preload tarball would be a download). Both are minikube's
  own environment variables for its ``--base-image`` / ``--preload`` flags.
- The app's base images (stand-ins for python:3.11-slim and node, scripts/ci/build-bases.sh)
  and the embedded PostgreSQL's are put into the node with ``minikube image load``, where a
  laptop's node would pull them; the builds in the node reach PyPI and npm through one NAT
  rule for the minikube network (the CI's dockerd runs with --iptables=false, so it adds none;
  Docker on a laptop does).
- The machine's capability set lacks CAP_SYS_RESOURCE, so dockerd's default runtime is
  runc-nosysres (scripts/ci/start-dockerd.sh, DOCKERD_RUNTIME); the node's runtimes use it too.

Everything the suite does, it does with the real tools' real answers.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.e2e.localcluster import build as localbuild
from tests.e2e.realtools import kicbase, kubeimages, tools
from tests.e2e.support import fresh_copy, helm_dir, standin_config

USER = "todo-dev"
PROFILE = "minikube"  # the suite's default profile, as a developer has it
STANDINS = ("TODO_PYTHON_BASE", "TODO_NODE_BASE", "TODO_POSTGRES_IMAGE")


@dataclass
class Laptop:
    user: pwd.struct_passwd
    clone: Path
    env: dict[str, str]
    log: list[str] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return Path(self.user.pw_dir)

    def run(self, *argv: str, cwd: Path | None = None, timeout: float = 900,
            check: bool = False, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        """``argv`` as the developer, in the clone, with the laptop's environment only."""
        full = ["runuser", "-u", self.user.pw_name, "--", "env", "-i",
                *(f"{k}={v}" for k, v in {**self.env, **(env or {})}.items()), *argv]
        result = subprocess.run(full, cwd=cwd or self.clone, capture_output=True, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL)
        self.log.append(f"$ {' '.join(argv)}  # exit {result.returncode}\n"
                        f"{result.stdout[-4000:]}{result.stderr[-4000:]}")
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}:\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def minikube(self, *args: str, timeout: float = 600, check: bool = True
                 ) -> subprocess.CompletedProcess[str]:
        return self.run("minikube", "-p", PROFILE, *args, timeout=timeout, check=check)

    def inv(self, *args: str, timeout: float = 900, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.clone / ".venv/bin/inv"), *args, timeout=timeout, check=check)


def dev_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--groups",
                        "docker", USER], check=True)
        return pwd.getpwnam(USER)


def _chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(path)], check=True)


def _bin_dir(user: pwd.struct_passwd) -> Path:
    """minikube, kubectl and helm as a developer installs them (~/bin)."""
    bin_dir = Path(user.pw_dir) / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, source in (("minikube", tools.minikube()),
                         ("kubectl", localbuild.bin_dir() / "kube"),
                         ("helm", Path(helm_dir(os.environ.get("TODO_E2E_HELM", "4"))) / "helm")):
        target = bin_dir / name
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            tmp = target.with_name(name + ".tmp")
            shutil.copy2(source, tmp)
            tmp.replace(target)
    _chown_tree(bin_dir, user)
    return bin_dir


def runtime_config(directory: Path) -> Path:
    """The suite's invoke config for this machine: the stand-ins, which are in the node (loaded
    by the test), never pulled; builds in the node use its network."""
    path = directory / "laptop-invoke.yaml"
    path.write_text(yaml.safe_dump({"todo": standin_config(directory, "host")}))
    return path


def forget_stale_images(minikube_home: Path) -> None:
    """minikube saves the images it takes from the host's daemon (the Kubernetes images, and
    the stand-ins of ``minikube image load``) into its cache (``cache/images``) and loads them
    from there next time: after a rebuild of any, that cache would hand the node the old ones."""
    cache = minikube_home / "cache" / "images"
    stamp = minikube_home / "cache" / "todo-images-key"
    ids = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}",
                          *(os.environ[k] for k in STANDINS if os.environ.get(k))],
                         capture_output=True, text=True).stdout.split()
    key = " ".join([kubeimages.image_key(), *ids])
    if stamp.exists() and stamp.read_text() == key:
        return
    shutil.rmtree(cache, ignore_errors=True)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key)


def prepare(workdir: Path) -> Laptop:
    """The laptop: user, tools, images, a fresh clone (no .env: onboarding makes it)."""
    user = dev_user()
    home = Path(user.pw_dir)
    base_image = kicbase.build()
    kubeimages.build()
    kubeimages.install_binaries(home / ".minikube")
    forget_stale_images(home / ".minikube")
    _chown_tree(home / ".minikube", user)
    bin_dir = _bin_dir(user)
    clone = home / "todo-app"
    if clone.exists():
        shutil.rmtree(clone)
    clone.mkdir()
    fresh_copy(clone)
    (clone / ".env").unlink()
    config = runtime_config(home)
    _chown_tree(clone, user)
    for path in (config, home / "e2e-values.yaml"):
        os.chown(path, user.pw_uid, user.pw_gid)
    env = {
        "HOME": str(home), "USER": user.pw_name, "LOGNAME": user.pw_name,
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8", "CI": "true", "NO_COLOR": "1",
        "MINIKUBE_BASE_IMAGE": base_image, "MINIKUBE_PRELOAD": "false",
        "MINIKUBE_WANTUPDATENOTIFICATION": "false", "MINIKUBE_IN_STYLE": "false",
        "INVOKE_RUNTIME_CONFIG": str(config),
    }
    for key in ("PIP_CERT", "PIP_FIND_LINKS", "PIP_DEFAULT_TIMEOUT"):
        if key in os.environ:
            env[key] = os.environ[key]
    return Laptop(user, clone, env)


def node_network() -> tuple[str, str] | None:
    """(subnet, bridge interface) of minikube's docker network, when it exists."""
    result = subprocess.run(["docker", "network", "inspect", PROFILE, "--format",
                             "{{range .IPAM.Config}}{{.Subnet}}{{end}} {{.Id}}"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return None
    subnet, network_id = result.stdout.split()
    return subnet, f"br-{network_id[:12]}"


def nat_rule(subnet: str, bridge: str) -> list[str]:
    return ["-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE",
            "-m", "comment", "--comment", "todo-e2e: minikube node to package registries"]


def enable_nat() -> list[str] | None:
    """Outbound NAT for the node (what Docker's iptables mode would add); returns the rule."""
    found = node_network()
    if found is None:
        return None
    rule = nat_rule(*found)
    if subprocess.run(["iptables", "-t", "nat", "-C", "POSTROUTING", *rule],
                      capture_output=True).returncode != 0:
        subprocess.run(["iptables", "-t", "nat", "-A", "POSTROUTING", *rule], check=True)
    return rule


def disable_nat(rule: list[str]) -> None:
    subprocess.run(["iptables", "-t", "nat", "-D", "POSTROUTING", *rule], capture_output=True)
