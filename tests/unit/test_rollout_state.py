"""Which ReplicaSet and pods a rollout is about, and where it stands
(todo_deploy.verify.newest_replicaset / rollout_state), on the captures of the live cluster
(tests/fixtures/kubectl/workloads-*.json) and on small changes of them: owner references by
uid or by name, revisions that are missing or unreadable, a status the controller has not
filled in yet, terminating pods, a progress deadline.

The expected ReplicaSet is found in each test from the capture itself (its revision annotation
against the Deployment's), never with the function under test.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.unit.test_verify import objects
from todo_deploy import verify


def named(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def of_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def revision_of(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["annotations"][verify.REVISION])


def current_rs(objs: list[dict[str, Any]], deployment: str) -> dict[str, Any]:
    """The ReplicaSet the capture's Deployment points at (same revision annotation)."""
    d = named(objs, "Deployment", deployment)
    return next(rs for rs in of_kind(objs, "ReplicaSet")
                if rs["metadata"]["ownerReferences"][0]["name"] == deployment
                and revision_of(rs) == revision_of(d))


def state(objs: list[dict[str, Any]], component: str = "backend") -> verify.RolloutState:
    return verify.rollout_state(component, f"todo-{component}", objs)


# -- the newest ReplicaSet ----------------------------------------------------------------------


@pytest.mark.parametrize("capture", ["workloads-backend-crashloop", "workloads-backend-starting",
                                     "workloads-progress-deadline",
                                     "workloads-readiness-failing"])
@pytest.mark.parametrize("deployment", ["todo-backend", "todo-frontend"])
def test_the_newest_replicaset_is_the_one_at_the_deployments_revision(
        capture: str, deployment: str) -> None:
    objs = objects(capture)
    d = named(objs, "Deployment", deployment)
    found = verify.newest_replicaset(d, of_kind(objs, "ReplicaSet"))
    assert found is not None
    assert found["metadata"]["name"] == current_rs(objs, deployment)["metadata"]["name"]


def test_a_replicaset_of_the_other_deployment_is_never_taken_even_at_the_same_revision() -> None:
    objs = objects("workloads-complete")  # both Deployments at revision 1
    frontend = named(objs, "Deployment", "todo-frontend")
    replicasets = of_kind(objs, "ReplicaSet")
    assert [revision_of(rs) for rs in replicasets] == ["1", "1"]
    assert replicasets[0]["metadata"]["name"].startswith("todo-backend-")  # listed first
    found = verify.newest_replicaset(frontend, replicasets)
    assert found is not None and found["metadata"]["name"].startswith("todo-frontend-")
    assert verify.newest_replicaset(frontend, replicasets[:1]) is None


def test_without_a_replicaset_at_its_revision_the_highest_revision_is_taken() -> None:
    objs = objects("workloads-backend-crashloop")  # backend ReplicaSets: revisions 2, 4, 6, 7, 8
    d = named(objs, "Deployment", "todo-backend")
    d["metadata"]["annotations"][verify.REVISION] = "99"
    found = verify.newest_replicaset(d, of_kind(objs, "ReplicaSet"))
    assert found is not None and revision_of(found) == "8"


def test_a_deployment_at_a_lower_revision_than_its_newest_replicaset_keeps_its_own() -> None:
    objs = objects("workloads-backend-crashloop")
    d = named(objs, "Deployment", "todo-backend")
    d["metadata"]["annotations"][verify.REVISION] = "6"
    found = verify.newest_replicaset(d, of_kind(objs, "ReplicaSet"))
    assert found is not None and revision_of(found) == "6"


@pytest.mark.parametrize("unreadable", ["", "v3", "-1", None])
def test_a_replicaset_with_an_unreadable_revision_counts_as_revision_0(
        unreadable: str | None) -> None:
    objs = objects("workloads-backend-crashloop")
    d = named(objs, "Deployment", "todo-backend")
    replicasets = [rs for rs in of_kind(objs, "ReplicaSet")
                   if rs["metadata"]["name"].startswith("todo-backend-")]
    odd = replicasets[0]  # listed first: would win any tie
    if unreadable is None:
        del odd["metadata"]["annotations"][verify.REVISION]
    else:
        odd["metadata"]["annotations"][verify.REVISION] = unreadable
    # the Deployment at revision 1 (no ReplicaSet has it) or 0: never the odd one by a tie
    d["metadata"]["annotations"][verify.REVISION] = "1"
    found = verify.newest_replicaset(d, replicasets)
    assert found is not None and revision_of(found) == "8"
    d["metadata"]["annotations"][verify.REVISION] = "0"
    found = verify.newest_replicaset(d, replicasets)
    assert found is odd  # revision 0 is the unreadable one's


def test_a_deployment_without_a_revision_yet_takes_the_highest_replicaset() -> None:
    objs = objects("workloads-backend-crashloop")
    d = named(objs, "Deployment", "todo-backend")
    del d["metadata"]["annotations"][verify.REVISION]
    found = verify.newest_replicaset(d, of_kind(objs, "ReplicaSet"))
    assert found is not None and revision_of(found) == "8"


# -- owner references: by uid, or by name when the reference has no uid ---------------------------


def owned_rs(reference: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "ReplicaSet", "metadata": {"name": "rs", "ownerReferences": [reference]}}


BACKEND = named(objects("workloads-complete"), "Deployment", "todo-backend")
FRONTEND = named(objects("workloads-complete"), "Deployment", "todo-frontend")


def test_a_reference_by_the_deployments_uid_alone_is_ownership() -> None:
    rs = owned_rs({"kind": "Deployment", "uid": BACKEND["metadata"]["uid"]})
    assert verify.newest_replicaset(BACKEND, [rs]) is rs


def test_a_reference_by_the_deployments_name_alone_is_ownership() -> None:
    rs = owned_rs({"kind": "Deployment", "name": "todo-backend"})
    assert verify.newest_replicaset(BACKEND, [rs]) is rs


@pytest.mark.parametrize("reference", [
    {"kind": "Deployment", "name": "todo-frontend"},  # another Deployment, by name, no uid
    {"kind": "Deployment", "uid": FRONTEND["metadata"]["uid"]},  # by uid, no name
    {"kind": "StatefulSet", "name": "todo-backend",
     "uid": BACKEND["metadata"]["uid"]},  # the same name and uid, another kind
])
def test_a_reference_to_another_owner_is_not_ownership(reference: dict[str, Any]) -> None:
    assert verify.newest_replicaset(BACKEND, [owned_rs(reference)]) is None


def test_a_replicaset_without_owner_references_belongs_to_no_deployment() -> None:
    assert verify.newest_replicaset(BACKEND, [{"kind": "ReplicaSet", "metadata": {}}]) is None
    assert verify.newest_replicaset(BACKEND, [{"kind": "ReplicaSet"}]) is None


# -- the pods watched --------------------------------------------------------------------------


@pytest.mark.parametrize("component", ["backend", "frontend"])
def test_the_pods_watched_are_exactly_those_of_the_current_replicaset(component: str) -> None:
    objs = objects("workloads-backend-crashloop")
    pod_hash = current_rs(objs, f"todo-{component}")["metadata"]["labels"]["pod-template-hash"]
    expected = sorted(p["metadata"]["name"] for p in of_kind(objs, "Pod")
                      if p["metadata"]["labels"].get("pod-template-hash") == pod_hash)
    assert expected
    assert sorted(p["metadata"]["name"] for p in state(objs, component).pods) == expected


def test_a_terminating_pod_of_the_current_replicaset_is_not_watched_or_counted() -> None:
    objs = objects("workloads-complete")
    pods = [p for p in of_kind(objs, "Pod") if p["metadata"]["name"].startswith("todo-backend-")]
    pods[0]["metadata"]["deletionTimestamp"] = "2026-11-29T11:30:00Z"
    s = state(objs)
    assert [p["metadata"]["name"] for p in s.pods] == [pods[1]["metadata"]["name"]]
    assert s.ready == 1 and s.detail.startswith("1/2 ready")


def test_a_pod_without_labels_is_not_watched() -> None:
    objs = objects("workloads-complete")
    bare = copy.deepcopy(named(objs, "Pod", "todo-postgres-0"))
    del bare["metadata"]["labels"]
    s = state([*objs, bare])
    assert bare not in s.pods and len(s.pods) == 2


def test_a_deployment_without_any_replicaset_yet_has_no_pods() -> None:
    objs = [o for o in objects("workloads-complete") if o["kind"] != "ReplicaSet"]
    s = state(objs)
    assert (s.found, s.pods, s.ready) == (True, (), 0)
    assert s.detail.startswith("0/2 ready")


def test_a_replicaset_without_labels_gives_no_pods() -> None:
    objs = objects("workloads-complete")
    del current_rs(objs, "todo-backend")["metadata"]["labels"]
    assert state(objs).pods == ()


def test_only_a_ready_condition_that_is_true_counts_a_pod_ready() -> None:
    objs = objects("workloads-complete")
    pod = next(p for p in of_kind(objs, "Pod") if p["metadata"]["name"].startswith("todo-backend-"))
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    ready["status"] = "False"  # the other conditions stay "True"
    assert state(objs).ready == 1
    del pod["status"]["conditions"]
    assert state(objs).ready == 1
    del pod["status"]
    assert state(objs).ready == 1


# -- where the rollout stands ------------------------------------------------------------------


def test_the_state_names_its_component_and_deployment_and_counts() -> None:
    s = state(objects("workloads-complete"), "frontend")
    assert (s.component, s.deployment, s.found, s.ready, s.desired, s.failed) == (
        "frontend", "todo-frontend", True, 2, 2, None)
    missing = verify.rollout_state("frontend", "todo-frontend", [])
    assert missing == verify.RolloutState("frontend", "todo-frontend", found=False,
                                          detail="Deployment not found")


def deployment_status(objs: list[dict[str, Any]], **status: Any) -> dict[str, Any]:
    """Replace the backend Deployment's status counts (conditions and generation kept)."""
    d = named(objs, "Deployment", "todo-backend")
    kept = {k: v for k, v in d["status"].items()
            if k in ("conditions", "observedGeneration")}
    d["status"] = {**kept, **status}
    return d


def test_a_deployment_without_spec_replicas_wants_one() -> None:
    objs = objects("workloads-complete")
    d = deployment_status(objs, replicas=1, updatedReplicas=1, availableReplicas=1)
    del d["spec"]["replicas"]
    s = state(objs)
    assert s.desired == 1 and s.done


def test_a_status_with_no_counts_yet_says_none_updated() -> None:
    objs = objects("workloads-complete")
    deployment_status(objs)
    assert state(objs).detail == "2/2 ready; 0 of 2 new replicas updated"


def test_all_updated_but_none_available_omits_the_count_and_is_not_done() -> None:
    objs = objects("workloads-complete")
    deployment_status(objs, replicas=2, updatedReplicas=2)  # kubectl omits a zero count
    s = state(objs)
    assert not s.done and s.detail == "2/2 ready; 0 of 2 updated replicas available"


def test_a_deployment_scaled_to_zero_is_done_with_no_counts() -> None:
    objs = objects("workloads-complete")
    d = deployment_status(objs)
    d["spec"]["replicas"] = 0
    s = state([o for o in objs if o["kind"] != "Pod"])
    assert s.done and s.detail == f"0/0 ready (revision {revision_of(d)})"


def test_a_done_rollout_without_a_revision_says_only_the_ready_count() -> None:
    objs = objects("workloads-complete")
    del named(objs, "Deployment", "todo-backend")["metadata"]["annotations"][verify.REVISION]
    s = state(objs)
    assert s.done and s.detail == "2/2 ready"


def test_a_deployment_the_controller_has_not_observed_yet_is_waiting() -> None:
    objs = objects("workloads-complete")
    d = named(objs, "Deployment", "todo-backend")
    d["status"] = {}  # just created: generation 1, no status at all
    s = state(objs)
    assert not s.done and s.detail == "waiting for the new spec to be observed"
    del d["metadata"]["generation"]  # no generation either: nothing to wait for
    assert state(objs).detail == "2/2 ready; 0 of 2 new replicas updated"


def test_without_a_progressing_condition_the_counts_decide() -> None:
    objs = objects("workloads-complete")
    d = named(objs, "Deployment", "todo-backend")
    d["status"]["conditions"] = [c for c in d["status"]["conditions"]
                                 if c["type"] != "Progressing"]
    assert state(objs).done
    del d["status"]["conditions"]
    assert state(objs).done


def test_a_progress_deadline_is_a_failure_with_the_conditions_message() -> None:
    objs = objects("workloads-progress-deadline")
    d = named(objs, "Deployment", "todo-backend")
    condition = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    s = state(objs)
    assert s.failed == condition["message"] and not s.done
    assert s.detail == "exceeded its progress deadline"


def test_a_progress_deadline_without_a_message_still_fails_the_rollout() -> None:
    objs = objects("workloads-progress-deadline")
    d = named(objs, "Deployment", "todo-backend")
    condition = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    del condition["message"]
    s = state(objs)
    assert s.failed == "ProgressDeadlineExceeded"  # the reason: "" would read as no failure
    assert s.detail == "exceeded its progress deadline"
