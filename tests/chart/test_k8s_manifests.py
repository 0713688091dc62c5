"""k8s/ is the chart's default render (checked with the real helm 3 and 4), and
``kubectl apply -k k8s/`` sees the same objects (the real kubectl's built-in kustomize)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from invoke import Context

from tests.chart.conftest import ROOT, by_key, template, template_text
from todo_deploy import chart
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.errors import StageFailed
from todo_deploy.session import Session

K8S = ROOT / "k8s"

pytestmark = pytest.mark.helm


def test_k8s_directory_equals_the_charts_default_render(helm: Path) -> None:
    expected = chart.expected_k8s(template_text(helm), Settings())
    assert chart.drift(K8S, expected) == [], "k8s/ is stale: run `inv manifests`"


def kustomize_build(helm: Path) -> dict[str, dict[str, Any]]:
    kubectl = helm.parent / "kubectl"
    built = subprocess.run([str(kubectl), "kustomize", str(K8S)], capture_output=True,
                           text=True, timeout=60, check=True).stdout
    return by_key([d for d in yaml.safe_load_all(built) if d])


def test_kustomize_build_of_k8s_gives_the_default_render_in_namespace_todo(
        helm: Path) -> None:
    """The same objects as the render, but managed by kubectl (the label only)."""
    objects = kustomize_build(helm)
    rendered = by_key(template(helm))
    assert set(objects) == set(rendered)
    for key, obj in objects.items():
        assert obj["metadata"].pop("namespace") == "todo", key
        assert obj == chart.for_kubectl(rendered[key]), key
        assert obj != rendered[key], key  # the render itself says Helm


def test_no_object_applied_from_k8s_claims_to_be_managed_by_helm(helm: Path) -> None:
    for key, obj in kustomize_build(helm).items():
        metas = [obj["metadata"]]
        if "template" in obj.get("spec", {}):
            metas.append(obj["spec"]["template"]["metadata"])
        for meta in metas:
            assert meta["labels"]["app.kubernetes.io/managed-by"] == "kubectl", key
        assert "Helm" not in yaml.safe_dump(obj), key
        assert not any(k.startswith("meta.helm.sh/") for k in
                       obj["metadata"].get("annotations") or {}), key


def test_for_kubectl_leaves_selectors_and_the_render_itself_alone(helm: Path) -> None:
    rendered = by_key(template(helm))["Deployment/todo-backend"]
    before = yaml.safe_dump(rendered)
    mine = chart.for_kubectl(rendered)
    assert yaml.safe_dump(rendered) == before
    assert mine["spec"]["selector"] == rendered["spec"]["selector"]
    assert "app.kubernetes.io/managed-by" not in mine["spec"]["selector"]["matchLabels"]


def test_drift_names_a_stale_a_missing_and_an_extra_file(tmp_path: Path) -> None:
    expected = {"a.yaml": "kind: A\n", "b.yaml": "kind: B\n"}
    (tmp_path / "a.yaml").write_text("kind: Old\n")
    (tmp_path / "c.yaml").write_text("kind: C\n")
    assert chart.drift(tmp_path, expected) == [
        "a.yaml: stale (2 line(s) differ)", "b.yaml: missing",
        "c.yaml: not in the chart's render (remove it)"]


def test_write_k8s_rewrites_only_what_changed_and_removes_extras(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: A\n")
    (tmp_path / "old.yaml").write_text("kind: Old\n")
    touched = chart.write_k8s(tmp_path, {"a.yaml": "kind: A\n", "b.yaml": "kind: B\n"})
    assert touched == ["b.yaml", "old.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml"]


def test_manifests_check_fails_with_the_regenerate_hint_when_k8s_is_stale(
        helm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "configmap.yaml").write_text("stale: true\n")
    monkeypatch.setenv("PATH", f"{helm.parent}:{Path('/usr/bin')}:{Path('/bin')}")
    settings = Settings(chart=ROOT / "helm" / "todo-app", root=tmp_path)
    s = Session(Context(), settings, Console(no_color=True, file=io.StringIO()))
    with pytest.raises(StageFailed) as failed:
        chart.run_manifests(s, check=True)
    assert failed.value.hint is not None and failed.value.hint.startswith("inv manifests")
    assert "configmap.yaml: stale" in (failed.value.details or "")


def test_manifests_regenerates_k8s_that_then_passes_the_check(
        helm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{helm.parent}:{Path('/usr/bin')}:{Path('/bin')}")
    settings = Settings(chart=ROOT / "helm" / "todo-app", root=tmp_path)
    s = Session(Context(), settings, Console(no_color=True, file=io.StringIO()))
    assert "kustomization.yaml" in chart.run_manifests(s)
    assert chart.run_manifests(s, check=True) == []
