"""Pruning old digest tags after a build, in-process: when the release is asked, what is
removed or refused, what is said, and when nothing may go (helm cannot tell).

A recording builder lists tags and untags the way a Docker daemon does (the real daemon side:
tests/integration/test_images_prune_docker.py); invoke's MockContext answers ``helm get values
-o json`` with helm's shapes (the user-supplied values; ``Error: release: not found``).
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from invoke import MockContext, Result

from tests.conftest import tiny_build_context
from todo_deploy import images
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.images.daemon import sortable_created
from todo_deploy.images.prune import Pruned, parse_release_refs, prune_old_tags, report
from todo_deploy.session import Session

HELM = ("helm get values todo-app --namespace todo --output json --kube-context minikube")
NOT_FOUND = Result(stderr="Error: release: not found\n", exited=1)


class Daemon:
    def __init__(self, tags: list[images.TagInfo], refuse: dict[str, str] | None = None):
        self.listed = tags
        self.refuse = refuse or {}
        self.removed: list[str] = []

    def tags(self, repository: str) -> list[images.TagInfo]:
        return [t for t in self.listed if t.repository == repository]

    def remove(self, ref: str) -> str | None:
        if ref in self.refuse:
            return self.refuse[ref]
        self.removed.append(ref)
        return None


@pytest.fixture
def built(tmp_path: Path) -> images.BuildContext:
    context: images.BuildContext = tiny_build_context(tmp_path)
    return context


def older(built: images.BuildContext, n: int) -> list[images.TagInfo]:
    """``n`` digest tags older than ``built``'s, newest first, then its own and ``:latest``."""
    tags = [images.TagInfo("todo-backend", f"{k:012x}", f"sha256:{k}",
                           sortable_created(f"2026-11-29T11:{59 - k:02d}:00Z"))
            for k in range(n)]
    now = sortable_created("2026-11-29T12:00:00Z")
    return [images.TagInfo("todo-backend", built.tag, "sha256:new", now),
            images.TagInfo("todo-backend", "latest", "sha256:new", now), *tags]


def session(c: MockContext, keep: int = 3) -> tuple[Session, io.StringIO]:
    out = io.StringIO()
    settings = replace(Settings.from_config(None), context="minikube", keep_tags=keep)
    return Session(c, settings, Console(no_color=True, file=out, err_file=out)), out


def test_up_to_keep_digest_tags_asks_nobody_and_removes_nothing(
        built: images.BuildContext) -> None:
    c = MockContext(run={})
    s, _ = session(c)
    daemon = Daemon(older(built, 2))  # with this build's: 3 digest tags
    assert prune_old_tags(s, daemon, [built]) == Pruned((), (), 3)  # type: ignore[arg-type]
    assert c.run.call_args_list == []  # type: ignore[attr-defined]


def test_one_past_keep_goes_when_no_release_uses_it(built: images.BuildContext) -> None:
    c = MockContext(run={HELM: NOT_FOUND})
    s, out = session(c)
    daemon = Daemon(older(built, 3))
    pruned = prune_old_tags(s, daemon, [built])  # type: ignore[arg-type]
    assert pruned == Pruned(("todo-backend:000000000002",), (), 3)
    assert daemon.removed == ["todo-backend:000000000002"]
    report(s, pruned)
    assert ("removed 1 old image tag(s), keeping the newest 3 per image (build.keep): "
            "todo-backend:000000000002") in " ".join(out.getvalue().split())


def test_a_tag_the_release_runs_stays_however_old(built: images.BuildContext) -> None:
    values = {"backend": {"image": {"repository": "todo-backend", "tag": "000000000004"}}}
    c = MockContext(run={HELM: Result(json.dumps(values))})
    s, _ = session(c)
    daemon = Daemon(older(built, 5))
    pruned = prune_old_tags(s, daemon, [built])  # type: ignore[arg-type]
    assert daemon.removed == ["todo-backend:000000000002", "todo-backend:000000000003"]
    assert pruned.kept == 4


def test_a_tag_a_container_holds_is_kept_and_said_why(built: images.BuildContext) -> None:
    c = MockContext(run={HELM: NOT_FOUND})
    s, out = session(c, keep=1)
    daemon = Daemon(older(built, 2), refuse={
        "todo-backend:000000000000": "conflict\nimage is being used by stopped container 9f"})
    pruned = prune_old_tags(s, daemon, [built])  # type: ignore[arg-type]
    assert pruned == Pruned(("todo-backend:000000000001",),
                            (("todo-backend:000000000000",
                              "conflict\nimage is being used by stopped container 9f"),), 2)
    report(s, pruned)
    assert ("kept todo-backend:000000000000: image is being used by stopped container 9f "
            "(a later build tries again)") in " ".join(out.getvalue().split())


def test_nothing_goes_when_helm_cannot_tell_which_images_the_release_uses(
        built: images.BuildContext) -> None:
    c = MockContext(run={HELM: Result(stderr="x\nError: Kubernetes cluster unreachable\n",
                                      exited=1)})
    s, out = session(c)
    daemon = Daemon(older(built, 4))
    assert prune_old_tags(s, daemon, [built]) == Pruned((), (), 5)  # type: ignore[arg-type]
    assert daemon.removed == []
    assert ("old image tags kept: cannot tell which images release todo-app uses "
            "(Error: Kubernetes cluster unreachable)") in " ".join(out.getvalue().split())


def test_a_helm_failure_that_merely_says_not_found_removes_nothing(
        built: images.BuildContext) -> None:
    """Only helm's own ``release: not found`` means "no release": a kube-context that is not
    there is a failure, and nothing may be pruned on it."""
    c = MockContext(run={HELM: Result(stderr='Error: Kubernetes cluster unreachable: context '
                                      '"minikube" not found\n', exited=1)})
    s, _ = session(c)
    daemon = Daemon(older(built, 4))
    assert prune_old_tags(s, daemon, [built]) == Pruned((), (), 5)  # type: ignore[arg-type]
    assert daemon.removed == []


def test_a_silent_helm_failure_names_its_exit_code(built: images.BuildContext) -> None:
    s, out = session(MockContext(run={HELM: Result(exited=2)}))
    prune_old_tags(s, Daemon(older(built, 4)), [built])  # type: ignore[arg-type]
    assert "(helm exited 2)" in out.getvalue()


def test_nothing_goes_without_helm(built: images.BuildContext) -> None:
    s, out = session(MockContext(run={HELM: Result(stderr="sh: helm: not found\n",
                                                   exited=127)}))
    daemon = Daemon(older(built, 4))
    assert prune_old_tags(s, daemon, [built]).removed == ()  # type: ignore[arg-type]
    assert ("old image tags kept: cannot read release todo-app (`helm` is not installed or "
            "not on PATH)") in " ".join(out.getvalue().split())


def test_a_report_with_nothing_removed_or_refused_says_nothing() -> None:
    s, out = session(MockContext(run={}))
    report(s, Pruned((), (), 3))
    assert out.getvalue() == ""


def test_release_values_without_a_full_image_or_as_bad_json_name_nothing() -> None:
    assert parse_release_refs("{not json", ("backend",)) == set()
    assert parse_release_refs("", ("backend",)) == set()
    assert parse_release_refs("null", ("backend",)) == set()
    assert parse_release_refs(json.dumps({"backend": {"image": {"repository": "r"}},
                                          "frontend": {"image": {"tag": "t"}}}),
                              ("backend", "frontend")) == set()
    assert parse_release_refs(json.dumps({"backend": None}), ("backend",)) == set()


def test_keep_zero_lets_every_unprotected_digest_tag_go(built: images.BuildContext) -> None:
    tags = older(built, 2)
    assert images.prune_plan(tags, 0, {built.ref.ref}) == [
        "todo-backend:000000000000", "todo-backend:000000000001"]
    assert images.prune_plan(tags, -1, set())[0] == built.ref.ref


def test_the_release_is_asked_with_helm_get_values_as_json() -> None:
    from todo_deploy.images.prune import release_tags_argv

    assert release_tags_argv("rel", "ns") == ["helm", "get", "values", "rel", "--namespace",
                                              "ns", "--output", "json"]


def test_a_report_lists_every_removed_tag(built: images.BuildContext) -> None:
    s, out = session(MockContext(run={}), keep=2)
    report(s, Pruned(("r:1", "r:2"), (), 2))
    assert ("removed 2 old image tag(s), keeping the newest 2 per image (build.keep): r:1, r:2"
            ) in " ".join(out.getvalue().split())
