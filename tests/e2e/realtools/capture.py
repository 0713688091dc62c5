"""Capture the real minikube v1.37.0's answers that the suite parses into tests/fixtures/minikube.

``python3 -m tests.e2e.realtools capture-minikube [--out DIR]`` (root, this machine: it uses the
laptop of tests/e2e/laptop.py, user todo-dev). Each fixture is one answer as minikube gave it:
``NAME.stdout``, ``NAME.stderr`` and ``NAME.json`` (argv and exit code). The states:

- ``status-running``, ``docker-env``, ``profile-list`` (two profiles: ``minikube`` with
  Kubernetes, ``todo-extra`` without), ``image-ls``;
- ``status-paused`` (``minikube pause``), ``status-stopped`` (``minikube stop``);
- ``status-missing`` and ``docker-env-missing`` (a profile that does not exist);
- ``profile-list-empty`` (after ``minikube delete --all``).

tests/unit/test_minikube_fixtures.py feeds them to the suite's parsers. Both profiles are
deleted at the end.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from tests.e2e import laptop as laptop_mod

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "fixtures" / "minikube"
EXTRA = "todo-extra"


def _save(dev: laptop_mod.Laptop, out: Path, name: str, *argv: str) -> None:
    result = dev.run(*argv, timeout=600)
    home = str(dev.home)
    (out / f"{name}.stdout").write_text(result.stdout.replace(home, "/home/dev"))
    (out / f"{name}.stderr").write_text(result.stderr.replace(home, "/home/dev"))
    (out / f"{name}.json").write_text(json.dumps(
        {"argv": list(argv), "exit": result.returncode}, indent=1) + "\n")
    print(f"captured {name}: exit {result.returncode}")


def capture(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="capture-") as tmp:
        dev = laptop_mod.prepare(Path(tmp))
        mk = ("minikube", "-p", laptop_mod.PROFILE)
        dev.run("minikube", "delete", "--all", timeout=600)
        try:
            dev.minikube("start", "--cpus=2", "--memory=4096", timeout=900)
            dev.run("minikube", "-p", EXTRA, "start", "--no-kubernetes", "--cpus=2",
                    "--memory=2048", timeout=900, check=True)
            _save(dev, out, "status-running", *mk, "status", "-o", "json")
            _save(dev, out, "docker-env", *mk, "docker-env", "--shell", "none")
            _save(dev, out, "profile-list", "minikube", "profile", "list", "-o", "json")
            _save(dev, out, "image-ls", *mk, "image", "ls")
            dev.minikube("pause", timeout=300)
            _save(dev, out, "status-paused", *mk, "status", "-o", "json")
            dev.minikube("unpause", timeout=300)
            dev.minikube("stop", timeout=300)
            _save(dev, out, "status-stopped", *mk, "status", "-o", "json")
            _save(dev, out, "status-missing", "minikube", "-p", "todo-none", "status", "-o",
                  "json")
            _save(dev, out, "docker-env-missing", "minikube", "-p", "todo-none", "docker-env",
                  "--shell", "none")
        finally:
            dev.run("minikube", "delete", "--all", timeout=600)
        _save(dev, out, "profile-list-empty", "minikube", "profile", "list", "-o", "json")
    (out / "VERSION").write_text(
        dev.run("minikube", "version", "--short").stdout.strip() + "\n")
    if os.environ.get("SUDO_UID"):  # a developer's checkout: give the files back
        for path in out.iterdir():
            os.chown(path, int(os.environ["SUDO_UID"]), int(os.environ.get("SUDO_GID", "0")))
