"""The real tools' binaries, built here from their Go modules, once per machine.

- ``minikube`` v1.37.0 (k8s.io/minikube): built inside its module directory (its go.mod has
  replace directives), with the version variables its Makefile sets (MINIKUBE_LDFLAGS), so
  ``minikube version`` tells the truth.
- ``crictl`` v1.34.0 (sigs.k8s.io/cri-tools), which the node images need and Debian lacks.
- ``coredns`` (go/coredns): upstream CoreDNS with the plugins of the Corefile minikube writes.
- ``runc-nosysres`` (go/runcwrap): runc minus CAP_SYS_RESOURCE and negative oom scores, which
  this machine's kernel refuses (see go/runcwrap/main.go). For this CI machine only.

Outputs go to ``~/.cache/todo-deploy/realtools/<name>-<key>/`` where ``key`` hashes what the
binary depends on (version, Go, source files): a second run builds nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# the Go helpers the local cluster's build already has
from tests.e2e.localcluster.build import go_version, module_dir

__all__ = ["go_version", "module_dir"]  # kicbase uses module_dir through this module

MINIKUBE_VERSION = "v1.37.0"
# crictl: minikube waits for `sudo crictl version` in the node (node/start.go
# waitForCRIVersion) and lists containers with it; Debian bookworm does not package it
CRI_TOOLS_VERSION = "v1.34.0"
MINIKUBE_STORAGE_PROVISIONER_TAG = "v5"  # Makefile: STORAGE_PROVISIONER_TAG
GO_DIR = Path(__file__).resolve().parent / "go"


def log(message: str) -> None:
    print(f"realtools: {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    return Path(os.environ.get("TODO_REALTOOLS_CACHE",
                               "~/.cache/todo-deploy/realtools")).expanduser()


def key(*parts: str, files: Path | None = None) -> str:
    digest = hashlib.sha256()
    for part in (*parts, go_version()):
        digest.update(part.encode() + b"\0")
    if files is not None:
        for path in sorted(files.rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(files)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def go_build(cwd: Path, package: str, output: Path, ldflags: str) -> float:
    """``go build`` (static, trimmed) into ``output``; returns the seconds it took."""
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    started = time.monotonic()
    result = subprocess.run(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(tmp),
                             package], cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"realtools: go build {package} in {cwd} failed:\n"
                         f"{result.stderr[-4000:]}")
    tmp.replace(output)
    return time.monotonic() - started


def cached(name: str, key_: str, binary: str, build: Callable[[Path], float]) -> Path:
    out = cache_root() / f"{name}-{key_}" / binary
    if out.exists():
        return out
    log(f"building {name} (first time on this machine; cached in {out.parent})")
    seconds = build(out)
    (out.parent / "build-seconds").write_text(f"{seconds:.1f}\n")
    log(f"built {name} in {seconds:.0f}s")
    for other in cache_root().glob(f"{name}-*"):  # other versions: never used again
        if other != out.parent:
            shutil.rmtree(other, ignore_errors=True)
    return out


def minikube_ldflags() -> str:
    package = "k8s.io/minikube/pkg/version"
    values = {"version": MINIKUBE_VERSION, "isoVersion": MINIKUBE_VERSION,
              "gitCommitID": f"{MINIKUBE_VERSION}-gomodule",
              "storageProvisionerVersion": MINIKUBE_STORAGE_PROVISIONER_TAG}
    return " ".join(["-s", "-w", *(f"-X {package}.{k}={v}" for k, v in values.items())])


def minikube() -> Path:
    """The minikube binary (built once)."""
    source = module_dir("k8s.io/minikube", MINIKUBE_VERSION)
    return cached("minikube", key(MINIKUBE_VERSION, minikube_ldflags()), "minikube",
                  lambda out: go_build(source, "./cmd/minikube", out, minikube_ldflags()))


def crictl() -> Path:
    """crictl (sigs.k8s.io/cri-tools), for the node images (built once)."""
    source = module_dir("sigs.k8s.io/cri-tools", CRI_TOOLS_VERSION)
    ldflags = f"-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version={CRI_TOOLS_VERSION}"
    return cached("crictl", key(CRI_TOOLS_VERSION, ldflags), "crictl",
                   lambda out: go_build(source, "./cmd/crictl", out, ldflags))


def coredns() -> Path:
    """CoreDNS with the plugins of minikube's Corefile (go/coredns; built once)."""
    source = GO_DIR / "coredns"
    return cached("coredns", key(files=source), "coredns",
                  lambda out: go_build(source, ".", out, "-s -w"))


def runc_wrapper() -> Path:
    """runc-nosysres (built once)."""
    source = GO_DIR / "runcwrap"
    return cached("runcwrap", key(files=source), "runc-nosysres",
                   lambda out: go_build(source, ".", out, "-s -w"))


def build_seconds(binary: Path) -> float | None:
    """What the first build of ``binary`` took (None when unknown)."""
    try:
        return float((binary.parent / "build-seconds").read_text())
    except (OSError, ValueError):
        return None
