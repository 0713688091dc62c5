"""``inv deploy --dry-run``: what it says in each state the cluster can be in (deploy's
``_dry_run``), against the recording fakes of tests/unit/test_deploy_flow.py (minikube 1.35
with containerd, kubectl 1.31, helm 3.17.3) and the REAL helm's render of the chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FakeTools
from tests.fakes.canned import RELEASE_NOT_FOUND
from tests.unit.test_deploy_flow import (
    DIGEST,
    cluster_up,
    manifest_of,
    session,
    settings_in,
    upgrades,
)
from todo_deploy import deploy
from todo_deploy.errors import PrereqError
from todo_deploy.tools import Release

pytestmark = pytest.mark.helm

UNREACHABLE = "Unable to connect to the server: dial tcp 192.168.49.2:8443: connect: no route\n"


def rendered(f: FakeTools) -> str:
    """The render cluster_up answers ``helm template`` with (the real helm's)."""
    return next(r["stdout"] for r in f.fallbacks if r["match"] == "^template ")


def not_installed(f: FakeTools) -> None:
    f.rule("helm", r"^get manifest", code=1, stderr=RELEASE_NOT_FOUND)


def test_a_release_not_installed_would_create_everything_and_says_what_is_not_built(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    refs = cluster_up(fake_tools, settings, 3, built=False)
    not_installed(fake_tools)
    s, out = session(settings)

    release = deploy.run_deploy(s, dry_run=True)

    text = out.getvalue()
    adds = [line for line in text.splitlines() if line.startswith("── add: ")]
    assert adds and not [line for line in text.splitlines()
                         if line.startswith(("── change: ", "── remove: "))]
    assert ("release todo-app is not installed in todo, context minikube (or the cluster is "
            "unreachable): everything would be created") in text
    assert (f"dry run (context minikube): {len(adds)} to add, 0 to change, 0 to remove; "
            "nothing was applied") in text
    assert ("! not built yet: " + ", ".join(r.ref for r in refs) + "\n  fix: inv build\n") in text
    assert "no Secret" not in text  # there is one
    assert release == Release("todo-app", "todo", 0, "dry-run")
    assert upgrades(fake_tools) == []
    # the release asked about is the configured one, rendered with the Secret's values
    assert [a[:3] for a in fake_tools.argvs("helm") if a[:2] == ["get", "manifest"]] == [
        ["get", "manifest", "todo-app"]]
    (template,) = [" ".join(a) for a in fake_tools.argvs("helm") if a[0] == "template"]
    assert f"secretDigest={DIGEST}" in template and "postgresql.enabled=true" in template


def test_a_release_that_matches_the_render_has_nothing_to_change(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 3)
    fake_tools.rule("helm", r"^get manifest", stdout=rendered(fake_tools))
    s, out = session(settings)

    release = deploy.run_deploy(s, dry_run=True)

    text = out.getvalue()
    assert ("✓ dry run (context minikube): the release already matches the chart; nothing to "
            "change") in text
    assert "── " not in text and "to add" not in text
    for warning in ("not installed", "not built yet", "no Secret", "cannot"):
        assert warning not in text
    assert release == Release("todo-app", "todo", 0, "dry-run")


def test_an_object_the_chart_no_longer_renders_would_be_removed(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 3)
    extra = ("---\n# Source: todo-app/templates/old.yaml\napiVersion: v1\nkind: ConfigMap\n"
             "metadata:\n  name: todo-old\n  namespace: todo\ndata:\n  A: b\n")
    fake_tools.rule("helm", r"^get manifest", stdout=rendered(fake_tools) + extra)
    s, out = session(settings)

    deploy.run_deploy(s, dry_run=True)

    text = out.getvalue()
    assert "── remove: ConfigMap/todo-old\n" in text
    assert "--- current  ConfigMap/todo-old\n+++ /dev/null\n" in text
    assert "dry run (context minikube): 0 to add, 0 to change, 1 to remove; nothing was " \
        "applied" in text


def test_no_secret_yet_is_a_warning_with_the_fix_and_the_render_goes_on_without_it(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    refs = cluster_up(fake_tools, settings, 3, secret=False)
    fake_tools.rule("helm", r"^get manifest", stdout=manifest_of(rendered(fake_tools),
                                                                 tag="000000000000"))
    s, out = session(settings)

    deploy.run_deploy(s, dry_run=True)

    text = out.getvalue()
    assert "! no Secret todo-secrets yet: a deploy would refuse\n  fix: inv secrets\n" in text
    assert "cannot read Secret" not in text
    assert "not built yet" not in text  # both are in the daemon
    template = next(a for a in fake_tools.argvs("helm") if a[0] == "template")
    assert f"backend.image.tag={refs[0].tag}" in " ".join(template)


def test_a_secret_or_daemon_that_cannot_be_read_is_a_warning_not_a_stop(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    # before cluster_up's answers: the first rule that matches wins
    fake_tools.rule("kubectl", r"^get secret todo-secrets", code=1, stderr=UNREACHABLE)
    fake_tools.rule("minikube", r"image ls", code=1, stderr="X Exiting due to GUEST_STATUS\n")
    cluster_up(fake_tools, settings, 3)
    not_installed(fake_tools)
    s, out = session(settings)

    release = deploy.run_deploy(s, dry_run=True)

    text = out.getvalue()
    assert ("! cannot read Secret todo-secrets: `kubectl get secret …` exited 1: Unable to "
            "connect to the server") in text
    assert ("! cannot check the images in the target daemon: `minikube -p minikube …` exited "
            "1: X Exiting due to GUEST_STATUS") in text
    # what could not be read is not claimed to be missing
    assert "no Secret todo-secrets yet" not in text
    assert "not built yet" not in text
    assert release.status == "dry-run"


def test_a_dry_run_needs_helm(fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    fake_tools.rule("helm", r"^version --template", code=127, stderr="helm: not found\n")
    cluster_up(fake_tools, settings, 3)
    with pytest.raises(PrereqError):
        deploy.run_deploy(session(settings)[0], dry_run=True)
    assert not [a for a in fake_tools.argvs("helm") if a[0] in ("template", "get")]

