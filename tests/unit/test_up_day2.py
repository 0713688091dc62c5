"""Day-2 tasks (status, logs, url, down): exact commands with MockContext.

minikube, helm and the API server cannot run here; the answers replay the real tools' output
shapes (``minikube ip``, ``helm list -o json``, ``kubectl ... -o json``/jsonpath,
``minikube image ls``).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from invoke import MockContext, Result
from invoke.exceptions import Exit

import tasks
from tests.fakes.canned import lock_commands
from todo_deploy import access, day2, proc
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.errors import ConfigError
from todo_deploy.session import Session
from todo_deploy.tools import Helm, Kubectl, release_list_args

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kubectl"
MINIKUBE_RUNNING = json.dumps({"Name": "minikube", "Host": "Running", "Kubelet": "Running",
                               "APIServer": "Running", "Kubeconfig": "Configured"})
PROFILES = json.dumps({"invalid": [], "valid": [{"Name": "minikube", "Status": "OK", "Config": {
    "Driver": "docker", "CPUs": 2, "Memory": 4096,
    "KubernetesConfig": {"ContainerRuntime": "docker"}, "Nodes": [{"Name": ""}]}}]})
PREREQS = {
    "minikube version --short": Result("v1.35.0\n"),
    "kubectl version --client -o json": Result('{"clientVersion": {"gitVersion": "v1.31.0"}}'),
    "kubectl config current-context": Result("minikube\n"),
    "minikube -p minikube status -o json": Result(MINIKUBE_RUNNING),
    "helm version --template '{{.Version}}'": Result("v3.17.3"),
    # the run lock (a Lease) of inv down, uncontended
    **{command: Result(answer) for command, answer in lock_commands().items()},
}
URL_CMDS = {
    "minikube -p minikube ip": Result("192.168.49.2\n"),
    "kubectl get service todo-frontend -n todo -o 'jsonpath={.spec.ports[0].nodePort}'"
        " --context minikube":
        Result("30080"),
    "minikube profile list -o json": Result(PROFILES),
}
HELM_LIST = ("helm list -n todo --filter '^todo-app$' --deployed --failed --pending "
             "--uninstalling -o json --kube-context minikube")
# captured from helm 3.17.3 and 4.1.4 (the same bytes) against the live test cluster
RELEASE_LIST = (Path(__file__).resolve().parent.parent / "fixtures" / "helm" /
                "list-todo-app.json").read_text()


def session(c: MockContext, **settings: object) -> tuple[Session, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Session(c, Settings.from_config(None, **settings),
                   Console(no_color=True, file=out, err_file=err)), \
        out, err


def test_url_is_the_minikube_ip_and_the_frontend_node_port() -> None:
    s, out, _ = session(MockContext(run={**PREREQS, **URL_CMDS}))
    assert day2.run_url(s).url == "http://192.168.49.2:30080"
    assert out.getvalue() == "http://192.168.49.2:30080\n"  # alone: curl $(inv url) works


def test_url_also_prints_the_working_minikube_service_form_with_the_namespace() -> None:
    s, _, err = session(MockContext(run={**PREREQS, **URL_CMDS}))
    day2.run_url(s)
    assert err.getvalue().startswith("or: minikube service todo-frontend -n todo --url   ")
    assert "the spec's `minikube service todo-frontend --url` looks in namespace default" in \
        err.getvalue()


def test_the_minikube_service_form_names_another_profile_and_namespace() -> None:
    assert access.service_url_command("minikube", "todo") == \
        "minikube service todo-frontend -n todo --url"
    assert access.service_url_command("dev", "staging") == \
        "minikube -p dev service todo-frontend -n staging --url"


def test_url_on_macos_docker_driver_explains_the_tunnel() -> None:
    kube = Kubectl(MockContext(), "minikube", "todo", 120.0)
    note = access.url_note("docker", "darwin", "minikube", kube)
    assert note is not None
    assert note.startswith("macOS + docker driver: the node IP is not reachable")
    assert "minikube service todo-frontend -n todo --url" in note
    assert ("kubectl -n todo port-forward svc/todo-frontend 3000:3000 --context minikube"
            in note)
    assert access.url_note("docker", "win32", "minikube", kube) is not None
    assert access.url_note("docker", "linux", "minikube", kube) is None


def test_url_without_the_frontend_service_says_inv_deploy() -> None:
    c = MockContext(run={**PREREQS, **URL_CMDS,
                         "kubectl get service todo-frontend -n todo -o "
                         "'jsonpath={.spec.ports[0].nodePort}' --context minikube": Result(
                             "", stderr='Error from server (NotFound): services "todo-frontend" '
                                        'not found\n', exited=1)})
    s, _, _ = session(c)
    with pytest.raises(day2.StageFailed) as exc:
        day2.run_url(s)
    assert exc.value.hint == "inv deploy   (or: inv up)"


def test_logs_select_the_component_by_label_with_a_prefix() -> None:
    kube = Kubectl(MockContext(), "minikube", "todo", 120.0)
    argv = kube.logs_argv(selector="app=todo-app,component=backend", follow=True)
    assert argv == ["kubectl", "logs", "-n", "todo", "-l", "app=todo-app,component=backend",
                    "--all-containers", "--prefix", "--tail=100", "--max-log-requests=10", "-f",
                    "--context", "minikube"]


def test_logs_print_each_line_through_the_console_with_secrets_masked() -> None:
    c = MockContext(run={**PREREQS,
                         "kubectl logs -n todo -l app=todo-app,component=frontend "
                         "--all-containers --prefix --tail=100 --max-log-requests=10"
                             " --context minikube":
                             Result("[pod/todo-frontend-1/frontend] ready on :3000\n"
                                    "[pod/todo-frontend-1/frontend] token hunter2-secret\n")})
    s, out, _ = session(c)
    s.console.register_secret("hunter2-secret")
    day2.run_logs(s, "frontend")
    assert out.getvalue().splitlines() == ["[pod/todo-frontend-1/frontend] ready on :3000",
                                           "[pod/todo-frontend-1/frontend] token ••••"]


def test_inv_help_logs_lists_context_and_keeps_every_older_flag() -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    help_text = subprocess.run([sys.executable, "-m", "invoke", "--help", "logs"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60, check=True).stdout
    for flag in ("-c STRING, --component", "-f, --follow", "-n STRING, --namespace",
                 "-o, --no-color", "-t INT, --tail", "--context=STRING"):
        assert flag in help_text, flag
    assert "kube-context for every kubectl/helm call" in help_text


def test_inv_logs_context_flag_binds_every_call_of_the_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    from invoke import Config

    c = MockContext(config=Config(overrides={"todo": {"target": "docker"}}), run={
        "kubectl version --client -o json": PREREQS["kubectl version --client -o json"],
        "kubectl get --raw /readyz --context team-east": Result("ok"),
        "kubectl logs -n todo -l app=todo-app,component=backend --all-containers --prefix "
        "--tail=100 --max-log-requests=10 --context team-east": Result("[pod/b/backend] up\n"),
    })
    tasks.logs(c, "backend", context="team-east")
    assert "[pod/b/backend] up" in capsys.readouterr().out


def test_logs_reject_an_unknown_component_with_exit_2() -> None:
    with pytest.raises(Exit) as exc:
        tasks.logs(MockContext(), "db")
    assert exc.value.code == 2


def test_status_shows_release_revision_images_pods_and_url() -> None:
    c = MockContext(run={**PREREQS, **URL_CMDS,
                         HELM_LIST: Result(RELEASE_LIST),
                         "kubectl get deployments,replicasets,pods -n todo -l app=todo-app "
                         "-o json --context minikube":
                             Result((FIXTURES / "workloads-complete.json").read_text())})
    s, out, _ = session(c)
    release = day2.run_status(s)
    text = out.getvalue()
    assert release == day2.ReleaseInfo("todo-app", "todo", 3, "deployed", "todo-app-1.0.0",
                                       "2026-11-29 10:14:43 UTC")
    assert "todo-app-1.0.0" in text
    workloads = json.loads((FIXTURES / "workloads-complete.json").read_text())["items"]
    backend = next(o for o in workloads if o["kind"] == "Deployment"
                   and o["metadata"]["name"] == "todo-backend")
    assert backend["spec"]["template"]["spec"]["containers"][0]["image"] in text
    for pod in (o for o in workloads if o["kind"] == "Pod"):
        assert pod["metadata"]["name"] in text
    assert "1/1" in text
    assert "URL: http://192.168.49.2:30080" in text


def test_status_without_a_release_says_inv_up() -> None:
    c = MockContext(run={**PREREQS, HELM_LIST: Result("[]\n")})
    s, _, err = session(c)
    assert day2.run_status(s) is None
    assert "fix: inv up" in err.getvalue()
    assert "is not installed in namespace todo (context minikube)" in err.getvalue()


def test_purge_without_yes_off_a_terminal_refuses_before_touching_anything() -> None:
    s, _, _ = session(MockContext())  # any command would raise NotImplementedError
    with pytest.raises(ConfigError) as exc:
        day2.run_down(s, purge=True)
    assert exc.value.hint == "inv down --purge --yes"


OTHER_IMAGES = "registry.k8s.io/pause:3.10\ndocker.io/library/postgres:16-alpine\n"
OUR_IMAGES = ("docker.io/library/todo-backend:3f9a1c2b7d4e\n"
              "docker.io/library/todo-backend:latest\ndocker.io/library/todo-frontend:latest\n"
              + OTHER_IMAGES)
# what the docker runtime says while a stopped container of a deleted pod still exists
IN_USE = ('Error response from daemon: conflict: unable to remove repository reference '
          '"todo-backend:latest" (must force) - container 30d7a5e3e51b is using its referenced '
          'image d91ce199c51e\n')


def test_purge_retries_images_a_stopped_container_still_uses_until_kubelet_frees_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(day2, "IMAGE_RETRY_SECONDS", 0.0)
    still_used = "docker.io/library/todo-backend:latest\n" + OTHER_IMAGES
    c = MockContext(run={
        **PREREQS,
        "helm uninstall todo-app -n todo --wait --kube-context minikube": Result(""),
        "kubectl delete secret todo-secrets -n todo --ignore-not-found"
            " --context minikube": Result(""),
        "kubectl get pvc -n todo -l app=todo-app,component=postgresql -o "
        "'jsonpath={.items[*].spec.volumeName}' --context minikube": Result(""),
        "kubectl delete pvc -n todo -l app=todo-app,component=postgresql --ignore-not-found"
            " --context minikube":
            Result(""),
        "kubectl get pv -o json --context minikube": Result('{"kind": "List", "items": []}'),
        "minikube -p minikube image ls": [Result(OUR_IMAGES), Result(still_used),
                                          Result(OTHER_IMAGES)],
        "minikube -p minikube image rm todo-backend:3f9a1c2b7d4e todo-backend:latest "
        "todo-frontend:latest": Result("", stderr=IN_USE, exited=1),
        "minikube -p minikube image rm todo-backend:latest": Result(""),
    })
    s, out, _ = session(c)
    day2.run_down(s, purge=True, yes=True)
    assert "images removed: todo-backend:3f9a1c2b7d4e, todo-backend:latest, " \
           "todo-frontend:latest" in out.getvalue()


def test_purge_gives_up_on_an_image_still_in_use_with_the_command_to_finish(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(day2, "IMAGE_RETRY_SECONDS", 0.0)
    monkeypatch.setattr(day2, "IMAGE_GC_SECONDS", 0.0)
    c = MockContext(run={
        **PREREQS,
        "helm uninstall todo-app -n todo --wait --kube-context minikube": Result(""),
        "kubectl delete secret todo-secrets -n todo --ignore-not-found"
            " --context minikube": Result(""),
        "kubectl get pvc -n todo -l app=todo-app,component=postgresql -o "
        "'jsonpath={.items[*].spec.volumeName}' --context minikube": Result(""),
        "kubectl delete pvc -n todo -l app=todo-app,component=postgresql --ignore-not-found"
            " --context minikube":
            Result(""),
        "kubectl get pv -o json --context minikube": Result('{"kind": "List", "items": []}'),
        "minikube -p minikube image ls": Result("docker.io/library/todo-backend:latest\n"),
        "minikube -p minikube image rm todo-backend:latest": Result("", stderr=IN_USE,
                                                                    exited=1),
    })
    s, _, _ = session(c)
    with pytest.raises(proc.ToolError) as failed:
        day2.run_down(s, purge=True, yes=True)
    assert "is using its referenced image" in failed.value.message
    assert failed.value.hint == ("minikube -p minikube image rm todo-backend:latest"
                                 "   # once no container uses them")


def test_purge_with_yes_uninstalls_then_deletes_secret_volume_and_images() -> None:
    calls: list[str] = []
    answers = {
        **PREREQS,
        "helm uninstall todo-app -n todo --wait --kube-context minikube": Result(
            'release "todo-app" uninstalled\n'),
        "kubectl delete secret todo-secrets -n todo --ignore-not-found --context minikube": Result(
            'secret "todo-secrets" deleted\n'),
        "kubectl get pvc -n todo -l app=todo-app,component=postgresql -o "
        "'jsonpath={.items[*].spec.volumeName}' --context minikube": Result("pvc-6b1f0d2e\n"),
        "kubectl delete pvc -n todo -l app=todo-app,component=postgresql --ignore-not-found"
            " --context minikube":
            Result('persistentvolumeclaim "data-todo-postgres-0" deleted\n'),
        "kubectl wait --for=delete pv/pvc-6b1f0d2e --timeout=20s --context minikube": Result(
            'persistentvolume/pvc-6b1f0d2e condition met\n'),
        "minikube -p minikube image ls": [Result(OUR_IMAGES), Result(OTHER_IMAGES)],
        "minikube -p minikube image rm todo-backend:3f9a1c2b7d4e todo-backend:latest "
        "todo-frontend:latest": Result(""),
    }

    class Recording(MockContext):
        def run(self, command: str, *args: object, **kwargs: object) -> Result:
            calls.append(command)
            return super().run(command, *args, **kwargs)

    s, out, _ = session(Recording(run=answers))
    day2.run_down(s, purge=True, yes=True)
    destructive = [name for name in answers if name not in PREREQS]
    # image ls again after the rm: nothing of ours is left, so no retry
    assert [c for c in calls if c not in PREREQS] == [*destructive,
                                                      "minikube -p minikube image ls"]
    take, release = lock_commands()  # all of it under the run lock, released at the end
    assert calls.index(take) < calls.index(destructive[0]) and calls[-1] == release
    assert "images removed: todo-backend:3f9a1c2b7d4e, todo-backend:latest, " \
           "todo-frontend:latest" in out.getvalue()


def test_down_without_purge_only_uninstalls() -> None:
    c = MockContext(run={**PREREQS, "helm uninstall todo-app -n todo --wait"
        " --kube-context minikube": Result(
        "", stderr="Error: uninstall: Release not loaded: todo-app: release: not found\n",
        exited=1)})
    s, out, _ = session(c)
    day2.run_down(s)
    assert "release todo-app is not installed in namespace todo (context minikube)" in \
        out.getvalue()


def test_logs_and_url_name_the_runs_context_on_stderr_only() -> None:
    c = MockContext(run={**PREREQS, **URL_CMDS,
                         "kubectl logs -n todo -l app=todo-app --all-containers --prefix "
                         "--tail=100 --max-log-requests=10 --context minikube": Result("x\n")})
    s, out, err = session(c)
    day2.run_logs(s)
    assert err.getvalue() == "logs of all pods in namespace todo, context minikube\n"
    assert out.getvalue() == "x\n"
    s, out, err = session(c)
    day2.run_url(s)
    assert out.getvalue() == "http://192.168.49.2:30080\n"  # still alone on stdout
    assert "(the frontend of namespace todo, context minikube)" in err.getvalue()


@pytest.mark.helm
@pytest.mark.parametrize("major", [3, 4])
def test_both_helm_majors_accept_the_release_list_flags(helm_bins: dict[int, Path],
                                                        major: int, tmp_path: Path) -> None:
    """No cluster here: the call fails on the connection, never on a flag (Helm 4 dropped
    ``helm list --all``; the first version of this call broke `inv status` on Helm 4)."""
    import os
    import subprocess

    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: "
                      "'https://127.0.0.1:1'}}]\ncontexts: [{name: x, context: {cluster: x}}]\n"
                      "current-context: x\n")
    argv = Helm(MockContext(), "x", "todo", 120.0).argv(
        *release_list_args("todo-app", "todo"))
    out = subprocess.run([str(helm_bins[major]), *argv[1:]], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "KUBECONFIG": str(config)})
    assert "unknown flag" not in out.stderr and "connect" in out.stderr, out.stderr


def test_a_release_list_without_the_release_means_not_installed() -> None:
    assert day2.parse_release_list("[]", "todo-app") is None
    assert day2.parse_release_list(RELEASE_LIST, "other") is None


def test_every_task_flag_has_a_letter_as_its_short_flag_or_none() -> None:
    """invoke gave `inv build --no-color` the short flag `-`, printed as `--, --no-color`."""
    import re
    import subprocess
    import sys

    from tests.conftest import ROOT

    listing = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60, check=True).stdout
    names = [line.split()[0] for line in listing.splitlines()[1:] if line.strip()]
    assert "build" in names and "up" in names
    for name in names:
        help_text = subprocess.run([sys.executable, "-m", "invoke", "--help", name], cwd=ROOT,
                                   capture_output=True, text=True, timeout=60).stdout
        shorts = re.findall(r"^\s+-(\S)[ ,]", help_text, re.MULTILINE)
        assert all(flag.isalpha() for flag in shorts), (name, shorts)


# `kubectl get pv -o json` on minikube v1.37.0, captured live after `minikube stop`, `inv up`
# and the claim's deletion: Released, and its storage-provisioner (a new identity since the
# restart) ignores it
ORPHAN = json.loads((Path(__file__).resolve().parent.parent / "fixtures" / "kubectl"
                     / "pv-released-hostpath-orphan.json").read_text())["items"][0]
ORPHAN_NAME = ORPHAN["metadata"]["name"]
ORPHAN_PATH = "/tmp/hostpath-provisioner/todo/data-todo-postgres-0"


def test_a_released_volume_of_minikubes_provisioner_is_an_orphan_only_under_its_root() -> None:
    assert day2.orphaned_hostpath_volumes([ORPHAN]) == [(ORPHAN_NAME, ORPHAN_PATH)]

    def changed(path: tuple[str, ...], value: object) -> dict[str, object]:
        pv = json.loads(json.dumps(ORPHAN))
        node = pv
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return pv

    for other in (changed(("status", "phase"), "Bound"),
                  changed(("spec", "persistentVolumeReclaimPolicy"), "Retain"),
                  changed(("spec", "hostPath", "path"), "/var/lib/data"),
                  changed(("spec", "hostPath", "path"), "/tmp/hostpath-provisioner/../../etc"),
                  changed(("metadata", "annotations", "pv.kubernetes.io/provisioned-by"),
                          "rancher.io/local-path")):
        assert day2.orphaned_hostpath_volumes([other]) == []


def test_the_volumes_of_our_claims_are_found_by_their_claim_in_the_namespace() -> None:
    assert day2.volumes_of_our_claims([ORPHAN], "todo") == [ORPHAN_NAME]
    assert day2.volumes_of_our_claims([ORPHAN], "other") == []
    foreign = json.loads(json.dumps(ORPHAN))
    foreign["spec"]["claimRef"]["name"] = "data-someone-else-0"
    assert day2.volumes_of_our_claims([foreign], "todo") == []


def test_purge_removes_the_volume_minikubes_provisioner_ignores_and_says_so() -> None:
    calls: list[str] = []
    answers = {
        **PREREQS,
        "helm uninstall todo-app -n todo --wait --kube-context minikube": Result(""),
        "kubectl delete secret todo-secrets -n todo --ignore-not-found --context minikube":
            Result(""),
        "kubectl get pvc -n todo -l app=todo-app,component=postgresql -o "
        "'jsonpath={.items[*].spec.volumeName}' --context minikube": Result(ORPHAN_NAME),
        "kubectl delete pvc -n todo -l app=todo-app,component=postgresql --ignore-not-found"
            " --context minikube": Result(""),
        f"kubectl wait --for=delete pv/{ORPHAN_NAME} --timeout=20s --context minikube": Result(
            stderr="error: timed out waiting for the condition on persistentvolumes/"
                   f"{ORPHAN_NAME}\n", exited=1),
        f"kubectl get pv {ORPHAN_NAME} --ignore-not-found -o json --context minikube": Result(
            json.dumps(ORPHAN)),
        f"minikube -p minikube ssh -- sudo rm -rf {ORPHAN_PATH}": Result(""),
        f"kubectl delete pv {ORPHAN_NAME} --ignore-not-found --context minikube": Result(""),
        "minikube -p minikube image ls": Result(OTHER_IMAGES),
    }

    class Recording(MockContext):
        def run(self, command: str, *args: object, **kwargs: object) -> Result:
            calls.append(command)
            return super().run(command, *args, **kwargs)

    s, out, err = session(Recording(run=answers))
    day2.run_down(s, purge=True, yes=True)
    assert f"minikube -p minikube ssh -- sudo rm -rf {ORPHAN_PATH}" in calls
    assert f"kubectl delete pv {ORPHAN_NAME} --ignore-not-found --context minikube" in calls
    text = out.getvalue() + err.getvalue()
    assert "minikube's provisioner ignores it" in text and ORPHAN_PATH in text
    assert "PostgreSQL volume deleted" in text


def test_purge_names_a_volume_it_cannot_delete_and_does_not_claim_it_deleted() -> None:
    kept = json.loads(json.dumps(ORPHAN))
    kept["spec"]["persistentVolumeReclaimPolicy"] = "Retain"
    answers = {
        **PREREQS,
        "helm uninstall todo-app -n todo --wait --kube-context minikube": Result(""),
        "kubectl delete secret todo-secrets -n todo --ignore-not-found --context minikube":
            Result(""),
        "kubectl get pvc -n todo -l app=todo-app,component=postgresql -o "
        "'jsonpath={.items[*].spec.volumeName}' --context minikube": Result(""),
        "kubectl delete pvc -n todo -l app=todo-app,component=postgresql --ignore-not-found"
            " --context minikube": Result(""),
        "kubectl get pv -o json --context minikube": Result(json.dumps(
            {"kind": "List", "items": [kept]})),
        f"kubectl wait --for=delete pv/{ORPHAN_NAME} --timeout=20s --context minikube": Result(
            stderr="error: timed out waiting for the condition\n", exited=1),
        f"kubectl get pv {ORPHAN_NAME} --ignore-not-found -o json --context minikube": Result(
            json.dumps(kept)),
        "minikube -p minikube image ls": Result(OTHER_IMAGES),
    }
    s, out, err = session(MockContext(run=answers))
    day2.run_down(s, purge=True, yes=True)
    text = out.getvalue() + err.getvalue()
    assert f"volume {ORPHAN_NAME} is still there" in text
    assert f"kubectl delete pv {ORPHAN_NAME}" in text
    assert "PostgreSQL volume deleted" not in text
