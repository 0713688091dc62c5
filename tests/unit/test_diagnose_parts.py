"""The parts of the diagnosis that its per-cause tests (test_diagnose.py) only pass through.

Event fields as Kubernetes fills them (core/v1 ``Event``: ``involvedObject``, ``count``,
``firstTimestamp``/``lastTimestamp``; what the events.k8s.io recorder leaves in it and in
its own API: ``eventTime``, ``series.count``/``series.lastObservedTime``, ``regarding``,
``note``), how an event is rendered, a pod's component and readiness probe, a finding as
``inv verify --json`` prints it, and where the fixes come from (:meth:`Place.of`).
Small objects here are the shapes of the captures in tests/fixtures/kubectl/, cut down to
the fields read.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from invoke import MockContext

from todo_deploy import diagnose
from todo_deploy.config import Settings
from todo_deploy.diagnose import Cause, Finding
from todo_deploy.tools import Kubectl

T0 = "2026-11-29T11:33:39Z"
T1 = "2026-11-29T11:34:09Z"


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


# -- events -----------------------------------------------------------------------------------


def test_a_warning_of_any_reason_is_informative_a_normal_event_only_for_a_failure_reason() -> None:
    assert diagnose.is_informative({"type": "Warning", "reason": "SomethingNew"})
    assert diagnose.is_informative({"type": "Warning"})
    assert not diagnose.is_informative({"type": "Normal", "reason": "SomethingNew"})
    assert not diagnose.is_informative({"type": "Normal"})
    assert diagnose.is_informative({"type": "Normal", "reason": "BackOff"})
    # routine reasons stay hidden whatever their type
    assert not diagnose.is_informative({"type": "Warning", "reason": "Pulled"})


def test_an_events_count_is_its_count_else_its_series_count_else_one() -> None:
    assert diagnose.event_count({"count": 3, "series": {"count": 9}}) == 3
    assert diagnose.event_count({"count": None, "series": {"count": 4}}) == 4
    assert diagnose.event_count({"count": None, "series": None}) == 1
    assert diagnose.event_count({}) == 1


def test_an_event_was_last_seen_at_its_last_timestamp_else_its_series_else_its_creation() -> None:
    last_seen = diagnose.event_last_seen
    assert last_seen({"lastTimestamp": T1, "eventTime": T0}) == at(T1)
    # the scheduler's repeated FailedScheduling: eventTime is the first, the series the last
    assert last_seen({"lastTimestamp": None, "eventTime": T0,
                      "series": {"count": 5, "lastObservedTime": T1}}) == at(T1)
    assert last_seen({"lastTimestamp": None, "eventTime": T0}) == at(T0)
    assert last_seen({"metadata": {"creationTimestamp": T1}}) == at(T1)
    assert last_seen({"lastTimestamp": None, "eventTime": None, "metadata": {}}) is None


def test_an_event_was_first_seen_at_its_first_timestamp_else_event_time_else_last_seen() -> None:
    first_seen = diagnose.event_first_seen
    assert first_seen({"firstTimestamp": T0, "lastTimestamp": T1}) == at(T0)
    assert first_seen({"firstTimestamp": None, "eventTime": T0,
                       "series": {"count": 5, "lastObservedTime": T1}}) == at(T0)
    assert first_seen({"firstTimestamp": None, "lastTimestamp": T1}) == at(T1)
    assert first_seen({}) is None


def test_a_time_that_is_not_an_iso_string_is_no_time() -> None:
    assert diagnose.event_last_seen({"lastTimestamp": 1764416019, "eventTime": T0}) == at(T0)
    assert diagnose.event_last_seen({"lastTimestamp": "yesterday", "eventTime": T0}) == at(T0)
    assert diagnose.event_first_seen({"firstTimestamp": "", "eventTime": T0}) == at(T0)


def event(name: str, stamp: str | None, *, api: str = "v1", uid: str = "uid-1",
          reason: str = "BackOff") -> dict[str, Any]:
    about = {"kind": "Pod", "name": name, "uid": uid}
    shape: dict[str, Any] = ({"involvedObject": about} if api == "v1" else {"regarding": about})
    return {**shape, "type": "Warning", "reason": reason, "lastTimestamp": stamp,
            "message": f"at {stamp}"}


def test_pod_events_come_from_both_event_apis_oldest_first() -> None:
    late = event("web-0", T1)
    early = event("web-0", T0, api="events.k8s.io")  # ``regarding``, not ``involvedObject``
    other = event("web-1", T0)
    assert diagnose.pod_events([late, other, early], "web-0") == [early, late]


def test_pod_events_without_any_time_come_first() -> None:
    timeless = event("web-0", None)
    dated = event("web-0", T0)
    assert diagnose.pod_events([dated, timeless], "web-0") == [timeless, dated]


def test_pod_events_of_a_pod_uid_keep_events_that_name_no_uid() -> None:
    mine, unnamed, older = event("db-0", T0), event("db-0", T1), event("db-0", T1, uid="old")
    del unnamed["involvedObject"]["uid"]
    assert diagnose.pod_events([older, unnamed, mine], "db-0", "uid-1") == [mine, unnamed]


def test_an_event_renders_as_type_reason_repeats_and_one_line_message() -> None:
    base = {"type": "Warning", "reason": "BackOff",
            "message": "Back-off restarting failed container\n  backend"}
    assert diagnose.render_event({**base, "count": 1}) == (
        "Warning BackOff: Back-off restarting failed container backend")
    assert diagnose.render_event({**base, "count": 2}) == (
        "Warning BackOff (x2): Back-off restarting failed container backend")
    # events.k8s.io: the message is the ``note``, the count in the series
    assert diagnose.render_event({"type": "Warning", "reason": "FailedScheduling",
                                  "note": "0/1 nodes are available",
                                  "series": {"count": 3}}) == (
        "Warning FailedScheduling (x3): 0/1 nodes are available")
    assert diagnose.render_event({}) == "Normal ?: "


def test_informative_events_shows_the_last_few_of_the_pod() -> None:
    events = [event("web-0", f"2026-11-29T11:33:{n:02d}Z") for n in range(10, 20)]
    events.append(event("web-0", "2026-11-29T11:33:05Z", reason="Pulled"))  # routine: hidden
    shown = diagnose.informative_events(events, "web-0")
    assert len(shown) == diagnose.EVENTS_SHOWN
    assert shown[-1] == "Warning BackOff: at 2026-11-29T11:33:19Z"
    assert shown[0] == f"Warning BackOff: at 2026-11-29T11:33:{20 - diagnose.EVENTS_SHOWN}Z"
    assert diagnose.informative_events(events, "web-0", limit=1) == shown[-1:]


# -- the pod ----------------------------------------------------------------------------------


def test_the_component_is_the_charts_label_then_the_recommended_label_then_the_pod_name() -> None:
    component = diagnose.component_of
    assert component({"metadata": {"name": "p", "labels": {
        "component": "backend", "app.kubernetes.io/component": "api"}}}) == "backend"
    assert component({"metadata": {"name": "p", "labels": {
        "app.kubernetes.io/component": "database"}}}) == "database"
    assert component({"metadata": {"name": "todo-extra-0", "labels": {}}}) == "todo-extra-0"
    assert component({}) == "?"


def test_the_probe_target_names_what_the_readiness_probe_asks() -> None:
    target = diagnose.probe_target

    def probe(**kind: Any) -> dict[str, Any]:
        return {"name": "c", "readinessProbe": {"periodSeconds": 5, **kind}}

    assert target(probe(httpGet={"path": "/health", "port": 7860})) == (
        "GET /health on port 7860")
    assert target(probe(httpGet={"scheme": "HTTP"})) == "GET / on port ?"
    assert target(probe(tcpSocket={"port": 5432})) == "TCP port 5432"
    assert target(probe(tcpSocket={"host": "db"})) == "TCP port ?"
    assert target(probe(exec={"command": ["pg_isready", "-U", "todo"]})) == (
        "exec pg_isready -U todo")
    assert target({"name": "c"}) == "its readiness probe"
    assert target(None) == "its readiness probe"


# -- the finding ------------------------------------------------------------------------------


FULL = Finding(Cause.CRASH_LOOP, "todo-backend-1", "backend", "backend", "CrashLoopBackOff",
               "container backend keeps crashing", "inv logs backend", fatal=False,
               exit_code=2, events=("Warning BackOff (x5): Back-off",),
               logs=("logs of the run that crashed (--previous):", "  boom"),
               crashed_run_is_current=True, also=("todo-backend-2",))


def test_details_are_the_events_under_a_heading_then_the_logs() -> None:
    assert FULL.details() == ("events:\n  Warning BackOff (x5): Back-off\n"
                              "logs of the run that crashed (--previous):\n  boom")
    assert Finding(Cause.SANDBOX, "p", "c", None, "r", "m", "h",
                   events=("Warning A: a", "Warning B: b")).details() == (
        "events:\n  Warning A: a\n  Warning B: b")
    assert Finding(Cause.SANDBOX, "p", "c", None, "r", "m", "h").details() == ""


def test_a_finding_as_json_carries_every_field_but_the_internal_log_choice() -> None:
    as_dict = FULL.as_dict()
    assert as_dict == {
        "cause": "crash-loop", "pod": "todo-backend-1", "component": "backend",
        "container": "backend", "reason": "CrashLoopBackOff",
        "message": "container backend keeps crashing", "hint": "inv logs backend",
        "fatal": False, "exit_code": 2, "events": ["Warning BackOff (x5): Back-off"],
        "logs": ["logs of the run that crashed (--previous):", "  boom"],
        "also": ["todo-backend-2"],
    }
    assert json.loads(json.dumps(as_dict)) == as_dict


def test_the_place_of_a_run_is_its_target_profile_and_kind_cluster() -> None:
    kube = Kubectl(MockContext(), "kind-ci", "todo", 120.0)
    settings = Settings(target="kind", profile="dev", kind_cluster="ci")
    assert diagnose.Place.of(settings, kube) == diagnose.Place(kube, "kind", "dev", "ci")
