"""Which existing objects keep the first ``inv deploy`` from installing, against the REAL
render (helm 3 and 4) and the objects ``k8s/`` makes: ``chart.in_the_way``.

The live objects are the ``k8s/`` files as ``kubectl apply -k k8s/`` leaves them (namespace
set by the kustomization, kubectl's last-applied annotation), and spec-shaped ones as the
spec's own manifests make them (labels ``app``/``component`` only, selector ``app: NAME``).
The e2e tier checks the same function on what the live cluster returns."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from tests.chart.conftest import ROOT, template_text
from todo_deploy import chart

K8S = ROOT / "k8s"


def applied_from_k8s() -> list[dict[str, Any]]:
    objects = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == chart.KUSTOMIZATION:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            applied = copy.deepcopy(doc)
            applied["metadata"]["namespace"] = "todo"
            applied["metadata"].setdefault("annotations", {})[chart.LAST_APPLIED] = \
                json.dumps(doc)
            objects.append(applied)
    return objects


def spec_shaped_backend() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "todo-backend", "namespace": "todo",
                         "labels": {"app": "todo-backend", "component": "backend"}},
            "spec": {"selector": {"matchLabels": {"app": "todo-backend"}},
                     "template": {"metadata": {"labels": {"app": "todo-backend"}}}}}


def wanted(helm: Path) -> list[chart.Document]:
    return chart.split_documents(template_text(helm))


def test_every_object_applied_from_k8s_is_adopted(helm: Path) -> None:
    found = chart.in_the_way(applied_from_k8s(), wanted(helm), "todo-app", "todo")
    assert {f.key for f in found} == {d.key for d in wanted(helm)}
    assert all(f.adopt for f in found), found
    assert all("managed-by: kubectl" in f.reason for f in found)


def test_objects_helm_already_owns_for_this_release_are_left_to_helm(helm: Path) -> None:
    live = applied_from_k8s()
    for obj in live:
        obj["metadata"]["labels"][chart.MANAGED_BY] = "Helm"
        obj["metadata"]["annotations"].update({chart.RELEASE_NAME: "todo-app",
                                               chart.RELEASE_NAMESPACE: "todo"})
    assert chart.in_the_way(live, wanted(helm), "todo-app", "todo") == []


def test_a_spec_shaped_deployment_cannot_be_adopted_and_is_named(helm: Path) -> None:
    live = [o for o in applied_from_k8s() if o["kind"] != "Deployment"
            or o["metadata"]["name"] != "todo-backend"] + [spec_shaped_backend()]
    found = {f.key: f for f in chart.in_the_way(live, wanted(helm), "todo-app", "todo")}
    backend = found["Deployment/todo-backend"]
    assert not backend.adopt and backend.ref == "deployment/todo-backend"
    assert "app.kubernetes.io/name and /instance differ" in backend.reason
    assert found["Deployment/todo-frontend"].adopt


def test_a_changed_selector_cannot_be_adopted_because_it_cannot_change(helm: Path) -> None:
    live = applied_from_k8s()
    backend = next(o for o in live if o["kind"] == "Deployment"
                   and o["metadata"]["name"] == "todo-backend")
    backend["spec"]["selector"]["matchLabels"] = {"app": "todo-app"}
    found = {f.key: f for f in chart.in_the_way(live, wanted(helm), "todo-app", "todo")}
    assert not found["Deployment/todo-backend"].adopt
    assert "selector {app=todo-app}" in found["Deployment/todo-backend"].reason
    assert "cannot change after creation" in found["Deployment/todo-backend"].reason


def test_another_releases_object_is_not_taken_over(helm: Path) -> None:
    live = applied_from_k8s()
    config = next(o for o in live if o["kind"] == "ConfigMap")
    config["metadata"]["labels"][chart.MANAGED_BY] = "Helm"
    config["metadata"]["annotations"].update({chart.RELEASE_NAME: "other",
                                              chart.RELEASE_NAMESPACE: "todo"})
    found = {f.key: f for f in chart.in_the_way(live, wanted(helm), "todo-app", "todo")}
    assert not found["ConfigMap/todo-config"].adopt
    assert "belongs to Helm release other" in found["ConfigMap/todo-config"].reason


def test_objects_the_chart_does_not_render_are_ignored(helm: Path) -> None:
    stranger = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "someone-elses", "namespace": "todo"}}
    assert chart.in_the_way([stranger], wanted(helm), "todo-app", "todo") == []


def test_the_adoption_patch_sets_helms_ownership_and_drops_kubectls_bookkeeping() -> None:
    patch = chart.adoption_patch("todo-app", "todo")["metadata"]
    assert patch["labels"] == {chart.MANAGED_BY: "Helm"}
    assert patch["annotations"] == {chart.RELEASE_NAME: "todo-app",
                                    chart.RELEASE_NAMESPACE: "todo", chart.LAST_APPLIED: None}
    assert "managedFields" not in patch
