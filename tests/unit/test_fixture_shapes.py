"""The kubectl fixtures are captured from the live test cluster (Kubernetes 1.34;
scripts/capture-fixtures.sh): every object in tests/fixtures/kubectl validates, strictly (no
unknown or misspelt fields), against the OpenAPI schema (kubernetes-validate) of the version
they were captured from and of the latest."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest

CAPTURED_FROM = "1.34"
FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "kubectl").glob("*.json"))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_fixture_objects_validate_against_the_kubernetes_schema(path: Path) -> None:
    doc = json.loads(path.read_text())
    items = doc["items"] if doc["kind"] == "List" else [doc]  # a List, or one object (Lease)
    assert items
    for item in items:
        for version in (CAPTURED_FROM, kubernetes_validate.latest_version()):
            kubernetes_validate.validate(item, version, strict=True)
