"""The kubectl fixtures are real object shapes: every Pod, Event, Deployment and ReplicaSet
in tests/fixtures/kubectl validates, strictly (no unknown or misspelt fields), against the
Kubernetes OpenAPI schema (kubernetes-validate) of 1.30 — the first release whose
ContainerStatus has ``volumeMounts``, which these pods carry — and of the latest."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "kubectl").glob("*.json"))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_fixture_objects_validate_against_the_kubernetes_schema(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert doc["kind"] == "List" and doc["items"]
    for item in doc["items"]:
        for version in ("1.30", kubernetes_validate.latest_version()):
            kubernetes_validate.validate(item, version, strict=True)
