"""Build the local cluster's binaries from upstream Go modules, once per machine.

- ``kube``: one multi-call binary (``go/kube``) with kube-apiserver, kube-controller-manager,
  kube-scheduler, kubelet, kube-proxy, kubectl (k8s.io/kubernetes) and etcd
  (go.etcd.io/etcd/server/v3, the version Kubernetes itself requires). One link instead of
  seven, and the shared packages are compiled once.
- ``cri-dockerd``: built inside its own module (it has replace directives of its own).
- ``coredns``: ``go/coredns``, upstream CoreDNS with the plugins cluster DNS needs.
- ``pause``: ``build/pause/linux/pause.c`` from the Kubernetes module, ``gcc -static``.

Outputs go to ``~/.cache/todo-deploy/cluster/<key>/bin`` where ``key`` hashes the versions,
the Go version and the wrapper modules: a second run builds nothing. Build times are kept in
``build-times.json`` beside ``bin`` (the benchmark prints them).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# v1.34.0: the default of minikube v1.37.0 (tests/e2e/realtools), which refuses other versions
# offline; one build serves the local cluster and minikube's kubeadm, kubelet and images
K8S_VERSION = "v1.34.0"
STAGING_VERSION = "v0.34.0"  # k8s.io/<staging> modules of the same release (go/kube/go.mod)
ETCD_VERSION = "v3.6.4"  # the go.etcd.io/etcd/server/v3 that k8s.io/kubernetes requires
# v0.4.x refuses Docker Engine API < 1.42; Debian bookworm's docker.io 20.10 speaks 1.41,
# and v0.3.17 negotiates the API version with the daemon.
CRI_DOCKERD_VERSION = "v0.3.17"
COREDNS_VERSION = "v1.12.4"  # its client-go is v0.34
PAUSE_VERSION = "3.10.1"  # build/pause/Makefile TAG of Kubernetes 1.34

GO_DIR = Path(__file__).resolve().parent / "go"
KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
                 "kube-proxy", "kubectl", "etcd", "kubeadm")
KEEP_BUILDS = 2  # build() keeps this many key dirs (another run on this machine may use one)


@dataclass(frozen=True)
class Built:
    name: str
    path: Path
    seconds: float  # 0.0 when it was already there
    cached: bool


def log(message: str) -> None:
    print(f"localcluster: {message}", file=sys.stderr, flush=True)


def go_version() -> str:
    return subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True,
                          check=True).stdout.strip()


def cache_root() -> Path:
    return Path(os.environ.get("TODO_CLUSTER_CACHE",
                               "~/.cache/todo-deploy/cluster")).expanduser()


def cache_key() -> str:
    """What the binaries depend on: versions, Go, and the wrapper modules' files."""
    digest = hashlib.sha256()
    for part in (K8S_VERSION, STAGING_VERSION, ETCD_VERSION, CRI_DOCKERD_VERSION,
                 COREDNS_VERSION, PAUSE_VERSION, go_version(), *SANDBOX_OOM_PATCH,
                 *KUBEADM_PROXY_PATCH):
        digest.update(part.encode() + b"\0")
    for path in sorted(GO_DIR.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(GO_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def bin_dir() -> Path:
    return cache_root() / cache_key() / "bin"


def module_dir(module: str, version: str) -> Path:
    """The module's source in the Go module cache (downloaded when missing)."""
    out = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"],
                         capture_output=True, text=True)
    info = json.loads(out.stdout or "{}")
    if out.returncode != 0 or "Dir" not in info:
        raise SystemExit(f"localcluster: cannot download {module}@{version}: "
                         f"{info.get('Error') or out.stderr.strip()}")
    return Path(info["Dir"])


def _go_build(cwd: Path, output: Path, ldflags: str, *extra: str) -> None:
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"}
    tmp = output.with_suffix(".tmp")
    cmd = ["go", "build", *extra, "-trimpath", "-ldflags", ldflags, "-o", str(tmp), "."]
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"localcluster: go build in {cwd} failed:\n{result.stderr[-4000:]}")
    tmp.replace(output)


def kube_ldflags() -> str:
    """The version variables hack/lib/version.sh sets (else kubectl and Helm see v0.0.0)."""
    major, minor = K8S_VERSION.lstrip("v").split(".")[:2]
    values = {"gitVersion": K8S_VERSION, "gitMajor": major, "gitMinor": minor,
              "gitTreeState": "clean",
              "buildDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    flags = ["-s", "-w"]
    for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        flags += [f"-X '{package}.{key}={value}'" for key, value in values.items()]
    return " ".join(flags)


# A change to upstream source: (file in the module, text, replacement).
Patch = tuple[str, str, str]

# The one change to cri-dockerd: this machine (a sandboxed VM) refuses a negative
# oom_score_adj even to root, and cri-dockerd gives every pause container -998, so no pod
# sandbox could start ("runc create failed: can't get final child's PID from pipe").
# 0 only changes which process the kernel's OOM killer prefers; the pods' own containers
# keep the values kubelet gives them (Burstable and BestEffort ones are positive).
SANDBOX_OOM_PATCH: Patch = ("core/sandbox_helpers.go", "defaultSandboxOOMAdj int = -998",
                            "defaultSandboxOOMAdj int = 0")

# The one change to Kubernetes v1.34.0, backported from v1.34.4 (its fix, verbatim): kubeadm's
# preflight HTTPProxyCIDR check wrote an IPv4 address in brackets ("https://[10.96.0.1]/"),
# which Go >= 1.26's net/url rejects ("invalid IP-literal"), so `kubeadm init` (minikube
# start) failed its preflight here.
KUBEADM_PROXY_PATCH: Patch = (
    "cmd/kubeadm/app/preflight/checks.go",
    """\ttestIPstring := testIP.String()
\tif len(testIP) == net.IPv6len {
\t\ttestIPstring = fmt.Sprintf("[%s]:1234", testIP)
\t}
\turl := fmt.Sprintf("%s://%s/", subnet.Proto, testIPstring)""",
    """\ttestHostString := net.JoinHostPort(testIP.String(), "1234")
\turl := fmt.Sprintf("%s://%s/", subnet.Proto, testHostString)""")


def apply_patches(root: Path, patches: tuple[Patch, ...], what: str) -> None:
    """Apply each (file, old, new) once under ``root``; stop when a text is not there."""
    for name, old, new in patches:
        text = (root / name).read_text()
        if text.count(old) != 1:
            raise SystemExit(f"localcluster: {what}: {name} has no single `{old[:60]}` to patch")
        (root / name).write_text(text.replace(old, new))


def patched_copy(source: Path, target: Path, patches: tuple[Patch, ...], what: str) -> Path:
    """A writable copy of a module's ``source`` at ``target`` with ``patches`` applied (kept
    when already there: a fixed path keeps Go's build cache warm across builds)."""
    done = target / ".todo-patched"
    if done.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("vendor"))
    for path in target.rglob("*"):  # the module cache is read-only
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    apply_patches(target, patches, what)
    done.write_text("")
    return target


def _patch_key(patches: tuple[Patch, ...]) -> str:
    return hashlib.sha256("\0".join(p for patch in patches for p in patch).encode()
                          ).hexdigest()[:12]


def _build_kube(out: Path) -> None:
    # go/kube built against a patched copy of k8s.io/kubernetes (a replace in a copy of its
    # go.mod; `go build -overlay` refuses files of the module cache)
    source = patched_copy(module_dir("k8s.io/kubernetes", K8S_VERSION),
                          cache_root() / "src" / f"kubernetes-{K8S_VERSION}-"
                          f"{_patch_key((KUBEADM_PROXY_PATCH,))}",
                          (KUBEADM_PROXY_PATCH,), f"kubernetes {K8S_VERSION}")
    work = cache_root() / "src" / "kube"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(GO_DIR / "kube", work)
    subprocess.run(["go", "mod", "edit", f"-replace=k8s.io/kubernetes={source}"], cwd=work,
                   check=True, env={**os.environ, "GOTOOLCHAIN": "local"})
    _go_build(work, out, kube_ldflags(), "-mod=mod")


def _build_cri_dockerd(out: Path) -> None:
    source = module_dir("github.com/Mirantis/cri-dockerd", CRI_DOCKERD_VERSION)
    with tempfile.TemporaryDirectory(prefix="cri-dockerd-") as tmp:
        work = patched_copy(source, Path(tmp) / "src", (SANDBOX_OOM_PATCH,),
                            f"cri-dockerd {CRI_DOCKERD_VERSION}")
        version = CRI_DOCKERD_VERSION.lstrip("v")
        _go_build(work, out, "-s -w -X github.com/Mirantis/cri-dockerd/cmd/version.Version="
                  + version, "-mod=mod")


def _build_coredns(out: Path) -> None:
    _go_build(GO_DIR / "coredns", out, "-s -w")


def _build_pause(out: Path) -> None:
    source = module_dir("k8s.io/kubernetes", K8S_VERSION) / "build/pause/linux/pause.c"
    result = subprocess.run(["gcc", "-Os", "-Wall", "-Werror", "-static",
                             f"-DVERSION=v{PAUSE_VERSION}-todo-localcluster", "-o",
                             str(out), str(source)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"localcluster: gcc pause.c failed:\n{result.stderr}")


BUILDERS = {"kube": _build_kube, "cri-dockerd": _build_cri_dockerd,
            "coredns": _build_coredns, "pause": _build_pause}


def build(force: bool = False) -> list[Built]:
    """Build what is missing (everything with ``force``); return what each took."""
    bins = bin_dir()
    bins.mkdir(parents=True, exist_ok=True)
    times_file = bins.parent / "build-times.json"
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    done: list[Built] = []
    for name, builder in BUILDERS.items():
        out = bins / name
        if out.exists() and not force:
            done.append(Built(name, out, 0.0, True))
            continue
        log(f"building {name} (first time on this machine; cached in {bins})")
        started = time.monotonic()
        builder(out)
        seconds = time.monotonic() - started
        times[name] = round(seconds, 1)
        log(f"built {name} in {seconds:.0f}s")
        done.append(Built(name, out, seconds, False))
    for command in KUBE_COMMANDS:
        link = bins / command
        if not link.is_symlink():
            link.unlink(missing_ok=True)
            link.symlink_to("kube")
    times_file.write_text(json.dumps(times, indent=2) + "\n")
    for other in stale_builds(cache_root(), bins.parent):
        shutil.rmtree(other, ignore_errors=True)
    return done


def stale_builds(root: Path, current: Path, keep: int = KEEP_BUILDS) -> list[Path]:
    """Key dirs under ``root`` to delete: all but ``current`` and the newest others, so that
    ``keep`` remain (another run on this machine may be using the previous version's)."""
    others = [d for d in root.iterdir() if d.is_dir() and d != current
              and len(d.name) == 12 and all(c in "0123456789abcdef" for c in d.name)]
    others.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    return others[max(keep - 1, 0):]
