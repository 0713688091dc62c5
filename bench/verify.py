"""Benchmarks for issue 6: verify's crash-loop verdict time, and the suite's own overhead in a
no-op ``inv up``. Run: ``.venv/bin/python bench/verify.py [--runs N]``.

No cluster can run here, so both use recording fakes that replay real kubectl/minikube/helm
output shapes (tests/fixtures/kubectl/) and say so:

1. **Crash-loop verdict.** A fake ``kubectl`` serves a rollout whose new backend pod is still
   being created until T0, then has crashed (first a terminated container with exit 1, after
   10 s kubelet's ``CrashLoopBackOff``). ``verify.watch_rollout`` runs with its real poll
   interval; the figure is verdict time − T0 (T0 at a random offset, so polling phase
   varies). Target: ≤ 20 s.
2. **No-op ``inv up`` overhead.** ``pipeline.run_up`` with every stage answered "nothing
   changed" by the fakes (images present, same Secret, helm release at the same values,
   rollout complete, HTTP checks healthy). The tools' own time is measured around each
   ``c.run`` (process start included); overhead = wall time − tools' time. The docker side is
   stubbed at the images module boundary (a builder whose images all exist). Target: ≤ 1 s.
   Printed next to it: the CLI's start-up (``inv --list``), which a user also waits for.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from invoke.context import Context  # noqa: E402

from todo_deploy import verify  # noqa: E402
from todo_deploy.config import Settings  # noqa: E402
from todo_deploy.diagnose import Cause  # noqa: E402
from todo_deploy.tools import Kubectl  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "kubectl"
HELM_FIXTURES = ROOT / "tests" / "fixtures" / "helm"

CRASH_KUBECTL = r'''#!{python}
"""Fake kubectl (bench): before $BENCH_T0 the new backend pod is being created; after it the
container has crashed (terminated, exit 1), and from T0+10 s kubelet reports CrashLoopBackOff.
Shapes: tests/fixtures/kubectl/."""
import json, os, sys, time
F = "{fixtures}"
argv = sys.argv[1:]
t0 = float(os.environ["BENCH_T0"])
def load(name):
    with open(os.path.join(F, name + ".json")) as fh:
        return json.load(fh)
if argv[:2] == ["get", "deployments,replicasets,pods"]:
    if time.time() < t0:
        print(json.dumps(load("workloads-backend-starting")))
    else:
        doc = load("workloads-backend-crashloop")
        if time.time() < t0 + 10:
            first = load("pods-first-crash")["items"][0]
            doc["items"] = [first if i.get("kind") == "Pod" and
                            i["metadata"]["name"] == first["metadata"]["name"] else i
                            for i in doc["items"]]
        print(json.dumps(doc))
elif argv[:2] == ["get", "events"]:
    print(json.dumps(load("events-crashloop" if time.time() >= t0 else "events-healthy")))
elif argv[:1] == ["logs"]:
    print("todo-api: configuration error: missing required environment variable DATABASE_URL")
'''


@contextmanager
def fake_path(scripts: dict[str, str]) -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    for name, body in scripts.items():
        path = tmp / name
        path.write_text(body)
        path.chmod(0o755)
    saved = os.environ["PATH"]
    os.environ["PATH"] = f"{tmp}{os.pathsep}{saved}"
    try:
        yield tmp
    finally:
        os.environ["PATH"] = saved
        shutil.rmtree(tmp, ignore_errors=True)


def crash_verdict(runs: int) -> list[float]:
    body = CRASH_KUBECTL.replace("{python}", sys.executable).replace("{fixtures}",
                                                                      str(FIXTURES))
    figures = []
    with fake_path({"kubectl": body}):
        for _ in range(runs):
            t0 = time.time() + random.uniform(1.0, 1.0 + verify.POLL_SECONDS)
            os.environ["BENCH_T0"] = str(t0)
            watch = verify.watch_rollout(Kubectl(Context(), "minikube", "todo", 120.0),
                                         Settings())
            verdict = time.time()
            assert [f.cause for f in watch.findings] == [Cause.CRASH_LOOP], watch
            figures.append(verdict - t0)
    return figures


# -- no-op inv up -------------------------------------------------------------------------------


class TimedContext(Context):
    """Counts the time spent inside tools (every proc.run goes through c.run)."""

    tool_seconds = 0.0
    calls = 0

    def run(self, command: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return super().run(command, **kwargs)
        finally:
            TimedContext.tool_seconds += time.perf_counter() - started
            TimedContext.calls += 1


def noop_rules(images: list[Any], secret: str, description: str, node_port: int,
               engine: str) -> list[dict[str, Any]]:
    """The node is this host (``minikube ip`` 127.0.0.1) and the frontend's nodePort is
    ``node_port``, a real server there: verify's NodePort check opens it. The cluster holds
    what the previous ``inv up`` left: ``secret`` (``kubectl get secret -o json``) and a
    release whose latest revision is deployed with ``description``."""
    running = json.dumps({"Name": "minikube", "Host": "Running", "Kubelet": "Running",
                          "APIServer": "Running", "Kubeconfig": "Configured"})
    profiles = json.dumps({"invalid": [], "valid": [{"Name": "minikube", "Config": {
        "Driver": "docker", "CPUs": 4, "Memory": 8192,
        "KubernetesConfig": {"ContainerRuntime": "docker"}, "Nodes": [{}]}}]})
    workloads = (FIXTURES / "workloads-complete.json").read_text()

    def rule(tool: str, match: str, stdout: str = "", code: int = 0) -> dict[str, Any]:
        return {"tool": tool, "match": match, "stdout": stdout, "code": code}

    from tests.fakes.canned import EMPTY_LIST, UNCONTENDED_CLUSTER

    helm_status = json.dumps({"name": "todo-app", "namespace": "todo", "version": 3,
                              "info": {"status": "deployed"}})
    return [
        rule("minikube", r"status -o json", running),
        rule("minikube", r"^version", "v1.35.0\n"),
        rule("minikube", r"profile list", profiles),
        rule("minikube", r"docker-env", f"DOCKER_TLS_VERIFY=0\nDOCKER_HOST={engine}\n"),
        rule("minikube", r" ip$", "127.0.0.1\n"),
        rule("kubectl", r"^version --client", '{"clientVersion": {"gitVersion": "v1.31.0"}}'),
        rule("kubectl", r"^config current-context", "minikube\n"),
        # the run lock, uncontended (a Lease created, then deleted); no other Service
        # holds the chart's nodePort
        *(rule(tool, match, stdout) for tool, match, stdout in UNCONTENDED_CLUSTER),
        rule("kubectl", r"^apply --server-side",
             "namespace/todo serverside-applied\nsecret/todo-secrets serverside-applied\n"),
        rule("kubectl", r"^get secret", secret),
        rule("kubectl", r"^get deployments,replicasets,pods", workloads),
        rule("kubectl", r"^get --raw .*/api/backend/", "[]"),
        rule("kubectl", r"^get --raw ", '{"status":"healthy"}'),
        rule("kubectl", r"^get service todo-frontend", str(node_port)),
        # while helm waits: no new pod failing; nothing of the chart outside the release
        rule("kubectl", r"^get pods ", EMPTY_LIST),
        rule("kubectl", r"^get events ", EMPTY_LIST),
        rule("kubectl", r"--ignore-not-found", EMPTY_LIST),
        rule("helm", r"^version", "v3.17.3"),
        rule("helm", r"^status", helm_status),
        # what helm 3.17.3 printed for the chart's test on the live cluster (revision 1)
        rule("helm", r"^test ", (HELM_FIXTURES / "test-pass-helm3.stdout").read_text()),
        rule("helm", r"^history", json.dumps([{
            "revision": 1, "updated": "2026-11-29T10:00:00Z", "status": "deployed",
            "chart": "todo-app-1.1.0", "app_version": "1.0.0", "description": description}])),
        rule("helm", r"", ""),
    ]


def noop_up(runs: int) -> tuple[list[float], list[float], list[int], dict[str, int]]:
    from tests.conftest import FakeTools, serve_health
    from tests.fakes import fake_docker_engine
    from tests.fakes.canned import secret_json
    from todo_deploy import deploy, envfile, images, pipeline, secrets
    from todo_deploy.console import Console
    from todo_deploy.session import Session

    tmp = Path(tempfile.mkdtemp(prefix="bench-up-"))
    node = ExitStack()  # closed in the finally below
    node_port = node.enter_context(serve_health()).port
    try:
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        fakes = FakeTools(bin_dir, tmp / "calls.jsonl", tmp / "rules.json")
        fakes.install("minikube", "kubectl", "helm")
        env_file = tmp / ".env"
        env_file.write_text("DATABASE_URL=postgresql://app:pw-123456789@db.example.com:5432/"
                            "todo?sslmode=require\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET="
                            + "b" * 40 + "\n")
        config: dict[str, Any] = {}
        defaults = Settings.from_config(None)
        if not all(i.dockerfile.is_file() for i in defaults.images.values()):
            # a source tree without both Dockerfiles yet: hash tiny stand-in contexts instead
            config["images"] = {}
            for component in ("backend", "frontend"):
                src = tmp / "src" / component
                src.mkdir(parents=True)
                (src / "main.txt").write_text(component)
                dockerfile = tmp / "docker" / component / "Dockerfile"
                dockerfile.parent.mkdir(parents=True)
                dockerfile.write_text("FROM scratch\nCOPY . /app\n")
                config["images"][component] = {"context": str(src),
                                               "dockerfile": str(dockerfile)}
            print("  (docker/*/Dockerfile missing: digests computed over stand-in contexts)")
        settings = Settings.from_config(config, env_file=str(env_file),
                                        state_dir=str(tmp / "state"))
        plan = secrets.plan(envfile.load(settings))
        values = deploy.chart_values(images.current_images(settings),
                                     secrets.ClusterSecret(plan.digest.value, False), settings)
        description = deploy.release_description(deploy.release_fingerprint(settings.chart,
                                                                             values))
        # the Docker engine doctor checks (#11.10): a fake on 127.0.0.1, never a node address
        engine = node.enter_context(fake_docker_engine.serving())
        fakes.rules_file.write_text(json.dumps(noop_rules(
            [], secret_json(plan.digest.value, False, plan.data()), description, node_port,
            engine)))
        os.environ.update(FAKE_TOOLS_LOG=str(fakes.log), FAKE_TOOLS_RULES=str(fakes.rules_file),
                          PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                          XDG_CACHE_HOME=str(tmp / "cache"))  # tool versions: this bench's own

        class PresentBuilder:
            """The docker side, stubbed: every image already exists (a no-op build)."""

            where = "stub daemon"

            def inspect(self, ref: str) -> Any:
                return images.ImageInfo("sha256:" + "0" * 64, 100_000_000)

            def build(self, *args: Any, **kwargs: Any) -> None:
                raise AssertionError("a no-op up must not build")

            def tag_latest(self, ctx: Any) -> None:
                return None

            def tags(self, repository: str) -> list[Any]:
                return []  # no older digest tags to prune

            def close(self) -> None:
                return None

        @contextmanager
        def open_builder(s: Any) -> Iterator[Any]:
            yield PresentBuilder()

        images.target.open_builder = open_builder  # type: ignore[assignment]
        walls, overheads = [], []
        calls: list[int] = []
        for _ in range(runs):
            fakes.log.unlink(missing_ok=True)
            TimedContext.tool_seconds, TimedContext.calls = 0.0, 0
            s = Session(TimedContext(), settings, Console(no_color=True, file=io.StringIO(),
                                                          err_file=io.StringIO()))
            started = time.perf_counter()
            pipeline.run_up(s)
            wall = time.perf_counter() - started
            walls.append(wall)
            overheads.append(wall - TimedContext.tool_seconds)
            calls.append(TimedContext.calls)
        kinds: dict[str, int] = {}
        for call in fakes.calls():  # the last run's calls, e.g. "minikube status"
            words = [w for w in call["argv"] if not w.startswith("-") and w != "minikube"]
            key = " ".join([call["tool"], *words[:1]])
            kinds[key] = kinds.get(key, 0) + 1
        return walls, overheads, calls, kinds
    finally:
        node.close()
        shutil.rmtree(tmp, ignore_errors=True)


def cli_startup(runs: int) -> list[float]:
    inv = Path(sys.executable).parent / "inv"
    figures = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(inv), "--list"], cwd=ROOT, capture_output=True, check=True)
        figures.append(time.perf_counter() - started)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    crash = crash_verdict(args.runs)
    print(f"crash-loop verdict (first failure → verify's verdict), poll "
          f"{verify.POLL_SECONDS:.1f}s, {args.runs} runs:")
    print(f"  median {statistics.median(crash):.2f}s  max {max(crash):.2f}s  "
          f"(target ≤ 20 s: {'met' if max(crash) <= 20 else 'MISSED'})")

    import importlib.util

    if importlib.util.find_spec("todo_deploy.deploy") is None:
        print("no-op inv up: not measured (todo_deploy/deploy.py, issue 5, is not there yet)")
        return 0
    walls, overheads, calls, kinds = noop_up(args.runs)
    tools = [w - o for w, o in zip(walls, overheads, strict=True)]
    print(f"no-op inv up with recording fakes, {args.runs} runs; tool calls per run "
          f"{' '.join(map(str, calls))} (the first also asks the tools' versions, renders the "
          f"chart for doctor's fit check and runs helm test: each answer is kept); "
          f"steady state {calls[-1]} (target ≤ 12: {'met' if calls[-1] <= 12 else 'MISSED'})")
    print(f"  wall median {statistics.median(walls):.2f}s, tools' own time median "
          f"{statistics.median(tools):.2f}s, suite overhead median "
          f"{statistics.median(overheads):.3f}s max {max(overheads):.3f}s "
          f"(target ≤ 1 s: {'met' if max(overheads) <= 1 else 'MISSED'}); "
          f"overhead/wall {statistics.median(overheads) / statistics.median(walls):.1%}")
    print("  tool calls per no-op up: " + ", ".join(
        f"{k} ×{n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])))
    startup = cli_startup(args.runs)
    print(f"  plus CLI start-up (inv --list): median {statistics.median(startup):.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
