"""Failure classification: one test per cause, on kubectl's real JSON shapes.

The fixtures in tests/fixtures/kubectl/ are ``kubectl get pods -o json`` and
``kubectl get events -o json`` output as kubectl 1.31 prints it for a minikube node (the
kubelet's and the scheduler's own reasons and messages), because no cluster runs here.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

from invoke import MockContext, Result

from todo_deploy import diagnose
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.diagnose import Cause

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kubectl"


def load(name: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / f"{name}.json").read_text())["items"]


def classify(pods: str, events: str | None = None) -> diagnose.Finding | None:
    return diagnose.classify_pod(load(pods)[0], load(events) if events else [])


def test_err_image_never_pull_is_a_missing_image_fixed_by_inv_build() -> None:
    finding = classify("pods-err-image-never-pull", "events-err-image-never-pull")
    assert finding is not None
    assert finding.cause is Cause.IMAGE_MISSING
    assert finding.reason == "ErrImageNeverPull"
    assert "todo-backend:3f9a1c2b7d4e" in finding.message
    assert finding.hint.startswith("inv build")
    assert finding.fatal


def test_image_pull_backoff_is_a_missing_image_fixed_by_inv_build() -> None:
    finding = classify("pods-image-pull-backoff", "events-image-pull-backoff")
    assert finding is not None
    assert (finding.cause, finding.reason) == (Cause.IMAGE_MISSING, "ImagePullBackOff")
    assert finding.hint.startswith("inv build")


def test_crash_loop_names_the_exit_code_and_restarts() -> None:
    finding = classify("pods-crashloop", "events-crashloop")
    assert finding is not None
    assert finding.cause is Cause.CRASH_LOOP
    assert finding.exit_code == 2
    assert "exit code 2 (Error), 3 restart(s)" in finding.message
    assert "--previous" in finding.hint


def test_first_non_zero_exit_counts_as_a_crash_before_kubelet_says_crashloopbackoff() -> None:
    finding = classify("pods-first-crash")
    assert finding is not None
    assert (finding.cause, finding.exit_code) == (Cause.CRASH_LOOP, 1)


def test_oomkilled_crash_points_at_the_memory_limit() -> None:
    finding = classify("pods-oomkilled")
    assert finding is not None
    assert finding.cause is Cause.CRASH_LOOP
    assert finding.exit_code == 137
    assert "OOMKilled" in finding.message
    assert "limits.memory" in finding.hint
    assert finding.component == "frontend"


def test_missing_secret_is_a_config_error_fixed_by_inv_secrets() -> None:
    finding = classify("pods-secret-missing", "events-secret-missing")
    assert finding is not None
    assert finding.cause is Cause.CONFIG_ERROR
    assert 'secret "todo-secrets" not found' in finding.message
    assert finding.hint.startswith("inv secrets")


def test_missing_secret_key_is_a_config_error_naming_the_key() -> None:
    finding = classify("pods-secret-key-missing", "events-secret-key-missing")
    assert finding is not None
    assert finding.cause is Cause.CONFIG_ERROR
    assert "couldn't find key cohere-api-key in Secret todo/todo-secrets" in finding.message
    assert finding.hint.startswith("inv secrets")


def test_failing_readiness_probe_names_the_path_and_the_last_probe_event() -> None:
    finding = classify("pods-readiness-failing", "events-readiness-failing")
    assert finding is not None
    assert finding.cause is Cause.READINESS
    assert "GET /health on port 7860" in finding.message
    assert "HTTP probe failed with statuscode: 503" in finding.message
    assert "18x in 85s" in finding.message
    assert finding.fatal


def test_readiness_failures_within_the_grace_period_are_not_yet_a_verdict() -> None:
    finding = classify("pods-readiness-failing", "events-readiness-starting")
    assert finding is not None
    assert finding.cause is Cause.READINESS
    assert not finding.fatal


def test_insufficient_memory_is_unschedulable_with_a_minikube_resources_hint() -> None:
    finding = diagnose.classify_pod(load("pods-unschedulable")[0], load("events-unschedulable"),
                                    profile="dev")
    assert finding is not None
    assert finding.cause is Cause.UNSCHEDULABLE
    assert "1 Insufficient memory" in finding.message
    assert "minikube -p dev delete" in finding.hint
    assert "INVOKE_TODO_MINIKUBE_MEMORY" in finding.hint
    assert finding.fatal


def test_unschedulable_for_a_transient_reason_waits_for_the_timeout() -> None:
    pod = load("pods-unschedulable")[0]
    pod["status"]["conditions"][0]["message"] = (
        "0/1 nodes are available: 1 node(s) had untolerated taint "
        "{node.kubernetes.io/not-ready: }.")
    finding = diagnose.classify_pod(pod, [])
    assert finding is not None
    assert finding.cause is Cause.UNSCHEDULABLE
    assert not finding.fatal


def test_ready_pods_have_no_finding() -> None:
    events = load("events-healthy")
    assert [diagnose.classify_pod(p, events) for p in load("pods-healthy")] == [None, None]


def test_only_informative_events_are_shown() -> None:
    finding = classify("pods-crashloop", "events-crashloop")
    assert finding is not None
    assert len(finding.events) == 1
    assert finding.events[0].startswith("Warning BackOff (x4): Back-off restarting failed")
    assert not any(word in " ".join(finding.events)
                   for word in ("Scheduled", "Pulled", "Created", "Started"))


def test_normal_backoff_events_count_as_informative() -> None:
    shown = diagnose.informative_events(load("events-image-pull-backoff"),
                                        "todo-backend-7d9c6b5f4-x2x9k")
    assert any(line.startswith("Normal BackOff (x5)") for line in shown)
    assert not any("Pulling" in line.split(":")[0] for line in shown)


def test_events_of_other_pods_are_ignored() -> None:
    events = load("events-readiness-failing")
    for event in events:
        event["involvedObject"]["name"] = "todo-frontend-5c8d7f9b6-q4wzm"
    assert classify("pods-readiness-failing") is None
    assert diagnose.classify_pod(load("pods-readiness-failing")[0], events) is None


def test_group_keeps_one_finding_per_component_and_cause() -> None:
    pod = load("pods-crashloop")[0]
    twin = json.loads(json.dumps(pod))
    twin["metadata"]["name"] = "todo-backend-7d9c6b5f4-zz9zz"
    grouped = diagnose.group(diagnose.classify_pods([pod, twin], []))
    assert len(grouped) == 1
    assert grouped[0].also == ("todo-backend-7d9c6b5f4-zz9zz",)


POD = "todo-backend-7d9c6b5f4-x2x9k"
GET_PODS = "kubectl get pods -n todo -l app=todo-app -o json"
GET_EVENTS = ("kubectl get events -n todo --field-selector involvedObject.kind=Pod -o json")


def test_diagnose_reads_the_crashed_runs_log_tail_of_a_crash_loop() -> None:
    c = MockContext(run={
        GET_PODS: Result((FIXTURES / "pods-crashloop.json").read_text()),
        GET_EVENTS: Result((FIXTURES / "events-crashloop.json").read_text()),
        f"kubectl logs {POD} -n todo -c backend --tail=20 --previous": Result(
            "todo-api: configuration error: missing required environment variable "
            "DATABASE_URL\n"),
        f"kubectl logs {POD} -n todo -c backend --tail=20": Result("", exited=0),
    })
    findings = diagnose.diagnose(c, Settings())
    assert [f.cause for f in findings] == [Cause.CRASH_LOOP]
    assert findings[0].logs == (
        "logs of the run that crashed (--previous):",
        "  todo-api: configuration error: missing required environment variable DATABASE_URL",
    )


def test_report_prints_cause_events_logs_and_fix() -> None:
    out = io.StringIO()
    finding = classify("pods-crashloop", "events-crashloop")
    assert finding is not None
    finding = dataclasses.replace(finding, logs=("logs --previous (the run that crashed):",
                                              "  boom"))
    diagnose.report(Console(no_color=True, file=out), [finding])
    text = out.getvalue()
    assert "✗ backend: container backend keeps crashing: exit code 2" in text
    assert "│   Warning BackOff (x4)" in text
    assert "│   boom" in text
    assert "fix: read the log lines above" in text
