"""Failure classification: one test per cause, on what a live cluster really says.

The fixtures in tests/fixtures/kubectl/ were captured from the live test cluster (Kubernetes
1.34, kubelet on dockerd; scripts/capture-fixtures.sh) with the app put in each state:
``kubectl get pods -o json`` (every pod of the app: the healthy old ones too) and the events
of those pods. The expectations (pod names, images, counts) are read from the fixtures, so a
re-capture needs no edit here. Where a test needs a variant the capture does not have (a 503
instead of a 404, events further apart), it changes one field of a captured object and says so.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from invoke import MockContext, Result

from todo_deploy import diagnose, proc
from todo_deploy.console import Console
from todo_deploy.diagnose import Cause, Finding
from todo_deploy.tools import Kubectl

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kubectl"


def kube(c: MockContext) -> Kubectl:
    """kubectl's client as a session makes it (context minikube, namespace todo)."""
    return Kubectl(c, "minikube", "todo", 120.0)


def place(target: str = "minikube", *, profile: str = "minikube", context: str = "minikube",
          kind_cluster: str = "kind") -> diagnose.Place:
    """Where the pods run (the fixes depend on it); the client renders printed commands."""
    return diagnose.Place(Kubectl(MockContext(), context, "todo", 120.0), target, profile,
                          kind_cluster)


MINIKUBE = place()


def load(name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((FIXTURES / f"{name}.json").read_text())["items"]
    return items


def findings(state: str, *, where: diagnose.Place = MINIKUBE) -> list[Finding]:
    """Every pod of the captured state classified against its events."""
    return diagnose.classify_pods(load(f"pods-{state}"), load(f"events-{state}"), place=where)


def only(state: str, cause: Cause, **kwargs: Any) -> Finding:
    found = [f for f in findings(state, **kwargs) if f.cause is cause]
    assert found, f"no {cause} finding in {state}: {findings(state)}"
    return found[0]


def backing_off() -> Finding:
    """The crash-loop finding of a pod kubelet is backing off (``CrashLoopBackOff``); the
    capture may also hold a pod whose container has just terminated again."""
    for p in load("pods-crashloop"):
        if any((s.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
               for s in statuses(p)):
            finding = diagnose.classify_pod(p, load("events-crashloop"), place=MINIKUBE)
            assert finding is not None and finding.cause is Cause.CRASH_LOOP
            return finding
    raise AssertionError("the capture has no pod in CrashLoopBackOff")


def pod(state: str, name: str) -> dict[str, Any]:
    return next(p for p in load(f"pods-{state}") if p["metadata"]["name"] == name)


def statuses(p: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(p["status"].get("initContainerStatuses") or []),
            *(p["status"].get("containerStatuses") or [])]


def test_err_image_never_pull_is_a_missing_image_fixed_by_inv_build() -> None:
    finding = only("err-image-never-pull", Cause.IMAGE_MISSING)
    status = next(s for s in statuses(pod("err-image-never-pull", finding.pod))
                  if s["name"] == finding.container)
    assert finding.reason == "ErrImageNeverPull"
    assert f"image {status['image']} is not in minikube's Docker daemon" in finding.message
    assert finding.hint.startswith("inv build")
    assert finding.fatal


def test_image_pull_backoff_is_a_missing_image_fixed_by_inv_build() -> None:
    finding = only("image-pull-backoff", Cause.IMAGE_MISSING)
    assert finding.reason in ("ImagePullBackOff", "ErrImagePull")
    assert "127.0.0.1:1/todo-backend" in finding.message
    assert finding.hint.startswith("inv build")


def test_a_missing_image_the_suite_does_not_build_is_loaded_not_built() -> None:
    p = copy.deepcopy(pod("err-image-never-pull", only("err-image-never-pull",
                                                        Cause.IMAGE_MISSING).pod))
    p["metadata"]["labels"]["component"] = "postgresql"  # the same state, for the database
    finding = diagnose.classify_pod(p, [], place=place(profile="dev"))
    assert finding is not None and finding.cause is Cause.IMAGE_MISSING
    assert finding.hint.startswith("minikube -p dev image load ")


def test_crash_loop_names_the_exit_code_and_restarts() -> None:
    finding = backing_off()
    status = next(s for s in statuses(pod("crashloop", finding.pod))
                  if s["name"] == finding.container)
    assert finding.exit_code == 2
    assert f"exit code 2 (Error), {status['restartCount']} restart(s)" in finding.message
    assert "--previous" in finding.hint
    assert not finding.crashed_run_is_current  # kubelet waits to restart it: --previous


def test_first_non_zero_exit_counts_as_a_crash_before_kubelet_says_crashloopbackoff() -> None:
    finding = only("first-crash", Cause.CRASH_LOOP)
    assert finding.exit_code == 2
    assert finding.crashed_run_is_current  # terminated, not yet restarted: current logs


def test_oomkilled_crash_points_at_the_memory_limit() -> None:
    finding = only("oomkilled", Cause.CRASH_LOOP)
    assert finding.exit_code == 137
    assert "OOMKilled" in finding.message
    assert "limits.memory" in finding.hint
    assert finding.component == "frontend"


def test_missing_secret_is_a_config_error_fixed_by_inv_secrets() -> None:
    finding = only("secret-missing", Cause.CONFIG_ERROR)
    assert 'secret "todo-secrets-absent" not found' in finding.message
    assert finding.hint.startswith("inv secrets")


def test_missing_secret_key_is_a_config_error_naming_the_key() -> None:
    found = [f for f in findings("secret-key-missing") if f.cause is Cause.CONFIG_ERROR]
    assert found
    for finding in found:
        assert "couldn't find key" in finding.message
        assert "in Secret todo/todo-secrets-partial" in finding.message
        assert finding.hint.startswith("inv secrets")


def readiness_finding(events: list[dict[str, Any]] | None = None,
                      state: str = "readiness-failing") -> Finding:
    found = [f for f in diagnose.classify_pods(load(f"pods-{state}"),
                                               load(f"events-{state}") if events is None
                                               else events, place=MINIKUBE)
             if f.cause is Cause.READINESS]
    assert found
    return found[0]


def test_a_readiness_probe_answered_404_is_a_verdict_naming_the_path() -> None:
    finding = readiness_finding()
    assert "GET /e2e-no-such-path on port 7860" in finding.message
    assert "HTTP probe failed with statuscode: 404" in finding.message
    assert finding.fatal


def test_the_first_404_is_not_yet_a_verdict() -> None:
    """The captured early events, cut down to each pod's first failure (count 1)."""
    events = copy.deepcopy(load("events-readiness-starting"))
    for event in events:
        if "Readiness probe failed" in event.get("message", ""):
            event["count"] = 1
            event["firstTimestamp"] = event["lastTimestamp"]
    assert diagnose.CLIENT_ERROR_FAILURES > 1
    assert not readiness_finding(events, "readiness-starting").fatal


def answered_503(spread: timedelta) -> list[dict[str, Any]]:
    """The captured readiness events as a 503 (a slow dependency, not a wrong path), the first
    and the last failure ``spread`` apart."""
    events = copy.deepcopy(load("events-readiness-failing"))
    for event in events:
        if "Readiness probe failed" in event.get("message", ""):
            event["message"] = "Readiness probe failed: HTTP probe failed with statuscode: 503"
            last = datetime.fromisoformat(event["lastTimestamp"].replace("Z", "+00:00"))
            event["firstTimestamp"] = (last - spread).isoformat().replace("+00:00", "Z")
    return events


def test_a_readiness_probe_answered_503_gets_the_grace_period() -> None:
    grace = timedelta(seconds=diagnose.READINESS_GRACE_SECONDS)
    assert not readiness_finding(answered_503(grace - timedelta(seconds=1))).fatal
    assert readiness_finding(answered_503(grace)).fatal


def database_finding(spread: timedelta) -> Finding:
    """The captured readiness failure, as the chart probes now (GET /ready) answered 503:
    the backend runs but cannot use its database."""
    pods = copy.deepcopy(load("pods-readiness-failing"))
    for p in pods:
        for c in p["spec"]["containers"]:
            if (c.get("readinessProbe") or {}).get("httpGet"):
                c["readinessProbe"]["httpGet"]["path"] = diagnose.DATABASE_READINESS_PATH
    found = [f for f in diagnose.classify_pods(pods, answered_503(spread), place=MINIKUBE)
             if f.component == "backend"]
    assert found
    return found[0]


def test_the_backends_ready_answered_503_is_a_database_cause_naming_database_url() -> None:
    finding = database_finding(timedelta(seconds=diagnose.DATABASE_GRACE_SECONDS))
    assert finding.cause is Cause.DATABASE
    assert finding.fatal
    assert finding.message.startswith("the backend cannot use its database: GET /ready on port "
                                      "7860 answers 503")
    assert finding.hint.startswith("check DATABASE_URL in .env")
    assert "inv secrets deploy" in finding.hint


def test_a_database_cause_is_a_verdict_only_after_its_grace() -> None:
    grace = timedelta(seconds=diagnose.DATABASE_GRACE_SECONDS)
    early = database_finding(grace - timedelta(seconds=1))
    assert (early.cause, early.fatal) == (Cause.DATABASE, False)
    assert diagnose.DATABASE_GRACE_SECONDS < diagnose.READINESS_GRACE_SECONDS


def test_a_503_on_another_readiness_path_stays_a_readiness_cause() -> None:
    assert readiness_finding(answered_503(timedelta(seconds=5))).cause is Cause.READINESS


def test_insufficient_memory_is_unschedulable_with_a_minikube_resources_hint() -> None:
    finding = only("unschedulable", Cause.UNSCHEDULABLE, where=place(profile="dev"))
    assert "Insufficient memory" in finding.message
    assert "minikube -p dev delete" in finding.hint
    assert "INVOKE_TODO_MINIKUBE_MEMORY" in finding.hint
    assert finding.fatal


def test_unschedulable_for_a_transient_reason_waits_for_the_timeout() -> None:
    p = copy.deepcopy(pod("unschedulable", only("unschedulable", Cause.UNSCHEDULABLE).pod))
    scheduled = next(c for c in p["status"]["conditions"] if c["type"] == "PodScheduled")
    scheduled["message"] = ("0/1 nodes are available: 1 node(s) had untolerated taint "
                            "{node.kubernetes.io/not-ready: }.")
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None and finding.cause is Cause.UNSCHEDULABLE
    assert not finding.fatal


def unbound(spread: timedelta | None = None) -> Finding:
    events = copy.deepcopy(load("events-unbound-claim"))
    if spread is not None:  # a second scheduling attempt, ``spread`` after the first
        later = copy.deepcopy(events[-1])
        first = datetime.fromisoformat(events[0]["eventTime"].replace("Z", "+00:00"))
        later["eventTime"] = (first + spread).isoformat().replace("+00:00", "Z")
        later["metadata"]["name"] += "-later"
        events.append(later)
    found = [f for f in diagnose.classify_pods(load("pods-unbound-claim"), events,
                                               place=MINIKUBE)
             if f.reason == "UnboundVolumeClaim"]
    assert found
    return found[0]


def test_an_unbound_claim_is_a_storage_problem_not_a_lack_of_cpu() -> None:
    finding = unbound()
    assert finding.cause is Cause.UNSCHEDULABLE
    assert "its PersistentVolumeClaim is not bound" in finding.message
    assert "storage-provisioner" in finding.hint and "Insufficient" not in finding.hint
    assert not finding.fatal  # provisioning takes a moment


def test_a_claim_unbound_for_the_grace_period_is_a_verdict() -> None:
    grace = timedelta(seconds=diagnose.STORAGE_GRACE_SECONDS)
    assert not unbound(grace - timedelta(seconds=1)).fatal
    assert unbound(grace).fatal


def test_a_sandbox_the_node_cannot_create_is_named_with_the_runtimes_words() -> None:
    finding = only("sandbox-failing", Cause.SANDBOX)
    assert "no-such-handler" in finding.message
    assert finding.hint.startswith("a node-side problem")
    assert finding.fatal  # kubelet's third failure in a row


def test_ready_pods_have_no_finding() -> None:
    assert findings("healthy") == []


def test_only_informative_events_are_shown() -> None:
    finding = backing_off()
    assert finding.events and all("BackOff" in line for line in finding.events)
    assert not any(word in " ".join(finding.events)
                   for word in ("Scheduled", "Pulled", "Created", "Started"))


def test_normal_backoff_events_count_as_informative() -> None:
    events = load("events-image-pull-backoff")
    name = only("image-pull-backoff", Cause.IMAGE_MISSING).pod
    assert any(e["type"] == "Normal" and e["reason"] == "BackOff" for e in events)
    shown = diagnose.informative_events(events, name)
    assert any(line.startswith("Normal BackOff") for line in shown)
    assert not any("Pulling" in line.split(":")[0] for line in shown)


def test_events_of_other_pods_are_ignored() -> None:
    failing = readiness_finding()
    events = copy.deepcopy(load("events-readiness-failing"))
    for event in events:
        event["involvedObject"]["name"] = "some-other-pod"
    assert diagnose.classify_pod(pod("readiness-failing", failing.pod), events,
                                 place=MINIKUBE) is None


def test_events_of_an_earlier_pod_of_the_same_name_are_ignored() -> None:
    """A StatefulSet's new pod has its predecessor's name (todo-postgres-0) but not its uid;
    on the live cluster the old pod's readiness failures made the new one look failing."""
    failing = readiness_finding()
    events = copy.deepcopy(load("events-readiness-failing"))
    for event in events:
        event["involvedObject"]["uid"] = "0000-the-pod-this-one-replaced"
    assert diagnose.classify_pod(pod("readiness-failing", failing.pod), events,
                                 place=MINIKUBE) is None


def test_group_keeps_one_finding_per_component_and_cause() -> None:
    p = pod("crashloop", only("crashloop", Cause.CRASH_LOOP).pod)
    twin = copy.deepcopy(p)
    twin["metadata"]["name"] += "-twin"
    grouped = diagnose.group(diagnose.classify_pods([p, twin], [], place=MINIKUBE))
    assert len(grouped) == 1
    assert grouped[0].also == (twin["metadata"]["name"],)


GET_PODS = "kubectl get pods -n todo -l app=todo-app -o json --context minikube"
GET_EVENTS = ("kubectl get events -n todo --field-selector involvedObject.kind=Pod -o json"
    " --context minikube")
CRASH_LOG = "todo-api: configuration error: missing required environment variable DATABASE_URL"


def test_diagnose_reads_the_crashed_runs_log_tail_of_a_crash_loop() -> None:
    crashed = [f for f in findings("crashloop") if f.cause is Cause.CRASH_LOOP]
    first = diagnose.group(crashed)[0]  # the one diagnose reports (the others in ``also``)
    logs = f"kubectl logs {first.pod} -n todo -c backend --tail=20 --context minikube"
    c = MockContext(run={
        GET_PODS: Result((FIXTURES / "pods-crashloop.json").read_text()),
        GET_EVENTS: Result((FIXTURES / "events-crashloop.json").read_text()),
        logs + ("" if first.crashed_run_is_current else " --previous"): Result(CRASH_LOG + "\n"),
    })
    (finding,) = [f for f in diagnose.diagnose(diagnose.Place(kube(c)))
                  if f.cause is Cause.CRASH_LOOP]
    where = "current" if first.crashed_run_is_current else "--previous"
    assert finding.logs == (f"logs of the run that crashed ({where}):", f"  {CRASH_LOG}")


def test_a_crash_not_yet_restarted_reads_the_current_runs_log() -> None:
    finding = only("first-crash", Cause.CRASH_LOOP)
    c = MockContext(run={
        f"kubectl logs {finding.pod} -n todo -c backend --tail=20"
            " --context minikube": Result(CRASH_LOG + "\n")})
    logs = diagnose.with_logs(kube(c), finding).logs
    assert logs == ("logs of the run that crashed (current):", f"  {CRASH_LOG}")


def test_no_lines_from_the_crashed_run_falls_back_to_the_other_run() -> None:
    finding = backing_off()
    c = MockContext(run={
        f"kubectl logs {finding.pod} -n todo -c backend --tail=20 --previous"
            " --context minikube": Result(
            "", stderr="previous terminated container not found", exited=1),
        f"kubectl logs {finding.pod} -n todo -c backend --tail=20"
            " --context minikube": Result(CRASH_LOG + "\n")})
    logs = diagnose.with_logs(kube(c), finding).logs
    assert logs == ("logs of the current run (current):", f"  {CRASH_LOG}")


def test_report_prints_cause_events_logs_and_fix() -> None:
    out = io.StringIO()
    finding = dataclasses.replace(backing_off(),
                                  logs=("logs of the run that crashed (--previous):", "  boom"))
    diagnose.report(Console(no_color=True, file=out), [finding])
    text = out.getvalue()
    assert "✗ backend: container backend keeps crashing: exit code 2" in text
    assert f"│   {finding.events[-1]}" in text
    assert "│   boom" in text
    assert "fix: read the log lines above" in text


# -- the fixes per target ---------------------------------------------------------------------
# The same captured states; the Place says where the pods run (target, kind cluster, context).

KIND = place("kind", context="kind-ci", kind_cluster="ci")
REGISTRY = place("registry", context="prod-eks")
DOCKER = place("docker", context="docker-desktop")


def test_a_missing_image_on_kind_is_built_and_loaded_into_the_kind_cluster() -> None:
    finding = only("err-image-never-pull", Cause.IMAGE_MISSING, where=KIND)
    assert "is not in kind cluster ci's nodes" in finding.message
    assert finding.hint.startswith("inv build --target kind")
    assert "minikube" not in finding.message + finding.hint


def test_an_image_kind_lacks_that_the_suite_does_not_build_is_kind_loaded() -> None:
    p = copy.deepcopy(pod("err-image-never-pull", only("err-image-never-pull",
                                                        Cause.IMAGE_MISSING).pod))
    p["metadata"]["labels"]["component"] = "postgresql"
    finding = diagnose.classify_pod(p, [], place=KIND)
    assert finding is not None
    image = next(s["image"] for s in statuses(p) if s["name"] == finding.container)
    assert finding.hint.startswith(f"docker pull {image} && kind load docker-image {image} "
                                   "--name ci")


def test_a_missing_image_on_the_docker_target_is_built_in_the_hosts_dockerd() -> None:
    finding = only("err-image-never-pull", Cause.IMAGE_MISSING, where=DOCKER)
    assert "is not in the host's Docker daemon (the node's)" in finding.message
    assert finding.hint.startswith("inv build --target docker")
    assert "minikube" not in finding.message + finding.hint


def test_a_pull_error_on_the_registry_target_says_push_pull_secret_and_describe() -> None:
    finding = only("image-pull-backoff", Cause.IMAGE_MISSING, where=REGISTRY)
    assert "cannot be pulled by the node" in finding.message
    assert finding.hint.startswith("inv build --target registry")
    assert "todo.registry.pull_secrets" in finding.hint
    assert f"kubectl -n todo describe pod {finding.pod} --context prod-eks" in finding.hint
    assert "minikube" not in finding.message + finding.hint


def test_a_lack_of_cpu_or_memory_on_kind_points_at_the_kind_nodes_not_minikube() -> None:
    finding = only("unschedulable", Cause.UNSCHEDULABLE, where=KIND)
    assert "kind nodes lack CPU/memory" in finding.hint
    assert "kubectl describe nodes --context kind-ci" in finding.hint
    assert "kind create cluster --name ci --config" in finding.hint
    assert "minikube" not in finding.hint and finding.fatal


def test_a_lack_of_cpu_or_memory_elsewhere_points_at_the_clusters_nodes() -> None:
    for where in (REGISTRY, DOCKER):
        finding = only("unschedulable", Cause.UNSCHEDULABLE, where=where)
        assert f"kubectl describe nodes --context {where.kube.context}" in finding.hint
        assert "minikube" not in finding.hint and "kind " not in finding.hint


def unbound_on(where: diagnose.Place) -> Finding:
    found = [f for f in findings("unbound-claim", where=where)
             if f.reason == "UnboundVolumeClaim"]
    assert found
    return found[0]


def test_storage_hints_name_minikubes_addons_only_on_minikube() -> None:
    assert "minikube -p minikube addons enable storage-provisioner" in unbound_on(MINIKUBE).hint
    assert "kubectl get storageclass --context minikube" in unbound_on(MINIKUBE).hint
    kind = unbound_on(KIND).hint
    assert "local-path-provisioner" in kind
    assert "kubectl -n local-path-storage get pods --context kind-ci" in kind
    for where in (REGISTRY, DOCKER):
        hint = unbound_on(where).hint
        assert "storageclass.kubernetes.io/is-default-class=true" in hint
        assert f"kubectl get storageclass --context {where.kube.context}" in hint
        assert f"kubectl -n todo get pvc --context {where.kube.context}" in hint
    for where in (KIND, REGISTRY, DOCKER):
        assert "minikube" not in unbound_on(where).hint


def test_a_sandbox_failure_outside_minikube_names_no_minikube_command() -> None:
    assert "kind export logs --name ci" in only("sandbox-failing", Cause.SANDBOX, where=KIND).hint
    for where in (REGISTRY, DOCKER):
        hint = only("sandbox-failing", Cause.SANDBOX, where=where).hint
        assert "minikube" not in hint and "kubectl describe nodes --context" in hint


# -- the fixes per target, word for word --------------------------------------------------------
# What a user copies from the terminal: the whole text per target, for an image the suite
# builds (``inv build``) and for one it does not (the database's, relabelled as in
# test_a_missing_image_the_suite_does_not_build_is_loaded_not_built).

DEV = place(profile="dev")


def missing_image(state: str, where: diagnose.Place, *, ours: bool = True) -> Finding:
    p = copy.deepcopy(pod(state, only(state, Cause.IMAGE_MISSING).pod))
    if not ours:
        p["metadata"]["labels"]["component"] = "postgresql"
    finding = diagnose.classify_pod(p, [], place=where)
    assert finding is not None and finding.cause is Cause.IMAGE_MISSING
    return finding


def test_a_missing_image_names_where_it_is_not_and_the_whole_fix_per_target() -> None:
    image = "todo-backend:000000000000"
    cases = [
        (DEV, True, "in minikube's Docker daemon",
         "inv build   # builds into minikube's daemon; then: inv deploy"),
        (DEV, False, "in minikube's Docker daemon",
         f"minikube -p dev image load {image}   (or name an image that exists in "
         "your values file: todo.values_file)"),
        (KIND, True, "in kind cluster ci's nodes",
         "inv build --target kind   # builds on the host and loads into kind "
         "cluster ci; then: inv deploy"),
        (KIND, False, "in kind cluster ci's nodes",
         f"docker pull {image} && kind load docker-image {image} --name ci   (or "
         "name an image that exists in your values file: todo.values_file)"),
        (DOCKER, True, "in the host's Docker daemon (the node's)",
         "inv build --target docker   # builds in the host's dockerd, which the "
         "node uses; then: inv deploy"),
        (DOCKER, False, "in the host's Docker daemon (the node's)",
         f"docker pull {image}   # into the host's dockerd, which the node uses "
         "(or name an image that exists in your values file: "
         "todo.values_file)"),
    ]
    for where, ours, missing_from, fix in cases:
        finding = missing_image("err-image-never-pull", where, ours=ours)
        assert finding.message == f"image {image} is not {missing_from} (ErrImageNeverPull)"
        assert finding.hint == fix, (where.target, ours)
        assert finding.container == "wait-for-postgres" and finding.fatal


def test_an_image_the_registry_target_cannot_pull_gets_the_whole_fix() -> None:
    image = "127.0.0.1:1/todo-backend:7c684f35c82b"
    ours = missing_image("image-pull-backoff", REGISTRY)
    assert ours.message == f"image {image} cannot be pulled by the node ({ours.reason})"
    assert ours.hint == (
        "inv build --target registry   # pushes it; if the registry has it, the node cannot "
        "pull it: a private registry needs a pull Secret named in todo.registry.pull_secrets "
        "(imagePullSecrets), and the node must reach the registry's address; the kubelet's "
        f"words: kubectl -n todo describe pod {ours.pod} --context prod-eks")
    theirs = missing_image("image-pull-backoff", REGISTRY, ours=False)
    assert theirs.hint == (f"push {image} where the node can pull it, or add its pull Secret "
                           "to todo.registry.pull_secrets (imagePullSecrets)")


def test_a_missing_image_without_one_in_its_status_is_named_from_the_pod_spec() -> None:
    """kubelet fills ``image`` in every status it writes; were it absent, the spec (here of
    the init container that cannot start) still names the image."""
    p = copy.deepcopy(pod("err-image-never-pull", only("err-image-never-pull",
                                                        Cause.IMAGE_MISSING).pod))
    for status in statuses(p):
        del status["image"]
    spec = next(c for c in p["spec"]["initContainers"] if c["name"] == "wait-for-postgres")
    spec["image"] = "todo-backend:from-the-spec"
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None and finding.container == "wait-for-postgres"
    assert finding.message.startswith("image todo-backend:from-the-spec is not in minikube's")


def test_a_lack_of_cpu_or_memory_gets_the_whole_fix_per_target() -> None:
    assert only("unschedulable", Cause.UNSCHEDULABLE, where=DEV).hint == (
        "minikube needs more CPU/memory (inv doctor shows what the chart requests): minikube -p "
        "dev delete && INVOKE_TODO_MINIKUBE_CPUS=4 INVOKE_TODO_MINIKUBE_MEMORY=6144 inv up   "
        "(or lower the chart's resources.requests)")
    assert only("unschedulable", Cause.UNSCHEDULABLE, where=KIND).hint == (
        "the kind nodes lack CPU/memory (they are containers of this host's Docker, within its "
        "limits; inv doctor shows what the chart requests): kubectl describe nodes --context "
        "kind-ci   then more room for Docker, or more nodes in the kind config (nodes: - role: "
        "worker) and: kind delete cluster --name ci && kind create cluster --name ci --config "
        "kind.yaml   (or lower the chart's resources.requests)")
    assert only("unschedulable", Cause.UNSCHEDULABLE, where=REGISTRY).hint == (
        "no node of the cluster has the CPU/memory the chart requests (inv doctor shows them): "
        "kubectl describe nodes --context prod-eks   then add nodes or free room, or lower the "
        "chart's resources.requests")


def test_a_storage_problem_gets_the_whole_fix_per_target() -> None:
    def check(context: str) -> str:
        return (f"(check: kubectl get storageclass --context {context}; kubectl -n todo get pvc "
                f"--context {context})")

    assert unbound_on(DEV).hint == (
        "no default StorageClass, or its provisioner does not run: minikube -p dev addons "
        "enable storage-provisioner && minikube -p dev addons enable default-storageclass   "
        + check("minikube"))
    assert unbound_on(KIND).hint == (
        "no default StorageClass, or its provisioner does not run (kind installs "
        "local-path-provisioner as StorageClass standard): kubectl -n local-path-storage get "
        "pods --context kind-ci   " + check("kind-ci"))
    assert unbound_on(DOCKER).hint == (
        "no default StorageClass, or its provisioner does not run: install one for this "
        "cluster and mark it default (annotation storageclass.kubernetes.io/is-default-class="
        "true)   " + check("docker-desktop"))


def test_a_sandbox_failure_gets_the_whole_fix_per_target() -> None:
    node_side = "a node-side problem (container runtime or pod network), not the app's: "
    assert only("sandbox-failing", Cause.SANDBOX, where=DEV).hint == node_side + (
        "minikube -p dev logs --problems   (then: minikube -p dev delete && inv up)")
    assert only("sandbox-failing", Cause.SANDBOX, where=KIND).hint == node_side + (
        "kind export logs --name ci   (then: kind delete cluster --name ci && inv up)")
    assert only("sandbox-failing", Cause.SANDBOX, where=REGISTRY).hint == node_side + (
        "kubectl describe nodes --context prod-eks   (the node's kubelet and runtime logs)")


# -- branches no capture reaches ----------------------------------------------------------------


def unschedulable_pod() -> dict[str, Any]:
    return copy.deepcopy(pod("unschedulable", only("unschedulable", Cause.UNSCHEDULABLE).pod))


def test_a_pod_the_scheduler_has_not_looked_at_yet_has_no_finding() -> None:
    p = unschedulable_pod()
    p["status"]["conditions"] = []  # a pod seconds old: no PodScheduled condition yet
    assert diagnose.classify_pod(p, [], place=MINIKUBE) is None


def test_a_pod_held_back_for_another_reason_than_unschedulable_has_no_finding() -> None:
    p = unschedulable_pod()
    scheduled = next(c for c in p["status"]["conditions"] if c["type"] == "PodScheduled")
    scheduled["reason"] = "SchedulingGated"  # waits for its scheduling gates, by design
    assert diagnose.classify_pod(p, [], place=MINIKUBE) is None


def test_an_unschedulable_pod_without_the_schedulers_words_says_no_node_fits() -> None:
    p = unschedulable_pod()
    scheduled = next(c for c in p["status"]["conditions"] if c["type"] == "PodScheduled")
    del scheduled["message"]
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None and finding.reason == "Unschedulable"
    assert finding.message == f"pod {p['metadata']['name']} cannot be scheduled: no node fits it"
    assert not finding.fatal  # nothing says Insufficient: wait for the timeout


def test_an_unbound_claim_whose_scheduling_events_expired_is_not_yet_a_verdict() -> None:
    """kube-apiserver drops events after an hour; the pod still says why it waits."""
    p = next(p for p in load("pods-unbound-claim") if p["metadata"]["name"] == unbound().pod)
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None and finding.reason == "UnboundVolumeClaim"
    assert "is not bound (0s)" in finding.message and not finding.fatal


def test_a_claim_unbound_through_the_schedulers_event_series_is_timed_by_it() -> None:
    """The scheduler records retries in one event's ``series`` (eventTime = the first try,
    series.lastObservedTime = the last), not in new events."""
    grace = diagnose.STORAGE_GRACE_SECONDS
    for spread, fatal in ((grace - 1, False), (grace, True)):
        events = copy.deepcopy(load("events-unbound-claim"))
        first = datetime.fromisoformat(events[0]["eventTime"].replace("Z", "+00:00"))
        last = first + timedelta(seconds=spread)
        events[0]["series"] = {"count": 4,
                               "lastObservedTime": last.isoformat().replace("+00:00", "Z")}
        (finding,) = [f for f in diagnose.classify_pods(load("pods-unbound-claim"), events,
                                                        place=MINIKUBE)
                      if f.reason == "UnboundVolumeClaim"]
        assert f"is not bound ({spread:.0f}s)" in finding.message
        assert finding.fatal is fatal


def test_a_scheduling_try_with_no_time_recorded_counts_the_wait_from_zero() -> None:
    p = next(p for p in load("pods-unbound-claim") if p["metadata"]["name"] == unbound().pod)
    (tried,) = [e for e in load("events-unbound-claim") if e["reason"] == "FailedScheduling"]
    timeless = {k: v for k, v in copy.deepcopy(tried).items()
                if k not in ("firstTimestamp", "lastTimestamp", "eventTime", "metadata")}
    finding = diagnose.classify_pod(p, [timeless, tried], place=MINIKUBE)
    assert finding is not None and "is not bound (0s)" in finding.message


def sandbox(count: int | None = None, message: str | None = None,
            phase: str | None = None) -> Finding | None:
    """The captured sandbox failure, its event's count or message (None: none) changed."""
    name = only("sandbox-failing", Cause.SANDBOX).pod
    p = copy.deepcopy(pod("sandbox-failing", name))
    events = copy.deepcopy(load("events-sandbox-failing"))
    failure = next(e for e in events if e["reason"] == "FailedCreatePodSandBox")
    if count is not None:
        failure["count"] = count
    if message is not None:
        failure["message"] = message
    if phase is not None:
        p["status"]["phase"] = phase
    return diagnose.classify_pod(p, events, place=MINIKUBE)


def test_a_sandbox_is_a_verdict_at_kubelets_third_failure_in_a_row() -> None:
    limit = diagnose.SANDBOX_FAILURES
    for count in (limit - 1, limit, limit + 1):
        finding = sandbox(count)
        assert finding is not None and finding.cause is Cause.SANDBOX
        assert f"sandbox ({count}x)" in finding.message
        assert finding.fatal is (count >= limit)


def test_a_sandbox_failure_is_named_with_kubelets_reason_and_words_on_one_line() -> None:
    finding = sandbox(message="Failed to create pod sandbox:\n  network plugin not ready")
    assert finding is not None and finding.reason == "FailedCreatePodSandBox"
    assert finding.container is None
    assert finding.message == (f"the node cannot start pod {finding.pod}'s sandbox (3x): "
                               "Failed to create pod sandbox: network plugin not ready")
    failure = next(e for e in load("events-sandbox-failing")
                   if e["reason"] == "FailedCreatePodSandBox")
    del failure["message"]
    p = pod("sandbox-failing", finding.pod)
    wordless = diagnose.classify_pod(p, [failure], place=MINIKUBE)
    assert wordless is not None and wordless.message.endswith("sandbox (3x): ")


def test_old_sandbox_failures_of_a_pod_that_runs_now_are_no_finding() -> None:
    assert sandbox(phase="Running") is None
    assert sandbox(phase="Pending") is not None


def readiness_pod(state: str = "readiness-failing", which: int = -1) -> dict[str, Any]:
    names = sorted(f.pod for f in findings(state) if f.cause is Cause.READINESS)
    return copy.deepcopy(pod(state, names[which]))


def test_a_readiness_finding_counts_only_readiness_failures_of_the_pod() -> None:
    """The second captured pod also failed its startup probe once (Unhealthy, but not
    readiness): it is not counted."""
    p = readiness_pod(which=1)
    assert any(e["reason"] == "Unhealthy" and "Startup probe failed" in e["message"]
               for e in diagnose.pod_events(load("events-readiness-failing"),
                                            p["metadata"]["name"]))
    finding = diagnose.classify_pod(p, load("events-readiness-failing"), place=MINIKUBE)
    assert finding is not None
    assert (finding.cause, finding.container, finding.reason) == (
        Cause.READINESS, "backend", "Unhealthy")
    assert finding.message == (
        "readiness probe GET /e2e-no-such-path on port 7860 keeps failing for container "
        "backend (6x in 17s); last: Readiness probe failed: HTTP probe failed with statuscode: "
        "404")
    assert finding.hint == "inv logs backend   # why does GET /e2e-no-such-path not answer 200?"


def test_a_container_that_became_ready_has_no_readiness_finding_for_old_failures() -> None:
    p = readiness_pod()
    p["status"]["containerStatuses"][0]["ready"] = True
    assert diagnose.classify_pod(p, load("events-readiness-failing"), place=MINIKUBE) is None


def test_a_ready_container_before_the_failing_one_does_not_hide_it() -> None:
    p = readiness_pod()
    (backend,) = p["status"]["containerStatuses"]
    sidecar = {**copy.deepcopy(backend), "name": "sidecar", "ready": True}
    p["status"]["containerStatuses"] = [sidecar, backend]
    finding = diagnose.classify_pod(p, load("events-readiness-failing"), place=MINIKUBE)
    assert finding is not None and finding.container == "backend"


def test_a_4xx_is_a_verdict_at_the_second_answer() -> None:
    """The captured early events (within a second), each pod's probe failures set to one
    below, at and one above the limit."""
    limit = diagnose.CLIENT_ERROR_FAILURES
    for count in (limit - 1, limit, limit + 1):
        events = copy.deepcopy(load("events-readiness-starting"))
        for event in events:
            if "Readiness probe failed" in event.get("message", ""):
                event["count"] = count
                event["firstTimestamp"] = event["lastTimestamp"]
        finding = readiness_finding(events, "readiness-starting")
        assert f"({count}x in 0s)" in finding.message
        assert finding.fatal is (count >= limit)


def test_a_probe_failure_with_no_time_recorded_counts_from_zero() -> None:
    p = readiness_pod()
    events = diagnose.pod_events(load("events-readiness-failing"), p["metadata"]["name"])
    failing = next(e for e in events if "Readiness probe failed" in e.get("message", ""))
    timeless = {k: v for k, v in copy.deepcopy(failing).items()
                if k not in ("firstTimestamp", "lastTimestamp", "eventTime", "metadata")}
    timeless["count"] = 1
    finding = diagnose.classify_pod(p, [timeless, failing], place=MINIKUBE)
    assert finding is not None and f"({failing['count'] + 1}x in 0s)" in finding.message


def test_a_crash_whose_current_run_has_no_lines_yet_shows_the_run_before_it() -> None:
    finding = only("first-crash", Cause.CRASH_LOOP)
    assert finding.crashed_run_is_current
    logs = f"kubectl logs {finding.pod} -n todo -c backend --tail=20"
    c = MockContext(run={f"{logs} --context minikube": Result(""),
                         f"{logs} --previous --context minikube": Result(CRASH_LOG + "\n")})
    assert diagnose.with_logs(kube(c), finding).logs == (
        "logs of the run before it (--previous):", f"  {CRASH_LOG}")


def test_a_failed_logs_call_is_not_shown_even_with_some_output() -> None:
    """kubectl can print part of a log and then fail (the kubelet connection dropped)."""
    finding = backing_off()
    logs = f"kubectl logs {finding.pod} -n todo -c backend --tail=20"
    c = MockContext(run={
        f"{logs} --previous --context minikube": Result("partial line\n", exited=1,
                                                        stderr="error: unexpected EOF"),
        f"{logs} --context minikube": Result(CRASH_LOG + "\n")})
    assert diagnose.with_logs(kube(c), finding).logs == (
        "logs of the current run (current):", f"  {CRASH_LOG}")


def test_crash_logs_keep_the_last_log_tail_lines() -> None:
    finding = backing_off()
    lines = [f"line {n}" for n in range(1, diagnose.LOG_TAIL + 2)]  # one more than the tail
    c = MockContext(run={
        f"kubectl logs {finding.pod} -n todo -c backend --tail=20 --previous"
            " --context minikube": Result("\n".join(lines) + "\n")})
    shown = diagnose.with_logs(kube(c), finding).logs
    assert shown[1:] == tuple(f"  {line}" for line in lines[-diagnose.LOG_TAIL:])


def test_each_logs_call_is_bounded_by_the_clients_timeout() -> None:
    finding = backing_off()
    c = MockContext(run={
        f"kubectl logs {finding.pod} -n todo -c backend --tail=20 --previous"
            " --context minikube": Result(CRASH_LOG + "\n")})
    diagnose.with_logs(Kubectl(c, "minikube", "todo", 45.0), finding)
    assert c.run.call_args.kwargs["timeout"] == 45.0  # type: ignore[attr-defined]


# -- crash loop, config error, missing image: the whole words and their fallbacks --------------


def crash_pod(state: str, name: str | None = None) -> dict[str, Any]:
    found = [f for f in findings(state) if f.cause is Cause.CRASH_LOOP]
    return copy.deepcopy(pod(state, name or found[0].pod))


def test_a_crash_loop_names_kubelets_reason_and_the_previous_runs_logs_command() -> None:
    finding = backing_off()
    assert finding.reason == "CrashLoopBackOff" and finding.container == "backend"
    assert finding.message == "container backend keeps crashing: exit code 2 (Error), 1 restart(s)"
    assert finding.hint == (
        "read the log lines above; more: inv logs backend   (kubectl -n todo logs "
        f"{finding.pod} -c backend --previous --context minikube)")


def test_a_first_crash_is_named_by_the_terminated_runs_reason() -> None:
    finding = only("first-crash", Cause.CRASH_LOOP)
    assert finding.reason == "Error"  # kubelet says nothing yet: the run's own reason
    assert finding.message == "container backend keeps crashing: exit code 2 (Error), 0 restart(s)"


def test_a_crash_without_a_reason_is_an_error() -> None:
    p = crash_pod("first-crash")
    del p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"]
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None and finding.reason == "Error"
    assert "exit code 2 (Error)" in finding.message


def test_the_crash_reported_is_the_current_run_while_it_is_the_terminated_one() -> None:
    """In the capture, one pod's current run has just crashed again (exit 2, like the run
    before it); here the current run exits 1 (the least crash) so the two can be told
    apart."""
    p = next(p for p in load("pods-crashloop")
             if "terminated" in p["status"]["containerStatuses"][0]["state"])
    p = copy.deepcopy(p)
    status = p["status"]["containerStatuses"][0]
    status["state"]["terminated"]["exitCode"] = 1
    assert status["lastState"]["terminated"]["exitCode"] == 2
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None and finding.exit_code == 1 and finding.crashed_run_is_current
    assert f"exit code 1 (Error), {status['restartCount']} restart(s)" in finding.message


def test_a_crash_loop_whose_last_run_kubelet_no_longer_knows_has_no_exit_code() -> None:
    finding = backing_off()
    p = copy.deepcopy(pod("crashloop", finding.pod))
    p["status"]["containerStatuses"][0]["lastState"] = {}  # e.g. after the node restarted
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None and finding.cause is Cause.CRASH_LOOP
    assert finding.exit_code is None
    assert "exit code None (Error)" in finding.message


def test_a_container_that_exited_zero_is_not_a_crash() -> None:
    p = crash_pod("first-crash")
    p["status"]["containerStatuses"][0]["state"]["terminated"].update(
        exitCode=0, reason="Completed")
    assert diagnose.classify_pod(p, [], place=MINIKUBE) is None


def test_an_oomkilled_crash_gets_the_whole_memory_fix() -> None:
    assert only("oomkilled", Cause.CRASH_LOOP).hint == (
        "the container ran out of memory: raise its resources.limits.memory in "
        "helm/todo-app/values.yaml, then: inv deploy")


def config_error(message: str | None) -> Finding:
    """The captured backend pod with a missing Secret (its init container done, then the
    backend waiting), kubelet's message replaced (None: no message)."""
    p = copy.deepcopy(pod("secret-missing", "todo-backend-9db457f79-bcrnh"))
    (status,) = [s for s in statuses(p)
                 if (s["state"].get("waiting") or {}).get("reason") == "CreateContainerConfigError"]
    if message is None:
        del status["state"]["waiting"]["message"]
    else:
        status["state"]["waiting"]["message"] = message
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None and finding.cause is Cause.CONFIG_ERROR
    assert (finding.container, finding.reason) == ("backend", "CreateContainerConfigError")
    return finding


def test_a_missing_secret_gets_the_whole_words_and_fix() -> None:
    finding = config_error('secret "todo-secrets-absent" not found')
    assert finding.message == (f"container {finding.container} cannot be created: secret "
                               '"todo-secrets-absent" not found (a Secret or one of its keys '
                               "is missing)")
    assert finding.hint == "inv secrets   # creates todo-secrets with every key; then: inv deploy"
    assert config_error("couldn't find key postgres-password in Secret todo/x").hint == (
        finding.hint)


def test_a_missing_configmap_is_redeployed_not_a_secret() -> None:
    finding = config_error('configmap "todo-config" not found')
    assert finding.message == (f"container {finding.container} cannot be created: configmap "
                               '"todo-config" not found')
    assert finding.hint == "inv deploy   # re-creates the chart's ConfigMap"


def test_a_config_error_without_kubelets_words_is_named_by_its_reason() -> None:
    finding = config_error(None)
    assert finding.message == (f"container {finding.container} cannot be created: "
                               "CreateContainerConfigError")
    assert finding.hint.startswith("inv deploy")


def test_a_missing_frontend_image_is_built_by_the_suite() -> None:
    p = copy.deepcopy(pod("err-image-never-pull", only("err-image-never-pull",
                                                        Cause.IMAGE_MISSING).pod))
    p["metadata"]["labels"]["component"] = "frontend"
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None and finding.hint.startswith("inv build   #")


def test_a_missing_image_is_named_as_kubelet_reports_it() -> None:
    """kubelet may report an image under another name than the spec's (docker.io/library/
    prefixed, or resolved): the message names kubelet's."""
    p = copy.deepcopy(pod("err-image-never-pull", only("err-image-never-pull",
                                                        Cause.IMAGE_MISSING).pod))
    for status in statuses(p):
        status["image"] = "docker.io/library/todo-backend:000000000000"
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None
    assert finding.message.startswith("image docker.io/library/todo-backend:000000000000 is not")


def test_a_missing_image_named_nowhere_is_a_question_mark() -> None:
    p = copy.deepcopy(pod("err-image-never-pull", only("err-image-never-pull",
                                                        Cause.IMAGE_MISSING).pod))
    for status in statuses(p):
        del status["image"]
    for spec in p["spec"]["initContainers"] + p["spec"]["containers"]:
        del spec["image"]
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None and finding.message.startswith("image ? is not in minikube's")


# -- grouping, reading, reporting ---------------------------------------------------------------


def test_group_keeps_causes_and_components_apart_and_lists_the_others_in_order() -> None:
    def f(pod_name: str, component: str, cause: Cause) -> Finding:
        return Finding(cause, pod_name, component, None, "r", "m", "h")

    grouped = diagnose.group([
        f("b-1", "backend", Cause.CRASH_LOOP), f("b-2", "backend", Cause.READINESS),
        f("b-3", "backend", Cause.CRASH_LOOP), f("f-1", "frontend", Cause.CRASH_LOOP),
        f("b-4", "backend", Cause.CRASH_LOOP)])
    assert [(g.pod, g.also) for g in grouped] == [
        ("b-1", ("b-3", "b-4")), ("b-2", ()), ("f-1", ())]


def test_diagnose_fails_with_the_doctor_hint_when_pods_cannot_be_read() -> None:
    c = MockContext(run={GET_PODS: Result("", stderr="connection refused", exited=1)})
    with pytest.raises(proc.ToolError) as failed:
        diagnose.diagnose(diagnose.Place(kube(c)))
    assert failed.value.hint == "inv doctor   # is the cluster up and kubectl pointed at it?"


def test_report_lists_the_other_pods_only_when_there_are_and_no_empty_blocks() -> None:
    out = io.StringIO()
    finding = Finding(Cause.READINESS, "web-1", "frontend", "frontend", "Unhealthy",
                      "readiness probe fails", "inv logs frontend", also=("web-2", "web-3"))
    alone = Finding(Cause.SANDBOX, "api-1", "backend", None, "FailedCreatePodSandBox",
                    "the node cannot start pod api-1's sandbox", "")
    diagnose.report(Console(no_color=True, file=out), [finding, alone])
    assert out.getvalue().splitlines() == [
        "✗ frontend: readiness probe fails (also: web-2, web-3)", "  fix: inv logs frontend",
        "✗ backend: the node cannot start pod api-1's sandbox"]


# -- pods that are no verdict: the helm test pod, evicted pods, one crash after Ready ------


def crashed_backend(*, was_ready: bool) -> dict[str, Any]:
    """The captured first crash (terminated, exit 2, never Ready), or the same pod after it
    had been Ready for a while in that run: its ``ContainersReady`` went True, then False at
    the crash (the transition after the run's start)."""
    p = copy.deepcopy(pod("first-crash", only("first-crash", Cause.CRASH_LOOP).pod))
    if was_ready:
        status = p["status"]["containerStatuses"][0]
        status["state"]["terminated"]["startedAt"] = "2026-11-29T11:30:38Z"
        status["state"]["terminated"]["finishedAt"] = "2026-11-29T12:41:09Z"
        for cond in p["status"]["conditions"]:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond["lastTransitionTime"] = "2026-11-29T12:41:09Z"
    return p


def test_the_captured_first_crash_at_start_stays_a_fatal_crash_loop() -> None:
    finding = diagnose.classify_pod(crashed_backend(was_ready=False), [], place=MINIKUBE)
    assert finding is not None and finding.cause is Cause.CRASH_LOOP and finding.fatal


def test_one_crash_of_a_pod_that_was_ready_is_reported_not_fatal() -> None:
    finding = diagnose.classify_pod(crashed_backend(was_ready=True), [], place=MINIKUBE)
    assert finding is not None and finding.cause is Cause.CRASH_LOOP
    assert not finding.fatal
    assert "crashed once after its pod was ready: exit code 2 (Error)" in finding.message


def test_crash_loop_back_off_after_being_ready_is_still_fatal() -> None:
    p = crashed_backend(was_ready=True)
    status = p["status"]["containerStatuses"][0]
    status["lastState"], status["restartCount"] = {"terminated": status["state"]["terminated"]}, 1
    status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None and finding.cause is Cause.CRASH_LOOP and finding.fatal


def test_a_transient_crash_never_hides_a_fatal_one_of_the_same_component() -> None:
    transient = diagnose.classify_pod(crashed_backend(was_ready=True), [], place=MINIKUBE)
    fatal = diagnose.classify_pod(crashed_backend(was_ready=False), [], place=MINIKUBE)
    assert transient is not None and fatal is not None
    grouped = diagnose.group([transient, dataclasses.replace(fatal, pod="other")])
    assert [f.fatal for f in grouped] == [False, True]


def evicted(p: dict[str, Any]) -> dict[str, Any]:
    """A pod as kubelet leaves it after an eviction (Kubernetes 1.34's shape): phase Failed,
    the node's reason and message, its container terminated by the kill (137)."""
    p = copy.deepcopy(p)
    p["status"].update(phase="Failed", reason="Evicted", message=(
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 91Mi. "))
    for status in p["status"]["containerStatuses"]:
        status["ready"] = False
        status["state"] = {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                                          "startedAt": "2026-11-29T11:29:07Z",
                                          "finishedAt": "2026-11-29T12:00:00Z"}}
    return p


def test_an_evicted_pod_is_news_not_a_crash_loop() -> None:
    healthy = next(p for p in load("pods-first-crash") if p["status"]["containerStatuses"][0]
                   .get("ready"))
    finding = diagnose.classify_pod(evicted(healthy), [], place=MINIKUBE)
    assert finding is not None and finding.cause is Cause.STOPPED
    assert not finding.fatal
    assert finding.reason == "Evicted"
    assert "was stopped by its node (Evicted): The node was low on resource: memory." in (
        finding.message)
    assert finding.hint.startswith("kubectl describe nodes --context minikube")


def test_a_failed_pod_without_a_node_reason_is_classified_as_before() -> None:
    p = crashed_backend(was_ready=False)
    p["status"]["phase"] = "Failed"
    finding = diagnose.classify_pod(p, [], place=MINIKUBE)
    assert finding is not None and finding.cause is Cause.CRASH_LOOP and finding.fatal


def helm_test_pod() -> dict[str, Any]:
    """The chart's test pod after a failed ``helm test`` (the chart keeps it): the app's
    labels with component test, Helm's hook annotation, its container exited 1."""
    p = crashed_backend(was_ready=False)
    p["metadata"].update(name="todo-app-test-health", ownerReferences=[], annotations={
        "helm.sh/hook": "test",
        "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"})
    p["metadata"]["labels"] = {"app": "todo-app", "component": "test",
                               "app.kubernetes.io/component": "test"}
    p["status"]["phase"] = "Failed"
    p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] = 1
    return p


def test_the_helm_test_pod_is_not_taken_for_an_app_pod() -> None:
    assert diagnose.classify_pod(helm_test_pod(), [], place=MINIKUBE) is None
    assert diagnose.classify_pods([helm_test_pod()], [], place=MINIKUBE) == []


def test_diagnose_leaves_a_failed_helm_test_pod_out() -> None:
    pods = {"kind": "List", "items": [helm_test_pod()]}
    c = MockContext(run={
        "kubectl get pods -n todo -l app=todo-app -o json --context minikube":
            Result(json.dumps(pods)),
        "kubectl get events -n todo --field-selector involvedObject.kind=Pod -o json "
        "--context minikube": Result('{"items": []}')})
    assert diagnose.diagnose(diagnose.Place(kube(c))) == []
