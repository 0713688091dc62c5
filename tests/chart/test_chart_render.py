"""helm/todo-app rendered by the real helm 3.17 and 4.1: the spec's names, ports, NodePort,
replicas, resources, probes, labels and secret keys, the hardening, and the optional parts."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import kubernetes_validate
import pytest
import yaml

from tests.chart.conftest import (
    AUTH_SECRET,
    CHART_OWNS_SECRET,
    EMBEDDED,
    by_key,
    container,
    pod_spec,
    run_helm,
    template,
)
from tests.chart.conftest import CHART as CHART_DIR
from todo_deploy import secrets
from todo_deploy.envfile import MIN_AUTH_SECRET, database_url_problem

SPEC_OBJECTS = {"ConfigMap/todo-config", "Service/todo-backend", "Service/todo-frontend",
                "Deployment/todo-backend", "Deployment/todo-frontend"}
POLICIES = {"NetworkPolicy/todo-backend", "NetworkPolicy/todo-frontend"}
NO_POLICIES = ("--set", "networkPolicy.enabled=false")
K8S_VERSIONS = ("1.29", kubernetes_validate.latest_version())
OVERRIDES = {
    "defaults": (),
    "digest tags and secret digest": (
        "--set-string", "backend.image.tag=0123456789ab",
        "--set-string", "frontend.image.tag=123456789012",
        "--set-string", "secretDigest=" + "f" * 64),
    "embedded database": EMBEDDED,
    "chart owns the Secret, embedded database": (*CHART_OWNS_SECRET, *EMBEDDED),
    "ClusterIP frontend, 1 replica each": (
        "--set", "frontend.service.type=ClusterIP", "--set", "backend.replicas=1",
        "--set", "frontend.replicas=1"),
    "no network policies, embedded database": (*NO_POLICIES, *EMBEDDED),
}

pytestmark = pytest.mark.helm


def test_chart_passes_helm_lint_strict(helm: Path) -> None:
    result = run_helm(helm, "lint", "--strict", str(CHART_DIR))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_chart_passes_helm_lint_strict_with_every_option_on(helm: Path) -> None:
    result = run_helm(helm, "lint", "--strict", str(CHART_DIR), *CHART_OWNS_SECRET, *EMBEDDED)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", list(OVERRIDES))
def test_every_rendered_object_is_valid_for_kubernetes_1_29_and_latest(
        helm: Path, case: str) -> None:
    docs = template(helm, *OVERRIDES[case], skip_tests=False)
    assert docs
    for doc in docs:
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_default_render_is_the_spec_objects_and_network_policies_without_a_secret(
        helm: Path) -> None:
    assert set(by_key(template(helm))) == SPEC_OBJECTS | POLICIES


def test_network_policies_can_be_switched_off(helm: Path) -> None:
    assert set(by_key(template(helm, *NO_POLICIES, *EMBEDDED))) == SPEC_OBJECTS | {
        "Service/todo-postgres", "Service/todo-postgres-headless", "StatefulSet/todo-postgres"}


def test_chart_renders_the_secret_only_when_it_owns_it(helm: Path) -> None:
    objects = by_key(template(helm, *CHART_OWNS_SECRET))
    secret = objects["Secret/todo-secrets"]
    assert set(secret["data"]) == {"database-url", "cohere-api-key", "better-auth-secret"}
    deploy = objects["Deployment/todo-backend"]
    assert "checksum/secret" in deploy["spec"]["template"]["metadata"]["annotations"]


def test_chart_owned_secret_with_embedded_database_carries_the_postgres_password(
        helm: Path) -> None:
    secret = by_key(template(helm, *CHART_OWNS_SECRET, *EMBEDDED))["Secret/todo-secrets"]
    assert set(secret["data"]) == {"database-url", "cohere-api-key", "better-auth-secret",
                                   "postgres-password"}


URL_SPECIAL = ("@", ":", "/", "?", "#", "%", "+", " ")


@pytest.mark.parametrize("password", [f"pw{ch}{ch}12345678" for ch in URL_SPECIAL] + [
    "p@ss/word#1234", "p@ss:w/rd?#1 %25+x", "%41%2B+ end, [x]=y\\z\"é"],
    ids=[f"{ord(ch):02x}" for ch in URL_SPECIAL] + ["issue", "all", "pct-and-more"])
def test_chart_owned_database_url_parses_back_and_equals_what_inv_secrets_composes(
        helm: Path, password: str, tmp_path: Path) -> None:
    """The password arrives through a values file (pyyaml): --set would parse , [ ] = \\ itself."""
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({
        "secrets": {"create": True, "betterAuthSecret": AUTH_SECRET,
                    "postgresPassword": password},
        "postgresql": {"enabled": True}}))
    secret = by_key(template(helm, "--values", str(values)))["Secret/todo-secrets"]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["postgres-password"] == password
    url = data["database-url"]
    parts = urlsplit(url)
    assert (parts.scheme, parts.hostname, parts.port) == ("postgresql", "todo-postgres", 5432)
    assert unquote(parts.username or "") == "todo"
    assert unquote(parts.password or "") == password
    assert (parts.path, parts.query, parts.fragment) == ("/todo", "", "")
    assert url == secrets.embedded_database_url(password)


def test_chart_owned_secret_requires_the_auth_secret(helm: Path) -> None:
    result = run_helm(helm, "template", "todo-app", str(CHART_DIR), "--set", "secrets.create=true",
                      "--set-string", "secrets.databaseUrl=postgresql://u:p@db/todo")
    assert result.returncode != 0
    assert "secrets.betterAuthSecret is required" in result.stderr


def owned_secret(helm: Path, *args: str) -> tuple[int, str]:
    """Render the chart-owned Secret with ``args``: (exit code, stderr)."""
    result = run_helm(helm, "template", "todo-app", str(CHART_DIR), "--set", "secrets.create=true",
                      "--show-only", "templates/secret.yaml", *args)
    return result.returncode, result.stderr


@pytest.mark.parametrize("length", [MIN_AUTH_SECRET - 1, MIN_AUTH_SECRET])
def test_chart_owned_auth_secret_needs_as_many_characters_as_inv_secrets_asks(
        helm: Path, length: int) -> None:
    value = "é" + "k" * (length - 1)  # characters, not bytes
    code, stderr = owned_secret(helm, "--set-string", f"secrets.betterAuthSecret={value}",
                                "--set-string", "secrets.databaseUrl=postgresql://u:p@db/todo")
    if length < MIN_AUTH_SECRET:
        assert code != 0
        assert f"secrets.betterAuthSecret is {length} characters; at least 32" in stderr
        assert value not in stderr
    else:
        assert code == 0, stderr


# Both kinds: URLs `inv secrets` accepts and URLs it refuses (and why), from its own check.
DATABASE_URLS = [
    "postgresql://u:p@db:5432/todo", "postgres://u:p@db/todo?sslmode=require",
    "POSTGRESQL://u:p@@db/todo", "postgresql://u:p@[::1]:5432/todo",
    " postgresql://u:p@db/todo ", "postgresql://db/todo",
    "postgresql://u:p#x@db:5432/todo", "mysql://u:p@db:5432/todo",
    "postgresql://u:p@db:99999/todo", "postgresql://u:p@db:port/todo",
    "postgresql://u:p@[::1/todo", "postgresql://u:p@db:5432/", "postgresql://u:p@db:5432",
    "postgresql://u:p@:5432/todo", "postgresql:///todo", "db.example.com:5432/todo",
]


@pytest.mark.parametrize("url", DATABASE_URLS)
def test_chart_owned_secret_accepts_exactly_the_database_urls_inv_secrets_accepts(
        helm: Path, url: str) -> None:
    code, stderr = owned_secret(helm, "--set-string", f"secrets.betterAuthSecret={AUTH_SECRET}",
                                "--set-string", f"secrets.databaseUrl={url}")
    problem = database_url_problem(url)
    if problem is None:
        assert code == 0, stderr
    else:
        assert code != 0
        assert f"secrets.databaseUrl {problem.split(' (found scheme')[0]}" in stderr
        assert url.strip() not in stderr


def test_chart_owned_secret_refuses_a_short_embedded_database_password(helm: Path) -> None:
    code, stderr = owned_secret(helm, *EMBEDDED, "--set-string",
                                f"secrets.betterAuthSecret={AUTH_SECRET}",
                                "--set-string", "secrets.postgresPassword=elevenchars")
    assert code != 0
    assert "secrets.postgresPassword is 11 characters; use at least 12" in stderr
    assert "elevenchars" not in stderr


def test_both_deployments_run_two_replicas_with_the_spec_resources(helm: Path) -> None:
    objects = by_key(template(helm))
    backend, frontend = objects["Deployment/todo-backend"], objects["Deployment/todo-frontend"]
    assert backend["spec"]["replicas"] == frontend["spec"]["replicas"] == 2
    assert container(backend, "backend")["resources"] == {
        "requests": {"memory": "512Mi", "cpu": "250m"},
        "limits": {"memory": "1Gi", "cpu": "500m"}}
    assert container(frontend, "frontend")["resources"] == {
        "requests": {"memory": "256Mi", "cpu": "100m"},
        "limits": {"memory": "512Mi", "cpu": "250m"}}


def test_backend_service_is_cluster_ip_on_7860(helm: Path) -> None:
    svc = by_key(template(helm))["Service/todo-backend"]
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 7860, "targetPort": 7860,
                                     "protocol": "TCP"}]


def test_frontend_service_is_node_port_30080_to_3000(helm: Path) -> None:
    svc = by_key(template(helm))["Service/todo-frontend"]
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 3000, "targetPort": 3000,
                                     "nodePort": 30080, "protocol": "TCP"}]


def test_containers_listen_on_the_spec_ports(helm: Path) -> None:
    objects = by_key(template(helm))
    assert container(objects["Deployment/todo-backend"], "backend")["ports"][0][
        "containerPort"] == 7860
    assert container(objects["Deployment/todo-frontend"], "frontend")["ports"][0][
        "containerPort"] == 3000


@pytest.mark.parametrize(("deployment", "name", "path", "ready", "port"), [
    ("Deployment/todo-backend", "backend", "/health", "/ready", 7860),
    ("Deployment/todo-frontend", "frontend", "/api/health", "/api/health", 3000),
])
def test_probes_use_the_spec_endpoints_and_timings_behind_a_startup_probe(
        helm: Path, deployment: str, name: str, path: str, ready: str, port: int) -> None:
    """The backend's readiness asks /ready (it checks the database: a revision whose pods
    cannot use DATABASE_URL never becomes ready); startup and liveness stay on /health."""
    c = container(by_key(template(helm))[deployment], name)
    for probe in ("startupProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": path, "port": port}
    assert c["readinessProbe"]["httpGet"] == {"path": ready, "port": port}
    assert (c["livenessProbe"]["periodSeconds"], c["livenessProbe"]["timeoutSeconds"],
            c["livenessProbe"]["failureThreshold"]) == (10, 5, 3)
    assert (c["readinessProbe"]["periodSeconds"], c["readinessProbe"]["timeoutSeconds"],
            c["readinessProbe"]["failureThreshold"]) == (5, 3, 2)
    assert c["readinessProbe"]["initialDelaySeconds"] == 0
    assert c["startupProbe"]["periodSeconds"] <= 2


def test_probe_timings_come_from_health_check_values(helm: Path) -> None:
    c = container(by_key(template(helm, "--set", "healthCheck.readiness.periodSeconds=7"))[
        "Deployment/todo-backend"], "backend")
    assert c["readinessProbe"]["periodSeconds"] == 7


@pytest.mark.parametrize(("deployment", "name"), [("Deployment/todo-backend", "backend"),
                                                  ("Deployment/todo-frontend", "frontend")])
def test_a_stopping_pod_keeps_serving_while_the_services_drop_it(
        helm: Path, deployment: str, name: str) -> None:
    # The live cluster's rolling update: without a drain, the frontend's proxy answered 502 to
    # requests kube-proxy still sent to a backend pod that had stopped listening.
    objects = by_key(template(helm))
    assert container(objects[deployment], name)["lifecycle"] == {
        "preStop": {"exec": {"command": ["sleep", "5"]}}}
    assert pod_spec(objects[deployment])["terminationGracePeriodSeconds"] == 35
    longer = by_key(template(helm, "--set", "drainSeconds=12"))[deployment]
    assert container(longer, name)["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "12"]
    assert pod_spec(longer)["terminationGracePeriodSeconds"] == 42
    off = by_key(template(helm, "--set", "drainSeconds=0"))[deployment]
    assert "lifecycle" not in container(off, name)
    assert pod_spec(off)["terminationGracePeriodSeconds"] == 30


def test_every_object_carries_the_spec_and_recommended_labels(helm: Path) -> None:
    for key, obj in by_key(template(helm, *EMBEDDED)).items():
        labels = obj["metadata"]["labels"]
        assert labels["app"] == "todo-app", key
        assert labels["app.kubernetes.io/name"] == "todo-app", key
        assert labels["app.kubernetes.io/instance"] == "todo-app", key
        assert labels["app.kubernetes.io/managed-by"] == "Helm", key
        assert labels["app.kubernetes.io/version"] == "1.0.0", key


@pytest.mark.parametrize("component", ["backend", "frontend"])
def test_deployment_and_service_select_the_component_pods(helm: Path, component: str) -> None:
    objects = by_key(template(helm))
    deploy, svc = objects[f"Deployment/todo-{component}"], objects[f"Service/todo-{component}"]
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    selector = deploy["spec"]["selector"]["matchLabels"]
    assert selector["app"] == "todo-app" and selector["component"] == component
    assert selector.items() <= pod_labels.items()
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert deploy["metadata"]["labels"]["component"] == component


def test_backend_reads_the_three_spec_keys_from_the_existing_secret(helm: Path) -> None:
    env = container(by_key(template(helm))["Deployment/todo-backend"], "backend")["env"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e}
    assert refs == {
        "DATABASE_URL": {"name": "todo-secrets", "key": "database-url"},
        "COHERE_API_KEY": {"name": "todo-secrets", "key": "cohere-api-key"},
        "BETTER_AUTH_SECRET": {"name": "todo-secrets", "key": "better-auth-secret"},
    }


def test_existing_secret_name_is_a_value(helm: Path) -> None:
    env = container(by_key(template(helm, "--set", "secrets.existingSecret=other"))[
        "Deployment/todo-frontend"], "frontend")["env"]
    auth = next(e for e in env if e["name"] == "BETTER_AUTH_SECRET")
    assert auth["valueFrom"]["secretKeyRef"] == {"name": "other", "key": "better-auth-secret"}


def test_frontend_gets_the_backend_url_both_ways(helm: Path) -> None:
    env = {e["name"]: e.get("value") for e in container(
        by_key(template(helm))["Deployment/todo-frontend"], "frontend")["env"]}
    assert env["NEXT_PUBLIC_API_URL"] == env["BACKEND_URL"] == "http://todo-backend:7860"


def test_config_map_holds_the_spec_keys(helm: Path) -> None:
    cm = by_key(template(helm))["ConfigMap/todo-config"]
    assert cm["data"] == {"BACKEND_URL": "http://todo-backend:7860",
                          "FRONTEND_URL": "http://todo-frontend:3000", "LOG_LEVEL": "info"}


def test_digest_tags_render_as_strings_even_when_all_digits(helm: Path) -> None:
    objects = by_key(template(helm, "--set-string", "backend.image.tag=123456789012",
                              "--set-string", "frontend.image.tag=0123456789ab"))
    assert container(objects["Deployment/todo-backend"], "backend")["image"] == \
        "todo-backend:123456789012"
    assert container(objects["Deployment/todo-frontend"], "frontend")["image"] == \
        "todo-frontend:0123456789ab"


def test_default_render_pulls_no_image(helm: Path) -> None:
    for key, obj in by_key(template(helm)).items():
        if obj["kind"] == "Deployment":
            for c in pod_spec(obj)["containers"]:
                assert c["imagePullPolicy"] == "Never", key


def test_secret_digest_value_becomes_a_pod_annotation_on_both_deployments(helm: Path) -> None:
    digest = "a" * 64
    objects = by_key(template(helm, "--set-string", f"secretDigest={digest}"))
    for name in ("todo-backend", "todo-frontend"):
        annotations = objects[f"Deployment/{name}"]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["todo-app.dev/secret-digest"] == digest


def test_changed_config_changes_the_config_checksum(helm: Path) -> None:
    def checksum(*args: str) -> str:
        deploy = by_key(template(helm, *args))["Deployment/todo-backend"]
        return str(deploy["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum() != checksum("--set", "config.logLevel=debug")


def test_pods_are_hardened_with_writable_scratch_volumes(helm: Path) -> None:
    objects = by_key(template(helm))
    mounts = {"backend": {"/tmp"}, "frontend": {"/tmp", "/app/.next/cache"}}
    for component, paths in mounts.items():
        spec = pod_spec(objects[f"Deployment/todo-{component}"])
        assert spec["automountServiceAccountToken"] is False
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True
        assert (pod_sc["runAsUser"], pod_sc["runAsGroup"]) == (1001, 1001)
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
        c = container(objects[f"Deployment/todo-{component}"], component)
        assert c["securityContext"] == {"allowPrivilegeEscalation": False,
                                        "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}}
        empty_dirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        mounted = {m["mountPath"] for m in c["volumeMounts"] if m["name"] in empty_dirs}
        assert mounted == paths


def test_embedded_database_adds_statefulset_services_policy_and_claim(helm: Path) -> None:
    objects = by_key(template(helm, *EMBEDDED))
    assert set(objects) == SPEC_OBJECTS | POLICIES | {
        "Service/todo-postgres", "Service/todo-postgres-headless", "StatefulSet/todo-postgres",
        "NetworkPolicy/todo-postgres"}
    sts = objects["StatefulSet/todo-postgres"]
    c = container(sts, "postgresql")
    assert c["image"] == "postgres:16-alpine"
    assert c["imagePullPolicy"] == "IfNotPresent"
    password = next(e for e in c["env"] if e["name"] == "POSTGRES_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"] == {"name": "todo-secrets",
                                                     "key": "postgres-password"}
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"] == {
        "storage": "1Gi"}
    assert objects["Service/todo-postgres"]["spec"]["ports"][0]["port"] == 5432


def test_statefulset_names_a_headless_service_that_selects_its_pod(helm: Path) -> None:
    """A StatefulSet's serviceName must name a headless Service (the pod's stable DNS name
    todo-postgres-0.todo-postgres-headless); the backend keeps the ClusterIP todo-postgres."""
    objects = by_key(template(helm, *EMBEDDED))
    sts = objects["StatefulSet/todo-postgres"]
    headless = objects[f"Service/{sts['spec']['serviceName']}"]["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert headless["selector"].items() <= labels.items()
    assert headless["ports"] == [{"name": "postgresql", "port": 5432,
                                  "targetPort": "postgresql", "protocol": "TCP"}]
    cluster_ip = objects["Service/todo-postgres"]["spec"]
    assert cluster_ip["type"] == "ClusterIP" and "clusterIP" not in cluster_ip
    assert cluster_ip["selector"] == headless["selector"]
    url = "postgresql://todo:long-enough-password@todo-postgres:5432/todo"
    secret = by_key(template(helm, *CHART_OWNS_SECRET, *EMBEDDED, "--set-string",
                             "secrets.postgresPassword=long-enough-password"))
    assert base64.b64decode(secret["Secret/todo-secrets"]["data"]["database-url"]).decode() \
        == url


def test_embedded_database_makes_the_backend_wait_for_it_with_its_own_image(
        helm: Path) -> None:
    spec = pod_spec(by_key(template(helm, *EMBEDDED))["Deployment/todo-backend"])
    (init,) = spec["initContainers"]
    assert init["image"] == spec["containers"][0]["image"]
    assert "todo-postgres" in init["command"][-1]


def test_the_init_container_and_the_test_pod_ask_little_but_may_use_the_backends_cpu(
        helm: Path) -> None:
    # at a 100m limit their Python took 0.9 s to GET two URLs, 0.2 s at the backend's 500m:
    # both lie on the edit → verified path (each backend start, each helm test)
    objects = by_key(template(helm, *EMBEDDED, skip_tests=False))
    backend = pod_spec(objects["Deployment/todo-backend"])
    wait = backend["initContainers"][0]["resources"]
    test = container(objects["Pod/todo-app-test-health"], "health")["resources"]
    for resources in (wait, test):
        assert resources["requests"] == {"memory": "32Mi", "cpu": "10m"}
        assert resources["limits"] == {"memory": "64Mi", "cpu": "500m"}
    faster = by_key(template(helm, *EMBEDDED, "--set", "backend.resources.limits.cpu=1"))
    assert pod_spec(faster["Deployment/todo-backend"])["initContainers"][0]["resources"][
        "limits"]["cpu"] == "1"


def test_without_embedded_database_the_backend_has_no_init_container(helm: Path) -> None:
    assert "initContainers" not in pod_spec(by_key(template(helm))["Deployment/todo-backend"])


# -- network policies ----------------------------------------------------------------------
# What a policy admits is judged here from the rendered objects; the local test cluster's
# bridge CNI (tests/e2e/localcluster) accepts NetworkPolicies but does not enforce them, so
# the end-to-end tier proves only that the app works with them present, not that they block.


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return (selector.get("matchLabels") or {}).items() <= labels.items()


def admits(policy: dict[str, Any], source: dict[str, str]) -> set[str]:
    """The ports ``policy`` opens to a pod labelled ``source`` in the same namespace."""
    opened: set[str] = set()
    for rule in policy["spec"].get("ingress") or []:
        peers = rule.get("from")
        if peers is None or any(selects(p["podSelector"], source) for p in peers):
            opened |= {str(p["port"]) for p in rule["ports"]}
    return opened


def pod_labels(objects: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """component → the labels of its pods (Deployments, the StatefulSet, the test pod)."""
    found = {}
    for obj in objects.values():
        if obj["kind"] in ("Deployment", "StatefulSet"):
            labels = obj["spec"]["template"]["metadata"]["labels"]
        elif obj["kind"] == "Pod":
            labels = obj["metadata"]["labels"]
        else:
            continue
        found[labels["component"]] = labels
    return found


def test_each_pod_is_selected_by_exactly_its_own_policy(helm: Path) -> None:
    objects = by_key(template(helm, *EMBEDDED, skip_tests=False))
    policies = {k: v for k, v in objects.items() if v["kind"] == "NetworkPolicy"}
    for component, labels in pod_labels(objects).items():
        chosen = [k for k, p in policies.items() if selects(p["spec"]["podSelector"], labels)]
        want = [] if component == "test" else [
            f"NetworkPolicy/todo-{'postgres' if component == 'postgresql' else component}"]
        assert chosen == want, component
        for key in chosen:
            assert policies[key]["spec"]["policyTypes"] == ["Ingress"]


def test_backend_admits_only_the_frontend_and_the_helm_test_pod_on_its_port(
        helm: Path) -> None:
    objects = by_key(template(helm, *EMBEDDED, skip_tests=False))
    labels = pod_labels(objects)
    policy = objects["NetworkPolicy/todo-backend"]
    assert admits(policy, labels["frontend"]) == {"http"}
    assert admits(policy, labels["test"]) == {"http"}
    for other in (labels["postgresql"], labels["backend"], {"app": "other"}, {}):
        assert admits(policy, other) == set()
    (port,) = container(objects["Deployment/todo-backend"], "backend")["ports"]
    assert (port["name"], port["containerPort"]) == ("http", 7860)


def test_postgres_admits_only_the_backend_on_its_port(helm: Path) -> None:
    objects = by_key(template(helm, *EMBEDDED, skip_tests=False))
    labels = pod_labels(objects)
    policy = objects["NetworkPolicy/todo-postgres"]
    assert admits(policy, labels["backend"]) == {"postgresql"}
    for other in (labels["frontend"], labels["test"], {"app": "other"}, {}):
        assert admits(policy, other) == set()
    (port,) = container(objects["StatefulSet/todo-postgres"], "postgresql")["ports"]
    assert (port["name"], port["containerPort"]) == ("postgresql", 5432)


def test_frontend_admits_anyone_but_only_on_its_port(helm: Path) -> None:
    objects = by_key(template(helm))
    policy = objects["NetworkPolicy/todo-frontend"]
    for source in ({}, {"app": "other"}, pod_labels(objects)["backend"]):
        assert admits(policy, source) == {"http"}
    (port,) = container(objects["Deployment/todo-frontend"], "frontend")["ports"]
    assert (port["name"], port["containerPort"]) == ("http", 3000)


def test_helm_test_pod_checks_both_health_endpoints(helm: Path) -> None:
    objects = by_key(template(helm, skip_tests=False))
    pod = objects["Pod/todo-app-test-health"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = container(pod, "health")["command"][-1]
    assert "http://todo-backend:7860/health" in script
    assert "http://todo-frontend:3000/api/health" in script


@pytest.mark.parametrize(("args", "complaint"), [
    (("--set", "backend.replicas=0"), "replicas"),
    (("--set", "frontend.replicas=0"), "replicas"),
    (("--set", "backend.image.pullPolicy=Sometimes"), "pullPolicy"),
    (("--set", "frontend.service.nodePort=80"), "nodePort"),
    (("--set", "frontend.service.nodePort=32768"), "nodePort"),
    (("--set", "frontend.service.type=Ingress"), "type"),
    (("--set", "backend.service.port=70000"), "port"),
    (("--set", "backend.imageTag=oops"), "imageTag"),
    (("--set", "secretDigest=not-a-digest"), "secretDigest"),
    (("--set-string", "networkPolicy.enabled=yes"), "enabled"),
    (("--set", "drainSeconds=-1"), "drainSeconds"),
    (("--set-string", "drainSeconds=5"), "drainSeconds"),
], ids=["replicas-0", "frontend-replicas-0", "pullPolicy-Sometimes", "nodePort-80",
        "nodePort-32768", "service-type", "port-70000", "unknown-key", "digest-shape",
        "network-policy-switch", "drain-negative", "drain-string"])
def test_schema_rejects_bad_values(helm: Path, args: tuple[str, ...], complaint: str) -> None:
    result = run_helm(helm, "template", "todo-app", str(CHART_DIR), *args)
    assert result.returncode != 0
    assert complaint in result.stderr


def notes(helm: Path, tmp_path: Path, *args: str) -> str:
    """NOTES.txt renders only on install, which needs a cluster: a copy of the chart renders
    the same file through ``tpl`` (same values, release and namespace) in a ConfigMap."""
    copy = tmp_path / "todo-app"
    shutil.copytree(CHART_DIR, copy)
    shutil.copy(copy / "templates" / "NOTES.txt", copy / "notes.txt")
    (copy / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n"
        '  notes: {{ tpl (.Files.Get "notes.txt") . | quote }}\n')
    result = run_helm(helm, "template", "todo-app", str(copy), "--namespace", "todo",
                      "--show-only", "templates/zz-notes.yaml", *args)
    assert result.returncode == 0, result.stderr
    text: str = yaml.safe_load(result.stdout)["data"]["notes"]
    return text


def test_notes_say_how_to_reach_the_app(helm: Path, tmp_path: Path) -> None:
    text = notes(helm, tmp_path)
    assert "http://$(minikube ip):30080" in text
    assert "minikube service todo-frontend -n todo --url" in text
    assert "release history" not in text


def test_notes_warn_that_chart_owned_secrets_land_in_the_release_history(
        helm: Path, tmp_path: Path) -> None:
    text = " ".join(notes(helm, tmp_path, *CHART_OWNS_SECRET).split())
    assert "credentials are stored in Helm's release history" in text
    assert "`helm get values`" in text
    assert "when given with --set, in your shell history and in the process list" in text
    assert "inv secrets" in text
    assert AUTH_SECRET not in text


def test_every_helper_the_chart_defines_is_used() -> None:
    """A named template nobody includes is dead code (the spec's fullname helper was)."""
    templates = CHART_DIR / "templates"
    text = "\n".join(p.read_text() for p in templates.iterdir() if p.is_file())
    defined = re.findall(r'define "([^"]+)"', text)
    unused = [name for name in defined
              if not re.search(rf'(include|template) "{re.escape(name)}"', text)]
    assert defined and unused == []
