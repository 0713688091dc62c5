"""The run lock (todo_deploy/lock.py): its pure functions, and RunLock against kubectl's answers
(tests/fixtures/kubectl/lease-*, captured from the live cluster by tests/e2e/capture_lease.py)
through invoke's MockContext. The live tier (tests/e2e/test_live_cluster.py) runs two real
runs at once."""

from __future__ import annotations

import io
import json

import pytest
from invoke import MockContext, Result

from tests.fakes.canned import (
    LEASE_ALREADY_EXISTS,
    LEASE_CONFLICT,
    LEASE_CREATED,
    LEASE_DELETED,
    LEASE_NAMESPACE_NOT_FOUND,
    LEASE_NOT_FOUND,
    LEASE_REPLACED,
    lease_fixture,
    lease_json,
)
from todo_deploy import lock
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.session import Session

CREATE = "kubectl create -f - -n todo -o json --context minikube"
GET = "kubectl get lease todo-deploy-todo-app -n todo -o json --context minikube"
REPLACE = "kubectl replace -f - -n todo -o json --context minikube"
DELETE = ("kubectl delete --raw /apis/coordination.k8s.io/v1/namespaces/todo/leases/"
          "todo-deploy-todo-app -f - --context minikube")
CONTEXT = {"kubectl config current-context": Result("minikube\n")}
NOW = lock.parse_time("2026-12-07T21:20:10Z") or 0.0  # 10 s after the captured renewal


def session(answers: dict[str, object]) -> tuple[Session, MockContext, io.StringIO]:
    out = io.StringIO()
    c = MockContext(run={**CONTEXT, **answers}, repeat=False)
    return Session(c, Settings.from_config(None), Console(no_color=True, file=out,
                                                         err_file=out)), c, out


def failed(stderr: str) -> Result:
    return Result(stderr=stderr, exited=1)


# -- pure ------------------------------------------------------------------------------------


def test_a_lease_reads_back_from_kubectls_json() -> None:
    raw = json.loads(lease_fixture("lease-get.json"))
    lease = lock.parse_lease(lease_fixture("lease-get.json"))
    assert lease is not None
    assert lease.holder == "alice@build-box:4242 inv deploy"
    assert (lease.seconds, lease.transitions) == (30, 1)
    assert lease.resource_version == raw["metadata"]["resourceVersion"]
    assert lease.renewed is not None and lock.micro_time(lease.renewed) == \
        raw["spec"]["renewTime"]  # microseconds kept
    assert lock.parse_lease("not json") is None
    assert lock.parse_lease('{"kind": "Status"}') is None


def test_the_body_is_a_create_or_a_compare_and_swap_of_the_version_read() -> None:
    create = lock.lease_body("todo-deploy-x", "todo", "me", now=NOW, seconds=30)
    assert "resourceVersion" not in create["metadata"]
    assert create["spec"]["acquireTime"] == create["spec"]["renewTime"] == \
        "2026-12-07T21:20:10.000000Z"
    swap = lock.lease_body("todo-deploy-x", "todo", "me", now=NOW + 5, seconds=30,
                           acquired=NOW, transitions=2, resource_version="77")
    assert swap["metadata"]["resourceVersion"] == "77"
    assert swap["spec"]["acquireTime"] == "2026-12-07T21:20:10.000000Z"
    assert swap["spec"]["renewTime"] == "2026-12-07T21:20:15.000000Z"
    assert swap["spec"]["leaseTransitions"] == 2
    assert lock.parse_time(lock.micro_time(NOW)) == NOW


@pytest.mark.parametrize("holder, renewed_ago, expected", [
    ("", 0, lock.Verdict.FREE),
    ("me", 0, lock.Verdict.MINE),
    ("alice@box:1 inv up", 10, lock.Verdict.HELD),
    ("alice@box:1 inv up", 31, lock.Verdict.EXPIRED),
])
def test_the_verdict_on_a_lease(holder: str, renewed_ago: float,
                                expected: lock.Verdict) -> None:
    lease = lock.Lease(holder, 30, NOW - 60, NOW - renewed_ago, 0, "1")
    assert lock.verdict(lease, "me", NOW) is expected


def test_a_lease_without_any_time_has_expired() -> None:
    assert lock.verdict(lock.Lease("alice", 30, None, None, 0, "1"), "me", NOW) is \
        lock.Verdict.EXPIRED


def test_the_refusal_names_the_holder_since_when_and_both_ways_out() -> None:
    lease = lock.Lease("alice@box:41 inv deploy", 30, NOW - 42, NOW - 3, 0, "1")
    error = lock.refusal(lease, NOW, where="release todo-app in namespace todo", task="up",
                         waited=0.0)
    assert isinstance(error, lock.LockHeld)
    assert "release todo-app in namespace todo is locked by another run: " \
           "alice@box:41 inv deploy since 21:19:28 UTC (42s ago), last renewed 3s ago" in \
           error.message
    assert "after waiting" not in error.message
    assert error.hint.startswith("inv up --wait-lock")
    assert "21:20:37 UTC, 30s after its last renewal" in error.hint
    waited = lock.refusal(lease, NOW, where="w", task="deploy", waited=12.4)
    assert "after waiting 12s" in waited.message


def test_the_takeover_note_says_whose_lock_and_how_stale() -> None:
    lease = lock.Lease("bob@box:7 inv up", 30, NOW - 100, NOW - 45, 0, "1")
    note = lock.takeover_note(lease, NOW, "release todo-app")
    assert note.startswith("took over the lock of release todo-app from bob@box:7 inv up")
    assert "(last at 21:19:25 UTC (45s ago); it expired 15s ago)" in note


def test_the_release_deletes_only_the_version_this_run_wrote() -> None:
    assert json.loads(lock.delete_options("1203")) == {
        "kind": "DeleteOptions", "apiVersion": "v1",
        "preconditions": {"resourceVersion": "1203"}}
    assert lock.identity("up", user="ann", host="lap", pid=9) == "ann@lap:9 inv up"


# -- RunLock against kubectl's answers --------------------------------------------------------


def test_an_uncontended_run_creates_the_lease_and_deletes_it_at_its_end() -> None:
    s, c, _ = session({CREATE: Result(LEASE_CREATED), DELETE: Result(LEASE_DELETED)})
    with lock.held(s, "up") as held:
        assert held.resource_version == json.loads(LEASE_CREATED)["metadata"][
            "resourceVersion"]
        with lock.held(s, "deploy") as inner:  # a stage inside inv up: the same lock
            assert inner is held
    commands = [call.args[0] for call in c.run.call_args_list]
    assert commands.count(CREATE) == 1 and commands.count(DELETE) == 1


def test_a_live_holder_is_refused_at_once_and_nothing_is_written() -> None:
    held = lease_json("alice@box:41 inv deploy", renewed=lock.micro_time(NOW - 2))
    s, c, _ = session({CREATE: failed(LEASE_ALREADY_EXISTS), GET: Result(held)})
    run = lock.RunLock(s, "up", clock=lambda: NOW)
    with pytest.raises(lock.LockHeld) as refused:
        run.acquire(0)
    assert "alice@box:41 inv deploy" in refused.value.message
    commands = [call.args[0] for call in c.run.call_args_list]
    assert REPLACE not in commands and DELETE not in commands


def test_a_waiting_run_takes_the_lock_once_its_holder_releases_it() -> None:
    held = lease_json("alice@box:41 inv deploy", renewed=lock.micro_time(NOW - 2))
    s, _, out = session({
        CREATE: [failed(LEASE_ALREADY_EXISTS), Result(LEASE_CREATED)],
        GET: [Result(held), failed(LEASE_NOT_FOUND)],
    })
    sleeps: list[float] = []
    run = lock.RunLock(s, "up", clock=lambda: NOW, sleep=sleeps.append, poll=0.5)
    run.acquire(60)
    assert sleeps == [0.5]
    assert "held by alice@box:41 inv deploy" in out.getvalue()


def test_an_expired_lease_is_taken_over_with_a_compare_and_swap_and_a_warning() -> None:
    stale = lease_json("bob@box:7 inv up", renewed=lock.micro_time(NOW - 45),
                       resource_version="1202")
    s, _, out = session({CREATE: failed(LEASE_ALREADY_EXISTS), GET: Result(stale),
                         REPLACE: Result(LEASE_REPLACED)})
    run = lock.RunLock(s, "up", clock=lambda: NOW)
    run.acquire(0)
    assert run.resource_version == json.loads(LEASE_REPLACED)["metadata"]["resourceVersion"]
    assert run.transitions == 2
    assert "took over the lock" in out.getvalue() and "bob@box:7 inv up" in out.getvalue()


def test_two_runs_taking_over_at_once_the_loser_looks_again_and_waits() -> None:
    stale = lease_json("bob@box:7 inv up", renewed=lock.micro_time(NOW - 45))
    winner = lease_json("carol@box:8 inv deploy", renewed=lock.micro_time(NOW))
    s, _, _ = session({CREATE: failed(LEASE_ALREADY_EXISTS),
                       GET: [Result(stale), Result(winner)],
                       REPLACE: failed(LEASE_CONFLICT)})
    run = lock.RunLock(s, "up", clock=lambda: NOW)
    with pytest.raises(lock.LockHeld) as refused:
        run.acquire(0)
    assert "carol@box:8 inv deploy" in refused.value.message


def test_a_missing_namespace_is_created_for_the_lease_unless_the_task_only_removes() -> None:
    s, _, _ = session({CREATE: [failed(LEASE_NAMESPACE_NOT_FOUND), Result(LEASE_CREATED)],
                       "kubectl create namespace todo --context minikube": Result("")})
    run = lock.RunLock(s, "up", clock=lambda: NOW)
    run.acquire(0)
    assert not run.absent and run.resource_version
    s, c, _ = session({CREATE: failed(LEASE_NAMESPACE_NOT_FOUND)})
    down = lock.RunLock(s, "down", create_namespace=False, clock=lambda: NOW)
    down.acquire(0)
    down.release()  # nothing to delete
    assert down.absent
    commands = [call.args[0] for call in c.run.call_args_list]
    assert DELETE not in commands


def test_a_renewal_that_finds_the_lease_changed_marks_the_lock_lost_and_keeps_theirs() -> None:
    s, c, out = session({CREATE: Result(LEASE_CREATED), REPLACE: failed(LEASE_CONFLICT)})
    run = lock.RunLock(s, "up", clock=lambda: NOW)
    run.acquire(0)
    assert run.renew() is False
    assert "changed under this run" in run.lost
    run.release()
    commands = [call.args[0] for call in c.run.call_args_list]
    assert DELETE not in commands  # the other run's Lease stays
    assert "another run may have changed the release" in out.getvalue()
