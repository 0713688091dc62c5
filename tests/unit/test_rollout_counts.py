"""When a rollout counts as done (todo_deploy.verify.rollout_state): each replica count at
its limit and one step off it, on the completed rollout captured from the live cluster
(tests/fixtures/kubectl/workloads-complete.json: 2 desired, 2 updated, 2 available)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_verify import objects
from todo_deploy import verify


def with_status(**changes: int) -> list[dict[str, Any]]:
    objs = objects("workloads-complete")
    deployment = next(o for o in objs if o["kind"] == "Deployment"
                      and o["metadata"]["name"] == "todo-backend")
    deployment["status"].update(changes)
    return objs


def state(objs: list[dict[str, Any]]) -> verify.RolloutState:
    return verify.rollout_state("backend", "todo-backend", objs)


def test_the_capture_is_a_finished_rollout_of_two() -> None:
    done = state(with_status())
    assert (done.done, done.ready, done.desired) == (True, 2, 2)


def test_one_replica_short_of_updated_is_not_done() -> None:
    s = state(with_status(updatedReplicas=1))
    assert not s.done and s.detail == "2/2 ready; 1 of 2 new replicas updated"


def test_one_old_replica_left_is_not_done() -> None:
    s = state(with_status(replicas=3))
    assert not s.done and s.detail == "2/2 ready; 1 old replica(s) pending termination"


def test_all_updated_but_one_fewer_available_is_not_done() -> None:
    s = state(with_status(availableReplicas=1))
    assert not s.done and s.detail == "2/2 ready; 1 of 2 updated replicas available"


def test_more_available_than_updated_is_done() -> None:
    assert state(with_status(availableReplicas=3)).done


@pytest.mark.parametrize(("observed", "done"), [(1, True), (2, True), (0, False)])
def test_the_spec_counts_as_observed_from_its_generation_on(observed: int, done: bool) -> None:
    objs = with_status(observedGeneration=observed)
    deployment = next(o for o in objs if o["kind"] == "Deployment"
                      and o["metadata"]["name"] == "todo-backend")
    deployment["metadata"]["generation"] = 1
    assert state(objs).done is done
