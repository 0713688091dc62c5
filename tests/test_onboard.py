"""scripts/onboard.sh, run like a new developer would: a copy of this clone, a temp HOME, and
a PATH holding only the basics plus fake minikube/kubectl/helm.

minikube, a cluster and helm-with-a-cluster cannot run here, so the tools are the recording
fakes of tests/fakes/fake_tool.py; their answers replay the real tools' output shapes
(``helm version --template``, ``minikube status -o json`` with its bitmask exit code,
``minikube ip``, a jsonpath nodePort). The Python side is real: the script creates a real
virtualenv and pip-installs the suite into it (once per test session; later runs find the
install stamp and skip it, which is the idempotence under test).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, FakeTools, real_render
from tests.fakes.canned import MINIKUBE_STARTED, PROFILES, RUNNING, STOPPED
from todo_deploy import chart
from todo_deploy.config import Settings

SCRIPT = Path("scripts") / "onboard.sh"
BASICS = ("bash", "sh", "env", "cat", "cp", "chmod", "dirname", "uname", "ls", "rm", "mkdir")
SKIP_STAGES = ("--skip-build", "--skip-secrets", "--skip-deploy", "--skip-verify")


def copy_clone(dest: Path) -> Path:
    """The files a fresh clone has (tracked + new, minus ignored), without app/ and tests/."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for rel in listed:
        if rel.startswith(("app/", "tests/")) or not (ROOT / rel).is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    return dest


@dataclass
class World:
    clone: Path
    venv: Path
    home: Path
    fakes: FakeTools

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("CI", "VIRTUAL_ENV", "NO_COLOR") and not k.startswith("INVOKE_")}
        env.update(HOME=str(self.home), XDG_CACHE_HOME=str(self.home / ".cache"),
                   PATH=f"{self.fakes.bin_dir}{os.pathsep}{self.home / 'sysbin'}",
                   TODO_VENV=str(self.venv),
                   TODO_PYTHON=sys.executable, NO_COLOR="1",
                   PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR",
                                                str(Path.home() / ".cache" / "pip")),
                   FAKE_TOOLS_LOG=str(self.fakes.log), FAKE_TOOLS_RULES=str(self.fakes.rules_file))
        env.update(extra)
        return env

    def run(self, *args: str, stdin: str | None = None,
            **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(self.clone / SCRIPT), *args], cwd=self.home,
                              env=self.env(**env), input=stdin, capture_output=True, text=True,
                              timeout=300)

    def tools_ok(self) -> None:
        """A cluster that is stopped until `inv up` starts it."""
        self.fakes.rules.clear()
        self.fakes.log.with_suffix(".counts.json").unlink(missing_ok=True)  # `times` counters
        self.fakes.rule("helm", r"^version", stdout="v3.17.3")
        # doctor (onboard), doctor (up), up's minikube stage: stopped; after start: running
        self.fakes.rule("minikube", r"status -o json", stdout=STOPPED, code=7, times=3)
        self.fakes.rule("minikube", r"status -o json", stdout=RUNNING)
        self.fakes.rule("minikube", r"^version", stdout="v1.35.0\n")
        self.fakes.rule("minikube", r" ip$", stdout="192.168.49.2\n")
        self.fakes.rule("kubectl", r"^config current-context", stdout="minikube\n")
        self.fakes.rule("kubectl", r"^get service todo-frontend", stdout="30080")
        self.fakes.rule("kubectl", r"^version --client",
                        stdout='{"clientVersion": {"gitVersion": "v1.31.0"}}')
        self.fakes.rule("minikube", r"^profile list", stdout=PROFILES)
        self.fakes.rule("minikube", r"-p minikube start ", stdout=MINIKUBE_STARTED)
        # doctor's fit check renders the chart (.env.example: the embedded PostgreSQL)
        self.fakes.rule("helm", r"^template ", stdout=real_render(
            chart.requests_argv(Settings(), embedded_db=True), 3))


def make_world(root: Path) -> World:
    home = root / "home"
    (home / "sysbin").mkdir(parents=True)
    for name in BASICS:
        found = shutil.which(name)
        if found:
            (home / "sysbin" / name).symlink_to(found)
    bin_dir = root / "fakebin"
    bin_dir.mkdir()
    fakes = FakeTools(bin_dir, root / "calls.jsonl", root / "rules.json")
    fakes.rules_file.write_text("[]")
    fakes.install("minikube", "kubectl", "helm")
    return World(copy_clone(root / "clone"), root / "venv", home, fakes)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[World, subprocess.CompletedProcess[str]]]:
    """One real onboarding (real venv + pip install) with every tool present."""
    world = make_world(tmp_path_factory.mktemp("onboard"))
    world.tools_ok()
    result = world.run("--yes", "--", *SKIP_STAGES)
    yield world, result


def test_with_all_tools_present_onboarding_reaches_inv_up_which_starts_minikube(
        first_run: tuple[World, subprocess.CompletedProcess[str]]) -> None:
    world, result = first_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "==> inv up --skip-build --skip-secrets --skip-deploy --skip-verify" in result.stdout
    assert ["-p", "minikube", "start", "--cpus=2", "--memory=4096"] in world.fakes.argvs(
        "minikube")
    assert ("Todo app deployed (not verified: --skip-verify): http://192.168.49.2:30080"
            in result.stdout)


def test_onboarding_asks_the_tools_only_what_the_fakes_replay(
        first_run: tuple[World, subprocess.CompletedProcess[str]]) -> None:
    world, _ = first_run
    assert [c for c in world.fakes.calls() if c.get("unmatched")] == []


def test_onboarding_ends_by_saying_how_to_get_inv_on_path(
        first_run: tuple[World, subprocess.CompletedProcess[str]]) -> None:
    """`inv` is in the new virtualenv, not on PATH: the last line says how to get it."""
    world, result = first_run
    venv = str(world.venv)
    if world.venv.is_relative_to(world.clone):
        venv_shown = str(world.venv.relative_to(world.clone))
    else:
        venv_shown = venv
    assert result.stdout.rstrip().splitlines()[-1] == (
        f"==> inv is installed in {venv}: run  source {venv_shown}/bin/activate"
        "  to use plain `inv` in this shell")


def test_onboarding_creates_the_venv_and_env_from_the_example(
        first_run: tuple[World, subprocess.CompletedProcess[str]]) -> None:
    world, result = first_run
    assert (world.venv / "bin" / "inv").exists()
    assert (world.clone / ".env").read_text() == (world.clone / ".env.example").read_text()
    assert "created .env from .env.example" in result.stdout


def test_second_run_reinstalls_nothing_and_keeps_the_edited_env(
        first_run: tuple[World, subprocess.CompletedProcess[str]]) -> None:
    world, _ = first_run
    env_file = world.clone / ".env"
    env_file.write_text(env_file.read_text() + "# edited by the developer\n")
    edited = env_file.read_text()
    world.tools_ok()
    result = world.run("--", *SKIP_STAGES, CI="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "suite already installed" in result.stdout
    assert ".env exists; keeping it" in result.stdout
    assert env_file.read_text() == edited


def test_a_missing_tool_stops_before_inv_up_with_doctors_hint(
        first_run: tuple[World, subprocess.CompletedProcess[str]]) -> None:
    world, _ = first_run
    world.tools_ok()
    world.fakes.remove("helm")
    try:
        calls_before = len(world.fakes.calls())
        result = world.run("--yes")
    finally:
        world.fakes.install("helm")
    assert result.returncode == 3
    assert "get-helm-3" in result.stdout + result.stderr  # doctor's fix for helm
    assert "doctor found missing prerequisites" in result.stderr
    assert "==> inv up" not in result.stdout
    assert not any("start" in c["argv"] for c in world.fakes.calls()[calls_before:])


def test_without_a_terminal_or_yes_it_refuses_to_run_inv_up(
        first_run: tuple[World, subprocess.CompletedProcess[str]]) -> None:
    world, _ = first_run
    world.tools_ok()
    result = world.run(stdin="")
    assert result.returncode == 2
    assert "scripts/onboard.sh --yes" in result.stderr


def test_python_older_than_3_11_is_refused_with_a_hint(tmp_path: Path) -> None:
    old = tmp_path / "python3"
    old.write_text('#!/bin/sh\ncase "$2" in *platform*) echo 3.10.12 ;; *) exit 1 ;; esac\n')
    old.chmod(0o755)
    result = subprocess.run(["bash", str(ROOT / SCRIPT), "--yes"], env={
        **os.environ, "TODO_PYTHON": str(old), "TODO_VENV": str(tmp_path / "venv")},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "Python 3.11 or later is required (found 3.10.12" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_help_describes_the_steps_and_options() -> None:
    result = subprocess.run(["bash", str(ROOT / SCRIPT), "--help"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0
    assert "--yes" in result.stdout and "inv doctor" in result.stdout
