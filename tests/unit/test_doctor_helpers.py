"""doctor's helpers, each on its own (issue 14: helpers with no direct test): the install
commands per CPU and user, the Linux/macOS hint format, helm's version, where tool versions
are kept and what identifies a binary, the registry's URL and ping, the docker config's
logins, whether the embedded PostgreSQL is likely, and the timing wrapper of every check.

Everything here is pure or touches only ``tmp_path``, the environment (monkeypatched) and a
real HTTP server on 127.0.0.1 standing in for a registry's ``/v2/``.
"""

from __future__ import annotations

import io
import json
import os
import platform
import threading
import time
from pathlib import Path

import pytest
from invoke import MockContext

from tests.fakes import fake_registry
from todo_deploy import doctor, proc
from todo_deploy.config import Settings
from todo_deploy.console import Console
from todo_deploy.errors import ConfigError
from todo_deploy.session import Session

ONBOARD = "scripts/onboard.sh   # or: .venv/bin/pip install -e ."


# -- install commands ----------------------------------------------------------------------------


def test_install_commands_for_a_user_on_amd64_are_the_upstream_ones_with_sudo() -> None:
    assert doctor.install_fixes("x86_64", root=False) == {
        "docker-sdk": (ONBOARD, ONBOARD),
        "minikube": ("curl -LO https://storage.googleapis.com/minikube/releases/latest/"
                     "minikube-linux-amd64 && sudo install minikube-linux-amd64 "
                     "/usr/local/bin/minikube", "brew install minikube"),
        "kubectl": ('curl -LO "https://dl.k8s.io/release/$(curl -Ls '
                    'https://dl.k8s.io/release/stable.txt)/bin/linux/amd64/kubectl" && '
                    "sudo install kubectl /usr/local/bin/kubectl", "brew install kubectl"),
        "helm": ("curl -fsSL https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-3"
                 " | bash", "brew install helm"),
        "kind": ("curl -Lo ./kind https://kind.sigs.k8s.io/dl/v0.29.0/kind-linux-amd64 && "
                 "chmod +x ./kind && sudo mv ./kind /usr/local/bin/kind", "brew install kind"),
    }


@pytest.mark.parametrize("machine", ["arm64", "aarch64", "ARM64", "AArch64"])
def test_install_commands_for_root_on_arm64_take_the_arm64_binaries_without_sudo(
        machine: str) -> None:
    fixes = doctor.install_fixes(machine, root=True)
    assert fixes["minikube"][0] == (
        "curl -LO https://storage.googleapis.com/minikube/releases/latest/minikube-linux-arm64"
        " && install minikube-linux-arm64 /usr/local/bin/minikube")
    assert fixes["kubectl"][0].endswith(
        "/bin/linux/arm64/kubectl\" && install kubectl /usr/local/bin/kubectl")
    assert fixes["kind"][0] == ("curl -Lo ./kind https://kind.sigs.k8s.io/dl/v0.29.0/"
                                "kind-linux-arm64 && chmod +x ./kind && mv ./kind "
                                "/usr/local/bin/kind")


@pytest.mark.parametrize("machine", ["x86_64", "amd64", "i686", "armv7l", ""])
def test_any_other_cpu_gets_the_amd64_binaries(machine: str) -> None:
    fixes = doctor.install_fixes(machine, root=True)
    assert "minikube-linux-amd64" in fixes["minikube"][0]
    assert "kind-linux-amd64" in fixes["kind"][0]


def test_a_hint_is_one_line_when_linux_and_macos_agree_else_one_line_each() -> None:
    assert doctor.fix("inv up") == "inv up"
    assert doctor.fix("inv up", "inv up") == "inv up"
    assert doctor.fix("apt install x", "brew install x") == \
        "Linux: apt install x\nmacOS: brew install x"


@pytest.mark.parametrize(("uid", "sudo"), [(0, ""), (1000, "sudo ")])
def test_the_install_hint_is_this_machines_cpu_and_user(
        monkeypatch: pytest.MonkeyPatch, uid: int, sudo: str) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(os, "geteuid", lambda: uid)
    assert doctor.tool_fix("kind") == (
        "Linux: curl -Lo ./kind https://kind.sigs.k8s.io/dl/v0.29.0/kind-linux-arm64 && "
        f"chmod +x ./kind && {sudo}mv ./kind /usr/local/bin/kind\nmacOS: brew install kind")
    assert doctor.tool_fix("docker-sdk") == ONBOARD  # the same everywhere: one line


# -- helm's version ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "version", "major"), [
    ("v3.17.3", "v3.17.3", 3),
    ("  v4.1.4+g1234  \nWARNING: something else\n", "v4.1.4+g1234", 4),
    ("3.12.0", "3.12.0", 3),
    ("v10.0.0", "v10.0.0", 10),
    ("", "", 0),
    ("  \n", "", 0),
    ("<no value>", "<no value>", 0),
])
def test_helm_version_is_the_first_line_and_its_major_the_leading_number(
        text: str, version: str, major: int) -> None:
    parsed = doctor.parse_helm_version(text)
    assert (parsed.version, parsed.major) == (version, major)


# -- where tool versions are kept ----------------------------------------------------------------


def test_tool_versions_are_kept_under_xdg_cache_home(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert doctor.versions_cache() == tmp_path / "xdg" / "todo-deploy" / "tool-versions.json"


@pytest.mark.parametrize("xdg", [None, ""])
def test_without_xdg_cache_home_tool_versions_are_kept_in_the_home_cache(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xdg: str | None) -> None:
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert doctor.versions_cache() == tmp_path / ".cache" / "todo-deploy" / "tool-versions.json"


def test_a_binary_is_identified_by_its_real_path_size_and_mtime(tmp_path: Path) -> None:
    binary = tmp_path / "helm-3.17"
    binary.write_bytes(b"#!/bin/sh\necho v3\n")
    os.utime(binary, ns=(1_700_000_000_000_000_000, 1_700_000_000_123_456_789))
    link = tmp_path / "helm"
    link.symlink_to(binary)
    assert doctor.binary_identity(str(link)) == [str(binary), 18, 1_700_000_000_123_456_789]


# -- the registry --------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "url"), [
    ("localhost:5000", "http://localhost:5000"),
    ("localhost", "http://localhost"),
    ("127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("127.1.2.3", "http://127.1.2.3"),
    ("[::1]", "http://[::1]"),
    ("::1", "http://::1"),
    ("[::1]:5000", "http://[::1]:5000"),
    ("registry.example.com", "https://registry.example.com"),
    ("registry.example.com:5000", "https://registry.example.com:5000"),
    ("10.0.0.127:5000", "https://10.0.0.127:5000"),
    ("localhost.example.com:5000", "https://localhost.example.com:5000"),
    ("[2001:db8::1]:5000", "https://[2001:db8::1]:5000"),
])
def test_loopback_registries_speak_plain_http_and_every_other_https(host: str,
                                                                    url: str) -> None:
    assert doctor.registry_url(host) == url


def test_a_registry_that_answers_200_is_open() -> None:
    with fake_registry.serving(200) as host:
        assert doctor.registry_ping(host, 5) == (200, "ok")


def test_a_registry_that_wants_a_login_answers_401_with_its_reason() -> None:
    with fake_registry.serving(401, reason="Unauthorized") as host:
        assert doctor.registry_ping(host, 5) == (401, "Unauthorized")


def test_nothing_listening_is_status_0_with_the_reason() -> None:
    with fake_registry.serving(200) as host:
        pass  # closed: nothing listens on that port any more
    code, reason = doctor.registry_ping(host, 5)
    assert code == 0 and "Connection refused" in reason


def test_a_registry_that_never_answers_is_given_up_at_the_timeout() -> None:
    """It accepts the connection and says nothing (for at most 5 s, then hangs up)."""
    import socket

    done = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as server:
        def silent() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(1024)
                done.wait(5)

        thread = threading.Thread(target=silent, daemon=True)
        thread.start()
        started = time.monotonic()
        code, reason = doctor.registry_ping(f"127.0.0.1:{server.getsockname()[1]}", 1)
        waited = time.monotonic() - started
        done.set()
        thread.join(6)
    assert (code, reason) == (0, "timed out")
    assert waited < 4


@pytest.mark.parametrize(("host", "reason"), [
    ("registry.example.com:abc", "nonnumeric port: 'abc'"),  # a typo in todo.registry.url
    ("bad host:5000", "URL can't contain control characters"),
])
def test_a_host_that_makes_no_url_is_status_0_with_the_reason_not_a_traceback(
        host: str, reason: str) -> None:
    code, said = doctor.registry_ping(host, 5)
    assert code == 0 and reason in said


def test_a_port_that_does_not_speak_http_is_status_0_not_a_traceback() -> None:
    """Something else listens there (a database, an SSH server): not an HTTP status line."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        def banner() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        thread = threading.Thread(target=banner, daemon=True)
        thread.start()
        code, reason = doctor.registry_ping(f"127.0.0.1:{server.getsockname()[1]}", 5)
        thread.join(5)
    assert code == 0 and "SSH-2.0-OpenSSH_9.2" in reason


def write_docker_config(folder: Path, config: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.mark.parametrize("key", [
    "registry.example.com", "https://registry.example.com", "http://registry.example.com",
    "https://registry.example.com/v1/", "registry.example.com/v2/token",
])
def test_an_auths_entry_for_the_host_is_a_login_whatever_its_scheme_and_path(
        tmp_path: Path, key: str) -> None:
    folder = write_docker_config(tmp_path / "docker", {"auths": {key: {"auth": "c2VjcmV0"}}})
    assert doctor.docker_config_has_credentials("registry.example.com", str(folder))


@pytest.mark.parametrize("config", [
    {"auths": {"other.example.com": {}}},
    {"auths": {"https://registry.example.com.evil": {}}},
    {"auths": {"https://other.example.com/registry.example.com": {}}},
    {"auths": None, "credHelpers": None, "credsStore": ""},
    {"credHelpers": {"other.example.com": "ecr-login"}},
    {},
])
def test_no_entry_for_the_host_is_no_login(tmp_path: Path, config: object) -> None:
    folder = write_docker_config(tmp_path / "docker", config)
    assert not doctor.docker_config_has_credentials("registry.example.com", str(folder))


def test_a_credential_helper_for_the_host_or_a_store_for_all_is_a_login(
        tmp_path: Path) -> None:
    helper = write_docker_config(tmp_path / "a", {"credHelpers": {
        "registry.example.com": "ecr-login"}})
    store = write_docker_config(tmp_path / "b", {"credsStore": "desktop"})
    assert doctor.docker_config_has_credentials("registry.example.com", str(helper))
    assert doctor.docker_config_has_credentials("registry.example.com", str(store))


@pytest.mark.parametrize("text", ["{not json", "", "\xff\xfe"])
def test_a_missing_or_damaged_docker_config_is_no_login(tmp_path: Path, text: str) -> None:
    assert not doctor.docker_config_has_credentials("r.example.com", str(tmp_path / "none"))
    (tmp_path / "config.json").write_bytes(text.encode("latin-1"))
    assert not doctor.docker_config_has_credentials("r.example.com", str(tmp_path))


def test_the_docker_config_is_docker_config_else_the_homes_dot_docker(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    write_docker_config(home / ".docker", {"auths": {"home.example.com": {}}})
    write_docker_config(elsewhere, {"auths": {"env.example.com": {}}})
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    assert doctor.docker_config_has_credentials("home.example.com")
    monkeypatch.setenv("DOCKER_CONFIG", str(elsewhere))
    assert doctor.docker_config_has_credentials("env.example.com")
    assert not doctor.docker_config_has_credentials("home.example.com")
    # an explicit folder wins over both
    assert doctor.docker_config_has_credentials("home.example.com", str(home / ".docker"))


# -- is the embedded PostgreSQL likely (it changes what the chart requests) ----------------------


def session(tmp_path: Path, c: MockContext | None = None, **settings: object) -> Session:
    return Session(c or MockContext(), Settings.from_config(
        None, state_dir=str(tmp_path / "state"), **settings),
        Console(no_color=True, file=io.StringIO(), err_file=io.StringIO()))


@pytest.mark.parametrize(("text", "embedded"), [
    ("DATABASE_URL=postgresql://u:p@db.example.com:5432/todo\n", False),
    ("DATABASE_URL=\n", True),
    ("DATABASE_URL=' '\n", True),
    ("COHERE_API_KEY=\n", True),
    ("DATABASE_URL='postgresql://u:p@db/todo\n", True),  # unreadable line: not a URL
])
def test_the_embedded_postgresql_is_likely_unless_env_names_a_database(
        tmp_path: Path, text: str, embedded: bool) -> None:
    env = tmp_path / ".env"
    env.write_text(text)
    assert doctor._embedded_db_likely(session(tmp_path, env_file=str(env))) is embedded


def test_without_a_readable_env_the_embedded_postgresql_is_likely(tmp_path: Path) -> None:
    assert doctor._embedded_db_likely(session(tmp_path, env_file=str(tmp_path / "none")))
    (tmp_path / "bad").write_bytes(b"DATABASE_URL=\xff\n")  # not UTF-8
    assert doctor._embedded_db_likely(session(tmp_path, env_file=str(tmp_path / "bad")))


# -- the timing wrapper of every check ------------------------------------------------------------


def test_a_check_is_timed_and_a_pass_carries_no_hint() -> None:
    def slow() -> tuple[bool, str, str | None]:
        time.sleep(0.05)
        return True, "fine", "a hint nobody needs"

    result = doctor._timed("slow", slow)
    assert (result.name, result.ok, result.detail, result.hint, result.required) == \
        ("slow", True, "fine", None, True)
    assert 0.05 <= result.seconds < 5


def test_a_failing_check_keeps_its_hint_and_optional_stays_optional() -> None:
    result = doctor._timed("opt", lambda: (False, "broken", "the fix"), required=False)
    assert (result.ok, result.detail, result.hint, result.required) == \
        (False, "broken", "the fix", False)
    assert 0 <= result.seconds < 5


def test_a_missing_tool_fails_the_check_with_its_install_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(os, "geteuid", lambda: 0)

    def missing() -> tuple[bool, str, str | None]:
        raise proc.ToolMissing("helm")

    result = doctor._timed("helm 3 or 4", missing)
    assert (result.ok, result.detail) == (False, "helm not found on PATH")
    assert result.hint == ("Linux: curl -fsSL https://raw.githubusercontent.com/helm/helm/main/"
                           "scripts/get-helm-3 | bash\nmacOS: brew install helm")


def test_a_suite_error_fails_the_check_with_its_message_and_hint() -> None:
    def refused() -> tuple[bool, str, str | None]:
        raise ConfigError("chart not found: /x", "inv config  # check todo.chart")

    result = doctor._timed("fit", refused)
    assert (result.ok, result.detail, result.hint, result.required) == \
        (False, "chart not found: /x", "inv config  # check todo.chart", True)


def test_any_other_exception_is_not_swallowed_by_a_check() -> None:
    def bug() -> tuple[bool, str, str | None]:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        doctor._timed("buggy", bug)

