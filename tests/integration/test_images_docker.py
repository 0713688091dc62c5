"""`inv build` against a real Docker engine: both real Dockerfiles, real containers.

Real: dockerd (scripts/ci/start-dockerd.sh: --bridge=none, so builds and containers use host
networking and every request goes to 127.0.0.1), the suite's `inv build`, the images, the apps.
Fake: only `minikube`, which cannot run here. The recording fake (tests/fakes/fake_tool.py)
replays `minikube docker-env --shell none`'s real output shape (KEY=VALUE lines incl.
MINIKUBE_ACTIVE_DOCKERD) pointing DOCKER_HOST at the local dockerd, and `minikube version
--short`. No registry is reachable: the bases are the stand-ins from scripts/ci/build-bases.sh
(TODO_PYTHON_BASE / TODO_NODE_BASE), passed as BASE_IMAGE build args.

The app sources are copied into a temporary directory with `.env` files holding a marker and
junk `node_modules`/`.next`/`.venv`, caches and test output (marker inside), so the test proves
none of them reaches an image.
Needs dockerd and the stand-in bases: skips on a laptop without them, FAILS in CI.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FakeTools, need
from todo_deploy import images
from todo_deploy.config import ROOT, Settings

pytestmark = [pytest.mark.docker, pytest.mark.slow]

INV = Path(sys.executable).parent / "inv"
MARKER = f"env-marker-{uuid.uuid4().hex}"
BUILD_TIMEOUT = 1500
AUTH_SECRET = "s" * 48


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def bases(client: Any) -> dict[str, str]:
    found = {"backend": os.environ.get("TODO_PYTHON_BASE", ""),
             "frontend": os.environ.get("TODO_NODE_BASE", "")}
    for component, image in found.items():
        if not image:
            need("stand-in base images", 'eval "$(bash scripts/ci/build-bases.sh)" && export '
                 "TODO_PYTHON_BASE TODO_NODE_BASE")
        try:
            client.images.get(image)
        except Exception:
            need(f"{component} base image {image}", "run bash scripts/ci/build-bases.sh")
    return found


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]
    build_args: list[str]

    def inv(self, *args: str, env: dict[str, str] | None = None,
            timeout: float = BUILD_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(INV), *args], cwd=ROOT, env={**self.env, **(env or {})},
                              text=True, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def popen(self, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
        """``inv`` as a terminal starts it: SIGINT at its default, whatever this process
        inherited (a shell's background job, as CI may be, ignores SIGINT, and an ignored
        signal stays ignored across exec)."""
        return subprocess.Popen([str(INV), *args], cwd=ROOT, env={**self.env, **env}, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, preexec_fn=default_sigint)

    def settings(self) -> Settings:
        return Settings.from_config({
            "state_dir": str(self.root / "state"),
            "images": {c: {"context": str(self.root / "src" / c)} for c in images.COMPONENTS}})


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def copy_sources(dest: Path) -> None:
    skip = shutil.ignore_patterns("node_modules", ".next", ".venv", "__pycache__", ".env*",
                                  ".pytest_cache")
    for component in images.COMPONENTS:
        src = ROOT / "app" / component
        if not src.is_dir():
            need(f"app/{component}", "the reference app is not in this checkout")
        target = dest / component
        shutil.copytree(src, target, ignore=skip)
        (target / ".env").write_text(f"COHERE_API_KEY={MARKER}\n")
        (target / ".env.local").write_text(f"BETTER_AUTH_SECRET={MARKER}\n")
        for junk in ("node_modules/junk/index.js", ".next/cache/junk", ".venv/lib/junk.py",
                     ".pytest_cache/junk", ".mypy_cache/junk", "coverage/junk",
                     "artifacts/browser/junk.log"):
            path = target / junk
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"// {MARKER}\n")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, client: Any,
              bases: dict[str, str]) -> Workspace:
    root = tmp_path_factory.mktemp("images")
    copy_sources(root / "src")
    fakes = FakeTools(root / "fakebin", root / "calls.jsonl", root / "rules.json")
    fakes.bin_dir.mkdir()
    fakes.rules_file.write_text("[]")
    fakes.install("minikube")
    docker_host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    fakes.rule("minikube", r"docker-env --shell none",
               stdout=f"DOCKER_HOST={docker_host}\nMINIKUBE_ACTIVE_DOCKERD=minikube\n")
    fakes.rule("minikube", r"^version --short", stdout="v1.35.0\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("INVOKE_TODO_") and k != "DOCKER_HOST"}
    env.update({
        "PATH": f"{fakes.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "FAKE_TOOLS_LOG": str(fakes.log), "FAKE_TOOLS_RULES": str(fakes.rules_file),
        "INVOKE_TODO_STATE_DIR": str(root / "state"),
        "INVOKE_TODO_IMAGES_BACKEND_CONTEXT": str(root / "src" / "backend"),
        "INVOKE_TODO_IMAGES_FRONTEND_CONTEXT": str(root / "src" / "frontend"),
        "NO_COLOR": "1",
    })
    build_args = ["--build-arg", f"backend:BASE_IMAGE={bases['backend']}",
                  "--build-arg", f"frontend:BASE_IMAGE={bases['frontend']}"]
    return Workspace(root, env, build_args)


def result_rows(output: str) -> dict[str, str]:
    """image → result column of the closing table."""
    rows = {}
    for line in output.splitlines():
        match = re.search(r"(todo-(?:backend|frontend))\s*│\s*([0-9a-f]{12}).*│\s*(built|skipped)",
                          line)
        if match:
            rows[match.group(1)] = match.group(3)
    return rows


@pytest.fixture(scope="module")
def first_build(workspace: Workspace) -> subprocess.CompletedProcess[str]:
    # --force: the build path runs even when an earlier run left the same digest tags.
    proc = workspace.inv("build", "--force", "--network", "host", *workspace.build_args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def refs(workspace: Workspace, first_build: subprocess.CompletedProcess[str]
         ) -> dict[str, str]:
    return {ref.component: ref.ref for ref in images.current_images(workspace.settings())}


def wait_healthy(url: str, container: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                data: dict[str, Any] = response.json()
                return data
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = str(exc)
        container.reload()
        if container.status == "exited":
            break
        time.sleep(0.5)
    logs = container.logs(tail=30).decode(errors="replace")
    raise AssertionError(f"{url} not healthy ({last}); container logs:\n{logs}")


@pytest.fixture
def run_container(client: Any) -> Iterator[Any]:
    started: list[Any] = []

    def run(image: str, environment: dict[str, str]) -> Any:
        container = client.containers.run(image, detach=True, network_mode="host",
                                          environment=environment)
        started.append(container)
        return container

    yield run
    for container in started:
        container.remove(force=True)


# -- the tests ---------------------------------------------------------------------------------
def test_first_build_builds_both_images(first_build: subprocess.CompletedProcess[str]) -> None:
    assert result_rows(first_build.stdout) == {"todo-backend": "built", "todo-frontend": "built"}


def test_build_shows_step_progress(first_build: subprocess.CompletedProcess[str]) -> None:
    assert re.search(r"\[backend\] step \d+/\d+: ", first_build.stdout)
    assert re.search(r"\[frontend\] step \d+/\d+: ", first_build.stdout)


def test_images_carry_digest_and_latest_tags(client: Any, refs: dict[str, str]) -> None:
    for component, ref in refs.items():
        image = client.images.get(ref)
        assert f"todo-{component}:latest" in image.tags
        assert re.fullmatch(rf"todo-{component}:[0-9a-f]{{12}}", ref)


def test_backend_answers_health_on_the_host_network(refs: dict[str, str],
                                                    run_container: Any) -> None:
    port = free_port()
    container = run_container(refs["backend"], {
        "PORT": str(port), "DATABASE_URL": "sqlite:////tmp/todo.db",
        "BETTER_AUTH_SECRET": AUTH_SECRET})
    assert wait_healthy(f"http://127.0.0.1:{port}/health", container) == {"status": "healthy"}


def test_frontend_answers_health_on_the_host_network(refs: dict[str, str],
                                                     run_container: Any) -> None:
    port = free_port()
    container = run_container(refs["frontend"], {
        "PORT": str(port), "BACKEND_URL": "http://127.0.0.1:9",
        "NEXT_PUBLIC_API_URL": "http://127.0.0.1:9", "BETTER_AUTH_SECRET": AUTH_SECRET})
    assert wait_healthy(f"http://127.0.0.1:{port}/api/health", container) == {
        "status": "healthy"}


def test_containers_run_as_uid_1001_not_root(client: Any, refs: dict[str, str]) -> None:
    for ref in refs.values():
        assert client.images.get(ref).attrs["Config"]["User"] == "1001:1001"
        out = client.containers.run(ref, ["id", "-u"], remove=True, network_mode="host")
        assert out.decode().strip() == "1001"


def layer_members(image_tar: io.BufferedIOBase) -> Iterator[tuple[str, bytes]]:
    """(path, content) of every file in every layer of a `docker save` archive."""
    with tarfile.open(fileobj=image_tar, mode="r|") as outer:
        for member in outer:
            if not member.isfile():
                continue
            data = outer.extractfile(member)
            assert data is not None
            raw = data.read()
            buffer = io.BytesIO(raw)
            if not tarfile.is_tarfile(buffer):
                yield member.name, raw
                continue
            buffer.seek(0)
            with tarfile.open(fileobj=buffer) as layer:
                for entry in layer:
                    content = b""
                    if entry.isfile():
                        f = layer.extractfile(entry)
                        content = f.read() if f else b""
                    yield entry.name, content


def test_no_env_file_or_env_content_in_any_layer(client: Any, refs: dict[str, str],
                                                 tmp_path: Path) -> None:
    for ref in refs.values():
        saved = tmp_path / "image.tar"
        with saved.open("wb") as fh:
            for chunk in client.images.get(ref).save(named=True):
                fh.write(chunk)
        checked = 0
        with saved.open("rb") as fh:
            for name, content in layer_members(fh):
                checked += 1
                assert not re.fullmatch(r"\.env(\..*)?", name.rsplit("/", 1)[-1]), (ref, name)
                assert MARKER.encode() not in content, (ref, name)
                assert "node_modules/junk" not in name and ".venv/lib/junk" not in name
        assert checked > 100, f"{ref}: the layers were not read"


def test_second_build_skips_both_images(workspace: Workspace, refs: dict[str, str]) -> None:
    proc = workspace.inv("build", "--network", "host", *workspace.build_args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result_rows(proc.stdout) == {"todo-backend": "skipped", "todo-frontend": "skipped"}
    for ref in refs.values():
        assert f"skipped: {ref} already exists" in proc.stdout


def test_deploy_can_recompute_the_tags_from_the_state_file(workspace: Workspace,
                                                           refs: dict[str, str],
                                                           client: Any) -> None:
    state = json.loads((workspace.root / "state" / images.STATE_FILE).read_text())
    for component, ref in refs.items():
        assert f"{state['images'][component]['repository']}:" \
               f"{state['images'][component]['tag']}" == ref
        client.images.get(ref)  # present in the daemon deploy reads


def test_a_failed_build_prints_the_log_tail_and_stops_the_chain(workspace: Workspace,
                                                               tmp_path: Path) -> None:
    broken = tmp_path / "backend"
    shutil.copytree(workspace.root / "src" / "backend", broken)
    (broken / "requirements.txt").write_text("./no-such-directory-for-pip\n")
    proc = workspace.inv("build", "--only", "backend", "--network", "host",
                         *workspace.build_args, "config",
                         env={"INVOKE_TODO_IMAGES_BACKEND_CONTEXT": str(broken)}, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "building todo-backend at step" in proc.stderr
    assert "no-such-directory-for-pip" in proc.stderr  # pip's own words, from the log tail
    assert "inv build --only backend" in proc.stderr
    assert "resolved configuration" not in proc.stdout
    assert "Traceback" not in proc.stderr


def test_ctrl_c_stops_the_build_and_its_container(workspace: Workspace, client: Any,
                                                  tmp_path: Path) -> None:
    context = tmp_path / "slow"
    context.mkdir()
    (context / "requirements.txt").write_text("")
    dockerfile = tmp_path / "Dockerfile"
    token = uuid.uuid4().hex[:8]
    dockerfile.write_text("ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n"
                          f"RUN echo started-{token} && sleep 120\n")
    proc = workspace.popen("build", "--only", "backend", "--network", "host",
                           *workspace.build_args, env={
                               "INVOKE_TODO_IMAGES_BACKEND_CONTEXT": str(context),
                               "INVOKE_TODO_IMAGES_BACKEND_DOCKERFILE": str(dockerfile)})

    def sleeping() -> list[Any]:
        return [c for c in client.containers.list()
                if f"started-{token}" in " ".join(c.attrs["Config"].get("Cmd") or [])]

    try:
        deadline = time.monotonic() + 120
        while not sleeping() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert sleeping(), "the slow step never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, out + err
        assert "interrupted" in err
        assert "Traceback" not in err
        deadline = time.monotonic() + 30
        while sleeping() and time.monotonic() < deadline:
            time.sleep(0.5)
        left = sleeping()
    finally:  # whatever failed: no inv and no build container outlives the test
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
        for container in sleeping():
            container.remove(force=True)
    assert not left, "the daemon kept running the interrupted build step"
