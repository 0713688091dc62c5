"""The Go helpers of the end-to-end tier keep their own unit tests (``go test``): the runc
wrapper's spec rewriting (capability, oom score, rlimit clamp) is what lets minikube's nodes
start on this machine, and a mistake there shows up only as a node that never becomes Ready."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need

GO = Path(__file__).resolve().parent.parent / "e2e"
MODULES = sorted({p.parent for p in GO.rglob("*_test.go")})


@pytest.mark.parametrize("module", MODULES, ids=[str(m.relative_to(GO)) for m in MODULES])
def test_go_unit_tests_pass(module: Path) -> None:
    if shutil.which("go") is None:
        need("go", "the Go toolchain is not on PATH")
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    result = subprocess.run(["go", "test", "-count=1", "./..."], cwd=module, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "ok" in result.stdout
