"""inv deploy's pure parts: helm argv per major, history → recovery, release parsing, diffs.

The JSON inputs are the shapes helm 3.17 / 4.1 print for ``helm history -o json`` and
``helm upgrade -o json`` (captured from the real binaries against a minikube cluster).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from invoke import MockContext

from todo_deploy import deploy, doctor, images, secrets, tools
from todo_deploy.chart import ChartValues
from todo_deploy.config import Settings
from todo_deploy.deploy import DeployPlan, Recovery, Release, Revision
from todo_deploy.errors import ExitCode, PrereqError
from todo_deploy.tools import Helm

HELM = Helm(MockContext(), "minikube", "todo", 120.0)  # renders the hints' commands

VALUES = ChartValues(backend_repository="todo-backend", backend_tag="3f9a1c2b7d4e",
                     frontend_repository="todo-frontend", frontend_tag="123456789012",
                     secret_digest="d" * 64, embedded_db=True)
PLAN = DeployPlan("todo-app", "todo", Path("/repo/helm/todo-app"), VALUES, 300.0)
SET_FLAGS = [
    "--set-string", "backend.image.repository=todo-backend",
    "--set-string", "backend.image.tag=3f9a1c2b7d4e",
    "--set-string", "frontend.image.repository=todo-frontend",
    "--set-string", "frontend.image.tag=123456789012",
    "--set-string", "secrets.existingSecret=todo-secrets",
    "--set-string", "secretDigest=" + "d" * 64,
    "--set", "secrets.create=false",
    "--set", "postgresql.enabled=true",
]
HELM4_ONLY = ("--rollback-on-failure", "--force-replace", "--server-side", "--force-conflicts",
              "--take-ownership")
DEPRECATED_IN_HELM4 = ("--atomic", "--force")


def history(*rows: tuple[int, str]) -> str:
    return json.dumps([{"revision": n, "updated": f"2025-05-20T10:0{n}:00.000000000Z",
                        "status": status, "chart": "todo-app-1.0.0", "app_version": "1.0.0",
                        "description": "Install complete" if n == 1 else "Upgrade complete"}
                       for n, status in rows])


def test_helm3_upgrade_command_installs_waits_and_sets_tags_digest_and_secret() -> None:
    assert deploy.upgrade_args(PLAN, 3) == [
        "upgrade", "--install", "todo-app", "/repo/helm/todo-app",
        "--namespace", "todo", "--create-namespace", "--wait", "--timeout", "300s",
        "--output", "json", *SET_FLAGS]


def test_helm4_upgrade_command_is_the_same_when_no_renamed_flag_is_needed() -> None:
    assert deploy.upgrade_args(PLAN, 4) == deploy.upgrade_args(PLAN, 3)


def test_force_is_force_on_helm3_and_force_replace_on_helm4() -> None:
    forced = replace(PLAN, force=True)
    assert "--force" in deploy.upgrade_args(forced, 3)
    assert "--force-replace" in deploy.upgrade_args(forced, 4)


@pytest.mark.parametrize("force", [False, True])
def test_helm3_never_gets_a_helm4_only_flag(force: bool) -> None:
    argv = deploy.upgrade_args(replace(PLAN, force=force), 3)
    assert not set(argv) & set(HELM4_ONLY)


@pytest.mark.parametrize("force", [False, True])
def test_helm4_never_gets_a_flag_deprecated_in_helm4(force: bool) -> None:
    argv = deploy.upgrade_args(replace(PLAN, force=force), 4)
    assert not set(argv) & set(DEPRECATED_IN_HELM4)


def test_digest_tags_travel_as_strings_so_all_digit_tags_survive() -> None:
    argv = deploy.upgrade_args(PLAN, 3)
    assert argv[argv.index("frontend.image.tag=123456789012") - 1] == "--set-string"


def test_timeout_is_whole_seconds_for_helm() -> None:
    assert deploy.timeout_flag(299.6) == "300s"
    assert deploy.timeout_flag(0.2) == "1s"


def test_rollback_command_names_the_revision_and_waits() -> None:
    assert deploy.rollback_args("todo-app", "todo", 4, 120) == [
        "rollback", "todo-app", "4", "--namespace", "todo", "--wait",
        "--timeout", "120s"]


@pytest.mark.parametrize(("version", "major"), [("v3.17.3", 3), ("v4.1.4", 4)])
def test_helm_major_accepts_3_and_4(version: str, major: int) -> None:
    assert deploy.helm_major(doctor.parse_helm_version(version)) == major


def test_helm_major_refuses_helm2_as_a_missing_prerequisite() -> None:
    with pytest.raises(PrereqError) as refused:
        deploy.helm_major(doctor.parse_helm_version("v2.17.0"))
    assert refused.value.code == ExitCode.PREREQ
    assert refused.value.message == "helm v2.17.0 is not Helm 3 or 4"
    assert refused.value.hint


def test_a_helm_version_that_cannot_be_read_is_named_unknown() -> None:
    with pytest.raises(PrereqError) as refused:
        deploy.helm_major(doctor.parse_helm_version(""))
    assert refused.value.message == "helm (unknown) is not Helm 3 or 4"


def test_the_revision_description_is_the_prefix_and_128_bits_of_the_fingerprint() -> None:
    """Short enough to read in ``helm history``; what the next deploy compares."""
    assert deploy.release_description("0123456789abcdef" * 4) == (
        "inv deploy: 0123456789abcdef0123456789abcdef")


def test_history_is_parsed_oldest_first() -> None:
    rows = deploy.parse_history(history((2, "deployed"), (1, "superseded")))
    assert [r.number for r in rows] == [1, 2]
    assert rows[1] == Revision(2, "deployed", "Upgrade complete")


def test_history_of_a_missing_release_is_empty() -> None:
    assert deploy.parse_history("Error: release: not found\n") == []


def test_failed_upgrade_rolls_back_to_the_last_good_revision() -> None:
    rows = deploy.parse_history(history((1, "superseded"), (2, "deployed"), (3, "failed")))
    plan = deploy.recovery_plan(rows, before=2)
    assert plan == deploy.RecoveryPlan(Recovery.ROLLBACK, failed=3, target=2)


def test_rollback_skips_earlier_failed_revisions() -> None:
    rows = deploy.parse_history(history((1, "superseded"), (2, "failed"), (3, "failed")))
    assert deploy.recovery_plan(rows, before=2).target == 1


def test_failed_first_install_has_nothing_to_roll_back_to() -> None:
    rows = deploy.parse_history(history((1, "failed")))
    assert deploy.recovery_plan(rows, before=None) == deploy.RecoveryPlan(
        Recovery.FIRST_INSTALL, failed=1)


def test_failure_before_a_new_revision_changes_nothing() -> None:
    rows = deploy.parse_history(history((1, "deployed")))
    assert deploy.recovery_plan(rows, before=1).action is Recovery.UNCHANGED
    assert deploy.recovery_plan([], before=None).action is Recovery.UNCHANGED


def test_a_revision_another_run_made_since_is_never_rolled_back() -> None:
    """This run upgraded from revision 2 (its own is 3); revision 4 is another run's."""
    rows = deploy.parse_history(history((2, "superseded"), (3, "failed"), (4, "deployed")))
    assert deploy.recovery_plan(rows, before=2) == deploy.RecoveryPlan(
        Recovery.NOT_OURS, failed=3, target=4)


def test_a_failure_before_helm_recorded_ours_does_not_roll_back_anothers_revision() -> None:
    """Helm failed before it made revision 3, and another run has made revision 3 since: its
    number is the one this run would have had, but it follows another run's revision 4."""
    rows = deploy.parse_history(history((2, "superseded"), (3, "superseded"), (4, "failed")))
    assert deploy.recovery_plan(rows, before=2).action is Recovery.NOT_OURS


def test_release_and_notes_come_from_upgrade_json() -> None:
    stdout = json.dumps({"name": "todo-app", "info": {
        "first_deployed": "2025-05-20T10:01:00Z", "last_deployed": "2025-05-20T10:05:00Z",
        "deleted": "", "description": "Upgrade complete", "status": "deployed",
        "notes": "Reach the app:\n  http://$(minikube ip):30080"},
        "config": {"secretDigest": "d" * 64}, "manifest": "---\n", "version": 3,
        "namespace": "todo"})
    release, notes = deploy.parse_release(stdout, Release("todo-app", "todo", 1))
    assert release == Release("todo-app", "todo", 3, "deployed")
    assert "30080" in notes


def test_release_falls_back_when_helm_printed_no_json() -> None:
    fallback = Release("todo-app", "todo", 2)
    assert deploy.parse_release("Release \"todo-app\" has been upgraded.", fallback) == (
        fallback, "")


CONFIG = """---
# Source: todo-app/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: todo-config
data:
  LOG_LEVEL: "info"
"""
DEPLOYMENT = """---
# Source: todo-app/templates/backend-deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: todo-backend
spec:
  template:
    spec:
      containers:
        - name: backend
          image: todo-backend:{tag}
"""


def test_changed_image_tag_shows_as_a_one_line_change_of_the_deployment() -> None:
    current = CONFIG + DEPLOYMENT.format(tag="aaaaaaaaaaaa")
    changes = deploy.manifest_changes(current, CONFIG + DEPLOYMENT.format(tag="bbbbbbbbbbbb"))
    assert [(c.key, c.kind) for c in changes] == [("Deployment/todo-backend", "change")]
    body = [line for line in changes[0].diff if line[:1] in "+-" and line[:3] not in
            ("+++", "---")]
    assert body == ["-          image: todo-backend:aaaaaaaaaaaa",
                    "+          image: todo-backend:bbbbbbbbbbbb"]


def test_new_and_removed_objects_are_listed_as_add_and_remove() -> None:
    changes = deploy.manifest_changes(CONFIG, DEPLOYMENT.format(tag="x"))
    assert [(c.key, c.kind) for c in changes] == [("Deployment/todo-backend", "add"),
                                                  ("ConfigMap/todo-config", "remove")]


def test_identical_manifests_have_no_change() -> None:
    assert deploy.manifest_changes(CONFIG, CONFIG) == []


def test_interrupted_deploy_is_unstuck_by_rolling_back_to_the_last_good_revision() -> None:
    rows = deploy.parse_history(history((1, "superseded"), (2, "deployed"),
                                        (3, "pending-upgrade")))
    assert deploy.stuck_hint(rows, HELM, "todo-app", "todo") == (
        "revision 3 is pending-upgrade (an interrupted deploy): "
        "helm rollback todo-app 2 --namespace todo --kube-context minikube   then: inv deploy")


def test_interrupted_first_install_is_cleaned_up_with_uninstall() -> None:
    rows = deploy.parse_history(history((1, "pending-install")))
    hint = deploy.stuck_hint(rows, HELM, "todo-app", "todo")
    assert hint is not None and "helm uninstall todo-app --namespace todo" in hint


def test_a_settled_release_needs_no_unstick_hint() -> None:
    assert deploy.stuck_hint(deploy.parse_history(history((1, "deployed"))), HELM, "r",
                             "n") is None


def test_a_configured_values_file_comes_before_the_suites_own_values_so_they_win() -> None:
    plan = replace(PLAN, values=replace(VALUES, values_file="/repo/local-values.yaml"))
    argv = deploy.upgrade_args(plan, 4)
    assert argv[argv.index("--values") + 1] == "/repo/local-values.yaml"
    assert argv.index("--values") < argv.index("--set-string")


def test_without_a_values_file_no_values_flag_is_passed() -> None:
    assert "--values" not in deploy.upgrade_args(PLAN, 3)


def test_each_change_is_a_unified_diff_headed_by_the_object_or_dev_null() -> None:
    current = CONFIG + DEPLOYMENT.format(tag="aaaaaaaaaaaa")
    changed, = deploy.manifest_changes(current, CONFIG + DEPLOYMENT.format(tag="bbbbbbbbbbbb"))
    assert changed.diff[:2] == ("--- current  Deployment/todo-backend",
                                "+++ would be Deployment/todo-backend")
    added, removed = deploy.manifest_changes(CONFIG, DEPLOYMENT.format(tag="x"))
    config = [line for line in CONFIG.splitlines() if line and not line.startswith(("---", "#"))]
    assert added.diff[:2] == ("--- /dev/null", "+++ would be Deployment/todo-backend")
    assert list(added.diff[3:]) == [
        "+" + line for line in DEPLOYMENT.format(tag="x").splitlines()
        if line and not line.startswith(("---", "#"))]
    assert removed.diff[:2] == ("--- current  ConfigMap/todo-config", "+++ /dev/null")
    assert list(removed.diff[3:]) == ["-" + line for line in config]


# -- the small helpers, word for word ------------------------------------------------------


def test_the_interrupted_first_install_hint_is_the_uninstall_then_inv_deploy() -> None:
    rows = deploy.parse_history(history((1, "pending-install")))
    assert deploy.stuck_hint(rows, HELM, "todo-app", "todo") == (
        "revision 1 is pending-install (an interrupted install): helm uninstall todo-app "
        "--namespace todo --kube-context minikube   # removes the failed release; fix the "
        "cause above, then: inv deploy")


def test_a_pending_revision_rolls_back_past_failed_ones_to_the_last_good_one() -> None:
    rows = deploy.parse_history(history((1, "deployed"), (2, "superseded"), (3, "failed"),
                                        (4, "pending-rollback")))
    hint = deploy.stuck_hint(rows, HELM, "todo-app", "todo")
    assert hint is not None and "helm rollback todo-app 2 " in hint


def test_no_history_needs_no_unstick_hint() -> None:
    assert deploy.stuck_hint([], HELM, "todo-app", "todo") is None


def test_the_statefulset_is_deleted_in_the_foreground_waiting_and_its_claim_kept() -> None:
    assert deploy.statefulset_delete_argv("todo") == [
        "kubectl", "delete", "statefulset", "todo-postgres", "-n", "todo",
        "--cascade=foreground", "--wait=true"]


def test_the_governing_service_is_read_without_failing_when_there_is_no_statefulset() -> None:
    assert deploy.governing_service_argv("todo") == [
        "kubectl", "get", "statefulset", "todo-postgres", "-n", "todo", "--ignore-not-found",
        "-o", "jsonpath={.spec.serviceName}"]


def test_every_rendered_object_is_asked_for_in_one_get_and_absent_ones_are_no_error() -> None:
    docs = deploy.chart.split_documents(CONFIG + DEPLOYMENT.format(tag="x"))
    assert deploy.existing_objects_argv("todo", docs) == [
        "kubectl", "get", "configmap/todo-config", "deployment/todo-backend", "-n", "todo",
        "-o", "json", "--ignore-not-found"]


@pytest.mark.parametrize(("stdout", "objects"), [
    ('{"kind": "List", "items": [{"kind": "Service"}, {"kind": "Secret"}]}',
     [{"kind": "Service"}, {"kind": "Secret"}]),
    ('{"kind": "List", "items": null}', []),
    ('{"kind": "Service", "metadata": {"name": "a"}}',
     [{"kind": "Service", "metadata": {"name": "a"}}]),
    ("", []),  # --ignore-not-found and nothing found: no output at all
    ("{}", []),
    ('{"items": [{"kind": "Service"}]}', []),  # no kind: not an object kubectl printed
    ('["Service"]', []),
    ("error: the server doesn't have a resource type", []),
])
def test_kubectl_json_of_several_objects_one_or_none_is_read_as_a_list(
        stdout: str, objects: list[dict[str, object]]) -> None:
    assert tools.parse_objects(stdout) == objects


def test_only_pods_that_appeared_since_the_deploy_started_are_its_verdict() -> None:
    old = {"metadata": {"uid": "u-1", "name": "old"}}
    new = {"metadata": {"uid": "u-2", "name": "new"}}
    nameless = {"status": {}}  # no metadata yet: new
    assert deploy.new_pods([old, new, nameless], {"u-1"}) == [new, nameless]
    assert deploy.new_pods([old], set()) == [old]


def secret_doc(body: str) -> deploy.chart.Document:
    return deploy.chart.split_documents(
        "---\n# Source: todo-app/templates/secret.yaml\napiVersion: v1\nkind: Secret\n"
        "metadata:\n  name: todo-secrets\n" + body)[0]


def test_a_secret_with_only_plain_string_data_is_masked_too() -> None:
    old, new = deploy.masked_pair(None, secret_doc("stringData:\n  database-url: postgres://u:"
                                                   "hunter2@db/todo\n"))
    assert old is None and new is not None
    assert "hunter2" not in new
    assert "  database-url: '***'" in new.splitlines()


def test_a_secret_with_an_empty_data_section_is_shown_without_values() -> None:
    """``data:`` with nothing under it (every key of a template switched off) is null."""
    _, new = deploy.masked_pair(None, secret_doc("data:\nstringData:\n  a: b\n"))
    assert new is not None
    assert "data: {}" in new.splitlines() and "  a: '***'" in new.splitlines()


def test_a_masked_secret_keeps_the_charts_key_order_like_every_other_object() -> None:
    _, new = deploy.masked_pair(None, secret_doc("type: Opaque\ndata:\n  z: eA==\n  a: eQ==\n"))
    assert new is not None
    assert new.splitlines() == ["apiVersion: v1", "kind: Secret", "metadata:",
                                "  name: todo-secrets", "type: Opaque", "data:",
                                "  z: '***'", "  a: '***'"]


def test_the_new_revision_is_never_its_own_rollback_target_whatever_helm_recorded() -> None:
    """The watch can stop a deploy whose revision helm already recorded as deployed."""
    rows = deploy.parse_history(history((1, "superseded"), (2, "deployed")))
    assert deploy.recovery_plan(rows, 1) == deploy.RecoveryPlan(Recovery.ROLLBACK, failed=2,
                                                                target=1)


REFS = [images.ImageRef("frontend", "todo-frontend", "123456789012"),
        images.ImageRef("backend", "todo-backend", "3f9a1c2b7d4e")]


def test_chart_values_carry_the_tags_the_secret_and_the_settings() -> None:
    settings = Settings(target="registry", secret_name="team-secrets",
                        values_file=Path("/repo/local.yaml"), image_pull_secrets=("regcred",))
    digests = {"backend": "sha256:" + "b" * 64, "frontend": "sha256:" + "f" * 64}
    values = deploy.chart_values(REFS, secrets.ClusterSecret("d" * 64, True), settings, digests)
    assert values == ChartValues(
        backend_repository="todo-backend", backend_tag="3f9a1c2b7d4e",
        frontend_repository="todo-frontend", frontend_tag="123456789012",
        secret_digest="d" * 64, embedded_db=True, existing_secret="team-secrets",
        values_file="/repo/local.yaml", pull_policy="IfNotPresent",
        backend_digest="sha256:" + "b" * 64, frontend_digest="sha256:" + "f" * 64,
        image_pull_secrets=("regcred",))
    # pull secrets are the registry target's: a local target's pods pull nothing
    assert deploy.chart_values(REFS, None, replace(settings, target="docker")
                               ).image_pull_secrets == ()


def test_without_a_secret_yet_the_values_name_no_digest_and_no_embedded_database() -> None:
    """What ``inv deploy --dry-run`` renders before ``inv secrets`` ran."""
    values = deploy.chart_values(REFS, None, Settings())
    assert (values.secret_digest, values.embedded_db, values.values_file) == ("", False, "")
    # and no digests (a local target): empty, as the fingerprint of every earlier deploy had
    assert (values.backend_digest, values.frontend_digest) == ("", "")


def test_the_fingerprint_of_the_same_chart_and_values_stays_the_same_across_versions(
        tmp_path: Path) -> None:
    """A release a previous version of the suite deployed is recognised by this one (a changed
    way of computing it would upgrade every release once, for nothing). Change the expected
    value only together with a note that every release will be upgraded once."""
    (tmp_path / "Chart.yaml").write_text("name: todo-app\nversion: 1.0.0\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "cm.yaml").write_text("kind: ConfigMap\n")
    assert deploy.release_fingerprint(tmp_path, VALUES) == (
        "b406bd8cf80f8740a4f31c1e99f0c383bd3fda8d073ccd79dea66a850a8ad089")
