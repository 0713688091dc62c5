"""Shared fixtures.

- ``fake_tools``: recording fakes for minikube/kubectl/helm on PATH (see tests/fakes).
- ``need(what, reason)``: skip on a laptop, FAIL in CI (``TODO_CI_STRICT=1``, set by .ci/run)
  when a real dependency (dockerd, helm, PostgreSQL) is missing.
- ``helm_bins``: the real helm 3 and helm 4 binaries provisioned by scripts/test.sh.
- ``nodeport``: a real HTTP server on 127.0.0.1 that stands in for the NodePort the host opens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.canned import UNCONTENDED_CLUSTER

ROOT = Path(__file__).resolve().parent.parent
FAKE = Path(__file__).resolve().parent / "fakes" / "fake_tool.py"


def strict() -> bool:
    return os.environ.get("TODO_CI_STRICT") == "1"


def need(what: str, reason: str) -> None:
    """Call when ``what`` is unavailable: fails in CI, skips elsewhere."""
    message = f"{what} unavailable: {reason}"
    if strict():
        pytest.fail(f"{message} (TODO_CI_STRICT=1: CI must provide it)", pytrace=False)
    pytest.skip(message)


@dataclass
class FakeTools:
    bin_dir: Path
    log: Path
    rules_file: Path
    rules: list[dict[str, Any]] = field(default_factory=list)

    fallbacks: list[dict[str, Any]] = field(default_factory=list)

    def rule(self, tool: str | None, match: str = "", *, stdout: str = "", stderr: str = "",
             code: int = 0, times: int | None = None, hang: float | None = None,
             on_term: str = "", fallback: bool = False) -> None:
        """Answer calls of ``tool`` whose argv matches ``match`` (regex). First rule wins;
        a ``fallback`` rule (a setup's usual answer) comes after every other rule, so a test
        can set a different answer later. ``hang``: sleep first (``on_term`` is what a
        SIGTERM meanwhile prints)."""
        entry: dict[str, Any] = {"tool": tool, "match": match, "stdout": stdout,
                                 "stderr": stderr, "code": code}
        if times is not None:
            entry["times"] = times
        if hang is not None:
            entry.update(hang=hang, on_term=on_term)
        (self.fallbacks if fallback else self.rules).append(entry)
        self.save()

    def save(self) -> None:
        """Write the rules (after editing ``rules`` directly), the fallbacks last."""
        self.rules_file.write_text(json.dumps(self.rules + self.fallbacks), encoding="utf-8")

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        entries = [json.loads(line) for line in self.log.read_text().splitlines() if line]
        return [e for e in entries if tool is None or e["tool"] == tool]

    def argvs(self, tool: str | None = None) -> list[list[str]]:
        return [e["argv"] for e in self.calls(tool)]

    def install(self, *tools: str) -> None:
        """Put a copy of the fake on PATH as each ``tool`` (argv[0] names the tool)."""
        body = FAKE.read_text(encoding="utf-8").split("\n", 1)[1]
        for tool in tools:
            target = self.bin_dir / tool
            target.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
            target.chmod(0o755)

    def remove(self, *tools: str) -> None:
        for tool in tools:
            (self.bin_dir / tool).unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def machine_cache(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own ``$XDG_CACHE_HOME``: the suite keeps tool versions there between runs
    (doctor.versions_cache), and a MockContext or a fake answers for a binary that the real
    one on this machine (e.g. /usr/bin/kubectl) must not answer for from an earlier test."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


CHECKOUT_STATE = ROOT / ".todo-deploy"  # the developer's own state (Settings' default)
FAST_LAYERS = (ROOT / "tests" / "unit", ROOT / "tests" / "chart")


def _checkout_state() -> dict[str, int]:
    try:
        return {p.name: p.stat().st_mtime_ns for p in CHECKOUT_STATE.iterdir()}
    except FileNotFoundError:
        return {}


@pytest.fixture(autouse=True)
def checkout_state_untouched(request: pytest.FixtureRequest, tmp_path_factory:
                             pytest.TempPathFactory,
                             monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fast-layer test must not write the checkout's ``.todo-deploy/`` (the state of the
    developer's own cluster: a test's release or versions there would be read by their next
    ``inv``): an ``inv`` it starts gets a state directory of its own, and a Settings() left at
    its default state_dir fails here, by name."""
    if not any(Path(request.node.path).is_relative_to(layer) for layer in FAST_LAYERS):
        yield
        return
    monkeypatch.setenv("INVOKE_TODO_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    before = _checkout_state()
    yield
    after = _checkout_state()
    written = sorted(name for name, mtime in after.items() if before.get(name) != mtime)
    assert not written, (f"the test wrote {', '.join(written)} into {CHECKOUT_STATE}: give its "
                         "Settings a state_dir under tmp_path")


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTools]:
    """Fake minikube, kubectl and helm first on PATH; real tools of those names hidden."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    fakes = FakeTools(bin_dir, tmp_path / "calls.jsonl", tmp_path / "rules.json")
    fakes.rules_file.write_text("[]")
    fakes.install("minikube", "kubectl", "helm")
    # a cluster where no other run holds the run lock (todo_deploy/lock.py: the Lease is created
    # and deleted as on the live cluster) and no other Service holds the chart's nodePort;
    # tests of the lock and of the nodePort check set their own answers
    for tool, match, stdout in UNCONTENDED_CLUSTER:
        fakes.rule(tool, match, stdout=stdout, fallback=True)
    monkeypatch.setenv("FAKE_TOOLS_LOG", str(fakes.log))
    monkeypatch.setenv("FAKE_TOOLS_RULES", str(fakes.rules_file))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    yield fakes
    unmatched = [" ".join([c["tool"], *c["argv"]]) for c in fakes.calls() if c.get("unmatched")]
    assert not unmatched, ("the code under test called a fake tool with no rule for the call "
                           "(add a rule that replays the real tool's answer):\n  "
                           + "\n  ".join(unmatched))


@pytest.fixture(scope="session")
def helm_bins() -> dict[int, Path]:
    """{3: helm 3.17 binary, 4: helm 4.1 binary}, provisioned by scripts/provision-tools.py."""
    return real_helms()


def real_helms() -> dict[int, Path]:
    """The real helm binaries (fails in CI, skips elsewhere, when they are missing)."""
    found: dict[int, Path] = {}
    for major in (3, 4):
        value = os.environ.get(f"TODO_HELM{major}_BIN") or str(
            ROOT / ".cache" / "tools" / f"helm{major}" / "helm")
        if Path(value).is_file() and os.access(value, os.X_OK):
            found[major] = Path(value)
    if len(found) < 2:
        need("helm 3 and helm 4", "run scripts/test.sh (it provisions them into .cache/tools)")
    return found


def real_render(argv: list[str], major: int = 4) -> str:
    """What the REAL helm prints for ``helm template ...`` (``argv`` with or without "helm"),
    for a fake helm to replay."""
    args = argv[1:] if argv[:1] == ["helm"] else argv
    return subprocess.run([str(real_helms()[major]), *args], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def has_tool(name: str) -> bool:
    return shutil.which(name) is not None


@dataclass
class HealthServer:
    """A real HTTP server on 127.0.0.1 standing in for the node's NodePort: ``GET
    /api/health`` answers ``status`` with ``body`` (the frontend's own answer by default)."""

    port: int
    status: int = 200
    body: str = '{"status":"healthy"}'
    paths: list[str] = field(default_factory=list)


@contextmanager
def serve_health() -> Iterator[HealthServer]:
    """Run a :class:`HealthServer` on 127.0.0.1 (a free port) while the block runs."""
    import http.server
    import threading

    state = HealthServer(0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.paths.append(self.path)
            data = state.body.encode()
            self.send_response(state.status if self.path == "/api/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def nodeport() -> Iterator[HealthServer]:
    with serve_health() as state:
        yield state


def tiny_build_context(tmp: Path, *, files: dict[str, str] | None = None,
                       dockerfile: str = "FROM scratch\nCOPY a.txt /\n",
                       args: dict[str, str] | None = None) -> Any:
    """A real, tiny build context for the backend image (``images.prepare`` over ``files`` in
    ``tmp/src`` and ``dockerfile``): its digest, tag and tar are the suite's own."""
    from todo_deploy import images
    from todo_deploy.config import ImageConfig

    src = tmp / "src"
    src.mkdir()
    for name, text in (files or {"a.txt": "a"}).items():
        (src / name).write_text(text)
    path = tmp / "Dockerfile"
    path.write_text(dockerfile)
    return images.prepare(ImageConfig("backend", "todo-backend", src, path), args or {})
