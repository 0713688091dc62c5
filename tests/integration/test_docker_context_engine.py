"""The host's engine found through the Docker CLI's current context, against the real dockerd:
a context (as ``docker context create`` writes it) naming this machine's engine by a path of its
own (a link to the engine's socket, as colima's ``~/.colima/default/docker.sock`` is one), no
``DOCKER_HOST``, and the suite's client connects there and answers from that engine."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_docker_context import context
from todo_deploy.cluster import DockerEndpoint
from todo_deploy.images import daemon

pytestmark = pytest.mark.docker


def test_the_current_context_reaches_the_real_engine(
        client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not engine.startswith("unix://"):
        pytest.skip(f"the engine is {engine}; this test links a unix socket")
    link = tmp_path / "colima.sock"
    link.symlink_to(engine.removeprefix("unix://"))
    engine = f"unix://{link}"
    folder = tmp_path / "docker-config"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"currentContext": "laptop"}))
    context(folder, "laptop", engine)
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)

    suite = daemon.docker_client(DockerEndpoint("host"), 30)
    try:
        # the connection goes to the context's socket, not to the SDK's default one
        assert suite.api._custom_adapter.socket_path == str(link)
        assert suite.ping() is True
        assert suite.info()["ID"] == client.info()["ID"]  # the same engine, through the context
    finally:
        suite.close()
    assert DockerEndpoint("host").host == f"{engine} (docker context laptop)"
