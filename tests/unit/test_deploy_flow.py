"""`inv deploy` end to end against recording fakes of minikube, kubectl and helm.

No minikube and no API server can run here, so the fakes (tests/fakes/fake_tool.py) replay
what the real tools print: ``helm version --template`` of helm 3.17.3 / 4.1.4, helm's
``history``/``upgrade -o json`` JSON and error lines, kubectl 1.31's pod/event JSON
(tests/fixtures/kubectl), minikube 1.35's status JSON and its containerd ``docker-env`` refusal
with ``image ls`` listing. Everything else is the suite's real code: doctor checks, image
digests (real files in a temporary context), the Secret lookup, the diagnosis and the console.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from invoke import Context
from invoke.exceptions import Exit

import tasks
from tests.conftest import FakeTools, real_render
from tests.fakes.canned import (
    CRASH_LOG,
    DOCKER_ENV_REFUSAL,
    EMPTY_LIST,
    FIXTURES,
    HELM_VERSIONS,
    RELEASE_NOT_FOUND,
    ROLLBACK_OK,
    RUNNING,
    SECRET_NOT_FOUND,
    SERVICES_ALL,
    SERVICES_LIST,
    history,
    profiles,
    secret_json,
    upgraded,
)
from todo_deploy import access, chart, deploy, images, secrets, verify
from todo_deploy.config import ROOT, ImageConfig, Settings
from todo_deploy.console import Console
from todo_deploy.errors import ConfigError, ExitCode, PrereqError, StageFailed
from todo_deploy.session import Session

DIGEST = "5b2e" * 16
CONTAINERD_PROFILE = profiles(runtime="containerd")


def settings_in(tmp_path: Path) -> Settings:
    """Real image contexts (tiny) so the digest tags are computed, not invented."""
    image_configs = {}
    for component in ("backend", "frontend"):
        context = tmp_path / component
        context.mkdir()
        (context / "app.txt").write_text(f"{component} source\n")
        dockerfile = tmp_path / f"{component}.Dockerfile"
        dockerfile.write_text("ARG BASE_IMAGE=scratch\nFROM ${BASE_IMAGE}\nCOPY app.txt /\n")
        image_configs[component] = ImageConfig(component, f"todo-{component}", context,
                                               dockerfile)
    return Settings(images=image_configs, state_dir=tmp_path / "state",
                    chart=ROOT / "helm" / "todo-app", deploy_timeout=120)


def session(settings: Settings) -> tuple[Session, io.StringIO]:
    out = io.StringIO()
    return Session(Context(), settings, Console(no_color=True, file=out, err_file=out)), out


def cluster_up(f: FakeTools, settings: Settings, major: int, *, built: bool = True,
               secret: bool = True) -> list[images.ImageRef]:
    refs = images.current_images(settings)
    f.rule("minikube", r"^version", stdout="v1.35.0\n")
    f.rule("minikube", r"status -o json", stdout=RUNNING)
    f.rule("minikube", r"docker-env", stderr=DOCKER_ENV_REFUSAL, code=14)
    f.rule("minikube", r"^profile list", stdout=CONTAINERD_PROFILE)
    listed = [f"docker.io/library/{r.ref}" for r in refs] if built else []
    f.rule("minikube", r"image ls", stdout="\n".join(
        ["registry.k8s.io/pause:3.10", *listed]) + "\n")
    f.rule("kubectl", r"^version --client", stdout='{"clientVersion": {"gitVersion": "v1.31.0"}}')
    f.rule("kubectl", r"^config current-context", stdout="minikube\n")
    if secret:
        f.rule("kubectl", r"^get secret todo-secrets", stdout=secret_json(DIGEST, True))
    else:
        f.rule("kubectl", r"^get secret todo-secrets", code=1, stderr=SECRET_NOT_FOUND)
    f.rule("helm", r"^version --template", stdout=HELM_VERSIONS[major])
    # the adoption check before the upgrade: the REAL render, and a namespace with none of
    # its objects outside the release
    values = deploy.chart_values(
        refs, secrets.ClusterSecret(DIGEST, True) if secret else None, settings)
    f.rule("helm", r"^template ", fallback=True,
           stdout=real_render(deploy.chart.template_argv(settings, values), major))
    f.rule("kubectl", r"^get .* --ignore-not-found( --context \S+)?$", stdout=EMPTY_LIST,
           fallback=True)
    # the embedded PostgreSQL's StatefulSet as this chart made it (no migration to do)
    f.rule("kubectl", r"^get statefulset todo-postgres .*serviceName",
           stdout="todo-postgres-headless", fallback=True)
    # while helm waits, the suite watches for new pods: none failing unless a test says so
    f.rule("kubectl", r"^get pods -n todo -l app=todo-app -o json", stdout=EMPTY_LIST,
           fallback=True)
    f.rule("kubectl", r"^get events", stdout=EMPTY_LIST, fallback=True)
    return refs


def upgrades(f: FakeTools) -> list[list[str]]:
    return [argv for argv in f.argvs("helm") if argv[:2] == ["upgrade", "--install"]]


@pytest.mark.parametrize("major", [3, 4])
def test_deploy_runs_the_majors_upgrade_with_built_tags_and_the_secret_digest(
        fake_tools: FakeTools, tmp_path: Path, major: int) -> None:
    settings = settings_in(tmp_path)
    refs = cluster_up(fake_tools, settings, major)
    fake_tools.rule("helm", r"^history", stdout=history((1, "superseded"), (2, "deployed")))
    fake_tools.rule("helm", r"^upgrade --install", stdout=upgraded(3))
    s, out = session(settings)

    release = deploy.run_deploy(s, force=True)

    assert release == deploy.Release("todo-app", "todo", 3, "deployed")
    tags = {r.component: r.tag for r in refs}
    values = deploy.ChartValues("todo-backend", tags["backend"], "todo-frontend",
                                tags["frontend"], DIGEST, True)
    plan = deploy.DeployPlan("todo-app", "todo", settings.chart, values, 120, force=True,
                             description=deploy.release_description(
                                 deploy.release_fingerprint(settings.chart, values)))
    assert upgrades(fake_tools) == [[*deploy.upgrade_args(plan, major),
                                     "--kube-context", "minikube"]]
    assert ("--force-replace" if major == 4 else "--force") in upgrades(fake_tools)[0]
    text = out.getvalue()
    assert (f"Helm {major}: release todo-app in namespace todo, context minikube; images "
            f"todo-backend:{tags['backend']}, todo-frontend:{tags['frontend']}; secret digest "
            f"{DIGEST[:12]}; embedded PostgreSQL on") in " ".join(text.split())
    assert "… helm upgrade --install todo-app (waiting up to 120s for ready pods)\n" in text
    assert "✓ release todo-app revision 3 deployed in namespace todo\n" in text
    assert "\n  Reach the app:\n    http://$(minikube ip):30080\n" in text  # helm's notes


def test_a_deploy_without_the_embedded_database_says_so(fake_tools: FakeTools,
                                                        tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    fake_tools.rule("kubectl", r"^get secret todo-secrets", stdout=secret_json(DIGEST, False))
    cluster_up(fake_tools, settings, 3)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")))
    fake_tools.rule("helm", r"^upgrade --install", stdout=upgraded(2))
    s, out = session(settings)
    deploy.run_deploy(s)
    assert "; embedded PostgreSQL off\n" in out.getvalue()
    assert "postgresql.enabled=false" in " ".join(upgrades(fake_tools)[0])


def test_what_an_upgrade_can_change_is_forgotten_by_the_run_and_its_result_read_anyway(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    """After an upgrade the app's URL (its nodePort) is asked again, an "unchanged" mark from
    an earlier deploy in the same run is dropped; helm output that is not JSON still gives
    the release it upgraded (the revision after the last)."""
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 3)
    fake_tools.rule("helm", r"^history", stdout=history((1, "superseded"), (4, "deployed")))
    fake_tools.rule("helm", r"^upgrade --install", stdout="Release upgraded.\n")
    s, _ = session(settings)
    s.store(access.URL_KEY, "http://192.168.49.2:30080")
    s.store(verify.RELEASE_UNCHANGED, 4)

    release = deploy.run_deploy(s)

    assert release == deploy.Release("todo-app", "todo", 5, "deployed")
    assert s.recall(access.URL_KEY) is None
    assert s.recall(verify.RELEASE_UNCHANGED) is None


# -- a release that already runs exactly this is not upgraded again (#11.16) ----------------


def deployed_description(settings: Settings, refs: list[images.ImageRef]) -> str:
    """The description the previous ``inv deploy`` of the same content gave its revision."""
    values = deploy.chart_values(refs, secrets.ClusterSecret(DIGEST, True), settings)
    return deploy.release_description(deploy.release_fingerprint(settings.chart, values))


def history_described(*rows: tuple[int, str, str]) -> str:
    """helm history -o json whose revisions carry a description (helm's own field)."""
    return json.dumps([{"revision": n, "updated": "2026-11-29T10:00:00Z", "status": status,
                        "chart": "todo-app-1.1.0", "app_version": "1.0.0",
                        "description": description} for n, status, description in rows])


def test_a_release_that_already_runs_this_content_is_left_alone(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    refs = cluster_up(fake_tools, settings, 4)
    same = deployed_description(settings, refs)
    fake_tools.rule("helm", r"^history", stdout=history_described(
        (1, "superseded", "Install complete"), (2, "deployed", same)))
    s, out = session(settings)

    release = deploy.run_deploy(s)

    assert release == deploy.Release("todo-app", "todo", 2, "deployed")
    assert upgrades(fake_tools) == []
    helm_calls = [c["argv"][0] for c in fake_tools.calls() if c["tool"] == "helm"]
    assert helm_calls == ["version", "history"]  # no template, no upgrade
    assert [a[1] for a in fake_tools.argvs("helm") if a[0] == "history"] == ["todo-app"]
    tags = {r.component: r.tag for r in refs}
    assert (f"✓ release todo-app revision 2 in namespace todo, context minikube, already runs "
            f"this chart with images {tags['backend']}/{tags['frontend']} and secret digest "
            f"{DIGEST[:12]}: nothing to upgrade (inv deploy --redeploy upgrades anyway)"
            ) in " ".join(out.getvalue().split())


@pytest.mark.parametrize("latest", [
    (2, "deployed", "other content"),  # images, chart or values changed since
    (2, "failed", "same"),  # the same content failed: try again
    (3, "deployed", "Rollback to 1"),  # rolled back: the content is an older one
    (2, "pending-upgrade", "same"),
])
def test_a_release_whose_latest_revision_is_not_this_content_deployed_is_upgraded(
        fake_tools: FakeTools, tmp_path: Path, latest: tuple[int, str, str]) -> None:
    settings = settings_in(tmp_path)
    refs = cluster_up(fake_tools, settings, 3)
    same = deployed_description(settings, refs)
    number, status, description = latest
    fake_tools.rule("helm", r"^history", stdout=history_described(
        (1, "superseded", same), (number, status, same if description == "same" else description)))
    fake_tools.rule("helm", r"^upgrade --install", stdout=upgraded(number + 1))
    deploy.run_deploy(session(settings)[0])
    (argv,) = upgrades(fake_tools)
    assert argv[argv.index("--description") + 1] == same


def test_redeploy_upgrades_a_release_that_already_runs_this_content(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    refs = cluster_up(fake_tools, settings, 4)
    fake_tools.rule("helm", r"^history", stdout=history_described(
        (2, "deployed", deployed_description(settings, refs))))
    fake_tools.rule("helm", r"^upgrade --install", stdout=upgraded(3))
    release = deploy.run_deploy(session(settings)[0], redeploy=True)
    assert release.revision == 3 and len(upgrades(fake_tools)) == 1


def test_the_fingerprint_covers_chart_files_values_and_the_values_files_content(
        tmp_path: Path) -> None:
    chart_dir = tmp_path / "chart"
    (chart_dir / "templates").mkdir(parents=True)
    (chart_dir / "Chart.yaml").write_text("name: todo-app\nversion: 1.0.0\n")
    template = chart_dir / "templates" / "a.yaml"
    extra = tmp_path / "extra.yaml"
    values = deploy.ChartValues("b", "t1", "f", "t2", "d" * 64, False, values_file=str(extra))

    def fingerprint(template_text: str = "kind: Service\n", extra_text: str = "replicas: 1\n",
                    v: deploy.ChartValues = values) -> str:
        template.write_text(template_text)
        extra.write_text(extra_text)
        return deploy.release_fingerprint(chart_dir, v)

    base = fingerprint()
    assert fingerprint() == base  # the same content, the same fingerprint
    variants = {"template edited": fingerprint(template_text="kind: Service  # edited\n"),
                "values file edited": fingerprint(extra_text="replicas: 2\n"),
                "backend tag": fingerprint(v=replace(values, backend_tag="t9")),
                "secret digest": fingerprint(v=replace(values, secret_digest="e" * 64)),
                "embedded db": fingerprint(v=replace(values, embedded_db=True))}
    assert len({base, *variants.values()}) == 1 + len(variants), variants



def test_deploy_puts_no_secret_on_the_command_line(fake_tools: FakeTools,
                                                   tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 4)
    fake_tools.rule("helm", r"^history", stderr=RELEASE_NOT_FOUND, code=1)  # first install
    fake_tools.rule("helm", r"^upgrade --install", stdout=upgraded(1))
    deploy.run_deploy(session(settings)[0])
    (argv,) = upgrades(fake_tools)
    assert not any(key in arg for arg in argv for key in
                   ("databaseUrl", "cohereApiKey", "betterAuthSecret", "postgresPassword"))
    assert "--set" in argv and "secrets.create=false" in argv


def test_deploy_refuses_images_missing_from_the_daemon_with_the_build_hint(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    refs = cluster_up(fake_tools, settings, 3, built=False)
    with pytest.raises(PrereqError) as refused:
        deploy.run_deploy(session(settings)[0])
    assert refused.value.hint == "inv build   # builds exactly these digest tags"
    assert refused.value.message == ("image(s) not in the target daemon: "
                                     + ", ".join(r.ref for r in refs))
    assert upgrades(fake_tools) == []


def test_deploy_refuses_without_the_secret_and_says_inv_secrets(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 3, secret=False)
    with pytest.raises(PrereqError) as refused:
        deploy.run_deploy(session(settings)[0])
    assert refused.value.hint == "inv secrets   # creates it from .env"
    assert refused.value.message == ("Secret todo-secrets not found in namespace todo (or it "
                                     "has no digest annotation)")
    assert upgrades(fake_tools) == []


def crash_looping(f: FakeTools) -> None:
    f.rule("kubectl", r"^get pods -n todo -l app=todo-app",
           stdout=(FIXTURES / "pods-crashloop.json").read_text())
    f.rule("kubectl", r"^get events", stdout=(FIXTURES / "events-crashloop.json").read_text())
    # kubelet keeps the crashed run as the current container while it backs off: plain
    # `kubectl logs` shows that run, --previous the one before (each prints the same line)
    f.rule("kubectl", r"^logs ", stdout=CRASH_LOG)


@pytest.mark.parametrize("major", [3, 4])
def test_failed_upgrade_is_diagnosed_then_rolled_back_to_the_previous_revision(
        fake_tools: FakeTools, tmp_path: Path, major: int) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, major)
    fake_tools.rule("helm", r"^history", stdout=history((1, "superseded"), (2, "deployed")),
                    times=1)
    fake_tools.rule("helm", r"^history", stdout=history((1, "superseded"), (2, "deployed"),
                                                        (3, "failed")))
    fake_tools.rule("helm", r"^upgrade --install", code=1,
                    stderr="Error: UPGRADE FAILED: context deadline exceeded\n")
    fake_tools.rule("helm", r"^rollback", stdout=ROLLBACK_OK)
    crash_looping(fake_tools)
    s, out = session(settings)

    with pytest.raises(StageFailed) as failed:
        deploy.run_deploy(s)

    text = out.getvalue()
    assert "UPGRADE FAILED: context deadline exceeded" in text
    assert "backend: container backend keeps crashing" in text
    assert "missing required environment variable DATABASE_URL" in text
    assert ("! rolled back todo-app to revision 2; revision 3 stays in `helm history todo-app "
            "-n todo --kube-context minikube` as failed") in " ".join(text.split())
    assert failed.value.hint == (  # the diagnosis' own fix, not the generic one
        "read the log lines above; more: inv logs backend   (kubectl -n todo logs "
        "todo-backend-5c664d5bfc-m9v8t -c backend --previous --context minikube)")
    rollbacks = [a for a in fake_tools.argvs("helm") if a[0] == "rollback"]
    assert rollbacks == [[*deploy.rollback_args("todo-app", "todo", 2, 120),
                          "--kube-context", "minikube"]]
    assert failed.value.code == ExitCode.FAILED
    assert "revision 3" in failed.value.message


POSTGRES_SET = {"kind": "StatefulSet", "metadata": {"name": "todo-app-postgresql"},
                "status": {"updateRevision": "todo-app-postgresql-1"}}
STUCK_POD = {"kind": "Pod", "metadata": {
    "name": "todo-app-postgresql-0",
    "labels": {"controller-revision-hash": "todo-app-postgresql-2"},
    "ownerReferences": [{"kind": "StatefulSet", "name": "todo-app-postgresql"}]},
    "status": {"conditions": [{"type": "Ready", "status": "False"}]}}


def failed_upgrade_of_revision_2(f: FakeTools, settings: Settings, *,
                                 stderr: str = "Error: UPGRADE FAILED: x\n") -> None:
    cluster_up(f, settings, 3)
    f.rule("helm", r"^history", stdout=history((1, "deployed")), times=1)
    f.rule("helm", r"^history", stdout=history((1, "deployed"), (2, "failed")))
    f.rule("helm", r"^upgrade --install", code=1, stderr=stderr)


def test_a_rollback_deletes_the_database_pod_stuck_on_the_failed_revision_once(
        fake_tools: FakeTools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a StatefulSet never replaces a pod of the failed revision that is not Ready: while helm
    # rollback waits, the suite deletes it (once, though it looks several times), and says why
    monkeypatch.setattr(deploy, "WATCH_SECONDS", 0.3)
    settings = settings_in(tmp_path)
    failed_upgrade_of_revision_2(fake_tools, settings)
    fake_tools.rule("helm", r"^rollback", hang=1.5, stdout=ROLLBACK_OK)  # several looks
    fake_tools.rule("kubectl", r"^get statefulsets,pods -n todo -l app=todo-app -o json",
                    stdout=json.dumps({"items": [POSTGRES_SET, STUCK_POD]}))
    fake_tools.rule("kubectl", r"^delete pod ", stdout='pod "todo-app-postgresql-0" deleted\n')
    crash_looping(fake_tools)
    s, out = session(settings)

    with pytest.raises(StageFailed):
        deploy.run_deploy(s)

    deletes = [a for a in fake_tools.argvs("kubectl") if a[:2] == ["delete", "pod"]]
    assert deletes == [["delete", "pod", "todo-app-postgresql-0", "-n", "todo", "--wait=false",
                        "--context", "minikube"]]
    assert ("deleted pod todo-app-postgresql-0: it was stuck on the failed revision, and a "
            "StatefulSet does not replace such a pod by itself") in " ".join(out.getvalue().split())
    looks = [a for a in fake_tools.argvs("kubectl") if a[:2] == ["get", "statefulsets,pods"]]
    assert len(looks) >= 2  # it looked again after the delete, and did not delete again


def test_a_rollback_goes_on_when_a_look_fails_or_the_stuck_pod_is_already_gone(
        fake_tools: FakeTools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The looks and the delete are help, not the rollback: an API server that does not answer
    once, or a pod that went away by itself, must not stop the rollback (helm decides)."""
    monkeypatch.setattr(deploy, "WATCH_SECONDS", 0.3)
    settings = settings_in(tmp_path)
    failed_upgrade_of_revision_2(fake_tools, settings)
    fake_tools.rule("helm", r"^rollback", hang=1.5, stdout=ROLLBACK_OK)
    fake_tools.rule("kubectl", r"^get statefulsets,pods ", code=1, times=1, stderr=(
        "Unable to connect to the server: net/http: TLS handshake timeout\n"))
    fake_tools.rule("kubectl", r"^get statefulsets,pods ",
                    stdout=json.dumps({"items": [POSTGRES_SET, STUCK_POD]}))
    fake_tools.rule("kubectl", r"^delete pod ", code=1, stderr=(
        'Error from server (NotFound): pods "todo-app-postgresql-0" not found\n'))
    crash_looping(fake_tools)

    with pytest.raises(StageFailed) as failed:
        deploy.run_deploy(session(settings)[0])

    assert failed.value.message == ("deploy failed (revision 2); the release runs revision 1 "
                                    "again")
    assert [a for a in fake_tools.argvs("kubectl") if a[:2] == ["delete", "pod"]]


def test_helm_may_outlive_its_own_timeout_by_the_margin_before_it_is_stopped(
        fake_tools: FakeTools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """helm reports its own --timeout best; the suite stops the process only TIMEOUT_MARGIN
    later (here: --timeout 1s, a margin of 3 s, a rollback that takes 1.5 s)."""
    monkeypatch.setattr(deploy, "TIMEOUT_MARGIN", 3.0)
    monkeypatch.setattr(deploy, "WATCH_SECONDS", 0.3)
    settings = replace(settings_in(tmp_path), deploy_timeout=1)
    failed_upgrade_of_revision_2(fake_tools, settings)
    fake_tools.rule("helm", r"^rollback", hang=1.5, stdout=ROLLBACK_OK)
    fake_tools.rule("kubectl", r"^get statefulsets,pods ", stdout=EMPTY_LIST)
    crash_looping(fake_tools)

    with pytest.raises(StageFailed) as failed:
        deploy.run_deploy(session(settings)[0])

    assert "the release runs revision 1 again" in failed.value.message


def test_the_upgrade_too_may_outlive_helms_timeout_by_the_margin(
        fake_tools: FakeTools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deploy, "TIMEOUT_MARGIN", 3.0)
    monkeypatch.setattr(deploy, "WATCH_SECONDS", 0.3)
    settings = replace(settings_in(tmp_path), deploy_timeout=1)
    cluster_up(fake_tools, settings, 3)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")))
    fake_tools.rule("helm", r"^upgrade --install", hang=1.5, stdout=upgraded(2))
    assert deploy.run_deploy(session(settings)[0]).revision == 2


def test_a_first_install_whose_helm_output_is_not_json_is_revision_1(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 3)
    fake_tools.rule("helm", r"^history", stderr=RELEASE_NOT_FOUND, code=1)
    fake_tools.rule("helm", r"^upgrade --install", stdout="Release installed.\n")
    assert deploy.run_deploy(session(settings)[0]) == deploy.Release("todo-app", "todo", 1)


def test_a_failed_upgrade_shows_the_last_three_lines_helm_printed(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    failed_upgrade_of_revision_2(fake_tools, settings, stderr="".join(
        f"helm line {n}\n\n" for n in range(1, 6)))  # blank lines are not lines
    fake_tools.rule("helm", r"^rollback", stdout=ROLLBACK_OK)
    crash_looping(fake_tools)
    s, out = session(settings)

    with pytest.raises(StageFailed):
        deploy.run_deploy(s)

    text = out.getvalue()
    assert "helm line 3" in text and "helm line 5" in text
    assert "helm line 2" not in text


CANCELLED = "Error: UPGRADE FAILED: context canceled\nRelease todo-app has been cancelled.\n"


def test_a_new_pod_that_crash_loops_stops_helms_wait_at_once_then_rolls_back(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)  # helm would wait 120 s
    cluster_up(fake_tools, settings, 4)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")), times=1)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed"), (2, "failed")))
    fake_tools.rule("kubectl", r"^get pods -n todo -l app=todo-app", times=1,
                    stdout=EMPTY_LIST)  # before the deploy: no pod
    crash_looping(fake_tools)  # then: a new pod crash-loops
    fake_tools.rule("helm", r"^upgrade --install", hang=120, on_term=CANCELLED)
    fake_tools.rule("helm", r"^rollback", stdout=ROLLBACK_OK)
    s, out = session(settings)
    started = time.monotonic()

    with pytest.raises(StageFailed):
        deploy.run_deploy(s)

    assert time.monotonic() - started < 30
    text = out.getvalue()
    assert "stopped: a new pod cannot become ready" in text
    assert "Release todo-app has been cancelled." in text
    assert "backend: container backend keeps crashing" in text
    assert "rolled back todo-app to revision 1" in text


def test_pods_that_were_failing_before_the_deploy_do_not_stop_it(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 3)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")))
    crash_looping(fake_tools)  # the same crash-looping pods before and during the deploy
    fake_tools.rule("helm", r"^upgrade --install", hang=5, stdout=upgraded(2))
    s, out = session(settings)

    release = deploy.run_deploy(s)

    assert release.revision == 2
    assert "stopped" not in out.getvalue()


def test_diagnosis_comes_before_the_rollback(fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 4)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")), times=1)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed"), (2, "failed")))
    fake_tools.rule("helm", r"^upgrade --install", code=1, stderr="Error: UPGRADE FAILED: x\n")
    fake_tools.rule("helm", r"^rollback", stdout=ROLLBACK_OK)
    crash_looping(fake_tools)
    with pytest.raises(StageFailed):
        deploy.run_deploy(session(settings)[0])
    order = [(c["tool"], c["argv"][0]) for c in fake_tools.calls()
             if c["argv"][0] in ("get", "rollback") and c["argv"][:2] != ["get", "secret"]]
    assert order[-1] == ("helm", "rollback")
    assert ("kubectl", "get") in order[:-1]


def test_failed_first_install_says_so_and_how_to_clean_up_without_rolling_back(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 3)
    fake_tools.rule("helm", r"^history", stderr=RELEASE_NOT_FOUND, code=1, times=1)
    fake_tools.rule("helm", r"^history", stdout=history((1, "failed")))
    fake_tools.rule("helm", r"^upgrade --install", code=1,
                    stdout='Release "todo-app" does not exist. Installing it now.\n',
                    stderr="Error: context deadline exceeded\n")
    crash_looping(fake_tools)

    with pytest.raises(StageFailed) as failed:
        deploy.run_deploy(session(settings)[0])

    assert failed.value.message == ("the first install of todo-app failed (revision 1); there "
                                    "is no earlier revision to roll back to")
    assert failed.value.hint is not None
    assert "helm uninstall todo-app --namespace todo" in failed.value.hint
    assert not [a for a in fake_tools.argvs("helm") if a[0] == "rollback"]


def test_failed_rollback_is_reported_with_both_ways_out(fake_tools: FakeTools,
                                                        tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 3)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")), times=1)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed"), (2, "failed")))
    fake_tools.rule("helm", r"^upgrade --install", code=1, stderr="Error: UPGRADE FAILED: x\n")
    fake_tools.rule("helm", r"^rollback", code=1,
                    stderr="wait.go:50: 2025-05-20 10:05:00 beginning wait for 4 resources\n"
                           "Error: timed out waiting for the condition\n")
    crash_looping(fake_tools)
    s, out = session(settings)
    with pytest.raises(StageFailed) as failed:
        deploy.run_deploy(s)
    assert failed.value.message == ("revision 2 failed and the rollback to revision 1 failed "
                                    "too: Error: timed out waiting for the condition")
    assert failed.value.hint is not None
    assert failed.value.hint.splitlines()[1] == (
        "then: helm rollback todo-app 1 --namespace todo --kube-context minikube   (or: helm "
        "uninstall todo-app --namespace todo --kube-context minikube   # removes the failed "
        "release; fix the cause above, then: inv deploy)")
    assert "… rolling back todo-app to revision 1\n" in out.getvalue()


def test_a_failed_upgrade_with_no_failing_pod_says_so_and_points_at_the_pods(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    failed_upgrade_of_revision_2(fake_tools, settings, stderr=(
        "Error: UPGRADE FAILED: cannot patch \"todo-config\" with kind ConfigMap\n"))
    fake_tools.rule("helm", r"^rollback", stdout=ROLLBACK_OK)
    fake_tools.rule("kubectl", r"^get pods", stdout=(FIXTURES / "pods-healthy.json").read_text())
    s, out = session(settings)

    with pytest.raises(StageFailed) as failed:
        deploy.run_deploy(s)

    text = out.getvalue()
    assert "✗ helm upgrade --install todo-app failed\n" in text
    assert ("! no failing pod found (the failure may be in the chart or the API call)\n"
            in text)
    assert failed.value.hint == "inv verify   # or: kubectl get pods -n todo --context minikube"
    assert {tuple(a[:2]) for a in fake_tools.argvs("helm") if a[0] == "history"} == {
        ("history", "todo-app")}


def test_pods_that_cannot_be_read_after_a_failed_upgrade_are_said_and_the_rollback_goes_on(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    fake_tools.rule("kubectl", r"^get pods", stdout=EMPTY_LIST, times=1)  # before the upgrade
    fake_tools.rule("kubectl", r"^get pods", code=1, stderr=(
        "Unable to connect to the server: net/http: TLS handshake timeout\n"))
    failed_upgrade_of_revision_2(fake_tools, settings)
    fake_tools.rule("helm", r"^rollback", stdout=ROLLBACK_OK)
    s, out = session(settings)

    with pytest.raises(StageFailed) as failed:
        deploy.run_deploy(s)

    text = out.getvalue()
    assert ("! could not read the pods for a diagnosis: `kubectl get pods …` exited 1: Unable "
            "to connect to the server: net/http: TLS handshake timeout") in text
    assert "rolled back todo-app to revision 1" in " ".join(text.split())
    assert failed.value.message == ("deploy failed (revision 2); the release runs revision 1 "
                                    "again")


def test_deploy_task_exits_3_when_the_cluster_is_not_running(
        fake_tools: FakeTools, capsys: pytest.CaptureFixture[str]) -> None:
    fake_tools.rule("minikube", r"status -o json", code=85,
                    stdout='{"Name":"minikube","Host":"Nonexistent"}')
    fake_tools.rule("kubectl", r"^version --client", stdout='{"clientVersion": {}}')
    fake_tools.rule("kubectl", r"^config current-context", stdout="minikube\n")
    fake_tools.rule("helm", r"^version --template", stdout="v4.1.4")
    with pytest.raises(Exit) as exited:
        tasks.deploy(Context(), no_color=True)
    assert exited.value.code == ExitCode.PREREQ
    assert "minikube -p minikube start" in capsys.readouterr().err
    assert upgrades(fake_tools) == []


def manifest_of(render: str, *, tag: str) -> str:
    """The release's stored manifest: the same render with an older backend tag."""
    lines = []
    for line in render.splitlines():
        if line.strip().startswith("image: todo-backend:"):
            line = line.split("todo-backend:")[0] + f"todo-backend:{tag}"
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.mark.helm
@pytest.mark.parametrize("major", [3, 4])
def test_dry_run_shows_the_image_change_against_the_release_and_applies_nothing(
        fake_tools: FakeTools, tmp_path: Path, helm_bins: dict[int, Path], major: int) -> None:
    """``helm template`` is answered with the REAL helm's render of the same command."""
    settings = settings_in(tmp_path)
    refs = cluster_up(fake_tools, settings, major, secret=False)
    s, out = session(settings)
    values = deploy.chart_values(refs, None, settings)
    real = subprocess.run(
        [str(helm_bins[major]), *deploy.chart.template_argv(settings, values)[1:]],
        capture_output=True, text=True, check=True).stdout
    fake_tools.rule("helm", r"^template", stdout=real)
    fake_tools.rule("helm", r"^get manifest", stdout=manifest_of(real, tag="000000000000"))

    release = deploy.run_deploy(s, dry_run=True)

    text = out.getvalue()
    backend = next(r for r in refs if r.component == "backend")
    assert "change: Deployment/todo-backend" in text
    assert "-          image: todo-backend:000000000000" in text
    assert f"+          image: todo-backend:{backend.tag}" in text
    assert "dry run (context minikube): 0 to add, 1 to change, 0 to remove; nothing was " \
        "applied" in text
    assert "inv secrets" in text
    assert release.revision == 0
    assert upgrades(fake_tools) == []
    assert not [a for a in fake_tools.argvs("kubectl") if a[0] == "apply"]


def test_release_stuck_in_pending_upgrade_is_not_rolled_back_blindly_but_explained(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 3)
    fake_tools.rule("helm", r"^history", stdout=history((1, "superseded"), (2, "deployed"),
                                                        (3, "pending-upgrade")))
    fake_tools.rule("helm", r"^upgrade --install", code=1, stderr=(
        "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress\n"))
    fake_tools.rule("kubectl", r"^get pods", stdout=(FIXTURES / "pods-healthy.json").read_text())
    with pytest.raises(StageFailed) as failed:
        deploy.run_deploy(session(settings)[0])
    assert "before Helm changed anything" in failed.value.message
    assert failed.value.hint == ("revision 3 is pending-upgrade (an interrupted deploy): "
                                 "helm rollback todo-app 2 --namespace todo --kube-context "
                                 "minikube   then: inv deploy")
    assert not [a for a in fake_tools.argvs("helm") if a[0] == "rollback"]


# -- a first install over objects applied with kubectl apply -k k8s/ --------------------------


def render_with_helm(helm: Path, settings: Settings) -> str:
    """What `helm template` (the real binary) prints for the chart; the fake helm replays it."""
    return subprocess.run([str(helm), "template", "todo-app", str(settings.chart), "--namespace",
                           "todo", "--skip-tests", "--set", "postgresql.enabled=true"],
                          capture_output=True, text=True, check=True, timeout=60).stdout


def applied_from_k8s(*, spec_shaped_backend: bool = False) -> str:
    """``kubectl get ... -o json`` of what ``kubectl apply -k k8s/`` made: the k8s/ files with
    the namespace and kubectl's last-applied annotation (the shape the live cluster returns,
    checked by the e2e tier)."""
    import yaml

    items = []
    for path in sorted((ROOT / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") == "Kustomization":
                continue
            doc["metadata"]["namespace"] = "todo"
            doc["metadata"].setdefault("annotations", {})[
                "kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(doc)
            if spec_shaped_backend and doc["metadata"]["name"] == "todo-backend" and \
                    doc["kind"] == "Deployment":
                doc["metadata"]["labels"] = {"app": "todo-backend"}
                doc["spec"]["selector"] = {"matchLabels": {"app": "todo-backend"}}
            items.append(doc)
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def k8s_objects() -> list[str]:
    """kind/name of every object in k8s/ (what `kubectl apply -k k8s/` makes)."""
    return sorted(f"{o['kind'].lower()}/{o['metadata']['name']}"
                  for o in json.loads(applied_from_k8s())["items"])


def first_install_over_k8s(f: FakeTools, settings: Settings, helm: Path, major: int, *,
                           listed: str | None = None, **shape: bool) -> None:
    cluster_up(f, settings, major)
    f.rule("helm", r"^history", stderr="Error: release: not found\n", code=1)
    f.rule("helm", r"^template", stdout=render_with_helm(helm, settings))
    f.rule("kubectl", r"^get .*configmap/todo-config .*--ignore-not-found( --context \S+)?$",
           stdout=listed or applied_from_k8s(**shape))
    f.rule("kubectl", r"^patch ", stdout="patched\n")
    f.rule("helm", r"^upgrade --install", stdout=upgraded(1))


@pytest.mark.parametrize("major", [3, 4])
def test_a_first_deploy_adopts_what_kubectl_apply_k_made_then_installs(
        fake_tools: FakeTools, tmp_path: Path, helm_bins: dict[int, Path], major: int) -> None:
    settings = settings_in(tmp_path)
    first_install_over_k8s(fake_tools, settings, helm_bins[major], major)
    s, out = session(settings)

    release = deploy.run_deploy(s)

    assert release.revision == 1
    kubectl = fake_tools.argvs("kubectl")
    (listing,) = [a for a in kubectl if a[0] == "get" and "configmap/todo-config" in a]
    assert "statefulset/todo-postgres" in listing
    assert listing[-7:] == ["-n", "todo", "-o", "json", "--ignore-not-found", "--context",
                            "minikube"]
    # the objects looked for are those of THIS deploy's render: its values, not the defaults
    (template,) = [a for a in fake_tools.argvs("helm") if a[0] == "template"]
    tags = {r.component: r.tag for r in images.current_images(settings)}
    assert f"backend.image.tag={tags['backend']}" in template
    assert "postgresql.enabled=true" in template
    patches = [a for a in kubectl if a[0] == "patch"]
    assert sorted(a[1] for a in patches) == k8s_objects()
    for argv in patches:
        assert argv[2:6] == ["-n", "todo", "--type=merge", "-p"]
        assert json.loads(argv[6]) == {"metadata": {
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"meta.helm.sh/release-name": "todo-app",
                            "meta.helm.sh/release-namespace": "todo",
                            "kubectl.kubernetes.io/last-applied-configuration": None}}}
    calls = [(c["tool"], c["argv"][0]) for c in fake_tools.calls()]
    assert calls.index(("kubectl", "patch")) < calls.index(("helm", "upgrade"))
    (upgrade,) = upgrades(fake_tools)
    assert ("--force-conflicts" in upgrade) == (major == 4)
    adopted = re.search(r"adopted into release todo-app \(they were applied outside Helm, "
                        r"e\.g\. kubectl apply -k k8s/\): ([A-Za-z]+/[a-z0-9-]+(?:, "
                        r"[A-Za-z]+/[a-z0-9-]+)*)", " ".join(out.getvalue().split()))
    assert adopted is not None
    assert sorted(key.lower() for key in adopted.group(1).split(", ")) == k8s_objects()
    assert (f"… handing {len(k8s_objects())} object(s) applied outside Helm to release "
            "todo-app\n") in out.getvalue()


@pytest.mark.parametrize(("refused", "stderr", "hint"), [
    (r"^get .*configmap/todo-config ",
     "The connection to the server 192.168.49.2:8443 was refused\n",
     "inv doctor   # is the cluster up and kubectl pointed at it?"),
    (r"^patch configmap/todo-config ",
     'Error from server (Forbidden): configmaps "todo-config" is forbidden\n',
     "kubectl -n todo delete configmap/todo-config --context minikube   # then: inv deploy"),
], ids=["listing", "patch"])
def test_a_refused_adoption_step_stops_the_deploy_before_the_upgrade_with_its_fix(
        fake_tools: FakeTools, tmp_path: Path, helm_bins: dict[int, Path], refused: str,
        stderr: str, hint: str) -> None:
    settings = settings_in(tmp_path)
    fake_tools.rule("kubectl", refused, code=1, stderr=stderr)
    first_install_over_k8s(fake_tools, settings, helm_bins[3], 3)
    with pytest.raises(StageFailed) as failed:
        deploy.run_deploy(session(settings)[0])
    assert failed.value.hint == hint
    assert upgrades(fake_tools) == []


def test_a_first_deploy_over_a_spec_shaped_deployment_names_what_to_delete_and_changes_nothing(
        fake_tools: FakeTools, tmp_path: Path, helm_bins: dict[int, Path]) -> None:
    settings = settings_in(tmp_path)
    first_install_over_k8s(fake_tools, settings, helm_bins[4], 4, spec_shaped_backend=True)

    with pytest.raises(StageFailed) as refused:
        deploy.run_deploy(session(settings)[0])

    assert "1 object(s) in namespace todo are in the way of release todo-app" in \
        refused.value.message
    assert refused.value.hint == "kubectl -n todo delete deployment/todo-backend --context " \
                                 "minikube   # then: inv deploy"
    assert "Deployment/todo-backend: was not made from this chart" in \
        (refused.value.details or "")
    assert [a for a in fake_tools.argvs("kubectl") if a[0] == "patch"] == []
    assert upgrades(fake_tools) == []


def test_every_object_that_cannot_be_adopted_is_named_on_its_own_line(
        fake_tools: FakeTools, tmp_path: Path, helm_bins: dict[int, Path]) -> None:
    listed = json.loads(applied_from_k8s(spec_shaped_backend=True))
    frontend = next(o for o in listed["items"] if o["kind"] == "Deployment" and
                    o["metadata"]["name"] == "todo-frontend")
    frontend["metadata"]["labels"] = {"app": "todo-frontend"}
    frontend["spec"]["selector"] = {"matchLabels": {"app": "todo-frontend"}}
    settings = settings_in(tmp_path)
    first_install_over_k8s(fake_tools, settings, helm_bins[4], 4, listed=json.dumps(listed))

    with pytest.raises(StageFailed) as refused:
        deploy.run_deploy(session(settings)[0])

    assert refused.value.message.startswith("2 object(s) in namespace todo are in the way")
    assert [line.split(": ")[0] for line in (refused.value.details or "").splitlines()] == [
        "Deployment/todo-backend", "Deployment/todo-frontend"]


def test_an_upgrade_over_the_releases_own_objects_adopts_and_forces_nothing(
        fake_tools: FakeTools, tmp_path: Path, helm_bins: dict[int, Path]) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 4)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")))
    fake_tools.rule("helm", r"^template", stdout=render_with_helm(helm_bins[4], settings))
    owned = json.loads(applied_from_k8s())
    for obj in owned["items"]:
        obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "Helm"
        obj["metadata"]["annotations"] = {"meta.helm.sh/release-name": "todo-app",
                                          "meta.helm.sh/release-namespace": "todo"}
    fake_tools.rule("kubectl",
                    r"^get .*configmap/todo-config .*--ignore-not-found( --context \S+)?$",
                    stdout=json.dumps(owned))
    fake_tools.rule("helm", r"^upgrade --install", stdout=upgraded(2))
    s, out = session(settings)
    deploy.run_deploy(s)
    assert [a for a in fake_tools.argvs("kubectl") if a[0] == "patch"] == []
    assert "--force-conflicts" not in upgrades(fake_tools)[0]
    assert "adopted" not in out.getvalue()


def test_kubectl_apply_k_over_an_installed_release_is_adopted_back(
        fake_tools: FakeTools, tmp_path: Path, helm_bins: dict[int, Path]) -> None:
    """kubectl apply sets managed-by: kubectl again; Helm's annotations stay (live: Helm 4's
    next upgrade then conflicts on the fields kubectl took, unless forced)."""
    settings = settings_in(tmp_path)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")))  # installed
    relabeled = json.loads(applied_from_k8s())
    for obj in relabeled["items"]:
        obj["metadata"]["annotations"].update({"meta.helm.sh/release-name": "todo-app",
                                               "meta.helm.sh/release-namespace": "todo"})
    first_install_over_k8s(fake_tools, settings, helm_bins[4], 4,
                           listed=json.dumps(relabeled))
    deploy.run_deploy(session(settings)[0])
    assert len([a for a in fake_tools.argvs("kubectl") if a[0] == "patch"]) == len(k8s_objects())
    assert "--force-conflicts" in upgrades(fake_tools)[0]


# -- the embedded PostgreSQL's headless Service ---------------------------------------------
# kubectl's shapes: `get statefulset NAME --ignore-not-found -o jsonpath={.spec.serviceName}`
# prints the name without a newline, and nothing (exit 0) when the StatefulSet is absent.


GOVERNING = deploy.governing_service_argv("todo")[1:]


def release_with_statefulset(f: FakeTools, settings: Settings, service_name: str | None, *,
                             delete_refused: str = "") -> None:
    """A release at revision 1 whose StatefulSet names ``service_name`` (None: no release)."""
    cluster_up(f, settings, 4)
    if service_name is None:
        f.rule("helm", r"^history", stderr="Error: release: not found\n", code=1)
    else:
        f.rule("helm", r"^history", stdout=history((1, "deployed")))
        f.rule("kubectl", r"^get statefulset todo-postgres -n todo --ignore-not-found",
               stdout=service_name)
    f.rule("kubectl", r"^delete statefulset", code=1 if delete_refused else 0,
           stderr=delete_refused, stdout="" if delete_refused else
           'statefulset.apps "todo-postgres" deleted\n')
    f.rule("helm", r"^upgrade --install", stdout=upgraded(2))


def upgrade_with_statefulset(f: FakeTools, settings: Settings, service_name: str | None
                             ) -> tuple[list[tuple[str, list[str]]], str]:
    """The kubectl and helm calls of a deploy over such a release, and what it printed."""
    release_with_statefulset(f, settings, service_name)
    s, out = session(settings)
    deploy.run_deploy(s)
    calls = [(c["tool"], c["argv"]) for c in f.calls() if c["tool"] in ("kubectl", "helm")]
    return calls, " ".join(out.getvalue().split())


def test_a_release_whose_statefulset_names_the_clusterip_service_gets_it_recreated_first(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    """serviceName is immutable: the StatefulSet and its pod go (the claim stays) before the
    upgrade creates them again, naming the headless Service."""
    calls, printed = upgrade_with_statefulset(fake_tools, settings_in(tmp_path),
                                              "todo-postgres")
    delete = ("kubectl", ["delete", "statefulset", "todo-postgres", "-n", "todo",
                          "--cascade=foreground", "--wait=true", "--context", "minikube"])
    assert delete in calls
    upgrade = next(i for i, (tool, argv) in enumerate(calls) if argv[:1] == ["upgrade"])
    assert calls.index(delete) < upgrade
    assert ("StatefulSet todo-postgres names Service todo-postgres; recreating it and its pod "
            "to name the headless todo-postgres-headless (serviceName is immutable; the "
            "database volume and its data stay)") in printed


@pytest.mark.parametrize("service_name", ["todo-postgres-headless", ""],
                         ids=["already-headless", "no-statefulset"])
def test_a_statefulset_naming_the_headless_service_or_none_is_left_alone(
        fake_tools: FakeTools, tmp_path: Path, service_name: str) -> None:
    calls, _ = upgrade_with_statefulset(fake_tools, settings_in(tmp_path), service_name)
    assert ("kubectl", [*GOVERNING, "--context", "minikube"]) in calls
    assert not [argv for tool, argv in calls if argv[:2] == ["delete", "statefulset"]]


def test_a_first_install_does_not_look_for_an_old_statefulset(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    calls, _ = upgrade_with_statefulset(fake_tools, settings_in(tmp_path), None)
    assert ("kubectl", [*GOVERNING, "--context", "minikube"]) not in calls


def test_a_statefulset_that_cannot_be_deleted_stops_the_deploy_with_the_command_to_run(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    release_with_statefulset(fake_tools, settings, "todo-postgres", delete_refused=(
        'Error from server (Forbidden): statefulsets.apps "todo-postgres" is forbidden\n'))
    with pytest.raises(StageFailed) as failed:
        deploy.run_deploy(session(settings)[0])
    assert failed.value.hint == (
        "kubectl delete statefulset todo-postgres -n todo --cascade=foreground --wait=true "
        "--context minikube   then: inv deploy")
    assert upgrades(fake_tools) == []


def test_a_statefulset_that_cannot_be_read_is_left_alone_and_the_upgrade_goes_on(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    """The look is a migration aid: if the upgrade then needs it, the API server says so."""
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 4)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")))
    fake_tools.rule("kubectl", r"^get statefulset todo-postgres -n todo --ignore-not-found",
                    code=1, stderr=('Error from server (Forbidden): statefulsets.apps '
                                    '"todo-postgres" is forbidden\n'))
    fake_tools.rule("helm", r"^upgrade --install", stdout=upgraded(2))
    release = deploy.run_deploy(session(settings)[0])
    assert release.revision == 2
    assert not [a for a in fake_tools.argvs("kubectl") if a[:2] == ["delete", "statefulset"]]


def test_a_deploy_to_a_context_that_is_only_current_and_not_local_is_refused(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = replace(settings_in(tmp_path), target="docker")
    fake_tools.rule("kubectl", r"^config current-context", stdout="prod-eu\n")
    with pytest.raises(ConfigError) as refused:
        deploy.run_deploy(session(settings)[0])
    assert refused.value.message.startswith("refusing to deploy in kube-context 'prod-eu': ")
    assert fake_tools.argvs("helm") == []


@pytest.mark.parametrize("tool", ["kubectl", "helm"])
def test_a_deploy_without_kubectl_or_helm_names_the_missing_tool_and_how_to_install_it(
        fake_tools: FakeTools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        tool: str) -> None:
    settings = replace(settings_in(tmp_path), context="minikube")  # named: nothing to ask
    cluster_up(fake_tools, settings, 3)
    fake_tools.remove(tool)
    (fake_tools.bin_dir / "bash").symlink_to(shutil.which("bash") or "/bin/bash")
    monkeypatch.setenv("PATH", str(fake_tools.bin_dir))  # no real one behind the fake
    with pytest.raises(PrereqError) as refused:
        deploy.run_deploy(session(settings)[0])
    assert refused.value.message == {"kubectl": "kubectl installed: kubectl not found on PATH",
                                     "helm": "helm 3 or 4: helm not found on PATH"}[tool]
    assert {"kubectl": "install kubectl /usr/local/bin/kubectl",
            "helm": "scripts/get-helm-3 | bash"}[tool] in (refused.value.hint or "")


def test_a_registry_deploy_pins_the_registrys_digests_and_does_not_ask_a_daemon(
        fake_tools: FakeTools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry itself is faked here (tests/e2e/test_targets.py runs a real one)."""
    settings = replace(settings_in(tmp_path), target="registry", registry="127.0.0.1:5000",
                       context="minikube")
    refs = cluster_up(fake_tools, settings, 4)
    fake_tools.rule("kubectl", r"^get --raw /readyz", stdout="ok")  # a cluster not minikube's
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")))
    fake_tools.rule("helm", r"^upgrade --install", stdout=upgraded(2))
    pins = {"backend": "sha256:" + "b" * 64, "frontend": "sha256:" + "f" * 64}
    asked: list[tuple[Session, list[str]]] = []

    def digests(s: Session, wanted: list[images.ImageRef]) -> dict[str, str]:
        asked.append((s, [r.ref for r in wanted]))
        return pins

    def no_daemon(s: Session, wanted: list[images.ImageRef]) -> list[images.ImageRef]:
        raise AssertionError("the registry target asked a daemon for its images")

    monkeypatch.setattr(deploy.images.target, "registry_digests", digests)
    monkeypatch.setattr(deploy.images, "missing_images", no_daemon)

    s, _ = session(settings)
    deploy.run_deploy(s)

    assert asked == [(s, [r.ref for r in refs])]  # the run's session: its context, its memo
    upgrade = " ".join(upgrades(fake_tools)[0])
    assert f"backend.image.digest={pins['backend']}" in upgrade
    assert f"frontend.image.digest={pins['frontend']}" in upgrade


# -- a nodePort another Service holds (deploy.nodeports_taken) --------------------------------

def services_with_30080_in(namespace: str) -> str:
    """The live cluster's Service list (services-all-namespaces.json) with the frontend's
    nodePort 30080 held by a Service of ``namespace`` instead."""
    listed = json.loads(SERVICES_ALL)
    for svc in listed["items"]:
        if svc["metadata"]["name"] == "todo-frontend":
            svc["metadata"]["namespace"] = namespace
    return json.dumps(listed)


def frontend_service_doc(node_port: int = 30080) -> chart.Document:
    return chart.Document("templates/frontend-service.yaml", "", {
        "kind": "Service", "metadata": {"name": "todo-frontend"},
        "spec": {"ports": [{"port": 3000, "nodePort": node_port}]}})


def test_our_own_service_holding_its_nodeport_is_not_in_the_way() -> None:
    services = json.loads(SERVICES_ALL)["items"]
    assert deploy.nodeports_taken([frontend_service_doc()], services, "todo") == []


def test_another_namespaces_service_holding_the_nodeport_is_named() -> None:
    services = json.loads(services_with_30080_in("alice"))["items"]
    assert deploy.nodeports_taken([frontend_service_doc()], services, "todo") == [
        (30080, "alice/todo-frontend")]
    assert deploy.nodeports_taken([frontend_service_doc(30090)], services, "todo") == []
    assert deploy.free_nodeport(services, 30080) == 30081


def test_the_free_nodeport_wraps_to_the_start_of_the_range() -> None:
    services = [{"spec": {"ports": [{"nodePort": 32767}]}}]
    assert deploy.free_nodeport(services, 32767) == 30000


def test_a_nodeport_taken_in_another_namespace_stops_the_deploy_before_helm(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 4)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")))
    fake_tools.rule("kubectl", SERVICES_LIST, stdout=services_with_30080_in("alice"))
    s, _ = session(settings)

    with pytest.raises(StageFailed) as taken:
        deploy.run_deploy(s, force=True)

    assert "nodePort 30080 is already allocated to Service alice/todo-frontend" in \
        taken.value.message
    assert taken.value.hint.startswith("set frontend.service.nodePort: 30081 (free now)")
    assert upgrades(fake_tools) == []


def test_a_context_that_cannot_list_services_everywhere_skips_the_check(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 4)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")))
    fake_tools.rule("helm", r"^upgrade --install", stdout=upgraded(2))
    fake_tools.rule("kubectl", SERVICES_LIST, code=1, stderr=(
        'Error from server (Forbidden): services is forbidden: User "dev" cannot list '
        'resource "services" in API group "" at the cluster scope\n'))
    s, out = session(settings)

    deploy.run_deploy(s, force=True)

    assert len(upgrades(fake_tools)) == 1
    assert "nodePort check skipped: cannot list Services in all namespaces" in out.getvalue()
