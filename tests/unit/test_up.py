"""`inv up`: the plan, minikube start, the chain's order and its idempotence.

minikube, helm-with-a-cluster and the API server cannot run here: the chain runs the real
stage modules against the recording fakes (tests/fakes/fake_tool.py) on PATH, which replay
the real tools' output shapes, and the docker side is stubbed at the images module boundary
(a builder that records builds and knows which tags exist), since dockerd is not the point.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from invoke import MockContext, Result
from invoke.context import Context

from tests.conftest import FakeTools, HealthServer, real_render
from tests.fakes import fake_docker_engine
from tests.fakes.canned import (
    EMPTY_LIST,
    FIXTURES,
    MINIKUBE_STARTED,
    PROFILES,
    RELEASE_NOT_FOUND,
    RUNNING,
    STOPPED,
    secret_json,
    upgraded,
)
from todo_deploy import chart, deploy, envfile, images, pipeline, secrets
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.errors import StageFailed
from todo_deploy.session import Session


def test_plan_runs_every_stage_in_order_by_default() -> None:
    assert pipeline.plan(pipeline.UpOptions()) == [
        ("doctor", True), ("minikube", True), ("build", True), ("secrets", True),
        ("deploy", True), ("verify", True), ("url", True)]


def test_each_skip_flag_skips_exactly_its_stage() -> None:
    stages = [f.name.removeprefix("skip_") for f in fields(pipeline.UpOptions)
              if f.name.startswith("skip_") and f.name != "skip_helm_test"]
    assert stages == ["build", "secrets", "deploy", "verify"]
    for stage in stages:
        options = pipeline.UpOptions(**{f"skip_{stage}": True})
        assert [name for name, runs in pipeline.plan(options) if not runs] == [stage]


def session(c: Context, **overrides: Any) -> tuple[Session, io.StringIO]:
    out = io.StringIO()
    return Session(c, Settings.from_config(None, **overrides),
                   Console(no_color=True, file=out, err_file=out)), out


def test_minikube_stage_starts_a_stopped_profile_with_the_configured_size() -> None:
    started: list[str] = []

    class Recording(MockContext):
        def run(self, command: str, *args: object, **kwargs: object) -> Result:
            started.append(command)
            return super().run(command, *args, **kwargs)

    c = Recording(run={
        "minikube -p minikube status -o json": [Result(STOPPED, exited=7), Result(RUNNING)],
        "minikube -p minikube start --cpus=4 --memory=6144": Result("🏄  Done!\n"),
        "kubectl config current-context": Result("minikube\n"),
    })
    s, _ = session(c, cpus=4, memory=6144)
    assert pipeline.RUNNERS["minikube"](s) == "started profile minikube (4 CPUs, 6144 MiB)"
    assert "minikube -p minikube start --cpus=4 --memory=6144" in started


def test_minikube_stage_leaves_a_running_profile_alone() -> None:
    c = MockContext(run={"minikube -p minikube status -o json": Result(RUNNING)})
    s, _ = session(c)
    assert pipeline.RUNNERS["minikube"](s) == "profile minikube already running"


# -- the chain with recording fakes -----------------------------------------------------------


class StubBuilder:
    """The docker side: remembers which tags exist; records what it builds."""

    where = "stub daemon"

    def __init__(self, present: set[str], built: list[str]):
        self.present, self.built = present, built

    def inspect(self, ref: str) -> images.ImageInfo | None:
        return images.ImageInfo("sha256:" + "1" * 64, 1000) if ref in self.present else None

    def build(self, ctx: Any, **kwargs: Any) -> None:
        self.built.append(ctx.ref.ref)
        self.present.add(ctx.ref.ref)

    def tag_latest(self, ctx: Any) -> None:
        self.present.add(f"{ctx.repository}:latest")

    def tags(self, repository: str) -> list[images.TagInfo]:
        return []  # tells no image's age, as `minikube image ls`: nothing to prune

    def remove(self, ref: str) -> str | None:
        raise AssertionError(f"nothing may be removed here, not {ref}")

    def close(self) -> None:
        return None


@pytest.fixture
def chain(fake_tools: FakeTools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          nodeport: HealthServer) -> Iterator[tuple[FakeTools, list[str], Settings]]:
    """The node is this host: ``minikube ip`` says 127.0.0.1 and the frontend's nodePort is
    ``nodeport``'s, a real server that answers verify's GET /api/health."""
    present: set[str] = set()
    built: list[str] = []

    @contextmanager
    def open_builder(s: Session) -> Iterator[StubBuilder]:
        yield StubBuilder(present, built)

    monkeypatch.setattr(images.target, "open_builder", open_builder)
    env = tmp_path / ".env"
    env.write_text("DATABASE_URL=postgresql://todo:pw-0123456789@db.example.com:5432/todo\n"
                   "COHERE_API_KEY=\nBETTER_AUTH_SECRET=" + "s" * 48 + "\n")
    config: dict[str, Any] = {"images": {}}
    for component in ("backend", "frontend"):  # tiny sources: the digest is what matters here
        src = tmp_path / "src" / component
        src.mkdir(parents=True)
        (src / "main.txt").write_text(f"{component} v1\n")
        dockerfile = tmp_path / "docker" / component / "Dockerfile"
        dockerfile.parent.mkdir(parents=True)
        dockerfile.write_text("ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n"
                              "COPY . /app\n")
        config["images"][component] = {"context": str(src), "dockerfile": str(dockerfile)}
    settings = Settings.from_config(config, env_file=str(env), state_dir=str(tmp_path / "state"))
    digest = secrets.plan(envfile.load(settings)).digest.value
    f = fake_tools
    # the Secret as an earlier inv secrets left it (another digest: this run applies its own)
    f.rule("kubectl", r"^get secret ", stdout=secret_json("0" * 64, False), fallback=True)
    f.rule("minikube", r"status -o json", stdout=STOPPED, code=7, times=2)
    f.rule("minikube", r"status -o json", stdout=RUNNING)
    f.rule("minikube", r"^version", stdout="v1.35.0\n")
    f.rule("minikube", r"profile list", stdout=PROFILES)
    f.rule("minikube", r" ip$", stdout="127.0.0.1\n")
    f.rule("kubectl", r"^version --client", stdout='{"clientVersion": {"gitVersion": "v1.31"}}')
    f.rule("kubectl", r"^config current-context", stdout="minikube\n")
    f.rule("kubectl", r"^apply --server-side",
           stdout="namespace/todo serverside-applied\nsecret/todo-secrets serverside-applied\n")
    f.rule("kubectl", r"^get deployments,replicasets,pods",
           stdout=(FIXTURES / "workloads-complete.json").read_text())
    f.rule("kubectl", r"^get --raw .*/api/backend/", stdout="[]")
    f.rule("kubectl", r"^get --raw ", stdout='{"status":"healthy"}')
    f.rule("kubectl", r"^get service todo-frontend", stdout=str(nodeport.port))
    f.rule("helm", r"^version", stdout="v3.17.3")
    f.rule("minikube", r"-p minikube start ", stdout=MINIKUBE_STARTED)
    # the usual answers, which a test may replace by setting its own rule
    f.rule("helm", r"^history", stderr=RELEASE_NOT_FOUND, code=1, fallback=True)
    f.rule("helm", r"^upgrade --install", stdout=upgraded(1), fallback=True)
    f.rule("kubectl", r"^get pods -n todo -l app=todo-app -o json", stdout=EMPTY_LIST,
           fallback=True)
    f.rule("kubectl", r"^get events", stdout=EMPTY_LIST, fallback=True)
    # deploy's adoption check: the REAL render, and none of its objects outside the release
    values = deploy.chart_values(images.current_images(settings),
                                 secrets.ClusterSecret(digest, False), settings)
    f.rule("helm", r"^template ", fallback=True,
           stdout=real_render(chart.template_argv(settings, values), 3))
    f.rule("kubectl", r"^get .* --ignore-not-found( --context \S+)?$", stdout=EMPTY_LIST,
           fallback=True)
    passed = Path(__file__).resolve().parent.parent / "fixtures" / "helm" / "test-pass-helm3"
    f.rule("helm", r"^test todo-app ", stdout=passed.with_suffix(".stdout").read_text())
    with fake_docker_engine.serving() as engine:  # the engine doctor checks (issue 11 #10)
        f.rule("minikube", r"docker-env --shell none",
               stdout=f"DOCKER_TLS_VERIFY=0\nDOCKER_HOST={engine}\n")
        yield f, built, settings


def stage_marks(f: FakeTools) -> list[str]:
    """Which stage each recorded call belongs to, in order (consecutive repeats merged)."""
    marks: list[str] = []
    for call in f.calls():
        argv, tool = call["argv"], call["tool"]
        joined = " ".join(argv)
        if tool == "minikube" and "start" in argv:
            mark = "minikube start"
        elif tool == "kubectl" and argv[:1] == ["apply"]:
            mark = "secrets apply"
        elif tool == "helm" and ("upgrade" in argv or "install" in argv):
            mark = "helm upgrade"
        elif tool == "kubectl" and joined.startswith("get deployments,replicasets,pods"):
            mark = "verify rollout"
        elif tool == "kubectl" and joined.startswith("get --raw"):
            mark = "verify http"
        elif tool == "minikube" and argv[-1:] == ["ip"]:
            mark = "node ip"  # verify's NodePort check (up's URL stage reuses its answer)
        elif tool == "helm" and argv[:1] == ["test"]:
            mark = "helm test"
        else:
            continue
        if not marks or marks[-1] != mark:
            marks.append(mark)
    return marks



def up(settings: Settings, **options: bool) -> str:
    out = io.StringIO()
    s = Session(Context(), settings, Console(no_color=True, file=out, err_file=out))
    pipeline.run_up(s, pipeline.UpOptions(**options))
    return out.getvalue()


def helm_installs(calls: list[dict[str, Any]]) -> list[list[str]]:
    return [c["argv"] for c in calls
            if c["tool"] == "helm" and ("upgrade" in c["argv"] or "install" in c["argv"])]


def test_up_runs_doctor_minikube_build_secrets_deploy_verify_url_in_order(
        chain: tuple[FakeTools, list[str], Settings], nodeport: HealthServer) -> None:
    f, built, settings = chain
    port = nodeport.port
    output = up(settings)
    assert stage_marks(f) == ["minikube start", "secrets apply", "helm upgrade",
                              "verify rollout", "verify http", "node ip", "helm test"]
    assert sorted(r.split(":")[0] for r in built) == ["todo-backend", "todo-frontend"]
    assert "7 of 7 checks passed" in output
    assert f"Todo app is up and verified: open http://127.0.0.1:{port}" in output


def test_second_up_with_nothing_changed_builds_nothing_and_restarts_no_pod(
        chain: tuple[FakeTools, list[str], Settings]) -> None:
    f, built, settings = chain
    up(settings)
    first = f.calls()
    built_first = list(built)
    output = up(settings)
    second = f.calls()[len(first):]
    assert built == built_first  # nothing rebuilt
    assert "nothing to build" in output
    # identical values (digest tags + secret digest) → identical pod template → no new pods
    assert helm_installs(second) in ([], helm_installs(first))
    applies = [c["stdin"] for c in f.calls("kubectl") if c["argv"][:1] == ["apply"]]
    assert len(applies) == 2 and applies[0] == applies[1]  # the same Secret, byte for byte
    assert not any("restart" in c["argv"] or c["argv"][:2] == ["delete", "pod"] for c in second)
    assert not any(c["tool"] == "minikube" and "start" in c["argv"] for c in second)


def test_a_no_op_up_asks_each_tool_each_question_once_and_changes_nothing(
        chain: tuple[FakeTools, list[str], Settings]) -> None:
    """#11.16: the cluster as the first up left it (the same Secret, the release's revision
    described with what it installed, helm test passed on it) → the second up reads, once
    per question, and writes nothing."""
    f, _, settings = chain
    up(settings)
    plan = secrets.plan(envfile.load(settings), generate=False)
    values = deploy.chart_values(images.current_images(settings),
                                 secrets.ClusterSecret(plan.digest.value, False), settings)
    described = deploy.release_description(deploy.release_fingerprint(settings.chart, values))
    f.rule("kubectl", r"^get secret ", stdout=secret_json(plan.digest.value, False, plan.data()))
    f.rule("helm", r"^history", stdout=json.dumps([{  # helm test's fixture ran on revision 1
        "revision": 1, "updated": "2026-11-29T10:00:00Z", "status": "deployed",
        "chart": "todo-app-1.1.0", "app_version": "1.0.0", "description": described}]))
    first = len(f.calls())
    output = up(settings)
    second = [(c["tool"], tuple(c["argv"])) for c in f.calls()[first:]]
    assert len(second) == len(set(second)), [c for c in second if second.count(c) > 1]
    words = [" ".join([tool, *[a for a in argv if not a.startswith("-")][:2]])
             for tool, argv in second]
    for write in ("kubectl apply", "helm upgrade", "helm template", "helm test",
                  "minikube start"):
        assert not any(w.startswith(write) for w in words), (write, words)
    assert not any("version" in w for w in words)  # asked by the first up, kept per binary
    # the run lock costs two calls, a create and a delete of its Lease (no renewal yet)
    lease = [argv[:2] for tool, argv in second if tool == "kubectl" and argv[0] in
             ("create", "delete")]
    assert lease == [("create", "-f"), ("delete", "--raw")], words
    assert len(second) <= 12 + len(lease), words
    assert "nothing to upgrade" in output and "unchanged" in output


def test_chained_tasks_build_secrets_deploy_verify_do_what_up_does(
        chain: tuple[FakeTools, list[str], Settings], tmp_path: Path) -> None:
    """`inv build secrets deploy verify` calls the same stage entry points as `inv up`."""
    from invoke.config import Config

    import tasks

    f, built, settings = chain
    up(settings)
    marks_up = [m for m in stage_marks(f) if m != "minikube start"]
    f.log.unlink()
    built.clear()
    config = {"env_file": str(settings.env_file), "state_dir": str(tmp_path / "state2"),
              "images": {c: {"context": str(i.context), "dockerfile": str(i.dockerfile)}
                         for c, i in settings.images.items()}}
    for name in ("build", "secrets", "deploy", "verify"):
        getattr(tasks, name)(Context(config=Config(overrides={"todo": config})))
    assert stage_marks(f) == marks_up


def test_numeric_flags_arrive_as_strings_from_the_cli_and_become_numbers() -> None:
    settings = Settings().override(cpus="4", memory="6144", verify_timeout="600")
    assert (settings.cpus, settings.memory, settings.verify_timeout) == (4, 6144, 600.0)


def test_a_non_numeric_cpus_flag_is_a_config_error() -> None:
    from todo_deploy.errors import ConfigError

    with pytest.raises(ConfigError):
        Settings().override(cpus="four")


def test_a_failing_stage_leaves_the_table_of_what_ran_then_its_own_error(
        chain: tuple[FakeTools, list[str], Settings]) -> None:
    f, _, settings = chain
    f.rule("helm", r"^upgrade --install", code=1,
           stderr="Error: UPGRADE FAILED: chart is broken\n")
    out = io.StringIO()
    s = Session(Context(), settings, Console(no_color=True, file=out, err_file=out))
    with pytest.raises(StageFailed) as failed:
        pipeline.run_up(s)
    text = out.getvalue()
    table = text[text.index("inv up"):]
    rows = {line.split("│")[1].strip(): line for line in table.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()}
    assert "s" in rows["build"] and "FAILED" not in rows["build"]  # ran, with its time
    assert "FAILED: deploy failed before Helm changed anything" in rows["deploy"]
    assert "not run" in rows["verify"] and "not run" in rows["url"]
    assert failed.value.message.startswith("deploy failed before Helm changed anything")


# -- one kube-context for the whole run ----------------------------------------------------------

# ask kubectl/helm, not a cluster (helm template renders locally)
CONTEXT_FREE = (["config", "current-context"], ["version"], ["template"])


def test_every_cluster_call_of_every_stage_carries_the_first_context_even_when_another_appears(
        chain: tuple[FakeTools, list[str], Settings]) -> None:
    """`inv up` walks every stage (minikube start, build, secrets, deploy, verify, url): each
    kubectl call carries ``--context minikube`` and each helm call ``--kube-context
    minikube``, although the current context switches to another cluster after the first
    answer (another terminal running ``kubectl config use-context prod``)."""
    f, _, settings = chain
    f.rules[:0] = [{"tool": "kubectl", "match": "^config current-context", "stdout": "minikube\n",
                    "times": 1},
                   {"tool": "kubectl", "match": "^config current-context", "stdout": "prod\n"}]
    f.save()
    output = up(settings)
    calls = [c for c in f.calls() if c["tool"] in ("kubectl", "helm")]
    asked = [c for c in calls if c["argv"][:2] == ["config", "current-context"]]
    assert len(asked) == 1
    to_cluster = [c for c in calls
                  if not any(c["argv"][:len(p)] == p for p in CONTEXT_FREE)]
    assert {c["tool"] for c in to_cluster} == {"kubectl", "helm"}
    firsts = {(c["tool"], c["argv"][0]) for c in to_cluster}  # the stages really ran
    assert {("kubectl", "apply"), ("kubectl", "get"), ("helm", "upgrade"),
            ("helm", "history")} <= firsts
    for call in to_cluster:
        flag = "--context" if call["tool"] == "kubectl" else "--kube-context"
        argv = call["argv"]
        assert argv.count(flag) == 1 and argv[argv.index(flag) + 1] == "minikube", argv
        assert "prod" not in argv
    # and every stage's header names it
    assert output.count("[context minikube, target minikube]") == 7
