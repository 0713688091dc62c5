"""The host's Docker engine as the Docker CLI finds it: ``DOCKER_HOST``, else the CLI's
current context (``DOCKER_CONTEXT``, else ``currentContext`` in ``~/.docker/config.json``),
and ``ssh://`` engines reached through paramiko or the ssh client, or refused with the fix.

The contexts are written as ``docker context create`` writes them (``contexts/meta/<sha256 of
the name>/meta.json`` under ``$DOCKER_CONFIG``) and read by the docker SDK's own ContextAPI.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from todo_deploy.cluster import DockerEndpoint
from todo_deploy.errors import PrereqError
from todo_deploy.images import daemon


def context(config: Path, name: str, host: str) -> None:
    meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({
        "Name": name, "Metadata": {"Description": name},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}))


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Docker CLI config folder with colima's and OrbStack's contexts, colima current."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"auths": {}, "currentContext": "colima"}))
    context(folder, "colima", f"unix://{tmp_path}/colima/docker.sock")
    context(folder, "orbstack", f"unix://{tmp_path}/orbstack/docker.sock")
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    return folder


def test_without_docker_host_the_clis_current_context_is_the_engine(
        config: Path, tmp_path: Path) -> None:
    engine = daemon.host_engine({})
    assert (engine.base_url, engine.context) == (f"unix://{tmp_path}/colima/docker.sock",
                                                 "colima")
    assert DockerEndpoint("host").host == (f"unix://{tmp_path}/colima/docker.sock "
                                           "(docker context colima)")


def test_docker_context_wins_over_the_configs_current_context(
        config: Path, tmp_path: Path) -> None:
    engine = daemon.host_engine({"DOCKER_CONTEXT": "orbstack"})
    assert (engine.base_url, engine.context) == (f"unix://{tmp_path}/orbstack/docker.sock",
                                                 "orbstack")


def test_docker_host_wins_over_any_context(config: Path) -> None:
    engine = daemon.host_engine({"DOCKER_HOST": "tcp://127.0.0.1:2375",
                                 "DOCKER_CONTEXT": "orbstack"})
    assert (engine.base_url, engine.context) == ("tcp://127.0.0.1:2375", "")


def test_the_default_context_is_the_sdks_default_socket(config: Path) -> None:
    (config / "config.json").write_text(json.dumps({"currentContext": "default"}))
    assert daemon.host_engine({}) == daemon.HostEngine()
    assert daemon.HostEngine().describe() == "local default socket"


def test_a_current_context_that_does_not_exist_is_refused_with_the_fix(config: Path) -> None:
    with pytest.raises(PrereqError) as refused:
        daemon.host_engine({"DOCKER_CONTEXT": "desktop-linux"})
    assert refused.value.message == ("docker context 'desktop-linux' (DOCKER_CONTEXT) does "
                                     "not exist")
    assert refused.value.hint == ("docker context ls   # then: docker context use NAME "
                                  "(or: docker context use default)")


def test_the_host_client_talks_to_the_contexts_engine(config: Path, tmp_path: Path) -> None:
    """No engine listens on colima's socket here: the error names that socket, so the client
    was pointed at the context's engine, not at /var/run/docker.sock."""
    with pytest.raises(PrereqError) as failed:
        daemon.docker_client(DockerEndpoint("host"), 5)
    assert failed.value.message.startswith(
        f"cannot reach the Docker daemon at unix://{tmp_path}/colima/docker.sock "
        "(docker context colima): ")


def test_an_ssh_engine_uses_paramiko_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemon.importlib.util, "find_spec", lambda name: object())
    assert daemon.ssh_transport("ssh://me@build-box") is False


def test_an_ssh_engine_without_paramiko_shells_out_to_ssh(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemon.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(daemon.shutil, "which", lambda name: "/usr/bin/ssh")
    assert daemon.ssh_transport("ssh://me@build-box") is True


def test_an_ssh_engine_with_neither_is_refused_with_the_fix(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemon.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(daemon.shutil, "which", lambda name: None)
    with pytest.raises(PrereqError) as refused:
        daemon.ssh_transport("ssh://me@build-box")
    assert "reached over ssh, and neither the ssh client nor paramiko" in refused.value.message
    assert refused.value.hint == ("install the OpenSSH client (apt-get install openssh-client), "
                                  "or: .venv/bin/pip install 'docker[ssh]'")


def test_other_engines_need_no_ssh() -> None:
    assert daemon.ssh_transport("unix:///var/run/docker.sock") is False


def test_an_ssh_context_builds_a_client_over_the_ssh_client(
        config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's ssh transport is set up without connecting; ``use_ssh_client`` reaches it."""
    context(config, "remote", "ssh://me@build-box")
    monkeypatch.setenv("DOCKER_CONTEXT", "remote")
    monkeypatch.setattr(daemon, "ssh_transport", lambda url: True)
    made: dict[str, object] = {}

    import docker

    class Client:
        def __init__(self, **kwargs: object) -> None:
            made.update(kwargs)

    monkeypatch.setattr(docker, "DockerClient", Client)
    daemon.docker_client(DockerEndpoint("host"), 5)
    assert made["base_url"] == "ssh://me@build-box"
    assert made["use_ssh_client"] is True
