"""Shared fixtures of the tests that use the real dockerd."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import need


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A docker SDK client of the local dockerd (fails in CI, skips elsewhere, without one)."""
    try:
        import docker

        cli = docker.from_env(environment=dict(os.environ), timeout=120)
        cli.ping()
    except Exception as exc:
        need("dockerd", f"not reachable ({exc}); start it: bash scripts/ci/start-dockerd.sh")
    yield cli
    cli.close()
