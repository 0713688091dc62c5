"""``deploy.stuck_statefulset_pods``: the pods a rollback must delete by hand. A StatefulSet
does not replace a pod of an older revision that never became Ready (Kubernetes' "forced
rollback"); every other pod is left to its controller. Object shapes as kubectl returns them
(``kubectl get statefulsets,pods -o json`` items)."""

from __future__ import annotations

from typing import Any

import pytest

from todo_deploy.deploy import stuck_statefulset_pods

SET = {"kind": "StatefulSet", "metadata": {"name": "todo-postgresql"},
       "status": {"currentRevision": "todo-postgresql-old",
                  "updateRevision": "todo-postgresql-new"}}


def pod(name: str = "todo-postgresql-0", *, revision: str | None = "todo-postgresql-old",
        ready: str | None = "False", owner: tuple[str, str] | None = ("StatefulSet",
                                                                       "todo-postgresql"),
        deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if revision is not None:
        meta["labels"] = {"controller-revision-hash": revision}
    if owner is not None:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1]}]
    if deleting:
        meta["deletionTimestamp"] = "2026-11-29T20:00:00Z"
    conditions = [{"type": "PodScheduled", "status": "True"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    return {"kind": "Pod", "metadata": meta, "status": {"conditions": conditions}}


def test_a_pod_of_the_old_revision_that_is_not_ready_is_stuck() -> None:
    assert stuck_statefulset_pods([SET, pod()]) == ["todo-postgresql-0"]


def test_a_pod_without_a_ready_condition_or_revision_label_is_stuck_too() -> None:
    assert stuck_statefulset_pods([SET, pod(ready=None)]) == ["todo-postgresql-0"]
    assert stuck_statefulset_pods([SET, pod(revision=None)]) == ["todo-postgresql-0"]


@pytest.mark.parametrize("why", ["ready", "current revision", "being deleted",
                                 "not the set's", "a ReplicaSet's", "no owner"])
def test_the_statefulset_replaces_or_keeps_every_other_pod_itself(why: str) -> None:
    other = {
        "ready": pod(ready="True"),
        "current revision": pod(revision="todo-postgresql-new"),
        "being deleted": pod(deleting=True),
        "not the set's": pod(owner=("StatefulSet", "another")),
        "a ReplicaSet's": pod(owner=("ReplicaSet", "todo-postgresql")),
        "no owner": pod(owner=None),
    }[why]
    assert stuck_statefulset_pods([SET, other]) == []


def test_a_set_that_names_no_update_revision_marks_no_pod() -> None:
    fresh = {"kind": "StatefulSet", "metadata": {"name": "todo-postgresql"}, "status": {}}
    assert stuck_statefulset_pods([fresh, pod()]) == []


def test_only_the_owners_own_update_revision_counts_and_pods_keep_their_order() -> None:
    second = {"kind": "StatefulSet", "metadata": {"name": "cache"},
              "status": {"updateRevision": "cache-2"}}
    objects = [pod("cache-1", revision="cache-1", owner=("StatefulSet", "cache")), SET,
               pod("cache-0", revision="cache-2", owner=("StatefulSet", "cache")),
               second, pod(), {"kind": "Deployment", "metadata": {"name": "todo-backend"}}]
    assert stuck_statefulset_pods(objects) == ["cache-1", "todo-postgresql-0"]


def test_objects_without_metadata_or_status_are_no_stuck_pods() -> None:
    assert stuck_statefulset_pods([{"kind": "StatefulSet"}, {"kind": "Pod"}]) == []
